"""Image features: PyRadiomics extraction (:mod:`.radiomics`), the ICC robustness filter
(:mod:`.robustness`) and 2.5D tumour crops for the CNN (:mod:`.crops`)."""

from .crops import CropSpec, make_crops, patient_crops
from .radiomics import RadiomicsCase, default_cache_dir, extract_radiomics, load_radiomics_params
from .robustness import icc_filter

__all__ = ["CropSpec", "RadiomicsCase", "default_cache_dir", "extract_radiomics", "icc_filter",
           "load_radiomics_params", "make_crops", "patient_crops"]
