"""Develop the four models on the training cohort and freeze them into a bundle.

Only the ``train`` patients reach a fitting step (feature selection, scaling, tuning,
fusion, thresholds); test, external and follow-up patients are not even read. Steps:

1. clinical model (univariable screening, multivariable logistic);
2. radiomics: features with the original, eroded and dilated masks, the ICC(3,1) filter,
   then the radiomics pipeline (z-scores, correlation filter, LASSO 1-SE, XGBoost);
3. DCNN on 2.5D crops;
4. V-fold cross-fitted predictions of all three (:mod:`tace.models.crossfit`: each fold
   refits every step except the ICC filter, which uses no outcome), the DLR fusion fitted on
   them and applied unchanged to the refitted models, and the Youden thresholds of every
   model fixed on them (nothing is fitted on in-sample predictions);
5. the bundle (``OUT/bundle``: shareable, no patient-level data) and the training record
   (``OUT/training``: tables, curves and out-of-fold predictions, for the report).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from scipy.special import logit
from sklearn.metrics import roc_auc_score

from ..cohort import Cohort, CohortName, split_internal, tumour_labels
from ..cohort.schema import PREDICTOR_COLUMNS
from ..determinism import set_determinism
from ..features.crops import CROP_NORMALISATION, CropSpec, make_crops
from ..features.radiomics import RadiomicsCase, default_cache_dir, extract_radiomics, load_radiomics_params
from ..features.robustness import icc_filter
from ..io import atomic_directory, check_out_folder
from ..profiles import Profile
from ..stats import youden_threshold
from .bundle import cohort_fingerprint, package_versions, write_manifest
from .clinical import CLINICAL_IMPUTATION, CLINICAL_VARIABLES, ClinicalModel, encode_clinical
from .crossfit import cross_fit
from .dcnn import DCNN, TEST_TIME_VIEWS
from .distributed import barrier, start_from_env, stop
from .fusion import FusionModel
from .imputation import PredictorImputer
from .radiomics_model import RadiomicsModel

__all__ = ["TrainResult", "crop_spec", "train_models", "training_features", "training_table"]

_SCORES = ("clinical", "radiomics", "dcnn", "dlr")


@dataclass(frozen=True)
class TrainResult:
    """Where the bundle went, and the fitted models as they were in memory."""

    out: Path
    bundle: Path
    n_train: int
    n_selected_features: int
    seconds: float
    models: dict = field(default_factory=dict, repr=False)


def _split_table(cohort: Cohort, seed: int) -> pd.DataFrame:
    """The cohort table with an ``internal`` cohort split into train and test by ``seed``."""
    return split_internal(cohort.table, seed=seed) if (cohort.table["cohort"] == "internal").any() else cohort.table


def training_table(cohort: Cohort, seed: int) -> pd.DataFrame:
    """The training patients (an ``internal`` cohort is split first, by ``seed``)."""
    table = _split_table(cohort, seed)
    train = table[table["cohort"] == CohortName.TRAIN.value].reset_index(drop=True)
    missing = train[list(PREDICTOR_COLUMNS)].isna()
    if missing.any().any():
        rows = missing.index[missing.any(axis=1)]
        listed = "; ".join(f"{train.at[i, 'patient_id']}: {', '.join(missing.columns[missing.loc[i]])}"
                           for i in rows[:20])
        raise ValueError(f"{len(rows)} training patient(s) miss a clinical predictor ({listed}"
                         f"{' ...' if len(rows) > 20 else ''}); expected every predictor in the training patients, "
                         "on whom the models and the imputation model are fitted (missing values are imputed "
                         "only in test, external and follow-up patients)")
    if len(train) < 10:
        raise ValueError(f"the cohort has {len(train)} training patients; expected at least 10 "
                         "(rows with cohort 'train', or 'internal' to be split)")
    y = train["nonresponse"].astype(bool)
    if y.all() or not y.any():
        raise ValueError("every training patient has the same outcome; the models need both "
                         "responders and non-responders")
    return train


def crop_spec(profile: Profile) -> CropSpec:
    """The DCNN's crops as the profile sets them."""
    d = profile.dcnn
    return CropSpec(size=d.input_size, slices=d.slices_per_patient, margin_mm=d.margin_mm)


def _summary(train: pd.DataFrame, oof: pd.DataFrame, fitted: pd.DataFrame) -> dict:
    """Training-cohort statistics for later case-mix comparison (no patient-level data).

    ``oof``: out-of-fold predictions; ``fitted``: the bundle's models on the same patients."""
    x = encode_clinical(train)
    out = {"n": int(len(train)), "nonresponse_rate": float(train["nonresponse"].mean()), "predictors": {}}
    for v in CLINICAL_VARIABLES:
        col = x[v]
        out["predictors"][v] = {"encoding": CLINICAL_VARIABLES[v], "mean": float(col.mean()),
                                "sd": float(col.std(ddof=1)), "min": float(col.min()), "max": float(col.max())}
    out["oof_scores"] = {s: {"mean": float(oof[s].mean()), "sd": float(oof[s].std(ddof=1)),
                             "quantiles": {str(q): float(oof[s].quantile(q)) for q in (0.1, 0.25, 0.5, 0.75, 0.9)}}
                         for s in _SCORES}
    # development performance and LP spread, for tace validate's comparisons: out-of-fold, so
    # honest, and summary-level, so no development patient leaves with the bundle
    y = oof["nonresponse"].to_numpy(dtype=int)
    lp = {s: logit(np.clip(oof[s].to_numpy(float), 1e-6, 1 - 1e-6)) for s in _SCORES}
    # the estimate only (its DeLong interval would warn, needlessly, where a score separates)
    out["oof_performance"] = {s: {"auc": float(roc_auc_score(y, oof[s].to_numpy(float))),
                                  "lp_mean": float(lp[s].mean()), "lp_sd": float(lp[s].std(ddof=1))}
                              for s in _SCORES}
    # calibration-in-the-large on the training patients: mean predicted risk beside the
    # observed rate, out-of-fold and from the bundle's own models (in-sample)
    out["calibration_in_the_large"] = {
        s: {"observed_rate": float(y.mean()), "mean_oof": float(oof[s].mean()),
            "mean_bundle": float(fitted[s].mean())} for s in _SCORES}
    return out


#: Where the Grad-CAM maps are measured: the tumour and this rim around it (mm), where the twin
#: plants its imaging signal (heterogeneity and necrosis inside, the margin and peritumoural
#: hypointensity at the edge).
GRADCAM_RIM_MM = 10.0


def _write_gradcam(dcnn: DCNN, cohort: Cohort, seed: int, cspec: CropSpec, folder: Path, n: int = 4) -> None:
    """Grad-CAM of the largest-tumour crop of every test patient (train if there is no test
    set): ``gradcam_share.csv``, per patient (by position, no identifier) the share of the
    map's mass inside the tumour and a :data:`GRADCAM_RIM_MM` rim; ``gradcam.npz`` (crops,
    maps and regions of the first ``n``, numeric arrays) and ``gradcam.png`` of those."""
    from matplotlib.figure import Figure

    from ..features.crops import largest_slice_crops
    from ..plots import plot_gradcam
    from .gradcam import gradcam_maps, mass_share

    table = _split_table(cohort, seed)
    pick = table[table["cohort"] == "test"]
    pick = pick if len(pick) else table[table["cohort"] == "train"]
    crops, regions = largest_slice_crops(list(pick["image"]), list(pick["mask"]), cspec, tumour_labels(pick),
                                         rim_mm=GRADCAM_RIM_MM)
    maps, prob = gradcam_maps(dcnn, crops)
    share = mass_share(maps, regions)
    folder.mkdir()
    pd.DataFrame({"patient": np.arange(1, len(pick) + 1), "cohort": np.asarray(pick["cohort"], dtype=str),
                  "prob": prob, "share_in_tumour_and_rim": share,
                  "region_share_of_crop": regions.reshape(len(regions), -1).mean(axis=1),
                  "rim_mm": GRADCAM_RIM_MM}).to_csv(
        folder / "gradcam_share.csv", index=False)
    # No patient identifiers: the report shows these; a patient is named by its position.
    outcome = np.asarray(pick["nonresponse"], dtype=float)[:n]
    np.savez_compressed(folder / "gradcam.npz", crops=crops[:n], maps=maps[:n], prob=prob[:n], nonresponse=outcome,
                        regions=regions[:n], share=share[:n], rim_mm=GRADCAM_RIM_MM,
                        cohort=np.asarray(pick["cohort"], dtype=str)[:n])
    shown = min(n, len(crops))
    fig = Figure(figsize=(2.6 * shown, 3.0), layout="constrained")
    axes = fig.subplots(1, shown, squeeze=False)[0]
    for k, (ax, crop, cam, p) in enumerate(zip(axes, crops[:n], maps[:n], prob[:n], strict=True)):
        label = "non-response" if p >= 0.5 else "response"
        plot_gradcam(crop, cam, ax=ax, title=f"patient {k + 1}: P(non-resp.) {p:.2f}\nmap: evidence for {label}")
    fig.suptitle("Grad-CAM of the DCNN (SYNTHETIC DATA when on the digital twin)", fontsize=9)
    fig.savefig(folder / "gradcam.png", dpi=120, metadata={"Software": None})


def cross_validated_thresholds(oof: pd.DataFrame, y: np.ndarray) -> tuple[dict[str, float], list[str]]:
    """Each model's Youden cut-off on the training patients' cross-validated predictions
    (``oof``: a column per model), and the models whose J was largest at an infinite cut-off
    (no better than calling every patient alike: e.g. no signal to learn), for which the
    observed non-response rate takes its place. Nothing in-sample enters."""
    cuts = {s: youden_threshold(y, oof[s].to_numpy()) for s in _SCORES}
    no_youden = sorted(s for s, t in cuts.items() if not np.isfinite(t))
    return {s: (t if np.isfinite(t) else float(np.mean(y))) for s, t in cuts.items()}, no_youden


def icc_subset(n: int, size: int | None, seed: int) -> frozenset[int]:
    """The rows of the ``n`` training patients whose masks are re-segmented for the ICC
    filter: all of them when ``size`` is None or not below ``n``, else ``size`` rows drawn
    without replacement from a stream of ``seed`` of their own (so that the subset does not
    move when another random step is added)."""
    if size is None or size >= n:
        return frozenset(range(n))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1CC]))
    return frozenset(int(k) for k in rng.choice(n, size=size, replace=False))


def training_features(train: pd.DataFrame, profile: Profile, *, cache_dir: Path, n_jobs: int = -1,
                      progress: bool = False, main: bool = True
                      ) -> tuple[pd.DataFrame, list[str], pd.Series, frozenset[int]]:
    """The training patients' radiomics features and the ICC filter's verdict.

    Every patient's features with the original mask; the eroded and dilated masks of the
    seeded subset :func:`icc_subset` for the ICC(3,1) filter, which reads no outcome.

    Returns
    -------
    (features, robust, icc, icc_rows)
        Features with the original mask (rows in ``train``'s order), the robust feature
        names, every feature's ICC, and the rows re-segmented.

    Under ``torchrun`` only the first process (``main``) extracts; the others wait, then
    read the cache it filled."""
    params = load_radiomics_params(profile.radiomics.params_path)
    labels = tumour_labels(train)
    icc_rows = icc_subset(len(train), profile.radiomics.icc_patients, profile.seed)
    cases = [RadiomicsCase(r.patient_id, Path(r.image), Path(r.mask), lab, pert)
             for pert in ("original", "erode", "dilate")
             for k, (r, lab) in enumerate(zip(train.itertuples(index=False), labels, strict=True))
             if pert == "original" or k in icc_rows]
    if main:
        feats = extract_radiomics(cases, params, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
    barrier()  # the other processes read what the first one extracted
    if not main:
        feats = extract_radiomics(cases, params, cache_dir=cache_dir, n_jobs=1)
    by = {p: feats.xs(p, level="perturbation") for p in ("original", "erode", "dilate")}
    original = by["original"].loc[train["patient_id"]]
    robust, icc = icc_filter(original, [by["erode"], by["dilate"]], profile.radiomics.icc_threshold)
    if not robust:
        raise ValueError("no radiomics feature reached the ICC threshold "
                         f"{profile.radiomics.icc_threshold}; lower radiomics.icc_threshold")
    return original, robust, icc, icc_rows


def train_models(cohort: Cohort, profile: Profile, out: Path, *, cache_dir: Path | None = None,
                 n_jobs: int = -1, progress: bool = True, console: Console | None = None,
                 device: str | None = None) -> TrainResult:
    """Develop the clinical, radiomics, DCNN and DLR models and write ``out`` atomically.

    Under ``torchrun`` (several processes, :mod:`tace.models.distributed`) every process runs
    this same development and the DCNN trainings are shared among them; the first process
    extracts the radiomics features (the others then read them from the cache), prints, and
    writes ``out``."""
    ranks, device = start_from_env(device)
    console = console or Console(stderr=True)
    if not ranks.main:
        console, progress = Console(quiet=True), False
    check_out_folder(out, protected=(cohort.manifest.parent,))  # before minutes of work, not after
    t_start = time.perf_counter()
    seed = profile.seed
    set_determinism(seed)
    train = training_table(cohort, seed)
    y = train["nonresponse"].astype(bool).to_numpy()
    rspec, cspec, tspec = profile.radiomics, crop_spec(profile), profile.dcnn
    params = load_radiomics_params(profile.radiomics.params_path)
    cache_dir = default_cache_dir() if cache_dir is None else cache_dir
    labels = tumour_labels(train)

    console.rule(f"[bold]Training on {len(train)} patients ({int(y.sum())} non-responders), profile {profile.name}")
    clinical = ClinicalModel.fit(train, y, p_threshold=profile.clinical.p_threshold)
    console.print(f"Clinical model: independent predictors {', '.join(clinical.predictors)}")
    # frozen with the models: how a later patient's missing predictors are imputed (no outcome)
    imputer = PredictorImputer.fit(encode_clinical(train), {v: k for v, (k, _) in CLINICAL_IMPUTATION.items()},
                                   {v: t for v, (_, t) in CLINICAL_IMPUTATION.items()})

    original, robust, icc, icc_rows = training_features(train, profile, cache_dir=cache_dir, n_jobs=n_jobs,
                                                        progress=progress, main=ranks.main)
    console.print(f"ICC filter on {len(icc_rows)} of {len(train)} training patients' re-segmentations")
    radiomics = RadiomicsModel.fit(original, y, robust, rspec, seed)
    console.print(f"Radiomics: {original.shape[1]} features, {len(robust)} robust (ICC >= "
                  f"{profile.radiomics.icc_threshold}), {len(radiomics.uncorrelated)} after the correlation "
                  f"filter, {len(radiomics.selected)} selected by LASSO (1-SE)")

    crops, owner = make_crops(list(train["image"]), list(train["mask"]), cspec, labels, n_jobs=n_jobs)
    dcnn = DCNN(device=device)
    history = dcnn.fit(crops, owner, y, tspec, seed, progress=progress)
    console.print(f"DCNN: {len(crops)} crops of {cspec.size} px, {tspec.epochs} epochs, "
                  f"final loss {history.loss[-1]:.3f}, {history.images_per_second:.0f} images/s on {dcnn.device}")

    crossfit = cross_fit(train, original, robust, crops, owner, y, profile, folds=profile.fusion.folds, seed=seed,
                         device=device, console=console)
    oof = crossfit.oof
    # the fusion is fitted on the cross-fitted predictions and applied, unchanged, to the
    # frozen models' raw predictions (the super learner: van der Laan et al. 2007); no mean,
    # SD or cut-off is ever taken from in-sample predictions
    fusion = FusionModel.fit(oof["dcnn"].to_numpy(), oof["radiomics"].to_numpy(), y)
    oof["dlr"] = fusion.predict_proba(oof["dcnn"].to_numpy(), oof["radiomics"].to_numpy())
    # apparent (in-sample) predictions of the frozen models: recorded for the report, which
    # labels them apparent; nothing is fitted on them
    fitted = pd.DataFrame({"nonresponse": y.astype(int), "clinical": clinical.predict_proba(train),
                           "radiomics": radiomics.predict_proba(original),
                           "dcnn": dcnn.predict_patients(crops, owner, len(train))})
    fitted["dlr"] = fusion.predict_proba(fitted["dcnn"].to_numpy(), fitted["radiomics"].to_numpy())
    console.print(f"DLR on the training patients: mean {oof['dlr'].mean():.3f} cross-validated, "
                  f"{fitted['dlr'].mean():.3f} apparent; observed non-response rate {y.mean():.3f}")
    thresholds, no_youden = cross_validated_thresholds(oof, y)

    fingerprint_rows = train.drop(columns=["image", "mask"]).to_dict(orient="records")
    fingerprint = cohort_fingerprint(fingerprint_rows, [Path(p) for p in list(train["image"]) + list(train["mask"])])
    manifest = {
        "created_by": f"tace train (profile {profile.name})",
        "packages": package_versions(),
        "profile": profile.model_dump(mode="json"),
        "seed": seed,
        "training_cohort": {"n": int(len(train)), "sha256": fingerprint},
        "outcome": "non-response to TACE (mRECIST SD or PD) = 1; every score is P(non-response)",
        "clinical": {"predictors": clinical.predictors,
                     "encodings": {p: CLINICAL_VARIABLES[p] for p in clinical.predictors}},
        "imputation": {"file": "imputation.json", "m": profile.imputation.m,
                       "iterations": profile.imputation.iterations,
                       "method": "chained equations fitted on the training patients' encoded predictors (linear "
                                 "regression with posterior parameter draws for continuous and count predictors, "
                                 "tumour number and size on the log scale; logistic for binary ones); no outcome"},
        "radiomics": {"pyradiomics_params": params, "n_extracted": int(original.shape[1]),
                      "icc_patients": len(icc_rows),
                      "robust_features": robust, "selected_features": radiomics.selected,
                      "xgboost_params": radiomics.xgb_params},
        "dcnn": {"architecture": "torchvision resnet50, 1 logit", "crops": {"size": cspec.size, "slices": cspec.slices,
                 "margin_mm": cspec.margin_mm, "normalisation": CROP_NORMALISATION},
                 "test_time_views": list(TEST_TIME_VIEWS),
                 "training": {"epochs": tspec.epochs, "batch_size": tspec.batch_size, "lr": tspec.lr,
                              "weight_decay": tspec.weight_decay}},
        "fusion": {**fusion.to_dict(),
                   "protocol": "refit",
                   "fitted_on": f"{profile.fusion.folds}-fold cross-fitted training predictions (every selection and "
                                "tuning step inside the folds); applied unchanged to the models refitted on every "
                                "training patient"},
        "thresholds": {"youden": thresholds, "dlr_survival_cutoff": thresholds["dlr"],
                       "observed_rate_in_place_of_youden": no_youden,
                       "fixed_on": f"{profile.fusion.folds}-fold cross-fitted training predictions (Youden's J), "
                                   "applied unchanged to the frozen models; for the models named in "
                                   "observed_rate_in_place_of_youden, Youden's J was largest at an infinite "
                                   "cut-off (the score did no better than calling every patient alike), and "
                                   "the observed non-response rate of the training patients took its place"},
        "development_summary": _summary(train, oof, fitted),
    }

    if ranks.world > 1:  # only the first process writes
        barrier()
        stop()
        if not ranks.main:
            return TrainResult(Path(out), Path(out) / "bundle", len(train), len(radiomics.selected),
                               time.perf_counter() - t_start,
                               {"clinical": clinical, "radiomics": radiomics, "dcnn": dcnn, "fusion": fusion})
    with atomic_directory(out, overwrite=True, marker="tace train", protected=(cohort.manifest.parent,)) as tmp:
        bundle = tmp / "bundle"
        bundle.mkdir()
        clinical.save(bundle / "clinical.json")
        imputer.save(bundle / "imputation.json")
        files = ["clinical.json", "imputation.json", *[p.name for p in radiomics.save(bundle)], "dcnn.safetensors",
                 "fusion.json"]
        dcnn.save(bundle / "dcnn.safetensors")
        fusion.save(bundle / "fusion.json")
        write_manifest(bundle, manifest, files)
        record = tmp / "training"
        record.mkdir()
        pd.concat([clinical.univariable, clinical.multivariable]).to_csv(record / "clinical_or.csv", index=False)
        icc.rename_axis("feature").reset_index().to_csv(record / "radiomics_icc.csv", index=False)
        radiomics.lasso_path.to_csv(record / "radiomics_lasso_path.csv", index=False)
        radiomics.lasso_coef_path.to_csv(record / "radiomics_lasso_coefficients.csv", index=False)
        pd.DataFrame({"feature": radiomics.selected, "lasso_coef": radiomics.lasso_coef}).to_csv(
            record / "radiomics_selected.csv", index=False)
        radiomics.xgb_cv.to_csv(record / "radiomics_xgboost_cv.csv", index=False)
        _correlation_record(original, robust, radiomics).to_csv(record / "radiomics_correlation.csv",
                                                                float_format="%.4f")
        pd.DataFrame({"epoch": history.epoch, "loss": history.loss, "lr": history.lr}).to_csv(
            record / "dcnn_history.csv", index=False)
        oof.to_csv(record / "oof_predictions.csv", index=False)
        fitted.insert(0, "patient_id", train["patient_id"])
        fitted.to_csv(record / "fitted_predictions.csv", index=False)
        (record / "summary.json").write_text(json.dumps({
            "n_train": int(len(train)), "n_features_extracted": int(original.shape[1]),
            "n_icc_patients": len(icc_rows),
            "n_robust": len(robust), "n_uncorrelated": len(radiomics.uncorrelated),
            "n_selected": len(radiomics.selected), "dcnn_images_per_second": history.images_per_second,
            "device": dcnn.device}, indent=2) + "\n")
        _write_gradcam(dcnn, cohort, seed, cspec, record / "gradcam")
    seconds = time.perf_counter() - t_start
    console.print(f"Models developed and frozen in {seconds:.0f} s")
    return TrainResult(Path(out), Path(out) / "bundle", len(train), len(radiomics.selected), seconds,
                       {"clinical": clinical, "radiomics": radiomics, "dcnn": dcnn, "fusion": fusion})


def _correlation_record(original: pd.DataFrame, robust: list[str], radiomics) -> pd.DataFrame:
    """Pearson correlations of the robust features on the training patients (what the
    redundancy filter compares; a constant feature correlates 0), each row with the last
    selection step the feature passed: ``robust``, ``not redundant`` or ``selected``."""
    corr = original[robust].astype(float).corr().fillna(0.0)
    step = pd.Series("robust", index=corr.index, name="kept_through")
    step[step.index.isin(radiomics.uncorrelated)] = "not redundant"
    step[step.index.isin(radiomics.selected)] = "selected"
    return pd.concat([step, corr], axis=1).rename_axis("feature")

