"""ROC/AUC with DeLong and bootstrap CIs, DeLong tests, calibration, decision curves and
survival analysis, checked against R.

Empty until the statistics issue (issue 3) builds it.
"""
