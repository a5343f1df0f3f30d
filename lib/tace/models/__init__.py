"""The four models of the study and their frozen bundles.

- :mod:`.clinical`: univariable screening, multivariable logistic regression
- :mod:`.radiomics_model`: z-scores, correlation filter, LASSO (1-SE), XGBoost
- :mod:`.dcnn`: ResNet50 on 2.5D crops, one training loop for CPU and GPU
- :mod:`.fusion`: DLR, logistic fusion on out-of-fold predictions
- :mod:`.imputation`: missing predictors, multiply imputed by chained equations fitted on
  the development data
- :mod:`.bundle`: frozen bundles, sha256-checked at load
- :mod:`.train`, :mod:`.predict`: ``tace train`` and ``tace predict``

The names below are imported on first use, so that ``tace.models.dcnn`` can be used
(benchmarks, CUDA tests) where only torch and numpy are installed.
"""

from importlib import import_module

__all__ = ["SCORE_COLUMNS", "BundleError", "ScoredCohort", "TrainResult", "predict_cohort", "read_bundle",
           "score_cohort", "train_models"]

_HOME = {"BundleError": ".bundle", "read_bundle": ".bundle", "SCORE_COLUMNS": ".predict",
         "predict_cohort": ".predict", "score_cohort": ".predict", "ScoredCohort": ".predict",
         "TrainResult": ".train", "train_models": ".train"}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(import_module(_HOME[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
