"""Model development on the smoke twin: real PyRadiomics, real statsmodels/XGBoost, real
torch training. One bundle is trained per session; the tests read it, break copies of it,
or train again where the claim needs it (determinism, leakage)."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from tace.cohort import load_cohort
from tace.models import BundleError, predict_cohort, read_bundle, train_models

QUIET = Console(quiet=True)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_training_writes_a_bundle_and_a_training_record(trained):
    _, result = trained
    assert sorted(p.name for p in result.bundle.iterdir()) == [
        "clinical.json", "dcnn.safetensors", "fusion.json", "imputation.json", "manifest.json",
        "radiomics_pipeline.json", "radiomics_xgboost.json"]
    record = result.out / "training"
    for name in ("clinical_or.csv", "radiomics_icc.csv", "radiomics_lasso_path.csv", "radiomics_lasso_coefficients.csv",
                 "radiomics_selected.csv",
                 "radiomics_xgboost_cv.csv", "dcnn_history.csv", "oof_predictions.csv", "gradcam/gradcam.png"):
        assert (record / name).is_file(), name
    manifest = read_bundle(result.bundle).manifest
    assert set(manifest["thresholds"]["youden"]) == {"clinical", "radiomics", "dcnn", "dlr"}
    selected = pd.read_csv(record / "radiomics_selected.csv")["feature"].tolist()
    assert manifest["radiomics"]["selected_features"] == selected
    assert len(manifest["radiomics"]["robust_features"]) <= manifest["radiomics"]["n_extracted"]
    path = pd.read_csv(record / "radiomics_lasso_path.csv")
    coefs = pd.read_csv(record / "radiomics_lasso_coefficients.csv")
    chosen = path.loc[path["chosen"], "log_lambda"].item()
    at_chosen = coefs[np.isclose(coefs["log_lambda"], chosen) & (coefs["coef"] != 0)]
    assert sorted(at_chosen["feature"]) == sorted(manifest["radiomics"]["selected_features"])
    assert manifest["development_summary"]["n"] == 24
    assert manifest["packages"]["torch"].startswith("2.14")


def test_bundle_holds_no_pickle_and_no_patient_level_data(trained):
    _, result = trained
    for path in result.bundle.iterdir():
        head = path.read_bytes()[:2]
        assert head[:1] != b"\x80", f"{path.name} starts like a pickle"
    text = "".join(p.read_text() for p in result.bundle.glob("*.json"))
    assert "twin-0" not in text  # no patient_id anywhere in the shareable bundle


def test_reloaded_bundle_predicts_exactly_what_the_trained_models_did(trained, radiomics_cache):
    """Each model reloaded from the bundle's files gives bit-identical outputs on the same inputs."""
    from tace.features.crops import CropSpec, make_crops
    from tace.features.radiomics import RadiomicsCase, extract_radiomics
    from tace.models.clinical import ClinicalModel
    from tace.models.dcnn import DCNN
    from tace.models.fusion import FusionModel
    from tace.models.radiomics_model import RadiomicsModel

    cohort, result = trained
    bundle = read_bundle(result.bundle)
    m = result.models
    test = cohort.table[cohort.table["cohort"] == "test"]
    np.testing.assert_array_equal(ClinicalModel.load(bundle.path("clinical.json")).predict_proba(test),
                                  m["clinical"].predict_proba(test))
    feats = extract_radiomics([RadiomicsCase(r.patient_id, Path(r.image), Path(r.mask)) for r in test.itertuples()],
                              bundle.manifest["radiomics"]["pyradiomics_params"]).droplevel("perturbation")
    rad = RadiomicsModel.load(bundle.folder).predict_proba(feats)
    np.testing.assert_array_equal(rad, m["radiomics"].predict_proba(feats))
    crop = bundle.manifest["dcnn"]["crops"]
    crops, owner = make_crops(list(test["image"]), list(test["mask"]),
                              CropSpec(crop["size"], crop["slices"], crop["margin_mm"]))
    dcnn = DCNN.load(bundle.path("dcnn.safetensors")).predict_patients(crops, owner, len(test))
    np.testing.assert_array_equal(dcnn, m["dcnn"].predict_patients(crops, owner, len(test)))
    np.testing.assert_array_equal(FusionModel.load(bundle.path("fusion.json")).predict_proba(dcnn, rad),
                                  m["fusion"].predict_proba(dcnn, rad))
    scores = predict_cohort(result.bundle, cohort, n_jobs=1, cache_dir=radiomics_cache)
    assert scores[["clinical", "radiomics", "dcnn", "dlr"]].apply(lambda c: c.between(0, 1).all()).all()


def test_a_tampered_bundle_is_refused_with_the_file_named(trained, tmp_path):
    _, result = trained
    copy = tmp_path / "bundle"
    shutil.copytree(result.bundle, copy)
    data = bytearray((copy / "radiomics_xgboost.json").read_bytes())
    data[100] = ord("7") if data[100] != ord("7") else ord("8")
    (copy / "radiomics_xgboost.json").write_bytes(bytes(data))
    (copy / "fusion.json").unlink()
    with pytest.raises(BundleError, match=r"radiomics_xgboost\.json: sha256 .* \(altered or corrupted\)") as info:
        read_bundle(copy)
    assert "fusion.json: missing" in str(info.value)
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        read_bundle(copy)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="manifest.json not found"):
        read_bundle(tmp_path / "empty")


def test_same_seed_gives_an_identical_bundle_through_the_command_line_without_the_truth(trained, smoke_twin,
                                                                                    radiomics_cache, tmp_path):
    """`tace train` in a fresh process, on a copy of the twin without truth.csv and twin.json,
    reproduces the in-process bundle byte for byte and scores every patient alike: the run is
    deterministic, and no model reads the twin's truth (tests/test_truth.py checks that no
    training code names it)."""
    import shutil

    cohort, result = trained
    blind = tmp_path / "twin"
    shutil.copytree(smoke_twin, blind)
    (blind / "truth.csv").unlink()
    (blind / "twin.json").unlink()
    out = tmp_path / "again"
    run = subprocess.run([str(Path(sys.executable).with_name("tace")), "train", "--cohort",
                          str(blind / "manifest.csv"), "--profile", "smoke", "--out", str(out),
                          "--cache-dir", str(radiomics_cache), "--jobs", "2"],
                         capture_output=True, text=True, encoding="utf-8", timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _hashes(out / "bundle") == _hashes(result.bundle)
    pd.testing.assert_frame_equal(predict_cohort(out, load_cohort(blind / "manifest.csv"), cache_dir=radiomics_cache),
                                  predict_cohort(result.bundle, cohort, cache_dir=radiomics_cache))


def test_no_leakage_outcomes_outside_training_do_not_change_the_bundle(trained, smoke_twin, smoke_profile,
                                                                      radiomics_cache, tmp_path):
    """Flip every test and external outcome and rewrite every follow-up survival: the bundle,
    thresholds and development summary included, must not change by a single byte."""
    _, result = trained
    with (smoke_twin / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    flip = {"CR": "PD", "PR": "SD", "SD": "PR", "PD": "CR"}
    for r in rows:
        for col in ("image", "mask"):
            r[col] = str(smoke_twin / r[col])
        if r["cohort"] in ("test", "external"):
            r["mrecist"] = flip[r["mrecist"]]
        if r["cohort"] == "followup":
            r["os_months"], r["os_event"] = "1.5", "1"
    manifest = tmp_path / "changed.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    changed = train_models(load_cohort(manifest), smoke_profile, tmp_path / "changed", cache_dir=radiomics_cache,
                           n_jobs=2, progress=False, console=QUIET)
    assert _hashes(changed.bundle) == _hashes(result.bundle)


def test_predict_command_writes_the_four_scores(trained, smoke_twin, radiomics_cache, tmp_path):
    _, result = trained
    out = tmp_path / "scores.csv"
    run = subprocess.run([str(Path(sys.executable).with_name("tace")), "predict", "--models", str(result.out),
                          "--cohort", str(smoke_twin / "manifest.csv"), "--out", str(out),
                          "--cache-dir", str(radiomics_cache), "--jobs", "1"],
                         capture_output=True, text=True, encoding="utf-8", timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["patient_id", "cohort", "clinical", "radiomics", "dcnn", "dlr",
                                    "imputed_predictors"]
    assert (scores["imputed_predictors"] == 0).all()  # the twin misses no predictor
    assert len(scores) == 68


def test_predict_refuses_a_tampered_bundle_with_exit_one(trained, smoke_twin, tmp_path):
    _, result = trained
    copy = tmp_path / "bundle"
    shutil.copytree(result.bundle, copy)
    (copy / "clinical.json").write_text(json.dumps({"intercept": 99}))
    run = subprocess.run([str(Path(sys.executable).with_name("tace")), "predict", "--models", str(copy),
                          "--cohort", str(smoke_twin / "manifest.csv"), "--out", str(tmp_path / "s.csv")],
                         capture_output=True, text=True, encoding="utf-8", timeout=600)
    assert run.returncode == 1
    assert "clinical.json: sha256" in run.stderr
    assert not (tmp_path / "s.csv").exists()


def test_gradcam_maps_are_normalised_and_follow_the_prediction(trained):
    from tace.models.gradcam import gradcam_maps

    _, result = trained
    record = np.load(result.out / "training" / "gradcam" / "gradcam.npz")
    assert record["crops"].dtype == np.float32 and "patient_id" not in record.files
    maps, prob = gradcam_maps(result.models["dcnn"], record["crops"])
    assert maps.shape == record["crops"].shape[:1] + record["crops"].shape[2:]
    assert maps.min() >= 0 and maps.max() <= 1
    np.testing.assert_allclose(prob, result.models["dcnn"].predict_crops(record["crops"]), rtol=1e-5)


def test_gradcam_targets_and_views_are_what_they_say(trained):
    """``nonresponse`` is the ``predicted`` map wherever non-response is predicted; a view's map
    is flipped back onto the crop (the left-right view of a crop is the as-is map of its mirror
    image, mirrored); the layer can be chosen and an unknown target is refused."""
    from tace.models.gradcam import gradcam_maps

    _, result = trained
    dcnn = result.models["dcnn"]
    crops = np.load(result.out / "training" / "gradcam" / "gradcam.npz")["crops"]
    predicted, prob = gradcam_maps(dcnn, crops)
    nonresponse, _ = gradcam_maps(dcnn, crops, target="nonresponse")
    positive = prob >= 0.5
    np.testing.assert_allclose(nonresponse[positive], predicted[positive], atol=1e-12)
    viewed, _ = gradcam_maps(dcnn, crops, views=("left_right",))
    mirrored, _ = gradcam_maps(dcnn, np.ascontiguousarray(crops[..., ::-1]))
    np.testing.assert_allclose(viewed, mirrored[..., ::-1], atol=1e-5)
    assert gradcam_maps(dcnn, crops, layer="layer2")[0].shape == predicted.shape
    with pytest.raises(ValueError, match="target must be"):
        gradcam_maps(dcnn, crops, target="response")


def test_augmentation_is_seeded_and_keeps_the_batch_shape():
    import torch

    from tace.models.dcnn import augment_batch
    from tace.profiles import AugmentSettings

    x = torch.rand(6, 3, 32, 32)
    a = augment_batch(x, AugmentSettings(), torch.Generator().manual_seed(3))
    b = augment_batch(x, AugmentSettings(), torch.Generator().manual_seed(3))
    c = augment_batch(x, AugmentSettings(), torch.Generator().manual_seed(4))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    identity = AugmentSettings(flip=False, rotate_deg=0, scale=0, translate=0, intensity=0)
    torch.testing.assert_close(augment_batch(x, identity, torch.Generator().manual_seed(0)), x,
                               atol=1e-5, rtol=0)


def test_the_bundle_scores_its_training_patients_as_training_recorded_them_apparent(trained, radiomics_cache):
    """tace predict on the training patients gives the apparent (in-sample) predictions the
    training record keeps, and the summary's apparent mean DLR is their mean."""
    cohort, result = trained
    train = cohort.table[cohort.table["cohort"] == "train"]
    scores = predict_cohort(result.bundle, cohort, n_jobs=1, cache_dir=radiomics_cache)
    scored = scores.set_index("patient_id").loc[train["patient_id"]]
    recorded = pd.read_csv(result.out / "training" / "fitted_predictions.csv").set_index("patient_id")
    for m in ("clinical", "radiomics", "dcnn", "dlr"):
        np.testing.assert_allclose(scored[m].to_numpy(), recorded.loc[scored.index, m].to_numpy(), rtol=1e-9, atol=0)
    citl = read_bundle(result.bundle).manifest["development_summary"]["calibration_in_the_large"]["dlr"]
    assert citl["mean_bundle"] == pytest.approx(scored["dlr"].mean(), abs=1e-9)
    assert citl["observed_rate"] == pytest.approx(train["nonresponse"].astype(float).mean())


def test_fusion_and_every_threshold_come_from_the_cross_validated_predictions_alone(trained):
    """The frozen fusion is the FLIC fit on the stored cross-fitted predictions, and each
    Youden cut-off is that of the stored cross-fitted predictions, recomputed here: the
    in-sample predictions (fitted_predictions.csv) enter neither. The cross-fitted DLR is the
    fusion applied to the cross-fitted inputs, so its mean equals the observed rate (FLIC)."""
    from tace.models.fusion import FusionModel
    from tace.stats import youden_threshold

    _, result = trained
    manifest = read_bundle(result.bundle).manifest
    oof = pd.read_csv(result.out / "training" / "oof_predictions.csv")
    y = oof["nonresponse"].to_numpy(int)
    assert sorted(oof["fold"].unique()) == list(range(1, manifest["profile"]["fusion"]["folds"] + 1))
    refit = FusionModel.fit(oof["dcnn"].to_numpy(), oof["radiomics"].to_numpy(), y)
    frozen = FusionModel.load(result.bundle / "fusion.json")
    # (the CSV keeps 15-16 significant digits: equal to rounding)
    np.testing.assert_allclose(frozen.coefficients, refit.coefficients, rtol=1e-9)
    np.testing.assert_allclose([frozen.dcnn.mean, frozen.dcnn.sd, frozen.radiomics.mean, frozen.radiomics.sd],
                               [refit.dcnn.mean, refit.dcnn.sd, refit.radiomics.mean, refit.radiomics.sd], rtol=1e-9)
    np.testing.assert_allclose(oof["dlr"], refit.predict_proba(oof["dcnn"].to_numpy(), oof["radiomics"].to_numpy()),
                               rtol=1e-12)
    assert oof["dlr"].mean() == pytest.approx(y.mean(), abs=1e-9)
    cuts = manifest["thresholds"]["youden"]
    for m in ("clinical", "radiomics", "dcnn", "dlr"):
        want = youden_threshold(y, oof[m].to_numpy())
        assert cuts[m] == pytest.approx(want if np.isfinite(want) else y.mean(), rel=1e-9), m
    assert manifest["thresholds"]["dlr_survival_cutoff"] == cuts["dlr"]


def test_mask_label_chosen_on_the_command_line_reaches_radiomics_and_crops(trained, small_cohort, radiomics_cache,
                                                                          tmp_path):
    """A two-label mask (2: the tumour, 1: another lesion) scored with ``--mask-label 2`` gives
    exactly the scores of the same mask with label 1 erased; with ``--mask-label 1`` it does not."""
    import SimpleITK as sitk

    from tests.test_cli import tace

    _, result = trained
    root = small_cohort.root
    (root / "erased").mkdir()
    for r in small_cohort.rows:
        mask = sitk.ReadImage(str(root / r["mask"]))
        arr = sitk.GetArrayFromImage(mask)
        two = np.where(arr != 0, 2, 0).astype(np.uint8)
        z, y, x = np.nonzero(arr == 0)
        far = np.argmax((z - np.nonzero(arr)[0].mean()) ** 2 + (y - np.nonzero(arr)[1].mean()) ** 2)
        zz, yy, xx = z[far], y[far], x[far]
        two[max(zz - 1, 0):zz + 2, max(yy - 4, 0):yy + 4, max(xx - 4, 0):xx + 4][
            arr[max(zz - 1, 0):zz + 2, max(yy - 4, 0):yy + 4, max(xx - 4, 0):xx + 4] == 0] = 1
        assert set(np.unique(two)) == {0, 1, 2}
        for folder, values in ((root / r["mask"], two), (root / "erased" / Path(r["mask"]).name,
                                                           np.where(two == 2, 2, 0).astype(np.uint8))):
            img = sitk.GetImageFromArray(values)
            img.CopyInformation(mask)
            sitk.WriteImage(img, str(folder))
    erased_rows = [dict(r, mask=f"erased/{Path(r['mask']).name}") for r in small_cohort.rows]
    small_cohort.write()
    small_cohort.rows = erased_rows
    small_cohort.manifest.rename(root / "two_labels.csv")
    erased = small_cohort.write()

    def scores(manifest, *extra):
        out = tmp_path / f"scores-{len(list(tmp_path.glob('scores-*')))}.csv"
        run = tace("predict", "--models", str(result.bundle), "--cohort", str(manifest), "--out", str(out),
                   "--jobs", "1", *extra, cache=radiomics_cache)
        assert run.returncode == 0, run.stderr[-2000:]
        return pd.read_csv(out)

    chosen = scores(root / "two_labels.csv", "--mask-label", "2")
    pd.testing.assert_frame_equal(chosen, scores(erased))
    other = scores(root / "two_labels.csv", "--mask-label", "1")
    assert not np.allclose(other[["radiomics", "dcnn"]], chosen[["radiomics", "dcnn"]])


def test_epoch_loss_is_the_mean_over_the_crops_trained_on_not_over_skipped_ones():
    """Three crops in batches of two: the last batch of one is skipped (BatchNorm needs two), so
    the epoch's loss is the first batch's loss, not two thirds of it. With identity
    augmentation the batch's loss is recomputed from the untrained model."""
    import copy

    import torch
    import torch.nn.functional as F

    from tace.models.dcnn import DCNN, build_resnet50
    from tace.profiles import AugmentSettings, DCNNSettings

    torch.manual_seed(0)
    crops = np.random.default_rng(0).normal(size=(3, 3, 32, 32)).astype(np.float32)
    y = np.array([1.0, 0.0, 1.0])
    net = DCNN(build_resnet50(), device="cpu")
    # in the channels_last layout training uses: BatchNorm over two crops at 1 x 1 pixels
    # (layer4 of 32-px crops) amplifies the last-bit differences between layouts into 0.1s
    before = copy.deepcopy(net.model).train().to(memory_format=torch.channels_last)
    spec = DCNNSettings(input_size=32, epochs=1, batch_size=2, augment=AugmentSettings(
        flip=False, rotate_deg=0, scale=0, translate=0, intensity=0))
    history = net.fit(crops, np.arange(3), y, spec, seed=11)
    idx = torch.randperm(3, generator=torch.Generator().manual_seed(11))[:2]
    with torch.no_grad():
        logits = before(torch.as_tensor(crops)[idx].contiguous(memory_format=torch.channels_last)).squeeze(1)
    expected = F.binary_cross_entropy_with_logits(logits, torch.as_tensor(y, dtype=torch.float32)[idx]).item()
    assert history.loss[0] == pytest.approx(expected, rel=1e-4)


def test_a_missing_robust_feature_is_named_not_a_bare_key_error(trained, radiomics_cache):
    from tace.cohort import tumour_labels
    from tace.features.radiomics import RadiomicsCase, extract_radiomics

    cohort, result = trained
    model = result.models["radiomics"]
    unselected = next(f for f in model.robust_features if f not in model.selected)
    test = cohort.table[cohort.table["cohort"] == "test"].head(2)
    feats = extract_radiomics([RadiomicsCase(r.patient_id, Path(r.image), Path(r.mask), label)
                               for r, label in zip(test.itertuples(), tumour_labels(test), strict=True)],
                              read_bundle(result.bundle).manifest["radiomics"]["pyradiomics_params"],
                              cache_dir=radiomics_cache).droplevel("perturbation")
    with pytest.raises(ValueError, match=rf"1 radiomics feature\(s\) the model needs are missing.*{unselected}"):
        model.predict_proba(feats.drop(columns=[unselected]))


def test_the_radiomics_model_takes_the_profiles_settings_as_they_are():
    """One declaration of the settings: the validated profile section goes straight in, and
    the XGBoost grid searched is the profile's (no copy of it elsewhere)."""
    from itertools import product

    from tace.models.radiomics_model import RadiomicsModel
    from tace.profiles import load_profile

    settings = load_profile("smoke").radiomics
    rng = np.random.default_rng(5)
    y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    x = pd.DataFrame(rng.normal(size=(40, 6)), columns=[f"f{i}" for i in range(6)])
    x["f0"] += 1.5 * y
    model = RadiomicsModel.fit(x, y, list(x.columns), settings, seed=1)
    searched = [json.loads(p) for p in model.xgb_cv["params"]]
    grid = settings.xgb_grid
    assert searched == [dict(zip(grid, combo, strict=True)) for combo in product(*grid.values())]
    assert "f0" in model.selected


def test_scoring_does_not_import_the_training_code():
    code = "import sys, tace.models.predict; print('tace.models.train' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


def test_fusion_has_finite_coefficients_when_the_scores_separate_the_outcomes():
    """Maximum likelihood diverges when a score separates the outcomes (a strong imaging signal
    in a small cohort); the FLIC fit stays finite, ranks by the separating score and keeps the
    mean fused probability at the observed rate."""
    from scipy.special import expit

    from tace.models.fusion import FusionModel

    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(20, bool), np.ones(20, bool)]
    dcnn = expit(np.r_[rng.normal(-2, 0.5, 20), rng.normal(2, 0.5, 20)])  # complete separation
    rad = expit(rng.normal(0, 1, 40))
    fusion = FusionModel.fit(dcnn, rad, y)
    assert np.isfinite(fusion.coefficients).all() and fusion.coefficients[1] > 1
    p = fusion.predict_proba(dcnn, rad)
    assert p[y].min() > p[~y].max()
    assert p.mean() == pytest.approx(y.mean(), abs=1e-9)


def test_patient_scores_are_the_mean_over_the_recorded_views_of_each_crop(trained):
    """Test-time augmentation: each crop scored as it is, flipped left-right (width) and
    up-down (height); the flips checked against numpy's, the mean against a by-hand one."""
    from tace.models.dcnn import TEST_TIME_VIEWS

    _, result = trained
    net = result.models["dcnn"]
    rng = np.random.default_rng(3)
    crops = rng.normal(1.0, 0.5, size=(6, 3, 32, 32)).astype(np.float32)
    owner = np.array([0, 0, 1, 1, 1, 2])
    assert TEST_TIME_VIEWS == ("as_is", "left_right", "up_down")
    as_is = net.predict_crops(crops)
    lr = net.predict_crops(np.ascontiguousarray(crops[:, :, :, ::-1]))
    ud = net.predict_crops(np.ascontiguousarray(crops[:, :, ::-1, :]))
    np.testing.assert_allclose(net.predict_crops(crops, views=("left_right",)), lr, rtol=1e-5)
    np.testing.assert_allclose(net.predict_crops(crops, views=("up_down",)), ud, rtol=1e-5)
    assert not np.allclose(lr, ud)  # the two flips are different views
    per_crop = (as_is.astype(np.float64) + lr + ud) / 3
    expected = [per_crop[:2].mean(), per_crop[2:5].mean(), per_crop[5]]
    np.testing.assert_allclose(net.predict_patients(crops, owner, 3), expected, rtol=1e-5)
    np.testing.assert_allclose(net.predict_patients(crops, owner, 3, views=("as_is",)),
                               [as_is[:2].mean(), as_is[2:5].mean(), as_is[5]], rtol=1e-6)
    with pytest.raises(ValueError, match="views must be some of"):
        net.predict_crops(crops, views=("upside_down",))


def test_a_bundle_is_scored_in_the_views_its_manifest_records(trained, radiomics_cache, tmp_path):
    """The manifest records the test-time views; a bundle written before they existed (no
    field) is scored as it was developed, crop as it is; an unknown view is refused by name."""
    from tace.features.crops import CropSpec, make_crops
    from tace.models.dcnn import TEST_TIME_VIEWS

    cohort, result = trained
    assert read_bundle(result.bundle).manifest["dcnn"]["test_time_views"] == list(TEST_TIME_VIEWS)
    copy = tmp_path / "bundle"
    shutil.copytree(result.bundle, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["dcnn"]["test_time_views"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    old = predict_cohort(copy, cohort, n_jobs=1, cache_dir=radiomics_cache)
    crop = manifest["dcnn"]["crops"]
    crops, owner = make_crops(list(cohort.table["image"]), list(cohort.table["mask"]),
                              CropSpec(crop["size"], crop["slices"], crop["margin_mm"]))
    np.testing.assert_allclose(old["dcnn"], result.models["dcnn"].predict_patients(
        crops, owner, len(cohort.table), views=("as_is",)), rtol=1e-6)
    manifest["dcnn"]["test_time_views"] = ["as_is", "sideways"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"dcnn\.test_time_views\.1"):
        read_bundle(copy)


def test_a_crops_score_does_not_depend_on_the_crops_scored_alongside_it(trained, smoke_twin):
    """oneDNN picks its kernels by batch size: without fixed-size batches, a training patient's
    DCNN score differed in its last bit between the bundle's development summary (training
    patients only) and ``tace predict`` (the whole cohort)."""
    from tace.cohort import load_cohort, tumour_labels
    from tace.features.crops import CropSpec, make_crops

    cohort, result = trained
    crop = read_bundle(result.bundle).manifest["dcnn"]["crops"]
    table = load_cohort(smoke_twin / "manifest.csv").table
    crops, _ = make_crops(list(table["image"]), list(table["mask"]),
                          CropSpec(crop["size"], crop["slices"], crop["margin_mm"]), tumour_labels(table))
    net = result.models["dcnn"]
    together = net.predict_crops(crops)
    # batches of 1, 3 and 9 crops took other kernels than one of 128 on the development machine
    for part in (slice(0, 1), slice(4, 7), slice(10, 19), slice(0, 72)):
        np.testing.assert_array_equal(net.predict_crops(crops[part]), together[part])


def test_missing_predictors_are_imputed_from_the_bundle_and_the_clinical_score_is_their_mean(
        trained, small_cohort, radiomics_cache, tmp_path):
    """A validation patient without AFP, and one without any predictor, are scored: each
    imputation completes the predictors (observed ones kept), the clinical column is the mean
    of the imputations' scores, the imaging scores do not change, and a bundle from before
    imputation refuses such a cohort by name but still scores a complete one. (That a seed
    fixes every draw is tests/test_imputation.py's.)"""
    from tace.models import score_cohort
    from tace.models.clinical import CLINICAL_VARIABLES

    cohort_before, result = trained
    complete = load_cohort(small_cohort.manifest)
    before = score_cohort(result.bundle, complete, n_jobs=1, cache_dir=radiomics_cache)
    assert before.imputations.empty and (before.scores["imputed_predictors"] == 0).all()
    small_cohort.rows[2]["afp_ng_ml"] = ""
    for v in CLINICAL_VARIABLES:
        small_cohort.rows[4][v] = "NA"
    cohort = load_cohort(small_cohort.write())
    scored = score_cohort(result.bundle, cohort, n_jobs=1, cache_dir=radiomics_cache)
    bundle = read_bundle(result.bundle)
    m = bundle.profile.imputation.m
    imp = scored.imputations
    ids = [small_cohort.rows[2]["patient_id"], small_cohort.rows[4]["patient_id"]]
    assert imp["patient_id"].value_counts().to_dict() == {ids[0]: m, ids[1]: m}
    assert imp.drop(columns=["patient_id"]).notna().all().all()
    s = scored.scores.set_index("patient_id")
    n_used = len(bundle.manifest["clinical"]["predictors"])
    assert s.loc[ids[1], "imputed_predictors"] == n_used
    assert s.loc[ids[0], "imputed_predictors"] == int("afp_ng_ml" in bundle.manifest["clinical"]["predictors"])
    means = imp.groupby("patient_id")["clinical"].mean()
    np.testing.assert_allclose(s.loc[ids, "clinical"], means.loc[ids], rtol=1e-12)
    first = imp[imp["patient_id"] == ids[0]]
    assert (first["x_age"] == float(small_cohort.rows[2]["age"])).all()  # observed values are kept
    assert first["x_afp_ng_ml"].nunique() > 1  # the missing one is drawn anew in each imputation
    b = before.scores.set_index("patient_id")
    for col in ("radiomics", "dcnn", "dlr"):
        np.testing.assert_array_equal(s[col], b[col])
    others = [pid for pid in s.index if pid not in ids]
    np.testing.assert_array_equal(s.loc[others, "clinical"], b.loc[others, "clinical"])

    old = tmp_path / "old"
    shutil.copytree(result.bundle, old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["files"]["imputation.json"]
    (old / "imputation.json").unlink()
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"2 patient\(s\) miss a clinical predictor .*predates missing-value"):
        score_cohort(old, cohort, n_jobs=1, cache_dir=radiomics_cache)
    np.testing.assert_array_equal(predict_cohort(old, complete, n_jobs=1, cache_dir=radiomics_cache)["clinical"],
                                  b["clinical"])


def test_the_icc_subset_is_seeded_of_the_asked_size_and_everyone_when_fewer():
    from tace.models.train import icc_subset

    picked = icc_subset(112, 30, seed=7)
    assert len(picked) == 30 and picked <= set(range(112)) and icc_subset(112, 30, seed=7) == picked
    assert icc_subset(112, 30, seed=8) != picked
    assert icc_subset(24, 30, seed=7) == frozenset(range(24)) and icc_subset(50, None, seed=7) == frozenset(range(50))


def test_scoring_in_chunks_gives_every_patient_the_same_score_bit_for_bit(trained, radiomics_cache, monkeypatch):
    """Scoring holds the crops of SCORING_CHUNK patients at a time (memory flat in the cohort's
    size); with chunks of 5 patients, whose crops fill no DCNN batch, every score is the
    whole-cohort one to the bit."""
    from tace.models import predict

    cohort, result = trained
    whole = predict.score_cohort(result.bundle, cohort, cache_dir=radiomics_cache, n_jobs=1).scores
    monkeypatch.setattr(predict, "SCORING_CHUNK", 5)
    chunked = predict.score_cohort(result.bundle, cohort, cache_dir=radiomics_cache, n_jobs=1).scores
    assert len(whole) > 5 * 4
    pd.testing.assert_frame_equal(whole, chunked, check_exact=True)
