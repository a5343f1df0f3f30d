"""Minimum sample size for the external validation of a model with a binary outcome.

The criteria of Riley et al. (2021), as the R/Stata package ``pmvalsampsize`` computes them:
the sample must estimate, with a confidence interval no wider than asked,

1. the observed/expected ratio (O/E), from SE(ln O/E) = sqrt((1 - phi) / (N phi));
2. the calibration slope, from the Fisher information of the logistic recalibration model
   ``logit(p) = a + b LP`` at a = 0, b = 1 (a calibrated model), with the linear predictor
   LP normally distributed;
3. the C-statistic, from Newcombe's (2006) approximation of its standard error.

The distribution of the LP, when not given, is the normal whose mean and SD reproduce the
anticipated outcome proportion and C-statistic (computed by numerical integration, not by
simulation, so the result is exact for the stated assumptions and needs no seed). The
fourth criterion of the paper (net benefit) needs a threshold, sensitivity and specificity
and is not computed.

References
----------
Riley RD, Debray TPA, Collins GS, et al. Minimum sample size for external validation of a
clinical prediction model with a binary outcome. Stat Med 2021;40:4230-4251.
Newcombe RG. Confidence intervals for an effect size measure based on the Mann-Whitney
statistic. Part 2. Stat Med 2006;25:559-573.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

__all__ = ["SampleSizeResult", "external_validation_sample_size", "lp_distribution"]

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
    if not 0 < prevalence < 1:
        raise ValueError(f"prevalence must lie in (0, 1), got {prevalence}")
    if not 0.5 < c_statistic < 1:
        raise ValueError(f"c_statistic must lie in (0.5, 1), got {c_statistic}")

    def mean_for(sd: float) -> float:
        return optimize.brentq(lambda m: _prevalence(m, sd) - prevalence, -100, 100, xtol=1e-12)

    def gap(sd: float) -> float:
        return _moments(mean_for(sd), sd)[1] - c_statistic

    sd = optimize.brentq(gap, 1e-4, 10, xtol=1e-10)
    return mean_for(sd), sd


@dataclass(frozen=True)
class SampleSizeResult:
    """The criteria and the minimum sample size they imply.

    Attributes
    ----------
    criteria
        One row per criterion: ``criterion``, ``target`` (CI width asked), ``se`` (the SE that
        width implies), ``n`` and ``events`` required.
    n, events
        The minimum sample size (the largest over the criteria) and its expected events.
    prevalence, c_statistic
        The anticipated outcome proportion and C-statistic.
    lp_mean, lp_sd
        The normal LP distribution used for the calibration-slope criterion.
    """

    criteria: pd.DataFrame
    n: int
    events: int
    prevalence: float
    c_statistic: float
    lp_mean: float
    lp_sd: float

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


def external_validation_sample_size(prevalence: float, c_statistic: float, *, oe_ci_width: float = 0.2,
                                    slope_ci_width: float = 0.2, c_ci_width: float = 0.1,
                                    lp_mean: float | None = None, lp_sd: float | None = None,
                                    conf_level: float = 0.95) -> SampleSizeResult:
    """Minimum sample size for external validation (Riley et al. 2021, criteria 1-3).

    Parameters
    ----------
    prevalence
        Anticipated outcome proportion in the validation population.
    c_statistic
        Anticipated C-statistic of the model there.
    oe_ci_width, slope_ci_width, c_ci_width
        Widths of the confidence intervals asked for O/E (at O/E = 1), the calibration slope
        (at 1) and the C-statistic: ``pmvalsampsize``'s defaults.
    lp_mean, lp_sd
        The LP's normal distribution, when known (e.g. from the development data); by
        default the one implied by ``prevalence`` and ``c_statistic``.
    conf_level
        Confidence level of the intervals.

    Examples
    --------
    >>> r = external_validation_sample_size(0.5, 0.75)
    >>> r.criteria[["criterion", "n"]].to_dict("list")["criterion"]
    ['O/E', 'calibration slope', 'C-statistic']
    """
    z = stats.norm.ppf(0.5 + conf_level / 2)
    if (lp_mean is None) != (lp_sd is None):
        raise ValueError("give both lp_mean and lp_sd, or neither")
    if lp_mean is None or lp_sd is None:
        lp_mean, lp_sd = lp_distribution(prevalence, c_statistic)

    se_oe = math.asinh(oe_ci_width / 2) / z  # CI exp(+-z se) around O/E = 1 has this width
    n_oe = (1 - prevalence) / (prevalence * se_oe ** 2)

    se_slope = slope_ci_width / (2 * z)
    lp = lp_mean + lp_sd * _GRID
    v = special.expit(lp) * (1 - special.expit(lp))
    i_aa, i_ab, i_bb = (np.sum(_DENSITY * v), np.sum(_DENSITY * v * lp), np.sum(_DENSITY * v * lp ** 2))
    n_slope = i_aa / ((i_aa * i_bb - i_ab ** 2) * se_slope ** 2)

    se_c = c_ci_width / (2 * z)
    n_c = optimize.brentq(lambda n: _c_se(c_statistic, n, prevalence) - se_c, 4, 1e9, xtol=1e-6)

    rows = [("O/E", oe_ci_width, se_oe, n_oe), ("calibration slope", slope_ci_width, se_slope, n_slope),
            ("C-statistic", c_ci_width, se_c, n_c)]
    table = pd.DataFrame([{"criterion": name, "target_ci_width": w, "se": se, "n": int(math.ceil(n - 1e-9)),
                           "events": int(math.ceil(math.ceil(n - 1e-9) * prevalence - 1e-9))}
                          for name, w, se, n in rows])
    n = int(table["n"].max())
    return SampleSizeResult(table, n, int(math.ceil(n * prevalence - 1e-9)), prevalence, c_statistic,
                            float(lp_mean), float(lp_sd))
