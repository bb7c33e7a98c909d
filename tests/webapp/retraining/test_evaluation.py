"""A retrain judges the held-out items once: metrics, gate and the full report share it."""

from evaluation.baselines import always_first_judge, longer_wins_judge
from evaluation.evaluate import evaluate
from evaluation.report import full_report
from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from webapp.autoraters.gate import gate_decide
from webapp.retraining.evaluation import CachedJudge, scorable


class Counting:
    def __init__(self, inner):
        self.inner, self.examples_judged = inner, 0

    def judge(self, tasks, examples, both_orders=True, batch_size=32):
        self.examples_judged += len(examples)
        return self.inner.judge(tasks, examples, both_orders=both_orders, batch_size=batch_size)


def test_heldout_items_are_judged_once_for_metrics_and_report():
    tasks = {task.name: task for task in DEMO_TASKS}
    heldout = scorable(tasks, generate_demo_examples(10, seed=3))
    counting = Counting(always_first_judge())
    judge = CachedJudge(counting)
    metrics = evaluate(judge, tasks, heldout)
    report = full_report(judge, tasks, heldout, n_bootstrap=20, bias=False)
    assert judge.calls == 1 and counting.examples_judged == len(heldout)
    assert metrics["n"] == report["n"] == len(heldout)
    assert metrics["accuracy"] == report["accuracy"]["value"]


def test_gate_compares_on_the_same_items():
    tasks = {task.name: task for task in DEMO_TASKS}
    heldout = scorable(tasks, generate_demo_examples(30, seed=4))
    first = always_first_judge().judge(tasks, heldout)
    longer = longer_wins_judge().judge(tasks, heldout)
    same = gate_decide(heldout, first, first, agreement_tolerance=0.0, bias_tolerance=0.0)
    assert same["passed"] and same["checks"][0]["difference"] == 0
    # always-first is maximally position-biased: refused against a content-based judge.
    biased = gate_decide(heldout, first, longer, agreement_tolerance=1.0, bias_tolerance=0.05)
    assert not biased["passed"] and biased["reason"].endswith("position bias")
    assert gate_decide(heldout, first, None, agreement_tolerance=0, bias_tolerance=0)["passed"]
