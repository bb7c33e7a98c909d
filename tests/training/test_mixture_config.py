import collections
import random

import pytest

from judging.demo_tasks import ARITHMETIC, DEMO_TASKS, generate_demo_examples
from training.augment import maybe_swap, swap_augment
from training.config import TrainConfig
from training.mixture import build_mixture, mixture_weights, sample_indices


def test_weights_are_examples_proportional_with_cap():
    weights = mixture_weights({"a": 100, "b": 300, "c": 5000, "empty": 0}, cap=1000)
    assert weights == pytest.approx({"a": 100 / 1400, "b": 300 / 1400, "c": 1000 / 1400})
    explicit = mixture_weights({"a": 1, "b": 1, "c": 1}, explicit={"a": 3, "b": 1})
    assert explicit == pytest.approx({"a": 0.75, "b": 0.25})
    with pytest.raises(ValueError, match="empty"):
        mixture_weights({"a": 0})


def test_sampled_proportions_follow_weights_and_cap():
    indices = {
        "small": list(range(0, 50)),
        "mid": list(range(1000, 1200)),
        "huge": list(range(10_000, 14_000)),
    }
    weights = mixture_weights({k: len(v) for k, v in indices.items()}, cap=250)
    draws = list(sample_indices(indices, weights, seed=0, num_items=5000))
    counts = collections.Counter(
        "small" if i < 1000 else "mid" if i < 10_000 else "huge" for i in draws
    )
    assert counts["small"] / 5000 == pytest.approx(50 / 500, abs=0.02)
    assert counts["mid"] / 5000 == pytest.approx(200 / 500, abs=0.02)
    assert counts["huge"] / 5000 == pytest.approx(250 / 500, abs=0.02)
    # Every example of a task is drawn (each task is a shuffled repetition of its examples).
    assert {i for i in draws if i < 1000} == set(indices["small"])


def test_mixture_is_deterministic_and_resumable():
    indices = {"a": list(range(10)), "b": list(range(100, 130))}
    weights = mixture_weights({"a": 10, "b": 30})
    first = list(sample_indices(indices, weights, seed=4, num_items=200))
    assert first == list(sample_indices(indices, weights, seed=4, num_items=200))
    assert first != list(sample_indices(indices, weights, seed=5, num_items=200))
    iterator = iter(build_mixture(indices, weights, seed=4, num_items=200))
    head = [next(iterator) for _ in range(50)]
    state = iterator.get_state()
    resumed = iter(build_mixture(indices, weights, seed=4, num_items=200))
    resumed.set_state(state)
    assert head + [next(resumed) for _ in range(150)] == first


def test_swap_augmentation():
    tasks = {t.name: t for t in DEMO_TASKS}
    examples = generate_demo_examples(500, seed=2)
    swapped = swap_augment(tasks, examples, probability=0.5, seed=0)
    changed = [a.label != b.label for a, b in zip(examples, swapped, strict=True)]
    assert 0.4 < sum(changed) / len(changed) < 0.6
    assert swapped == swap_augment(tasks, examples, probability=0.5, seed=0)
    assert swap_augment(tasks, examples, probability=0.0) == examples
    example = examples[0]
    assert maybe_swap(ARITHMETIC, example, random.Random(0), 1.0).label != example.label


def test_train_config_presets_and_round_trip():
    demo = TrainConfig.preset("demo")
    assert TrainConfig.from_dict(demo.to_dict()) == demo
    assert TrainConfig.preset("demo", steps=7).steps == 7
    with pytest.raises(ValueError, match="unknown preset"):
        TrainConfig.preset("nope")
    with pytest.raises(ValueError, match="unknown fields"):
        TrainConfig.from_dict({"stepz": 1})
