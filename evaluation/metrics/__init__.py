"""Agreement metrics for judges and raters, with seeded bootstrap confidence intervals.

Pure numpy (scipy only for ranks). Every function takes plain sequences, so it works for the
autorater's verdicts and for human raters alike. Reference implementations (sklearn, the
`krippendorff` package, scipy.stats) are used in the tests to check these.

Callers use one flat namespace (`from evaluation import metrics as M`;
`M.with_ci(M.accuracy, ...)`), re-exported here from: `bootstrap` (intervals), `agreement`
(accuracy, F1, kappa, alpha, correlations from rows), `confidence` (calibration: ECE and
reliability bins) and `aggregates` (the same numbers from compact tables, for dashboards).
"""

from evaluation.metrics.aggregates import (
    accuracy_from_confusion,
    calibration_from_bins,
    kappa_analytic_from_confusion,
    kappa_from_confusion,
    krippendorff_alpha_from_patterns,
    pair_table_from_patterns,
    paired_accuracy_difference,
    proportion,
    wilson_interval,
)
from evaluation.metrics.agreement import (
    Label,
    accuracy,
    cohen_kappa,
    confusion_matrix,
    krippendorff_alpha,
    krippendorff_alpha_from_counts,
    macro_f1,
    pearson,
    precision_recall_f1,
    spearman,
)
from evaluation.metrics.bootstrap import (
    bootstrap_ci,
    with_ci,
)
from evaluation.metrics.confidence import (
    calibration,
    expected_calibration_error,
)

__all__ = [
    "accuracy",
    "accuracy_from_confusion",
    "bootstrap_ci",
    "calibration",
    "calibration_from_bins",
    "cohen_kappa",
    "confusion_matrix",
    "expected_calibration_error",
    "kappa_analytic_from_confusion",
    "kappa_from_confusion",
    "krippendorff_alpha",
    "krippendorff_alpha_from_counts",
    "krippendorff_alpha_from_patterns",
    "Label",
    "macro_f1",
    "pair_table_from_patterns",
    "paired_accuracy_difference",
    "pearson",
    "precision_recall_f1",
    "proportion",
    "spearman",
    "wilson_interval",
    "with_ci",
]
