"""The four models of the study and their frozen bundles.

- :mod:`.clinical`: univariable screening, multivariable logistic regression
- :mod:`.radiomics_model`: z-scores, correlation filter, LASSO (1-SE), XGBoost
- :mod:`.dcnn`: ResNet50 on 2.5D crops, one training loop for CPU and GPU
- :mod:`.fusion`: DLR, logistic fusion on out-of-fold predictions
- :mod:`.bundle`: frozen bundles, sha256-checked at load
- :mod:`.train`, :mod:`.predict`: ``tace train`` and ``tace predict``
"""

from .bundle import BundleError, read_bundle
from .predict import SCORE_COLUMNS, predict_cohort
from .train import TrainResult, train_models

__all__ = ["SCORE_COLUMNS", "BundleError", "TrainResult", "predict_cohort", "read_bundle", "train_models"]
