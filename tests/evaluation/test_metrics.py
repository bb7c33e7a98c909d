import math

import krippendorff
import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import cohen_kappa_score, f1_score, precision_score, recall_score

from evaluation import metrics as M


def test_accuracy_and_macro_by_hand():
    gold = ["A", "A", "B", "B", "tie"]
    pred = ["A", "B", "B", None, "A"]
    assert M.accuracy(gold, pred) == pytest.approx(2 / 5)
    out = M.precision_recall_f1(gold, pred, ["A", "B", "tie"])
    # A: tp 1, predicted 2, actual 2 -> p .5 r .5 f .5; B: tp 1, pred 2, actual 2 -> .5 .5 .5;
    # tie: 0 predicted, 1 actual -> 0 0 0.
    assert out["precision"] == pytest.approx(1 / 3)
    assert out["recall"] == pytest.approx(1 / 3)
    assert out["f1"] == pytest.approx(1 / 3)
    assert M.confusion_matrix(gold, pred, ["A", "B", "tie"]).tolist() == [
        [1, 1, 0],
        [0, 1, 0],
        [1, 0, 0],
    ]


def test_kappa_by_hand():
    # 2x2: observed agreement .7, both raters 50/50 -> expected .5 -> kappa .4
    r1 = ["y"] * 5 + ["n"] * 5
    r2 = ["y"] * 4 + ["n"] + ["y"] * 2 + ["n"] * 3
    # confusion: y->y 4, y->n 1, n->y 2, n->n 3: po .7, pe .5*.6 + .5*.4 = .5
    assert M.cohen_kappa(r1, r2) == pytest.approx((0.7 - 0.5) / 0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = ["1", "2", "3", "4", "5"]
    gold = list(rng.choice(labels, 60))
    pred = [g if rng.random() < 0.5 else str(rng.choice(labels)) for g in gold]
    for average_fn, ours in (
        (precision_score, "precision"),
        (recall_score, "recall"),
        (f1_score, "f1"),
    ):
        expected = average_fn(gold, pred, labels=labels, average="macro", zero_division=0)
        assert M.precision_recall_f1(gold, pred, labels)[ours] == pytest.approx(expected)
    for weights in (None, "linear", "quadratic"):
        expected = cohen_kappa_score(gold, pred, labels=labels, weights=weights)
        assert M.cohen_kappa(gold, pred, labels, weights=weights) == pytest.approx(expected)


def test_krippendorff_by_hand_and_reference():
    # Two raters, nominal, 4 units: (a,a) (a,b) (b,b) (b,b).
    # Coincidences: o_aa 2, o_ab 1, o_ba 1, o_bb 4; n_a 3, n_b 5, n 8.
    # alpha = 1 - (n-1) * D_o / sum n_c n_k (c != k) = 1 - 7 * 2 / 30.
    data = [["a", "a", "b", "b"], ["a", "b", "b", "b"]]
    assert M.krippendorff_alpha(data) == pytest.approx(1 - 7 * 2 / 30)
    rng = np.random.default_rng(3)
    table = rng.integers(1, 6, size=(4, 30)).astype(float)
    table[rng.random(table.shape) < 0.2] = np.nan
    table[1] = np.where(rng.random(30) < 0.6, table[0], table[1])
    for level in ("nominal", "ordinal", "interval"):
        expected = krippendorff.alpha(reliability_data=table, level_of_measurement=level)
        assert M.krippendorff_alpha(table.tolist(), level) == pytest.approx(expected)


def test_krippendorff_from_counts_equals_table():
    table = [[1, 2, 3, 3, None], [1, 2, 2, 3, 1], [1, None, 3, 3, 1]]
    units = [{1: 3}, {2: 2}, {3: 2, 2: 1}, {3: 3}, {1: 2}]
    for level in ("nominal", "ordinal", "interval"):
        assert M.krippendorff_alpha_from_counts(units, level) == pytest.approx(
            M.krippendorff_alpha(table, level)
        )


def test_correlations_match_scipy():
    rng = np.random.default_rng(4)
    x = rng.integers(1, 6, 40).astype(float)
    y = x + rng.normal(0, 1.5, 40)
    assert M.pearson(x, y) == pytest.approx(pearsonr(x, y).statistic)
    assert M.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    assert M.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert M.pearson([1, 1, 1], [1, 2, 3]) is None


def test_calibration_by_hand():
    conf = [0.95, 0.95, 0.55, 0.55, 0.55, 0.55]
    correct = [True, False, True, True, True, False]
    out = M.calibration(conf, correct, n_bins=10)
    # bin (0.9,1]: acc .5 conf .95, weight 2/6; bin (0.5,0.6]: acc .75 conf .55, weight 4/6.
    assert out["ece"] == pytest.approx(0.45 * 2 / 6 + 0.2 * 4 / 6)
    assert [b["count"] for b in out["bins"]] == [0, 0, 0, 0, 0, 4, 0, 0, 0, 2]
    assert out["bins"][9]["accuracy"] == 0.5
    assert M.calibration([1.0, 0.0], [True, False])["ece"] == pytest.approx(0.0)


def test_bootstrap_is_seeded_and_brackets_the_value():
    gold = ["A", "B"] * 50
    pred = ["A", "B"] * 35 + ["B", "A"] * 15
    a = M.with_ci(M.accuracy, gold, pred, n_resamples=300, seed=7)
    b = M.with_ci(M.accuracy, gold, pred, n_resamples=300, seed=7)
    assert a == b and a["value"] == pytest.approx(0.7) and a["n"] == 100
    low, high = a["ci"]
    assert low < 0.7 < high and high - low < 0.25
    assert M.with_ci(M.accuracy, [], []) == {"value": None, "ci": None, "n": 0}
    assert not math.isnan(low)
