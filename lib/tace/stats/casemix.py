"""Case-mix differences between a validation cohort and the development cohort, from the
development cohort's summary statistics alone (no development patient is needed).

- Standardised mean difference of each predictor, (mean_val - mean_dev) / pooled SD with the
  pooled SD sqrt((sd_dev^2 + sd_val^2) / 2) (Austin 2009); |SMD| > 0.1 is the usual flag.
- Relatedness of the linear predictor (Debray et al. 2015): the shift of the validation
  cohort's mean LP in development SD units, and the ratio of its SD to the development SD.
  A small shift and an SD ratio near 1 point to reproducibility (a similar case mix); a
  larger shift or a wider spread to transportability (a different case mix).

A membership model (development vs validation) needs the development patients, which a
released bundle does not carry; these measures are its summary-level stand-in. The cut-offs
of :attr:`LPRelatedness.reading` (shift below 0.25 SD, SD ratio within 0.8-1.25) are this
report's convention for a one-line reading, not thresholds from Debray et al.

References
----------
Austin PC. Balance diagnostics for comparing the distribution of baseline covariates
between treatment groups in propensity-score matched samples. Stat Med 2009;28:3083-107.
Debray TPA, Vergouwe Y, Koffijberg H, et al. A new framework to enhance the interpretation of
external validation studies of clinical prediction models. J Clin Epidemiol 2015;68:279-89.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["LPRelatedness", "lp_relatedness", "smd_from_summary"]


def smd_from_summary(development: dict[str, dict], validation: pd.DataFrame) -> pd.DataFrame:
    """SMD of each predictor. ``development`` maps a predictor to its ``mean`` and ``sd``
    (the bundle's development summary); ``validation`` holds the encoded predictors."""
    rows = []
    for name, dev in development.items():
        if name not in validation:
            raise ValueError(f"validation cohort lacks predictor {name!r} of the development summary")
        x = pd.to_numeric(validation[name], errors="coerce").dropna().to_numpy(float)
        mean_v, sd_v = float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else float("nan")
        pooled = math.sqrt((dev["sd"] ** 2 + sd_v ** 2) / 2)
        smd = (mean_v - dev["mean"]) / pooled if pooled > 0 else float("nan")
        rows.append({"predictor": name, "development_mean": dev["mean"], "development_sd": dev["sd"],
                     "validation_mean": mean_v, "validation_sd": sd_v, "smd": smd,
                     "flag": "|SMD| > 0.1" if abs(smd) > 0.1 else ""})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class LPRelatedness:
    """Debray's measures for one model's linear predictor (logit of its score)."""

    model: str
    development_mean: float
    development_sd: float
    validation_mean: float
    validation_sd: float
    mean_shift_sd_units: float
    sd_ratio: float

    @property
    def reading(self) -> str:
        """Reproducibility when the case mix is alike, transportability when it differs."""
        if abs(self.mean_shift_sd_units) < 0.25 and 0.8 <= self.sd_ratio <= 1.25:
            return "reproducibility (similar case mix)"
        return "transportability (different case mix)"


def lp_relatedness(model: str, development_mean: float, development_sd: float, lp) -> LPRelatedness:
    """Compare a validation cohort's LP with the development LP's mean and SD."""
    lp = np.asarray(lp, dtype=float)
    mean_v, sd_v = float(lp.mean()), float(lp.std(ddof=1))
    return LPRelatedness(model, development_mean, development_sd, mean_v, sd_v,
                         (mean_v - development_mean) / development_sd, sd_v / development_sd)
