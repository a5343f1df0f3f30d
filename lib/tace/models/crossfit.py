"""V-fold cross-fitting of the whole development pipeline.

The training patients are split into V stratified folds. For each fold, every fitting step
of the clinical, radiomics and DCNN pipelines (univariable screening, z-scores, correlation
filter, LASSO, the XGBoost search, the network's training) is run on the other V - 1 folds
and the fold's patients are scored by the result: the cross-fitted (out-of-fold)
predictions. Only the ICC filter, which reads no outcome, is fixed once on the training
patients. Each patient's cross-fitted prediction comes from models that never saw them, so
it stands for what the pipeline does on a new patient; the fusion and the thresholds are
fitted on these, never on in-sample predictions.

The fold models are kept, so that the V of them can also score new patients and be averaged
on the logit scale (:func:`ensemble_probability`): the cross-fitted ensemble that
``benchmarks/bench_fusion.py`` compares with the refitted models (``tace train`` freezes the
refitted models).

References
----------
Wolpert DH. Stacked generalization. Neural Networks 1992;5:241-59.
Breiman L. Stacked regressions. Machine Learning 1996;24:49-64.
van der Laan MJ, Polley EC, Hubbard AE. Super learner. Stat Appl Genet Mol Biol 2007;6:25.
Phillips RV, van der Laan MJ, Lee H, Gruber S. Practical considerations for specifying a
super learner. Int J Epidemiol 2023;52:1276-85.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from rich.console import Console
from scipy.special import expit, logit

from ..determinism import set_determinism
from .clinical import ClinicalModel
from .dcnn import DCNN
from .radiomics_model import RadiomicsModel

__all__ = ["CrossFit", "FoldModels", "cross_fit", "ensemble_probability", "fold_seed"]

_EPS = 1e-6


def fold_seed(seed: int, k: int) -> int:
    """The seed of fold ``k`` (0-based): its XGBoost search, its network's initialisation
    and augmentation. Kept from earlier versions, so that 2-fold bundles train as before."""
    return seed + 1000 * (k + 1)


def ensemble_probability(probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """The probability whose logit is the mean of the members' logits (each clipped to
    [1e-6, 1 - 1e-6]).

    >>> float(ensemble_probability([np.array([0.5]), np.array([0.5])])[0])
    0.5
    """
    lp = np.mean([logit(np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)) for p in probabilities], axis=0)
    return expit(lp)


@dataclass(frozen=True)
class FoldModels:
    """The pipeline fitted without one fold: its models, and which rows of the training
    table it was fitted on (``fitted_on``) and scored (``held_out``)."""

    index: int
    fitted_on: np.ndarray
    held_out: np.ndarray
    clinical: ClinicalModel = field(repr=False)
    radiomics: RadiomicsModel = field(repr=False)
    dcnn: DCNN = field(repr=False)


@dataclass(frozen=True)
class CrossFit:
    """Cross-fitted predictions of the training patients and the V fold pipelines.

    Attributes
    ----------
    folds
        V.
    oof
        One row per training patient, in the training table's order: ``patient_id``,
        ``nonresponse``, ``fold`` (1..V, the fold that held the patient out) and the
        cross-fitted ``clinical``, ``radiomics`` and ``dcnn`` probabilities.
    models
        The V :class:`FoldModels`, in fold order.
    """

    folds: int
    oof: pd.DataFrame
    models: tuple[FoldModels, ...] = field(repr=False)


def _crops_of(crops: np.ndarray, owner: np.ndarray, patients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The crops of some patients, their owners renumbered 0..len(patients)-1 in that order."""
    keep = np.isin(owner, patients)
    renumber = np.full(int(owner.max()) + 1, -1)
    renumber[patients] = np.arange(len(patients))
    return crops[keep], renumber[owner[keep]]


def cross_fit(train: pd.DataFrame, features: pd.DataFrame, robust: list[str], crops: np.ndarray,
              owner: np.ndarray, y: np.ndarray, profile, *, folds: int, seed: int, device: str | None = None,
              console: Console | None = None) -> CrossFit:
    """Cross-fit the clinical, radiomics and DCNN pipelines over ``folds`` stratified folds.

    Parameters
    ----------
    train
        The training table (one row per patient).
    features
        Their radiomics features (original mask), rows in ``train``'s order.
    robust
        The features that passed the ICC filter (fixed once: it reads no outcome).
    crops, owner
        The DCNN's crops and, for each, the row of ``train`` it belongs to.
    y
        Outcome per patient (1 = non-response).
    profile
        The :class:`tace.profiles.Profile` (clinical, radiomics and dcnn settings).
    folds, seed
        V, and the seed of the split (each fold's own seed is :func:`fold_seed`).
    """
    from sklearn.model_selection import StratifiedKFold

    console = console or Console(quiet=True)
    y = np.asarray(y).astype(bool)
    oof = pd.DataFrame({"patient_id": train["patient_id"].to_numpy(), "nonresponse": y.astype(int),
                        "fold": 0, "clinical": np.nan, "radiomics": np.nan, "dcnn": np.nan})
    models = []
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (tr, va) in enumerate(split.split(np.zeros(len(y)), y)):
        console.print(f"Cross-fitting: fold {k + 1} of {folds}")
        s = fold_seed(seed, k)
        clinical = ClinicalModel.fit(train.iloc[tr], y[tr], p_threshold=profile.clinical.p_threshold)
        radiomics = RadiomicsModel.fit(features.iloc[tr], y[tr], robust, profile.radiomics, s)
        set_determinism(s)
        net = DCNN(device=device)
        net.fit(*_crops_of(crops, owner, tr), y[tr], profile.dcnn, s)
        oof.loc[va, "fold"] = k + 1
        oof.loc[va, "clinical"] = clinical.predict_proba(train.iloc[va])
        oof.loc[va, "radiomics"] = radiomics.predict_proba(features.iloc[va])
        oof.loc[va, "dcnn"] = net.predict_patients(*_crops_of(crops, owner, va), len(va))
        models.append(FoldModels(k, tr, va, clinical, radiomics, net))
    return CrossFit(folds, oof, tuple(models))
