"""Signal recovery with real training: the pipeline finds a blatant planted signal, loses it when
the training labels are shuffled, and invents none where there is none.

These catch what no unit test of a single step can: crops given to the wrong patient, labels in
another order than the images, a score that runs the wrong way. Each trains the real models
(PyRadiomics, LASSO and XGBoost, the ResNet50 DCNN, the fusion) on small twins.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.metrics import roc_auc_score

from tace.cohort import load_cohort
from tace.cohort.synthetic import generate_twin
from tace.cohort.synthetic.model import ResponseModel, TraitModel, TwinModel
from tace.models import predict_cohort, train_models
from tace.profiles import SyntheticSpec, load_profile
from tace.stats import roc_auc

pytestmark = pytest.mark.slow

IMAGING = ("radiomics", "dcnn")
SPEC = SyntheticSpec(n_train=40, n_test=20, n_external=20, n_followup=10, shape=(64, 64, 20),
                     spacing_mm=(3.0, 3.0, 8.0), signal="paper")
#: no clinical and no imaging effect at all: the outcome is a coin toss
_SILENT = ResponseModel(intercept=0.0, bclc_b=0.0, per_extra_tumour=0.0, log_size=0.0, log10_afp=0.0,
                        child_pugh_b=0.0, heterogeneity=0.0, margin_irregularity=0.0,
                        peritumoural_hypointensity=0.0, satellite_nodules=0.0)
#: non-response is a blatant visual trait: strongly heterogeneous, necrotic tumours against
#: homogeneous ones (heterogeneity pushed to beyond +-2.5 SD), nothing else matters
PLUMBING = TwinModel(signal="plumbing", traits=TraitModel(heterogeneity_separation=2.5),
                     response=replace(_SILENT, heterogeneity=3.0))
#: the ``null`` preset keeps its clinical effects, and tumour size is visible in every image;
#: to ask whether the pipeline invents signal, this twin has none anywhere
SILENT = TwinModel(signal="silent", response=_SILENT)


@pytest.fixture(scope="module")
def profile():
    smoke = load_profile("smoke")
    # enough optimisation steps for a from-scratch ResNet50 to see a blatant trait in 40 patients
    return smoke.model_copy(update={"dcnn": smoke.dcnn.model_copy(update={"epochs": 10, "slices_per_patient": 3})})


def _develop(twin: Path, profile, out: Path, cache: Path) -> pd.DataFrame:
    cohort = load_cohort(twin / "manifest.csv")
    trained = train_models(cohort, profile, out, cache_dir=cache, n_jobs=2, progress=False,
                           console=Console(quiet=True))
    scores = predict_cohort(trained.bundle, cohort, cache_dir=cache, n_jobs=2)
    return scores.merge(cohort.table[["patient_id", "nonresponse"]], on="patient_id")


def _held_out(scores: pd.DataFrame, cohorts=("test", "external")) -> pd.DataFrame:
    part = scores[scores["cohort"].isin(cohorts)]
    return part.assign(nonresponse=part["nonresponse"].astype(int))


def test_imaging_models_find_a_blatant_trait_and_lose_it_when_training_labels_are_shuffled(
        profile, tmp_path_factory):
    root = tmp_path_factory.mktemp("plumbing")
    cache = root / "cache"
    twin = generate_twin(root / "twin", SPEC, seed=11, n_jobs=2, model=PLUMBING).root
    scores = _develop(twin, profile, root / "models", cache)
    test = _held_out(scores, ("test",))
    for model in IMAGING:
        auc = roc_auc_score(test["nonresponse"], test[model])
        assert auc >= 0.9, f"{model}: test AUC {auc:.2f} on a blatant trait (crops, owners or labels misaligned?)"

    shuffled = root / "shuffled"
    shutil.copytree(twin, shuffled, ignore=shutil.ignore_patterns("manifest.csv"))
    manifest = pd.read_csv(twin / "manifest.csv")
    train = manifest.index[manifest["cohort"] == "train"]
    manifest.loc[train, "mrecist"] = np.random.default_rng(3).permutation(manifest.loc[train, "mrecist"].to_numpy())
    manifest.to_csv(shuffled / "manifest.csv", index=False)
    scores = _develop(shuffled, profile, root / "models-shuffled", cache)
    held = _held_out(scores)  # 40 patients: a chance model exceeds 0.8 with probability < 0.001
    for model in IMAGING:
        auc = roc_auc_score(held["nonresponse"], held[model])
        assert auc < 0.8, f"{model}: AUC {auc:.2f} with shuffled training labels; the outcome leaks into training"


def test_no_model_finds_signal_in_a_twin_that_has_none(profile, tmp_path_factory):
    """Test: each imaging model's and the DLR's AUC on the 40 test and external patients, with a
    two-sided 99.9% DeLong interval; every interval must hold 0.5. Under the null the three
    intervals miss 0.5 together with probability at most 0.3% (Bonferroni), so a failure means
    the pipeline invents signal (e.g. leaks the outcome), not bad luck."""
    root = tmp_path_factory.mktemp("silent")
    twin = generate_twin(root / "twin", SPEC, seed=12, n_jobs=2, model=SILENT).root
    scores = _develop(twin, profile, root / "models", root / "cache")
    held = _held_out(scores)
    assert 8 <= held["nonresponse"].sum() <= 32  # a coin toss gave both outcomes
    for model in (*IMAGING, "dlr"):
        auc = roc_auc(held["nonresponse"], held[model], conf_level=0.999)
        assert auc.ci_low <= 0.5 <= auc.ci_high, f"{model}: AUC {auc.estimate:.2f} ({auc.ci_low:.2f}-{auc.ci_high:.2f})"
