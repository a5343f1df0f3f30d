"""Estimates beside the truth: what only a simulated cohort (the digital twin) can show.

A real cohort gives each model's AUC and calibration estimated from outcomes. The twin also
knows every patient's true probability of non-response, so it can say how much of the
*attainable* discrimination a model reached (the oracle, the true probability, is the most
any model can reach in expectation), how far its probabilities lie from the true ones, and
whether an imaging model ranks patients by the imaging signal that was planted.

References
----------
Van Calster B, McLernon DJ, van Smeden M, et al. Calibration: the Achilles heel of predictive
analytics. BMC Med 2019;17:230 (calibration against true risk is what calibration measures
estimate).
Austin PC, Steyerberg EW. The Integrated Calibration Index (ICI) and related metrics for
quantifying the calibration of logistic regression models. Stat Med 2019;38:4051-65.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from ._checks import check_binary, check_prob
from .calibration import calibration_intercept_slope, smoothed_calibration_errors
from .roc import roc_auc

__all__ = ["TRUTH_RECOVERY_COLUMNS", "TruthCalibration", "TruthRecovery", "share_of_oracle", "trait_spearman",
           "truth_calibration", "truth_recovery", "truth_recovery_table"]

#: Columns of the truth-recovery table (``figures/tab-truth-recovery.csv``), in order.
TRUTH_RECOVERY_COLUMNS = ("cohort", "model", "n", "n_events", "auc", "auc_ci_low", "auc_ci_high", "oracle_auc",
                          "clinical_oracle_auc", "imaging_oracle_auc", "share_of_oracle", "mean_abs_error_vs_truth",
                          "ici", "spearman_imaging", "spearman_truth", "slope_vs_truth", "intercept_vs_truth",
                          "slope_from_outcomes", "slope_from_outcomes_ci_low", "slope_from_outcomes_ci_high")


def _ici(y: np.ndarray, p: np.ndarray) -> float:
    """ICI from the outcomes, as :func:`tace.stats.calibration` computes it (loess), without
    the rest of that function's work; NaN when the loess cannot be fitted."""
    try:
        return float(smoothed_calibration_errors(np.asarray(y, dtype=bool), np.clip(p, 1e-9, 1 - 1e-9)).mean())
    except ValueError:
        return float("nan")


@dataclass(frozen=True)
class TruthRecovery:
    """One model on one cohort, beside the truth.

    Attributes
    ----------
    auc, auc_ci_low, auc_ci_high
        AUC of the model's probability against the observed outcome, DeLong interval.
    oracle_auc
        AUC of the true probability against the same observed outcomes: the most a model
        could be expected to reach on these patients.
    clinical_oracle_auc, imaging_oracle_auc
        AUC of the clinical terms, and of the imaging terms, of the true logit alone.
    share_of_oracle
        ``(auc - 0.5) / (oracle_auc - 0.5)``: the share of the attainable discrimination above
        chance the model reached (1: as good as the truth; 0: chance; may exceed 1 by chance).
    mean_abs_error_vs_truth
        Mean of ``|predicted - true probability|``: calibration against the truth.
    ici
        Integrated calibration index estimated from the outcomes (loess), for comparison: what a
        real cohort would report in place of the previous figure.
    spearman_imaging, spearman_truth
        Spearman correlation of the model's score with the true imaging logit, and with the
        true probability.
    slope_vs_truth, intercept_vs_truth
        Calibration slope and intercept against the true probability
        (:func:`truth_calibration`): what the outcome-based slope estimates.
    slope_from_outcomes, slope_from_outcomes_ci_low, slope_from_outcomes_ci_high
        The calibration slope estimated from the outcomes (logistic recalibration), with its
        interval: what a real cohort reports.
    """

    n: int
    n_events: int
    auc: float
    auc_ci_low: float
    auc_ci_high: float
    oracle_auc: float
    clinical_oracle_auc: float
    imaging_oracle_auc: float
    share_of_oracle: float
    mean_abs_error_vs_truth: float
    ici: float
    spearman_imaging: float
    spearman_truth: float
    slope_vs_truth: float = float("nan")
    intercept_vs_truth: float = float("nan")
    slope_from_outcomes: float = float("nan")
    slope_from_outcomes_ci_low: float = float("nan")
    slope_from_outcomes_ci_high: float = float("nan")


@dataclass(frozen=True)
class TruthCalibration:
    """Calibration of predictions against the true probabilities.

    Attributes
    ----------
    intercept, slope
        Of the fractional logistic regression of the true probability on the logit of the
        prediction: slope 1 and intercept 0 when the predictions are the truth; a slope
        below 1 means predictions too extreme, above 1 too moderate.
    n
        Patients.
    """

    intercept: float
    slope: float
    n: int


def truth_calibration(prob, p_true) -> TruthCalibration:
    """Calibration intercept and slope against the true probability (fractional logit).

    The calibration slope estimated from outcomes, the logistic regression of ``y`` on
    ``logit(prob)``, estimates the slope of ``E[y | prob] = p_true`` on ``logit(prob)``.
    With the truth known, that regression is fitted to the true probabilities themselves
    (a quasi-binomial GLM with a fractional response, Papke & Wooldridge 1996): the value
    the outcome-based slope would approach in a very large cohort of the same patients. As
    R's ``coef(glm(p_true ~ qlogis(prob), family = quasibinomial))``.

    References
    ----------
    Papke LE, Wooldridge JM. Econometric methods for fractional response variables with an
    application to 401(k) plan participation rates. J Appl Econom 1996;11:619-32.
    Van Calster B, Nieboer D, Vergouwe Y, et al. A calibration hierarchy for risk models was
    defined: from utopia to empirical data. J Clin Epidemiol 2016;74:167-76.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.linspace(0.05, 0.95, 19)
    >>> r = truth_calibration(p, p)
    >>> round(r.intercept, 9) + 0.0, round(r.slope, 9)
    (0.0, 1.0)
    """
    import warnings

    import statsmodels.api as sm
    from scipy.special import logit
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    truth = check_prob(p_true, int(np.size(p_true)), name="p_true")
    p = check_prob(prob, truth.size, name="prob")
    x = logit(np.clip(p, 1e-9, 1 - 1e-9))
    if np.ptp(x) == 0:
        return TruthCalibration(float("nan"), float("nan"), int(truth.size))
    with warnings.catch_warnings():
        # statsmodels flags fitted values that equal the response as separation; with a
        # fractional response that is a perfect calibration, and the estimate is finite
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        fit = sm.GLM(truth, sm.add_constant(x, has_constant="add"), family=sm.families.Binomial()).fit()
    return TruthCalibration(float(fit.params[0]), float(fit.params[1]), int(truth.size))


def share_of_oracle(auc: float, oracle_auc: float) -> float:
    """``(auc - 0.5) / (oracle_auc - 0.5)``; NaN when the oracle itself is no better than chance.

    >>> share_of_oracle(0.75, 1.0)
    0.5
    """
    gap = oracle_auc - 0.5
    return float((auc - 0.5) / gap) if gap > 1e-9 else float("nan")


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """The AUC alone (the Mann-Whitney statistic): an oracle's interval is not reported, and
    the truth separates small cohorts often enough for a DeLong interval to warn needlessly."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if np.ptp(score) > 0 else 0.5


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(sps.spearmanr(a, b).statistic)


def truth_recovery(y_true, prob, p_true, clinical_logit, imaging_logit) -> TruthRecovery:
    """A model's discrimination and calibration beside the truth, on one cohort.

    Parameters
    ----------
    y_true
        Observed outcome (1 = non-response).
    prob
        The model's predicted probability of non-response.
    p_true
        The true probability (``truth.csv``'s ``p_nonresponse``).
    clinical_logit, imaging_logit
        The true logit's intercept-and-clinical terms and its imaging terms.

    Returns
    -------
    TruthRecovery

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clin, img = rng.normal(size=400), rng.normal(size=400)
    >>> p_true = 1 / (1 + np.exp(-(clin + img)))
    >>> y = rng.random(400) < p_true
    >>> r = truth_recovery(y, p_true, p_true, clin, img)  # the truth itself
    >>> round(r.share_of_oracle, 9), r.mean_abs_error_vs_truth
    (1.0, 0.0)
    """
    y = check_binary(y_true)
    p = check_prob(prob, y.size, name="prob")
    truth = check_prob(p_true, y.size, name="p_true")
    clin = np.asarray(clinical_logit, dtype=float)
    img = np.asarray(imaging_logit, dtype=float)
    auc = roc_auc(y, p)
    oracle = _auc(y, truth)
    against_truth = truth_calibration(p, truth)
    try:
        _, slope = calibration_intercept_slope(y, p)
        from_outcomes = (slope.estimate, slope.ci_low, slope.ci_high)
    except ValueError:  # a constant prediction, or one outcome only
        from_outcomes = (float("nan"),) * 3
    return TruthRecovery(
        n=int(y.size), n_events=int(y.sum()), auc=auc.estimate, auc_ci_low=auc.ci_low, auc_ci_high=auc.ci_high,
        oracle_auc=oracle, clinical_oracle_auc=_auc(y, clin), imaging_oracle_auc=_auc(y, img),
        share_of_oracle=share_of_oracle(auc.estimate, oracle),
        mean_abs_error_vs_truth=float(np.mean(np.abs(p - truth))), ici=_ici(y, p),
        spearman_imaging=_spearman(p, img), spearman_truth=_spearman(p, truth),
        slope_vs_truth=against_truth.slope, intercept_vs_truth=against_truth.intercept,
        slope_from_outcomes=from_outcomes[0], slope_from_outcomes_ci_low=from_outcomes[1],
        slope_from_outcomes_ci_high=from_outcomes[2])


def truth_recovery_table(frame: pd.DataFrame, models: Sequence[str], cohorts: Sequence[str]) -> pd.DataFrame:
    """:func:`truth_recovery` for every cohort and model of a patient-level frame.

    ``frame`` holds ``cohort``, ``nonresponse`` (0/1), ``p_nonresponse``, ``clinical_logit``,
    ``imaging_logit`` and one probability column per model. Cohorts without both outcomes are
    left out. Columns: :data:`TRUTH_RECOVERY_COLUMNS`.
    """
    rows = []
    for cohort in cohorts:
        part = frame[(frame["cohort"] == cohort) & frame["nonresponse"].notna()]
        y = part["nonresponse"].to_numpy(dtype=int)
        if len(part) == 0 or y.min() == y.max():
            continue
        for model in models:
            r = truth_recovery(y, part[model], part["p_nonresponse"], part["clinical_logit"], part["imaging_logit"])
            rows.append({"cohort": cohort, "model": model, **asdict(r)})
    return pd.DataFrame(rows, columns=list(TRUTH_RECOVERY_COLUMNS))


def trait_spearman(frame: pd.DataFrame, models: Sequence[str], cohorts: Sequence[str],
                   traits: Sequence[str]) -> pd.DataFrame:
    """Spearman correlation of each model's score with each planted trait, per cohort
    (long format: ``cohort, model, trait, spearman``)."""
    rows = []
    for cohort in cohorts:
        part = frame[frame["cohort"] == cohort]
        if len(part) < 3:
            continue
        for model in models:
            for trait in traits:
                rows.append({"cohort": cohort, "model": model, "trait": trait,
                             "spearman": _spearman(part[model].to_numpy(float), part[trait].to_numpy(float))})
    return pd.DataFrame(rows, columns=["cohort", "model", "trait", "spearman"])
