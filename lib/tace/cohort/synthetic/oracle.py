"""What a perfect model could reach on the twin: the generating model's own discrimination.

The *oracle* knows each patient's true probability of non-response; no model trained on data
can do better in expectation. :func:`oracle_summary` estimates, by drawing a large population
from the generating model alone (no images, no training), the AUC of the true probability, of
its clinical and imaging terms alone, and the hazard ratio of the true high-risk group. The
``paper`` signal preset was chosen with it; the twin's README and ``tace synth`` report it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from .model import TwinModel, draw_patients

__all__ = ["CentreOracle", "OracleSummary", "oracle_summary", "true_group_hazard_ratio"]


@dataclass(frozen=True)
class CentreOracle:
    """Expected oracle figures at one centre."""

    nonresponse_rate: float
    #: AUC of the true probability (clinical and imaging terms)
    auc: float
    #: AUC of the clinical terms of the true logit alone
    auc_clinical: float
    #: AUC of the imaging terms of the true logit alone
    auc_imaging: float


@dataclass(frozen=True)
class OracleSummary:
    """Expected oracle figures of a generating model (a large simulated population)."""

    signal: str
    n_per_centre: int
    seed: int
    internal: CentreOracle
    external: CentreOracle
    #: Cox hazard ratio, death, true P(non-response) >= ``cutoff`` against below it (follow-up)
    hazard_ratio: float
    cutoff: float
    high_risk_share: float

    def as_rows(self) -> list[dict]:
        """One row per centre, for tables."""
        return [{"centre": name, "nonresponse_rate": c.nonresponse_rate, "oracle_auc": c.auc,
                 "clinical_oracle_auc": c.auc_clinical, "imaging_oracle_auc": c.auc_imaging}
                for name, c in (("internal", self.internal), ("external", self.external))]


def true_group_hazard_ratio(os_months, os_event, high) -> float:
    """Cox hazard ratio of the group ``high`` (bool) against the rest
    (:func:`tace.stats.cox_regression`, Efron ties).

    NaN when a group is empty or has no deaths: the partial likelihood is then monotone and
    the estimate runs off to 0 or infinity (a small cohort can show this; it is no estimate)."""
    from ...stats import cox_regression

    frame = pd.DataFrame({"t": np.asarray(os_months, float), "e": np.asarray(os_event, int),
                          "high": np.asarray(high, bool).astype(int)})
    deaths = frame.groupby("high")["e"].sum()
    if len(deaths) < 2 or (deaths == 0).any():
        return float("nan")
    return float(cox_regression(frame, "t", "e", ["high"])["hr"].iloc[0])


def _centre(df: pd.DataFrame) -> CentreOracle:
    y = df["nonresponse"].astype(bool).to_numpy()
    return CentreOracle(nonresponse_rate=float(y.mean()),
                        auc=float(roc_auc_score(y, df["clinical_logit"] + df["imaging_logit"])),
                        auc_clinical=float(roc_auc_score(y, df["clinical_logit"])),
                        auc_imaging=float(roc_auc_score(y, df["imaging_logit"])) if df["imaging_logit"].std() > 0
                        else 0.5)


def oracle_summary(model: TwinModel, n: int = 40_000, seed: int = 1, cutoff: float = 0.5) -> OracleSummary:
    """Expected oracle AUCs and true hazard ratio of a generating model.

    Parameters
    ----------
    model
        The generating model (e.g. ``twin_model("paper")``).
    n
        Patients drawn per centre (internal, external, follow-up). With 40,000 the AUCs' Monte
        Carlo standard error is about 0.001.
    seed
        Seed of the draw.
    cutoff
        The true high-risk group is P(non-response) >= ``cutoff``.
    """
    df = draw_patients(n, n, n, seed, model)
    follow = df[df["cohort"] == "followup"]
    high = follow["p_nonresponse"] >= cutoff
    return OracleSummary(
        signal=model.signal, n_per_centre=n, seed=seed,
        internal=_centre(df[df["cohort"] == "internal"]), external=_centre(df[df["cohort"] == "external"]),
        hazard_ratio=true_group_hazard_ratio(follow["os_months"], follow["os_event"], high),
        cutoff=cutoff, high_risk_share=float(high.mean()))
