"""Shared-prefix scoring gives the same verdicts as scoring both orders in full."""

import dataclasses

import numpy as np
import pytest

from judging.checkpoint import save_checkpoint
from judging.inference import Judge, bucket_length
from judging.prefix import common_prefix_length, pad_pairs, sharing_pays


@pytest.fixture(scope="module")
def judge(tmp_path_factory, tiny_model, demo_tokenizer):
    model, config = tiny_model
    directory = tmp_path_factory.mktemp("judge") / "ckpt"
    save_checkpoint(directory, model, config, demo_tokenizer, {"steps": 0})
    return Judge.load(directory)


def test_common_prefix_leaves_a_suffix():
    assert common_prefix_length([1, 2, 3, 4], [1, 2, 9, 4]) == 2
    assert common_prefix_length([1, 2, 3], [1, 2, 3]) == 2  # identical: one token each remains
    assert common_prefix_length([5], [6]) == 0


def test_pad_pairs_splits_each_order_at_the_common_prefix():
    prefix, prefix_mask, suffix, suffix_mask, last = pad_pairs(
        [([1, 2, 3, 4], [1, 2, 5, 6, 7])], pad_id=0, bucket=lambda n: max(n, 1), rows=2
    )
    assert prefix[0].tolist() == [1, 2] and prefix_mask[0].tolist() == [True, True]
    assert suffix[0, 0].tolist() == [3, 4, 0] and suffix[0, 1].tolist() == [5, 6, 7]
    assert last[0].tolist() == [1, 2]
    assert not prefix_mask[1].any() and not suffix_mask[1].any()  # padding row


def test_shared_prefix_scores_equal_full_scores(judge, demo_tasks, demo_examples):
    # A long shared context makes sharing pay; the demo prompts alone may not.
    long = [
        dataclasses.replace(e, context={**e.context, "question": "background " * 40 + str(i)})
        if "question" in e.context
        else e
        for i, e in enumerate(demo_examples[:24])
    ]
    for examples in (demo_examples[:24], long):
        shared = judge.judge(demo_tasks, examples, share_prefix=True, batch_size=8)
        full = judge.judge(demo_tasks, examples, share_prefix=False, batch_size=8)
        for s, f in zip(shared, full, strict=True):
            assert s.label == f.label and s.valid == f.valid and s.consistent == f.consistent
            for order in f.order_probabilities:
                np.testing.assert_allclose(
                    list(s.order_probabilities[order].values()),
                    list(f.order_probabilities[order].values()),
                    atol=2e-5,
                )


def test_sharing_is_chosen_only_where_it_pays():
    def bucket(n):
        return bucket_length(n, 1024)

    shared_context = [0] * 600
    long_context = [(shared_context + [1] * 20 + [2] * 20, shared_context + [2] * 20 + [1] * 20)]
    long_responses = [([0] * 10 + [1] * 300 + [2] * 300, [0] * 10 + [2] * 300 + [1] * 300)]
    assert sharing_pays(long_context, bucket)
    assert not sharing_pays(long_responses, bucket)
