"""How the retraining path configures FLAMe-RM and the FLAMe-Opt-RM tail-patch probes: steps
and what a probe is trained and measured on (no training here)."""

import pytest

from judging.demo_tasks import generate_demo_examples
from judging.splits import content_key as key
from judging.splits import is_heldout
from training.config import TrainConfig
from training.variants.rm import DEFAULT_RM_STEPS
from training.variants.tailpatch import DEFAULT_PROBE_STEPS, split_heldout
from webapp.retraining.variants import (
    PROBE_HELDOUT_PERCENT,
    probe_config,
    probe_examples,
    rm_config,
)


def test_probes_measure_the_projects_heldout_labels_and_never_train_on_them():
    examples = generate_demo_examples(60, seed=3)
    # An imported project put 40% aside: items outside the probes' 20% side are left out.
    heldout = [e for e in examples if is_heldout(e, 40)]
    train = [e for e in examples if not is_heldout(e, 40)]
    # The snapshot's built-in known answers (those sharing a held-out item's content are out).
    aside = {key(e) for e in heldout}
    builtin = [e for e in generate_demo_examples(60, seed=4) if key(e) not in aside]
    seen, targets = probe_examples(train + builtin, heldout)
    probe_train, probe_heldout = split_heldout(seen, PROBE_HELDOUT_PERCENT)
    assert {key(e) for e in probe_heldout} == {key(e) for e in heldout if is_heldout(e, 20)}
    assert not {key(e) for e in probe_train} & {key(e) for e in heldout}
    assert targets == sorted({e.task for e in probe_heldout}) == ["demo_arithmetic", "demo_keyword"]
    assert len(probe_train) == len(train) + sum(not is_heldout(e, 20) for e in builtin)


def test_probes_without_heldout_labels_fail_clearly():
    examples = generate_demo_examples(10, seed=3)
    with pytest.raises(ValueError, match="held-out labels"):
        probe_examples(examples, [])


def test_rm_is_a_short_fine_tune_unless_its_steps_were_chosen():
    demo = TrainConfig.preset("demo")
    assert rm_config(demo, steps_chosen=False).steps == DEFAULT_RM_STEPS < demo.steps
    assert rm_config(demo, steps_chosen=True).steps == demo.steps
    assert rm_config(demo.replace(steps=4), steps_chosen=False).steps == 4


def test_probes_train_at_most_the_default_probe_steps():
    demo = TrainConfig.preset("demo", mixture_weights={"demo_keyword": 1.0})
    probe = probe_config(demo)
    assert probe.steps == DEFAULT_PROBE_STEPS < demo.steps
    assert probe.replace(steps=demo.steps) == demo
    assert probe_config(demo.replace(steps=4)).steps == 4
