"""Clinical, radiomics, DCNN and fusion (DLR) models, and frozen model bundles.

Empty until the model-development issue (issue 4) builds it.
"""
