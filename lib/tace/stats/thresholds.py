"""Operating points: the Youden cut-off and the metrics of a fixed threshold.

A patient is called positive when ``score >= threshold``. Thresholds are fixed on the
training data and carried, unchanged, to the test and external cohorts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from ._checks import check_binary, check_conf_level, check_scores

__all__ = ["youden_threshold", "threshold_metrics"]

_CI_METHODS = {"wilson": "wilson", "clopper-pearson": "beta"}


def youden_threshold(y_true, y_score) -> float:
    """The threshold that maximises Youden's J = sensitivity + specificity - 1.

    Candidate thresholds lie halfway between consecutive distinct scores, as pROC's
    ``coords(roc, "best", best.method = "youden")`` places them; where several maximise J,
    the lowest (the most sensitive) is returned.

    Examples
    --------
    >>> youden_threshold([0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.35, 0.6, 0.8])
    0.25
    """
    y = check_binary(y_true)
    s = check_scores(y_score, y.size)
    values = np.unique(s)
    cuts = np.concatenate([[-np.inf], (values[:-1] + values[1:]) / 2, [np.inf]])
    pos = np.sort(s[y])
    neg = np.sort(s[~y])
    sens = 1 - np.searchsorted(pos, cuts, side="left") / pos.size  # share of cases >= cut
    spec = np.searchsorted(neg, cuts, side="left") / neg.size      # share of controls < cut
    j = sens + spec - 1
    best = np.flatnonzero(np.isclose(j, j.max(), rtol=0, atol=1e-12))
    return float(cuts[best[0]])


def threshold_metrics(y_true, y_score, threshold: float, *, conf_level: float = 0.95,
                      ci_method: str = "wilson") -> pd.DataFrame:
    """Accuracy, sensitivity, specificity, PPV and NPV at a fixed threshold.

    Parameters
    ----------
    y_true, y_score
        Outcome (1 = positive) and scores; positive call when ``score >= threshold``.
    threshold
        The cut-off, fixed beforehand (e.g. on the training data).
    conf_level
        Level of the intervals.
    ci_method
        ``"wilson"`` (Wilson score, as R's ``prop.test(correct = FALSE)``) or
        ``"clopper-pearson"`` (exact, as R's ``binom.test``).

    Returns
    -------
    pandas.DataFrame
        One row per metric: ``metric``, ``estimate``, ``ci_low``, ``ci_high``, ``numerator``,
        ``denominator``, ``method``, ``note``. A metric with a zero denominator (e.g. PPV
        when nobody is called positive) has no estimate, and ``note`` says why.

    Examples
    --------
    >>> from tace.stats import threshold_metrics
    >>> t = threshold_metrics([0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.35, 0.6, 0.8], 0.25)
    >>> t.set_index("metric")["estimate"].round(3).to_dict()
    {'accuracy': 0.833, 'sensitivity': 1.0, 'specificity': 0.667, 'ppv': 0.75, 'npv': 1.0}
    """
    y = check_binary(y_true)
    s = check_scores(y_score, y.size)
    conf_level = check_conf_level(conf_level)
    if ci_method not in _CI_METHODS:
        raise ValueError(f"ci_method must be one of {', '.join(_CI_METHODS)}; got {ci_method!r}")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number; got {threshold}")
    called = s >= threshold
    tp, fp = int(np.sum(called & y)), int(np.sum(called & ~y))
    fn, tn = int(np.sum(~called & y)), int(np.sum(~called & ~y))
    # check_binary guarantees both classes, so only PPV and NPV can lack a denominator
    parts = {
        "accuracy": (tp + tn, y.size, ""),
        "sensitivity": (tp, tp + fn, ""),
        "specificity": (tn, tn + fp, ""),
        "ppv": (tp, tp + fp, "nobody is called positive at this threshold"),
        "npv": (tn, tn + fn, "nobody is called negative at this threshold"),
    }
    rows = []
    for metric, (num, den, why) in parts.items():
        if den == 0:
            rows.append({"metric": metric, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                         "numerator": num, "denominator": den, "method": ci_method,
                         "note": f"undefined: {why}"})
            continue
        lo, hi = proportion_confint(num, den, alpha=1 - conf_level, method=_CI_METHODS[ci_method])
        rows.append({"metric": metric, "estimate": num / den, "ci_low": float(lo), "ci_high": float(hi),
                     "numerator": num, "denominator": den, "method": ci_method, "note": ""})
    return pd.DataFrame(rows)
