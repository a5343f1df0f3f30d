"""The generating model of the digital-twin cohort: who the patients are and what happens.

Every coefficient lives here, in frozen dataclasses, and the twin's README is written from
these same objects, so that the documented model is the model that ran.

Three *signal presets* (:data:`SIGNAL_PRESETS`) share the case mix, the traits and the
images, and differ only in how strongly outcome and survival follow them:

- ``weak``: plausible effect sizes for intermediate-stage HCC treated with TACE, not tuned to
  any result (the twin's model before the presets existed);
- ``null``: ``weak`` with every imaging coefficient set to zero, so imaging carries no
  information about outcome or survival (a model that finds some is finding noise);
- ``paper``: coefficients chosen from the generating model alone (by simulating the oracle,
  with no model training in the loop; see :func:`oracle_summary`) so that the true
  probability reaches at least the paper's DCNN AUCs (test 0.92, external 0.86), the clinical
  terms alone about the paper's clinical AUCs (0.70-0.79), and the true high-risk group a
  hazard ratio of the paper's order (15.9).

For a given seed the three presets draw the same patients, traits and images; only the
outcomes differ.

Clinical variables are drawn per cohort (:class:`CaseMix`). Four imaging traits that the
clinical table does not record (tumour heterogeneity, margin irregularity, peritumoural
hypointensity, satellite nodules) are drawn next, partly correlated with tumour size and
stage, and drawn into the images by :mod:`tace.cohort.synthetic.phantom`. Non-response
follows a logistic model of both (:class:`ResponseModel`); overall survival a Weibull
proportional-hazards model (:class:`SurvivalModel`) whose linear predictor includes the
response logit, so that an imaging score also predicts survival.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import expit

from .scanners import EXTERNAL_SCANNERS, INTERNAL_SCANNERS, Scanner

__all__ = ["EXTERNAL_CASE_MIX", "IMAGING_TRAITS", "INTERNAL_CASE_MIX", "SIGNAL_PRESETS", "CaseMix",
           "ResponseModel", "Signal", "SurvivalModel", "TwinModel", "draw_patients", "response_logit",
           "twin_model"]

#: The imaging traits the manifest does not record (columns of truth.csv).
IMAGING_TRAITS = ("heterogeneity", "margin_irregularity", "peritumoural_hypointensity", "satellite_nodules")


@dataclass(frozen=True)
class CaseMix:
    """Distribution of the clinical variables in one cohort."""

    age_mean: float
    age_sd: float
    p_male: float
    p_bclc_b: float
    size_median_cm: float
    size_log_sd: float
    p_child_pugh_b: float
    log10_afp_mean: float
    log10_afp_sd: float


#: The internal centre (train, test and follow-up cohorts).
INTERNAL_CASE_MIX = CaseMix(age_mean=58.0, age_sd=10.0, p_male=0.85, p_bclc_b=0.45,
                            size_median_cm=5.5, size_log_sd=0.35, p_child_pugh_b=0.15,
                            log10_afp_mean=1.6, log10_afp_sd=1.0)
#: The external centre: older patients, more stage B, larger tumours, higher AFP.
EXTERNAL_CASE_MIX = CaseMix(age_mean=62.0, age_sd=10.0, p_male=0.80, p_bclc_b=0.60,
                            size_median_cm=6.5, size_log_sd=0.35, p_child_pugh_b=0.22,
                            log10_afp_mean=1.9, log10_afp_sd=1.0)


@dataclass(frozen=True)
class ResponseModel:
    """logit P(non-response) as a linear function of clinical and imaging traits.

    Continuous terms are centred on the internal population: ``log_size`` multiplies
    ln(size / 5.5 cm), ``log10_afp`` multiplies log10(AFP) - 1.6. The imaging traits
    ``heterogeneity`` and ``margin_irregularity`` are standard normal; the other two are 0/1.
    """

    intercept: float = -0.9
    bclc_b: float = 0.55
    per_extra_tumour: float = 0.35
    log_size: float = 0.9
    log10_afp: float = 0.15
    child_pugh_b: float = 0.25
    heterogeneity: float = 0.8
    margin_irregularity: float = 0.7
    peritumoural_hypointensity: float = 0.6
    satellite_nodules: float = 0.7
    p_pd_given_nonresponse: float = 0.35
    p_cr_given_response: float = 0.30


@dataclass(frozen=True)
class SurvivalModel:
    """Weibull proportional hazards: S(t) = exp(-(t / scale)^shape * exp(lp)).

    ``lp = response_logit * (logit P(non-response)) + child_pugh_b * [Child-Pugh B]
    + age_per_decade * (age - 60) / 10``. Censoring is administrative (uniform between
    ``admin_censor_months``) or by loss to follow-up (exponential, ``dropout_per_month``).
    """

    shape: float = 1.2
    median_months_at_lp0: float = 24.0
    response_logit: float = 0.6
    child_pugh_b: float = 0.4
    age_per_decade: float = 0.15
    admin_censor_months: tuple[float, float] = (6.0, 66.0)
    dropout_per_month: float = 0.005

    @property
    def scale(self) -> float:
        return self.median_months_at_lp0 / np.log(2.0) ** (1.0 / self.shape)


@dataclass(frozen=True)
class TraitModel:
    """How the imaging traits depend on the clinical picture."""

    heterogeneity_per_log_size_sd: float = 0.35
    peritumoural_intercept: float = -1.0
    peritumoural_per_margin: float = 0.8
    satellite_intercept: float = -1.4
    satellite_per_log_size_sd: float = 0.5
    satellite_bclc_b: float = 0.4
    #: pushes heterogeneity away from zero by this much, keeping its sign: 0 in every preset;
    #: > 0 makes two blatantly different groups of tumours (the plumbing test's twin)
    heterogeneity_separation: float = 0.0


@dataclass(frozen=True)
class TwinModel:
    """The whole generating model."""

    #: the signal preset it belongs to (see :data:`SIGNAL_PRESETS`)
    signal: str = "weak"
    internal: CaseMix = INTERNAL_CASE_MIX
    external: CaseMix = EXTERNAL_CASE_MIX
    traits: TraitModel = field(default_factory=TraitModel)
    response: ResponseModel = field(default_factory=ResponseModel)
    survival: SurvivalModel = field(default_factory=SurvivalModel)
    #: the scanners of the internal site and of the external site (the scanner shift)
    internal_scanners: tuple[Scanner, ...] = INTERNAL_SCANNERS
    external_scanners: tuple[Scanner, ...] = EXTERNAL_SCANNERS


Signal = Literal["null", "weak", "paper"]

_WEAK = TwinModel()
#: The generating model of each signal preset (see the module's docstring).
SIGNAL_PRESETS: dict[str, TwinModel] = {
    "weak": _WEAK,
    "null": replace(_WEAK, signal="null", response=replace(_WEAK.response, heterogeneity=0.0, margin_irregularity=0.0,
                                            peritumoural_hypointensity=0.0, satellite_nodules=0.0)),
    # Found by oracle_summary on 40,000 patients per centre (benchmarks/RESULTS.md, issue 11):
    # the imaging terms alone reach the paper's DCNN AUC (0.92; the DCNN sees only images),
    # the clinical terms alone 0.74-0.76 (the paper's clinical model: 0.70-0.79), the true
    # high-risk group's hazard ratio about 15 (the paper's DLR: 15.9); the intercept keeps about
    # half the internal patients non-responders.
    "paper": replace(_WEAK, signal="paper", response=ResponseModel(
        intercept=-2.5, bclc_b=1.65, per_extra_tumour=1.1, log_size=2.75, log10_afp=0.44, child_pugh_b=0.77,
        heterogeneity=2.8, margin_irregularity=2.4, peritumoural_hypointensity=2.2, satellite_nodules=2.4),
        survival=_WEAK.survival),
}


def twin_model(signal: Signal = "paper") -> TwinModel:
    """The generating model of a signal preset (``null``, ``weak`` or ``paper``)."""
    try:
        return SIGNAL_PRESETS[signal]
    except KeyError:
        raise ValueError(f"unknown signal preset {signal!r}; expected one of {', '.join(SIGNAL_PRESETS)}") from None


def _clinical(mix: CaseMix, n: int, rng: np.random.Generator) -> pd.DataFrame:
    bclc_b = rng.random(n) < mix.p_bclc_b
    # BCLC A: a single tumour (rarely two); B: multinodular, or one large tumour.
    extra = np.where(bclc_b, np.where(rng.random(n) < 0.3, 0, 1 + rng.binomial(2, 0.4, n)),
                     (rng.random(n) < 0.1).astype(int))
    log_size = np.log(mix.size_median_cm) + mix.size_log_sd * rng.standard_normal(n) + 0.12 * bclc_b
    size = np.clip(np.exp(log_size), 3.1, 12.0)  # inclusion: HCC > 3 cm
    log10_afp = np.clip(mix.log10_afp_mean + 0.3 * bclc_b + mix.log10_afp_sd * rng.standard_normal(n),
                        0.0, 5.0)
    return pd.DataFrame({
        "age": np.clip(np.round(mix.age_mean + mix.age_sd * rng.standard_normal(n)), 25, 90),
        "sex": np.where(rng.random(n) < mix.p_male, "M", "F"),
        "bclc": np.where(bclc_b, "B", "A"),
        "tumor_number": 1 + extra,
        "tumor_size_cm": np.round(size, 1),
        "afp_ng_ml": np.round(10.0 ** log10_afp, 1),
        "child_pugh": np.where(rng.random(n) < mix.p_child_pugh_b, "B", "A"),
    })


def _traits(clin: pd.DataFrame, model: TwinModel, rng: np.random.Generator) -> pd.DataFrame:
    t = model.traits
    n = len(clin)
    z_size = (np.log(clin["tumor_size_cm"]) - np.log(model.internal.size_median_cm)) / model.internal.size_log_sd
    b = (clin["bclc"] == "B").to_numpy()
    margin = rng.standard_normal(n)
    peri = rng.random(n) < expit(t.peritumoural_intercept + t.peritumoural_per_margin * margin)
    sat = rng.random(n) < expit(t.satellite_intercept + t.satellite_per_log_size_sd * z_size
                                + t.satellite_bclc_b * b)
    noise = rng.standard_normal(n)
    return pd.DataFrame({
        "heterogeneity": t.heterogeneity_per_log_size_sd * z_size + noise + t.heterogeneity_separation * np.sign(noise),
        "margin_irregularity": margin,
        "peritumoural_hypointensity": peri.astype(int),
        "satellite_nodules": np.where(sat, 1 + rng.binomial(2, 0.3, n), 0),
    })


def response_logit(df: pd.DataFrame, model: ResponseModel = ResponseModel(),
                   imaging: bool = True, clinical: bool = True) -> np.ndarray:
    """The true logit of non-response; ``imaging=False`` keeps the intercept and the clinical
    terms only, ``clinical=False`` the imaging terms only."""
    m = model
    eta = 0.0 if not clinical else (m.intercept
           + m.bclc_b * (df["bclc"] == "B")
           + m.per_extra_tumour * (df["tumor_number"] - 1)
           + m.log_size * np.log(df["tumor_size_cm"] / INTERNAL_CASE_MIX.size_median_cm)
           + m.log10_afp * (np.log10(df["afp_ng_ml"].clip(lower=1.0)) - INTERNAL_CASE_MIX.log10_afp_mean)
           + m.child_pugh_b * (df["child_pugh"] == "B"))
    if imaging:
        eta = eta + (m.heterogeneity * df["heterogeneity"]
                     + m.margin_irregularity * df["margin_irregularity"]
                     + m.peritumoural_hypointensity * df["peritumoural_hypointensity"]
                     + m.satellite_nodules * (df["satellite_nodules"] > 0))
    return np.broadcast_to(np.asarray(eta, dtype=float), (len(df),)).copy()


def draw_patients(n_internal: int, n_external: int, n_followup: int, seed: int | np.random.SeedSequence,
                  model: TwinModel | None = None) -> pd.DataFrame:
    """Draw the twin's patients: clinical variables, imaging traits, truth and outcomes.

    Parameters
    ----------
    n_internal, n_external, n_followup
        Patients per cohort; internal patients are labelled ``internal`` (split later).
    seed
        Seed or :class:`numpy.random.SeedSequence`; the draw does not depend on anything else.
    model
        The generating model (default: the ``paper`` signal preset).

    Returns
    -------
    pandas.DataFrame
        One row per patient: ``cohort``, the manifest's clinical columns, the imaging traits,
        ``p_nonresponse``, its logit split into ``clinical_logit`` (intercept and clinical
        terms) and ``imaging_logit``, ``nonresponse`` (internal and external), ``mrecist``,
        ``survival_lp``, ``os_months`` and ``os_event`` (follow-up only).
    """
    model = twin_model("paper") if model is None else model
    rng = np.random.default_rng(seed)
    parts = []
    for cohort, n, mix in (("internal", n_internal, model.internal),
                           ("external", n_external, model.external),
                           ("followup", n_followup, model.internal)):
        clin = _clinical(mix, n, rng)
        clin.insert(0, "cohort", cohort)
        parts.append(pd.concat([clin, _traits(clin, model, rng)], axis=1))
    df = pd.concat(parts, ignore_index=True)

    df["clinical_logit"] = response_logit(df, model.response, imaging=False)
    df["imaging_logit"] = response_logit(df, model.response, clinical=False)
    eta = (df["clinical_logit"] + df["imaging_logit"]).to_numpy()
    df["p_nonresponse"] = expit(eta)
    nonresp = rng.random(len(df)) < df["p_nonresponse"]
    r = model.response
    u = rng.random(len(df))
    mrecist = np.where(nonresp, np.where(u < r.p_pd_given_nonresponse, "PD", "SD"),
                       np.where(u < r.p_cr_given_response, "CR", "PR"))

    s = model.survival
    lp = (s.response_logit * eta + s.child_pugh_b * (df["child_pugh"] == "B")
          + s.age_per_decade * (df["age"] - 60.0) / 10.0).to_numpy()
    e = rng.exponential(size=len(df))
    t_event = s.scale * (e * np.exp(-lp)) ** (1.0 / s.shape)
    t_censor = np.minimum(rng.uniform(*s.admin_censor_months, size=len(df)),
                          rng.exponential(1.0 / s.dropout_per_month, size=len(df)))
    followup = (df["cohort"] == "followup").to_numpy()
    df["survival_lp"] = lp
    df["nonresponse"] = pd.array([None if f else bool(v) for f, v in zip(followup, nonresp, strict=True)],
                                 dtype="boolean")
    df["mrecist"] = [None if f else m for f, m in zip(followup, mrecist, strict=True)]
    df["os_months"] = np.where(followup, np.maximum(np.round(np.minimum(t_event, t_censor), 1), 0.1), np.nan)
    df["os_event"] = pd.array(np.where(followup, (t_event <= t_censor).astype(int), None), dtype="Int64")
    return df
