"""Radiomics extraction (PyRadiomics) and 2.5D tumour crops for the CNN.

Empty until the model-development issue (issue 4) builds it.
"""
