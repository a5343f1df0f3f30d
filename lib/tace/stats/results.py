"""Result types of the statistics: frozen dataclasses that render as tables.

Every statistic returns one of these; its shape never depends on flags. ``method`` is
worded as R words it (pROC, survival), so that a reviewer can match a number to its source.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["CalibrationResult", "Estimate", "TestResult"]


class _Tabular:
    def to_frame(self) -> pd.DataFrame:
        """One-row table of the scalar fields."""
        row = {f.name: getattr(self, f.name) for f in fields(cast("DataclassInstance", self))
               if not isinstance(getattr(self, f.name), (pd.DataFrame, _Tabular, dict))}
        return pd.DataFrame([row])

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.4g}")


@dataclass(frozen=True)
class Estimate(_Tabular):
    """A point estimate with its confidence interval.

    Attributes
    ----------
    estimate, ci_low, ci_high
        The estimate and its two-sided interval at ``conf_level``.
    conf_level
        Confidence level of the interval, e.g. 0.95.
    method
        How the interval was obtained, e.g. ``"DeLong"`` or ``"bootstrap (2000 stratified
        replicates, percentile)"``.
    n
        Observations used; ``n_events`` the positive ones (cases, or deaths) when relevant.
    se
        Standard error when the method provides one, else None.
    """

    estimate: float
    ci_low: float
    ci_high: float
    conf_level: float
    method: str
    n: int
    n_events: int | None = None
    se: float | None = None

    def __str__(self) -> str:
        return (f"{self.estimate:.3f} ({100 * self.conf_level:g}% CI {self.ci_low:.3f}-"
                f"{self.ci_high:.3f}; {self.method})")


@dataclass(frozen=True)
class TestResult(_Tabular):
    """A hypothesis test.

    Attributes
    ----------
    statistic
        The test statistic (Z, D, chi-square, ... as ``statistic_name`` says).
    p_value
        Two-sided p-value.
    estimate, ci_low, ci_high
        The effect the test is about (e.g. AUC_a - AUC_b) and its interval, or None when
        the test has no such effect (e.g. a log-rank test).
    method
        The test's name as R prints it.
    statistic_name
        What ``statistic`` is: ``"Z"``, ``"D"``, ``"chisq"``.
    df
        Degrees of freedom, when the reference distribution has them.
    conf_level
        Level of the interval.
    """

    __test__ = False  # not a pytest test class

    statistic: float
    p_value: float
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    method: str
    statistic_name: str = ""
    df: float | None = None
    conf_level: float = 0.95

    def __str__(self) -> str:
        eff = "" if self.estimate is None else f", estimate {self.estimate:.4g}"
        name = self.statistic_name or "statistic"
        return f"{self.method}: {name} = {self.statistic:.4g}, p = {self.p_value:.3g}{eff}"


@dataclass(frozen=True)
class CalibrationResult(_Tabular):
    """Calibration of predicted probabilities against observed outcomes.

    Attributes
    ----------
    citl
        Calibration-in-the-large: the intercept of ``logit P(y) = a + logit(prob)``
        (ideal 0).
    slope
        Logistic recalibration slope b of ``logit P(y) = a + b logit(prob)`` (ideal 1).
    brier
        Mean squared error of the probabilities.
    ici, e50, e90, emax
        Mean, median, 90th percentile and maximum of |smoothed observed - predicted| over
        the sample (Austin & Steyerberg 2019), on the smoother named by ``smoother``.
    oe
        Observed over expected events, sum(y) / sum(prob) (ideal 1), with its log-normal
        interval; ``eo`` is its reciprocal.
    scaled_brier
        1 - Brier / (o (1 - o)), o the observed rate: the Brier score's improvement on the
        uninformative forecast of the observed rate (ideal 1, 0 = no better; Steyerberg et
        al. 2010).
    smoother
        ``"loess"`` (R's ``loess(y ~ p)``, as Austin & Steyerberg) or ``"lowess"`` (as
        ``rms::val.prob``).
    hosmer_lemeshow
        Hosmer-Lemeshow test over 10 groups of predicted risk (its ``df``: g - 2 when the
        model was fitted on the cohort, g when not).
    curve
        The smoothed calibration curve on a grid: columns ``predicted``, ``observed``,
        ``ci_low``, ``ci_high``.
    n, n_events
        Observations and events.
    """

    citl: Estimate
    slope: Estimate
    brier: float
    ici: float
    e50: float
    e90: float
    emax: float
    hosmer_lemeshow: TestResult
    curve: pd.DataFrame = field(repr=False)
    n: int = 0
    n_events: int = 0
    oe: Estimate | None = None
    scaled_brier: float = float("nan")
    smoother: str = "loess"

    @property
    def eo(self) -> Estimate | None:
        """Expected over observed events: the reciprocal of :attr:`oe` and its interval."""
        if self.oe is None:
            return None
        o = self.oe
        return Estimate(1 / o.estimate, 1 / o.ci_high, 1 / o.ci_low, o.conf_level, o.method.replace("O/E", "E/O"),
                        o.n, o.n_events, o.se)

    def to_frame(self) -> pd.DataFrame:
        """One row: CITL and slope with CIs, Brier, ICI, E50, E90, Emax, O/E with CI, scaled
        Brier, HL chi-square, df and p."""
        return pd.DataFrame([{
            "citl": self.citl.estimate, "citl_ci_low": self.citl.ci_low, "citl_ci_high": self.citl.ci_high,
            "slope": self.slope.estimate, "slope_ci_low": self.slope.ci_low,
            "slope_ci_high": self.slope.ci_high, "brier": self.brier, "ici": self.ici,
            "e50": self.e50, "e90": self.e90, "emax": self.emax,
            "oe": self.oe.estimate if self.oe else np.nan, "oe_ci_low": self.oe.ci_low if self.oe else np.nan,
            "oe_ci_high": self.oe.ci_high if self.oe else np.nan, "scaled_brier": self.scaled_brier,
            "hl_chisq": self.hosmer_lemeshow.statistic, "hl_df": self.hosmer_lemeshow.df,
            "hl_p": self.hosmer_lemeshow.p_value,
            "n": self.n, "n_events": self.n_events,
        }])
