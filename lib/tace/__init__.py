"""tace: a reproducible TRIPOD+AI validation and reporting suite for MRI models that
predict the response of hepatocellular carcinoma to transarterial chemoembolisation.

Subpackages, one concept each:

- :mod:`tace.cohort`   the cohort data contract, image I/O and the digital-twin cohort
- :mod:`tace.features` radiomics extraction and tumour crops for the CNN
- :mod:`tace.models`   clinical, radiomics, DCNN and fusion (DLR) models, frozen bundles
- :mod:`tace.stats`    discrimination, calibration, decision curves, survival
- :mod:`tace.plots`    figure functions that take ``ax=`` and return it
- :mod:`tace.report`   papermill orchestration, provenance and rendering
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tace")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = ["__version__"]
