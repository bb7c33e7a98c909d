"""The evaluation library's functions over compact aggregates equal the reference packages (and
the library's row-level functions) on the raw rows."""

from collections import Counter

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from evaluation import bias as B
from evaluation import metrics as M

LABELS = ["A", "B", "tie"]


def _rows(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    truth = rng.choice(LABELS, size=n, p=[0.5, 0.4, 0.1])
    noisy = np.where(rng.random(n) < 0.75, truth, rng.choice(LABELS, size=n))
    return list(truth), list(noisy)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_from_confusion_matches_sklearn(seed, weights):
    a, b = _rows(seed)
    table = M.confusion_matrix(a, b, LABELS)
    out = M.kappa_from_confusion(table, weights=weights, n_resamples=200, seed=seed)
    assert out["value"] == pytest.approx(cohen_kappa_score(a, b, labels=LABELS, weights=weights))
    assert out["n"] == len(a)
    low, high = out["ci"]
    assert low < out["value"] < high


def test_kappa_ci_agrees_with_row_bootstrap_roughly():
    a, b = _rows(5, 600)
    table = M.confusion_matrix(a, b, LABELS)
    fast = M.kappa_from_confusion(table, n_resamples=2000)["ci"]
    slow = M.with_ci(lambda x, y: M.cohen_kappa(x, y, LABELS), a, b, n_resamples=300)["ci"]
    assert fast[0] == pytest.approx(slow[0], abs=0.03)
    assert fast[1] == pytest.approx(slow[1], abs=0.03)


def test_kappa_from_confusion_rejects_bad_tables():
    with pytest.raises(ValueError, match="square"):
        M.kappa_from_confusion([[1, 2, 3]])
    assert M.kappa_from_confusion([[0, 0], [0, 0]])["value"] is None


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_alpha_from_patterns_matches_krippendorff_package(seed, level):
    rng = np.random.default_rng(seed)
    n_units, n_raters = 300, 5
    truth = rng.integers(0, 3, n_units)
    data = np.where(rng.random((n_raters, n_units)) < 0.7, truth, rng.integers(0, 3, n_units))
    data = data.astype(float)
    data[rng.random((n_raters, n_units)) < 0.3] = np.nan  # missing ratings
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    patterns = Counter()
    for u in range(n_units):
        unit = Counter(int(v) for v in data[:, u] if not np.isnan(v))
        patterns[tuple(sorted(unit.items()))] += 1
    out = M.krippendorff_alpha_from_patterns(
        [(dict(p), c) for p, c in patterns.items()], level, [0, 1, 2], n_resamples=200
    )
    assert out["value"] == pytest.approx(expected)
    assert out["ci"][0] < out["value"] < out["ci"][1]


def test_pair_table_gives_pairwise_agreement():
    patterns = [({"A": 2, "B": 1}, 3), ({"A": 2}, 1)]
    table = M.pair_table_from_patterns(patterns, ["A", "B"])
    # {"A":2,"B":1}: ordered pairs AA 2, AB 2, BA 2; x3 -> AA 6, AB 6, BA 6; {"A":2}: AA 2.
    assert table.tolist() == [[8, 6], [6, 0]]


def test_calibration_from_bins_matches_row_calibration():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.3, 1.0, 500)
    conf[:5] = [0.8, 0.1, 0.2, 1.0, 0.35]  # bin edges
    correct = rng.random(500) < conf
    expected = M.calibration(conf, correct)
    bins = [
        {
            "bin": min(max(int(np.ceil(c * 10)) - 1, 0), 9),
            "count": 1,
            "confidence_sum": c,
            "correct": int(k),
        }
        for c, k in zip(conf, correct, strict=True)
    ]
    out = M.calibration_from_bins(bins)
    assert out["ece"] == pytest.approx(expected["ece"])
    for mine, theirs in zip(out["bins"], expected["bins"], strict=True):
        assert mine["count"] == theirs["count"]
        assert mine["accuracy"] == pytest.approx(theirs["accuracy"])


def test_wilson_interval_by_hand():
    # 8/10 at 95%: the Wilson interval is about [0.490, 0.943].
    low, high = M.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert M.wilson_interval(0, 0) is None


def test_position_statistics_from_counts_match_verdicts():
    from judging.verdict import Verdict

    def verdict(ab, ba):
        probs = {
            "ab": {"A": 0.9 if ab == "A" else 0.1, "B": 0.1 if ab == "A" else 0.9},
            "ba": {"A": 0.9 if ba == "A" else 0.1, "B": 0.1 if ba == "A" else 0.9},
        }
        return Verdict(
            example_id=None,
            task="t",
            label=ab,
            probabilities=probs["ab"],
            confidence=0.9,
            order_probabilities=probs,
            consistent=ab == ba,
        )

    pairs = [("A", "A")] * 5 + [("A", "B")] * 3 + [("B", "A")] + [("B", "B")] * 2
    expected = B.position_statistics([verdict(ab, ba) for ab, ba in pairs])
    out = B.position_statistics_from_counts(Counter(pairs))
    for key in ("n", "consistency", "prefer_first", "prefer_second", "delta_bias", "total_bias"):
        assert out[key] == pytest.approx(expected[key])


def test_length_preference_from_counts():
    counts = {("A", "A", "A"): 6, ("B", "B", "A"): 2, ("A", "B", "A"): 5, ("A", "A", "="): 9}
    out = B.length_preference_from_counts(counts)
    assert out["counted"] == 8 and out["long_bias"] == pytest.approx(0.75)
    assert out["value"] == pytest.approx(0.25)


def test_paired_accuracy_difference():
    rng = np.random.default_rng(0)
    a_right = rng.random(500) < 0.7
    b_right = np.where(rng.random(500) < 0.8, a_right, ~a_right) | (rng.random(500) < 0.1)
    counts = [
        int((a_right & b_right).sum()),
        int((a_right & ~b_right).sum()),
        int((~a_right & b_right).sum()),
        int((~a_right & ~b_right).sum()),
    ]
    out = M.paired_accuracy_difference(*counts)
    assert out["value"] == pytest.approx(b_right.mean() - a_right.mean())
    assert out["ci"][0] < out["value"] < out["ci"][1]
    assert M.paired_accuracy_difference(0, 0, 0, 0)["value"] is None


@pytest.mark.parametrize("seed", [0, 4])
def test_analytic_kappa_interval_matches_bootstrap(seed):
    a, b = _rows(seed, 800)
    table = M.confusion_matrix(a, b, LABELS)
    analytic = M.kappa_analytic_from_confusion(table)
    boot = M.kappa_from_confusion(table, n_resamples=3000, seed=seed)
    assert analytic["value"] == pytest.approx(cohen_kappa_score(a, b, labels=LABELS))
    assert analytic["ci"][0] == pytest.approx(boot["ci"][0], abs=0.015)
    assert analytic["ci"][1] == pytest.approx(boot["ci"][1], abs=0.015)
