"""Minimum sample size for the external validation of a model with a binary outcome.

The criteria of Riley et al. (2021) with the conventions of the R/Stata package
``pmvalsampsize`` (0.1.0), so that an R user gets the same numbers: the sample must estimate,
with a 95% confidence interval (z = 1.96, as pmvalsampsize) no wider than asked,

1. the observed/expected ratio (O/E), from SE(ln O/E) = sqrt((1 - phi) / (N phi)); as in
   pmvalsampsize the SE is the first multiple of 0.0001 whose interval is as wide as asked;
2. the calibration slope, from the Fisher information of the logistic recalibration model
   ``logit(p) = a + b LP`` at a = 0, b = 1 (a calibrated model);
3. the C-statistic, from Newcombe's (2006) approximation of its standard error;
4. (when a risk threshold is given) the standardised net benefit at that threshold, with
   pmvalsampsize's SE (the first multiple of 0.0001 wide enough, rounded to 3 decimals) and,
   when sensitivity and specificity are not given, both computed at the threshold from the
   LP distribution and rounded to 2 decimals as pmvalsampsize does.

The distribution of the LP for criteria 2 and 4: a normal with the given mean and SD, or by
default pmvalsampsize's C-statistic-based *binormal* model: LP ~ N(m, s^2) in non-events
and N(m + s^2, s^2) in events, s^2 = 2 Phi^-1(C)^2, mixed in the proportion phi. Where
pmvalsampsize simulates (10^6 draws) and searches m on a 0.1 grid from a start the user
gives, tace integrates numerically and solves m exactly so that the mean risk is phi: the
result needs no seed and is exact for the stated assumptions. On pmvalsampsize's own example
(phi 0.018, C 0.8) the 0.1 grid matters: m = -4.7 gives 17,025 patients for criterion 2,
the exact m = -4.708 gives 17,128 (pmvalsampsize: 16,886-17,081 over six seeds at m = -4.7).

References
----------
Riley RD, Debray TPA, Collins GS, et al. Minimum sample size for external validation of a
clinical prediction model with a binary outcome. Stat Med 2021;40:4230-4251.
Ensor J. pmvalsampsize: sample size for external validation of a prediction model. R
package version 0.1.0, 2023.
Newcombe RG. Confidence intervals for an effect size measure based on the Mann-Whitney
statistic. Part 2. Stat Med 2006;25:559-573.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

__all__ = ["LP_MODELS", "SampleSizeResult", "binormal_lp", "external_validation_sample_size", "lp_distribution"]

_GRID = np.linspace(-9.0, 9.0, 4001)  # standard-normal abscissae for the integrals
_DENSITY = stats.norm.pdf(_GRID)
_DENSITY = _DENSITY / _DENSITY.sum()


def _prevalence(mu: float, sd: float) -> float:
    return float(np.sum(_DENSITY * special.expit(mu + sd * _GRID)))


def _moments(mu: float, sd: float) -> tuple[float, float]:
    """Outcome proportion and C-statistic of a calibrated model whose LP ~ N(mu, sd)."""
    lp = mu + sd * _GRID
    p = special.expit(lp)
    prevalence = float(np.sum(_DENSITY * p))
    w1 = _DENSITY * p
    w0 = _DENSITY * (1 - p)
    w1, w0 = w1 / w1.sum(), w0 / w0.sum()
    below = np.cumsum(w0) - w0  # controls with a strictly smaller LP (the grid ascends)
    return prevalence, float(np.sum(w1 * (below + 0.5 * w0)))


def lp_distribution(prevalence: float, c_statistic: float) -> tuple[float, float]:
    """Mean and SD of the normal LP of a calibrated model with this outcome proportion and
    C-statistic."""
    _check_inputs(prevalence, c_statistic)

    def mean_for(sd: float) -> float:
        return optimize.brentq(lambda m: _prevalence(m, sd) - prevalence, -100, 100, xtol=1e-12)

    def gap(sd: float) -> float:
        return _moments(mean_for(sd), sd)[1] - c_statistic

    sd = optimize.brentq(gap, 1e-4, 10, xtol=1e-10)
    return mean_for(sd), sd


#: pmvalsampsize's normal quantile and the step of its searches for a standard error.
_Z = 1.96
_SE_STEP = 1e-4
LP_MODELS = ("binormal", "normal")


def binormal_lp(prevalence: float, c_statistic: float) -> tuple[float, float]:
    """Mean of the non-events' LP (m) and the common SD (s) of pmvalsampsize's binormal model
    (module docstring), m solved so that the mean predicted risk equals ``prevalence``."""
    _check_inputs(prevalence, c_statistic)
    sd = math.sqrt(2.0) * float(stats.norm.ppf(c_statistic))
    m = optimize.brentq(lambda mu: _mixture_mean(mu, sd, prevalence, special.expit) - prevalence, -60, 60,
                        xtol=1e-12)
    return float(m), sd


def _mixture_mean(m: float, sd: float, prevalence: float, f) -> float:
    """E f(LP) under the binormal mixture."""
    return float((1 - prevalence) * np.sum(_DENSITY * f(m + sd * _GRID))
                 + prevalence * np.sum(_DENSITY * f(m + sd * sd + sd * _GRID)))


def _components(model: str, mean: float, sd: float, prevalence: float) -> list[tuple[float, np.ndarray]]:
    """(weight, LP abscissae) of each normal component of the LP distribution."""
    if model == "normal":
        return [(1.0, mean + sd * _GRID)]
    return [(1 - prevalence, mean + sd * _GRID), (prevalence, mean + sd * sd + sd * _GRID)]


def _expect(components: list[tuple[float, np.ndarray]], f) -> float:
    return float(sum(w * np.sum(_DENSITY * f(lp)) for w, lp in components))


def _stepped_se(exact: float) -> float:
    """The first multiple of 0.0001 at or above ``exact``: pmvalsampsize raises its SE in such
    steps until the interval is as wide as asked."""
    k = math.ceil(exact / _SE_STEP - 1e-9)
    return k * _SE_STEP


def _check_inputs(prevalence: float, c_statistic: float) -> None:
    if not 0 < prevalence < 1:
        raise ValueError(f"prevalence must lie in (0, 1), got {prevalence}")
    if not 0.5 < c_statistic < 1:
        raise ValueError(f"c_statistic must lie in (0.5, 1), got {c_statistic}")


@dataclass(frozen=True)
class SampleSizeResult:
    """The criteria and the minimum sample size they imply.

    Attributes
    ----------
    criteria
        One row per criterion: ``criterion``, ``target_ci_width``, ``se`` (the SE that
        width implies), ``n`` and ``events`` required.
    n, events
        The minimum sample size (the largest over the criteria) and its expected events.
    prevalence, c_statistic
        The anticipated outcome proportion and C-statistic.
    lp_model, lp_mean, lp_sd
        The LP distribution of criteria 2 and 4: ``"normal"`` (mean, SD) or ``"binormal"``
        (the non-events' mean m and the common SD s).
    threshold, sensitivity, specificity, standardised_net_benefit
        Criterion 4's inputs and anticipated value (NaN when no threshold was given).
    """

    criteria: pd.DataFrame
    n: int
    events: int
    prevalence: float
    c_statistic: float
    lp_mean: float
    lp_sd: float
    lp_model: str = "normal"
    threshold: float = float("nan")
    sensitivity: float = float("nan")
    specificity: float = float("nan")
    standardised_net_benefit: float = float("nan")

    def assess(self, n_available: int, events_available: int) -> str:
        """One sentence: is a cohort of this size adequate, and for which criteria not."""
        short = self.criteria[self.criteria["n"] > n_available]
        if short.empty:
            return (f"The cohort ({n_available} patients, {events_available} events) meets every criterion "
                    f"(at least {self.n} patients, {self.events} events).")
        names = ", ".join(short["criterion"])
        return (f"WARNING: the cohort ({n_available} patients, {events_available} events) is smaller than the "
                f"{self.n} patients ({self.events} events) the criteria ask for; too small for: {names}. "
                "Its estimates are imprecise.")


def _c_se(c: float, n: float, prevalence: float) -> float:
    half = n / 2 - 1
    num = c * (1 - c) * (1 + half * (1 - c) / (2 - c) + half * c / (1 + c))
    return math.sqrt(num / (n ** 2 * prevalence * (1 - prevalence)))


def _net_benefit_criterion(prevalence: float, threshold: float, sensitivity: float, specificity: float,
                           width: float) -> tuple[float, float, float]:
    """(SE, n, standardised net benefit) of criterion 4, as pmvalsampsize computes them."""
    nb = sensitivity * prevalence - (1 - specificity) * (1 - prevalence) * threshold / (1 - threshold)
    w = (1 - prevalence) / prevalence * threshold / (1 - threshold)
    se = round(_stepped_se(width / (2 * _Z)), 3)
    n = (1 / se ** 2) * (sensitivity * (1 - sensitivity) / prevalence
                         + w * w * specificity * (1 - specificity) / (1 - prevalence)
                         + w * w * (1 - specificity) ** 2 / (prevalence * (1 - prevalence)))
    return se, n, nb / prevalence


def external_validation_sample_size(prevalence: float, c_statistic: float, *, oe: float = 1.0,
                                    oe_ci_width: float = 0.2, slope_ci_width: float = 0.2,
                                    c_ci_width: float = 0.1, lp_mean: float | None = None,
                                    lp_sd: float | None = None, lp_model: str | None = None,
                                    threshold: float | None = None, sensitivity: float | None = None,
                                    specificity: float | None = None,
                                    nb_ci_width: float = 0.2) -> SampleSizeResult:
    """Minimum sample size for external validation (Riley et al. 2021, criteria 1-4).

    Parameters
    ----------
    prevalence
        Anticipated outcome proportion in the validation population.
    c_statistic
        Anticipated C-statistic of the model there.
    oe
        Anticipated O/E (pmvalsampsize's ``oe``, default 1).
    oe_ci_width, slope_ci_width, c_ci_width
        Widths of the 95% confidence intervals asked for O/E, the calibration slope (at 1)
        and the C-statistic: ``pmvalsampsize``'s defaults.
    lp_mean, lp_sd, lp_model
        The LP distribution of criteria 2 and 4. ``lp_model="binormal"`` (the default when
        neither mean nor SD is given): pmvalsampsize's ``lpcstat`` model, with m solved
        exactly unless ``lp_mean`` gives it. ``lp_model="normal"``: pmvalsampsize's
        ``lpnormal = c(lp_mean, lp_sd)``; without them, the normal whose mean and SD
        reproduce ``prevalence`` and ``c_statistic`` (:func:`lp_distribution`).
    threshold, sensitivity, specificity, nb_ci_width
        Criterion 4 (standardised net benefit), computed when ``threshold`` is given;
        sensitivity and specificity at the threshold default to the LP distribution's.

    Examples
    --------
    >>> r = external_validation_sample_size(0.018, 0.8, oe_ci_width=1, lp_model="normal", lp_mean=-5, lp_sd=2.5)
    >>> r.criteria[["criterion", "n"]].to_dict("list")
    {'criterion': ['O/E', 'calibration slope', 'C-statistic'], 'n': [905, 4554, 4252]}
    """
    _check_inputs(prevalence, c_statistic)
    if not oe > 0:
        raise ValueError(f"oe must be positive, got {oe}")
    model = lp_model or ("normal" if lp_sd is not None else "binormal")
    if model not in LP_MODELS:
        raise ValueError(f"lp_model must be one of {LP_MODELS}, got {model!r}")
    if model == "normal":
        if (lp_mean is None) != (lp_sd is None):
            raise ValueError("give both lp_mean and lp_sd, or neither")
        if lp_mean is None or lp_sd is None:
            lp_mean, lp_sd = lp_distribution(prevalence, c_statistic)
    else:
        if lp_sd is not None:
            raise ValueError("the binormal LP's SD follows from the C-statistic (s^2 = 2 qnorm(C)^2); give "
                             "lp_mean alone (the non-events' mean), or lp_model='normal'")
        m, sd = binormal_lp(prevalence, c_statistic)
        lp_mean, lp_sd = (m if lp_mean is None else float(lp_mean)), sd
    components = _components(model, lp_mean, lp_sd, prevalence)

    se_oe = _stepped_se(math.asinh(oe_ci_width / (2 * oe)) / _Z)  # exp(ln oe +- z se) has this width
    n_oe = (1 - prevalence) / (prevalence * se_oe ** 2)

    se_slope = slope_ci_width / (2 * _Z)

    def v(lp):
        return special.expit(lp) * (1 - special.expit(lp))

    i_aa = _expect(components, v)
    i_ab = _expect(components, lambda lp: v(lp) * lp)
    i_bb = _expect(components, lambda lp: v(lp) * lp ** 2)
    n_slope = i_aa / ((i_aa * i_bb - i_ab ** 2) * se_slope ** 2)

    se_c = c_ci_width / (2 * _Z)
    n_c = optimize.brentq(lambda n: _c_se(c_statistic, n, prevalence) - se_c, 4, 1e9, xtol=1e-6)

    rows = [("O/E", oe_ci_width, se_oe, n_oe), ("calibration slope", slope_ci_width, se_slope, n_slope),
            ("C-statistic", c_ci_width, se_c, n_c)]
    extra: dict[str, float] = {}
    if threshold is not None:
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
        cut = special.logit(threshold)
        # a calibrated model: P(event | LP) = expit(LP), so the events' share is the LP
        # distribution's mean risk (not the prevalence argument when a normal LP is given);
        # rounded to 2 decimals, as pmvalsampsize does
        risk = _expect(components, special.expit)
        if sensitivity is None:
            sensitivity = round(_expect(components, lambda lp: special.expit(lp) * (lp >= cut)) / risk, 2)
        if specificity is None:
            specificity = round(_expect(components, lambda lp: special.expit(-lp) * (lp < cut)) / (1 - risk), 2)
        se_nb, n_nb, snb = _net_benefit_criterion(prevalence, threshold, sensitivity, specificity, nb_ci_width)
        rows.append(("net benefit", nb_ci_width, se_nb, n_nb))
        extra = {"threshold": threshold, "sensitivity": float(sensitivity), "specificity": float(specificity),
                 "standardised_net_benefit": snb}
    table = pd.DataFrame([{"criterion": name, "target_ci_width": w, "se": se, "n": int(math.ceil(n - 1e-9)),
                           "events": int(math.ceil(math.ceil(n - 1e-9) * prevalence - 1e-9))}
                          for name, w, se, n in rows])
    n = int(table["n"].max())
    return SampleSizeResult(table, n, int(math.ceil(n * prevalence - 1e-9)), prevalence, c_statistic,
                            float(lp_mean), float(lp_sd), model, **extra)
