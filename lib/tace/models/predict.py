"""Score a cohort with a frozen bundle: the four models' probabilities per patient.

A patient who lacks one of the clinical model's predictors gets, in each of the bundle's m
imputations (:mod:`tace.models.imputation`), a clinical score from the completed predictors;
the clinical column holds their mean (the patient's score as the model would give it in
practice) and :class:`ScoredCohort` keeps every imputation for Rubin's rules. The imaging
models need no clinical value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..cohort import Cohort, tumour_labels
from ..features.crops import CROP_NORMALISATION, CropSpec, make_crops
from ..features.radiomics import RadiomicsCase, default_cache_dir, extract_radiomics
from .bundle import Bundle, BundleError, read_bundle
from .clinical import ClinicalModel, encode_clinical
from .dcnn import DCNN
from .fusion import FusionModel
from .imputation import PredictorImputer
from .radiomics_model import RadiomicsModel

__all__ = ["SCORE_COLUMNS", "ScoredCohort", "completed_sets", "imputed_score_sets", "load_models", "predict_cohort",
           "score_cohort"]

SCORE_COLUMNS = ("clinical", "radiomics", "dcnn", "dlr")


def _load_errors() -> tuple[type[BaseException], ...]:
    from safetensors import SafetensorError

    # JSON and XGBoost errors are ValueErrors; torch's state-dict mismatch a RuntimeError
    return (OSError, ValueError, TypeError, KeyError, AttributeError, RuntimeError, SafetensorError)


def load_models(bundle: Bundle, device: str | None = None) -> tuple[ClinicalModel, RadiomicsModel, FusionModel, DCNN]:
    """The four models of a verified bundle. A file whose hash matches but whose content is
    not what its name says (a pickle named .safetensors, a truncated file, JSON of another
    shape) raises :class:`BundleError` naming it, never a traceback from deep inside a loader."""
    loaders = (("clinical.json", lambda: ClinicalModel.load(bundle.path("clinical.json"))),
               ("radiomics_pipeline.json + radiomics_xgboost.json", lambda: RadiomicsModel.load(bundle.folder)),
               ("fusion.json", lambda: FusionModel.load(bundle.path("fusion.json"))),
               ("dcnn.safetensors", lambda: DCNN.load(bundle.path("dcnn.safetensors"), device=device)))
    load_errors = _load_errors()
    models = []
    for name, load in loaders:
        try:
            models.append(load())
        except load_errors as exc:  # any loader failure means the same: an unusable file
            reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            raise BundleError(f"bundle {bundle.folder}: {name} cannot be loaded ({type(exc).__name__}: "
                              f"{reason}); expected the file tace train wrote") from None
    return tuple(models)


@dataclass(frozen=True)
class ScoredCohort:
    """The scores of a cohort and, where predictors were missing, every imputation.

    Attributes
    ----------
    scores
        ``patient_id``, ``cohort``, ``clinical``, ``radiomics``, ``dcnn``, ``dlr`` (each
        P(non-response); ``clinical`` the mean over the imputations where a predictor was
        missing) and ``imputed_predictors``: how many of the clinical model's predictors
        were imputed for the patient.
    imputations
        One row per patient with any missing predictor and imputation: ``patient_id``,
        ``imputation`` (1..m), the completed encoded predictors (``x_`` + name, as
        :func:`tace.models.clinical.encode_clinical`) and that imputation's ``clinical``
        score. Empty (same columns) when no predictor was missing.
    """

    scores: pd.DataFrame
    imputations: pd.DataFrame


def completed_sets(frame: pd.DataFrame, imputations: pd.DataFrame, columns: list[str]) -> list[pd.DataFrame]:
    """``frame`` (one row per patient, a ``patient_id`` column) once per imputation, each
    missing value of its ``columns`` filled from that imputation (observed values kept).
    Empty when nothing was imputed."""
    if imputations.empty:
        return []
    out = []
    for _, part in imputations.groupby("imputation", sort=True):
        done = frame.copy()
        values = part.set_index("patient_id")
        for col in columns:
            done[col] = frame[col].fillna(frame["patient_id"].map(values[col]))
        out.append(done)
    return out


def imputed_score_sets(scores: pd.DataFrame, imputations: pd.DataFrame, column: str = "clinical"
                       ) -> list[np.ndarray]:
    """``column`` of ``scores`` once per imputation, aligned with its rows: a patient in
    ``imputations`` takes that imputation's value (in place of the mean over imputations),
    every other patient their own score. Empty when nothing was imputed."""
    blanked = scores.assign(**{column: scores[column].where(~scores["patient_id"].isin(imputations["patient_id"]))})
    return [done[column].to_numpy(float) for done in completed_sets(blanked, imputations, [column])]


def _clinical_scores(bundle: Bundle, clinical: ClinicalModel, table: pd.DataFrame
                     ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """The clinical score (mean over imputations where needed), the count of the model's
    predictors imputed per patient, and the long table of imputations."""
    design = encode_clinical(table)
    prob = clinical.predict_encoded(design)
    used = design[clinical.predictors].isna().sum(axis=1).to_numpy()
    incomplete = design.isna().any(axis=1).to_numpy()
    columns = ["patient_id", "imputation", *[f"x_{c}" for c in design.columns], "clinical"]
    if not incomplete.any():
        return prob, used, pd.DataFrame(columns=columns)
    if "imputation.json" not in bundle.manifest["files"]:
        names = ", ".join(design.columns[design.isna().any()])
        raise BundleError(f"{int(incomplete.sum())} patient(s) miss a clinical predictor ({names}), but the bundle "
                          f"{bundle.folder} predates missing-value imputation (no imputation.json); retrain it with "
                          "this version of tace, or give every predictor")
    try:
        imputer = PredictorImputer.load(bundle.path("imputation.json"))
    except _load_errors() as exc:
        raise BundleError(f"bundle {bundle.folder}: imputation.json cannot be loaded ({type(exc).__name__}: "
                          f"{str(exc)[:300]}); expected the file tace train wrote") from None
    settings = bundle.profile.imputation
    part = design[incomplete]
    sets = imputer.impute(part, m=settings.m, seed=bundle.profile.seed, iterations=settings.iterations)
    long = []
    for k, done in enumerate(sets, start=1):
        frame = done.add_prefix("x_")
        frame.insert(0, "imputation", k)
        frame.insert(0, "patient_id", table.loc[incomplete, "patient_id"].to_numpy())
        frame["clinical"] = clinical.predict_encoded(done)
        long.append(frame)
    imputations = pd.concat(long, ignore_index=True)[columns]
    prob = prob.copy()
    prob[incomplete] = np.mean([frame["clinical"].to_numpy() for frame in long], axis=0)
    return prob, used, imputations


def predict_cohort(models: Path | str, cohort: Cohort, *, cache_dir: Path | None = None, n_jobs: int = 1,
                   progress: bool = False, device: str | None = None) -> pd.DataFrame:
    """Score every patient of ``cohort`` with the bundle in ``models`` (hashes checked first):
    :attr:`ScoredCohort.scores` of :func:`score_cohort`."""
    return score_cohort(models, cohort, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress,
                        device=device).scores


#: Patients whose crops are held in memory at once while scoring: memory stays flat however
#: large the cohort. A multiple of 128 / slices crops, so that the DCNN's batches (128 crops)
#: are the same as when every patient is scored at once, and so is every score, bit for bit.
SCORING_CHUNK = 256


def _dcnn_scores(dcnn, table: pd.DataFrame, labels: list, spec: CropSpec, views: tuple[str, ...],
                 n_jobs: int) -> np.ndarray:
    """Each patient's DCNN score, the crops made and scored :data:`SCORING_CHUNK` patients
    at a time."""
    images, masks = list(table["image"]), list(table["mask"])
    scores = np.empty(len(table), dtype=np.float64)
    for lo in range(0, len(table), SCORING_CHUNK):
        hi = min(lo + SCORING_CHUNK, len(table))
        crops, owner = make_crops(images[lo:hi], masks[lo:hi], spec, labels[lo:hi], n_jobs=n_jobs)
        scores[lo:hi] = dcnn.predict_patients(crops, owner, hi - lo, views=views)
    return scores


def score_cohort(models: Path | str, cohort: Cohort, *, cache_dir: Path | None = None, n_jobs: int = 1,
                 progress: bool = False, device: str | None = None) -> ScoredCohort:
    """Score every patient of ``cohort`` with the bundle in ``models`` (hashes checked first),
    imputing missing clinical predictors with the bundle's imputation model.

    Returns
    -------
    ScoredCohort
    """
    bundle = read_bundle(models)
    m = bundle.manifest
    table = cohort.table
    labels = tumour_labels(table)
    clinical, radiomics, fusion, dcnn = load_models(bundle, device)
    # first, as it is cheap and may refuse the cohort (an old bundle cannot impute)
    clinical_score, imputed, imputations = _clinical_scores(bundle, clinical, table)
    cases = [RadiomicsCase(r.patient_id, Path(r.image), Path(r.mask), lab)
             for r, lab in zip(table.itertuples(index=False), labels, strict=True)]
    feats = extract_radiomics(cases, m["radiomics"]["pyradiomics_params"],
                              cache_dir=default_cache_dir() if cache_dir is None else cache_dir,
                              n_jobs=n_jobs, progress=progress).droplevel("perturbation")
    crop = m["dcnn"]["crops"]
    if crop.get("normalisation") != CROP_NORMALISATION:
        raise BundleError(f"{models}: the bundle's DCNN was trained on crops normalised "
                         f"{crop.get('normalisation')!r}; this version of tace makes them "
                         f"{CROP_NORMALISATION!r}; retrain the bundle (tace train) with this version")
    spec = CropSpec(size=crop["size"], slices=crop["slices"], margin_mm=crop["margin_mm"])
    out = pd.DataFrame({"patient_id": table["patient_id"].to_numpy(), "cohort": table["cohort"].to_numpy()})
    out["clinical"] = clinical_score
    out["radiomics"] = radiomics.predict_proba(feats.loc[table["patient_id"]])
    # the views the bundle was developed with (validated by read_bundle; bundles from before
    # test-time augmentation scored each crop as it is)
    views = tuple(m["dcnn"].get("test_time_views", ["as_is"]))
    out["dcnn"] = _dcnn_scores(dcnn, table, labels, spec, views, n_jobs)
    out["dlr"] = fusion.predict_proba(out["dcnn"].to_numpy(), out["radiomics"].to_numpy())
    if not np.isfinite(out[list(SCORE_COLUMNS)].to_numpy()).all():
        raise ValueError("a model returned a non-finite score; the bundle or the cohort is unusable")
    out["imputed_predictors"] = imputed
    return ScoredCohort(out, imputations)
