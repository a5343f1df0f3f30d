"""Score a cohort with a frozen bundle: the four models' probabilities per patient."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..cohort import Cohort, tumour_labels
from ..features.crops import CROP_NORMALISATION, CropSpec, make_crops
from ..features.radiomics import RadiomicsCase, default_cache_dir, extract_radiomics
from .bundle import Bundle, BundleError, read_bundle
from .clinical import ClinicalModel
from .dcnn import DCNN
from .fusion import FusionModel
from .radiomics_model import RadiomicsModel

__all__ = ["SCORE_COLUMNS", "load_models", "predict_cohort"]

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


def predict_cohort(models: Path | str, cohort: Cohort, *, cache_dir: Path | None = None, n_jobs: int = 1,
                   progress: bool = False, device: str | None = None) -> pd.DataFrame:
    """Score every patient of ``cohort`` with the bundle in ``models`` (hashes checked first).

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``cohort``, then ``clinical``, ``radiomics``, ``dcnn`` and ``dlr``:
        each the predicted probability of non-response.
    """
    bundle = read_bundle(models)
    m = bundle.manifest
    table = cohort.table
    labels = tumour_labels(table)
    clinical, radiomics, fusion, dcnn = load_models(bundle, device)
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
    crops, owner = make_crops(list(table["image"]), list(table["mask"]), spec, labels)
    out = pd.DataFrame({"patient_id": table["patient_id"].to_numpy(), "cohort": table["cohort"].to_numpy()})
    out["clinical"] = clinical.predict_proba(table)
    out["radiomics"] = radiomics.predict_proba(feats.loc[table["patient_id"]])
    # the views the bundle was developed with (validated by read_bundle; bundles from before
    # test-time augmentation scored each crop as it is)
    views = tuple(m["dcnn"].get("test_time_views", ["as_is"]))
    out["dcnn"] = dcnn.predict_patients(crops, owner, len(table), views=views)
    out["dlr"] = fusion.predict_proba(out["dcnn"].to_numpy(), out["radiomics"].to_numpy())
    if not np.isfinite(out[list(SCORE_COLUMNS)].to_numpy()).all():
        raise ValueError("a model returned a non-finite score; the bundle or the cohort is unusable")
    return out
