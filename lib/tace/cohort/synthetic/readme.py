"""The twin's README, written from the model objects that generated it."""

from __future__ import annotations

from dataclasses import fields

import pandas as pd

from ... import __version__
from ...profiles import SyntheticSpec
from .model import TwinModel
from .oracle import OracleSummary

#: The paper's figures the ``paper`` preset aims at, with the sentence each comes from.
PAPER_TARGETS = (
    ("test: oracle AUC >= 0.92, the imaging terms alone about 0.92 (the DCNN sees only images)",
     "\"In the test set, the AUCs were 0.70, 0.80, and 0.92, respectively\" (clinical, radiomics, DCNN)"),
    ("external: oracle AUC >= 0.86", "\"In the external validation set, the AUCs were 0.77, 0.80, and 0.86, "
     "respectively\""),
    ("clinical terms alone: AUC 0.70-0.79", "the clinical model's AUCs: 0.79 (training), 0.70 (test), "
     "0.77 (external)"),
    ("true high-risk group: hazard ratio about 10-20", "\"DLR model output was an independent risk factor "
     "for the overall survival (hazard ratio: 15.9, 95% CI: 4.49-56.33)\""),
)


def _params(obj) -> str:
    return "\n".join(f"| `{f.name}` | {getattr(obj, f.name)} |" for f in fields(obj))


def _signal_section(model: TwinModel, oracle: OracleSummary) -> str:
    i, e = oracle.internal, oracle.external
    targets = "\n".join(f"| {t} | {src} |" for t, src in PAPER_TARGETS)
    return f"""## Signal preset: `{model.signal}`

How strongly outcome and survival follow the imaging traits. `weak`: plausible effect sizes,
tuned to nothing. `null`: `weak` with every imaging coefficient zero (imaging carries no
information about outcome or survival). `paper`: coefficients chosen from the generating
model alone, by simulating the oracle (no model was trained to choose them), so that a
perfect model could reach the paper's results. Targets of `paper` and their source (the
paper's abstract, Frontiers in Medicine, 2026):

| target | from the paper |
|---|---|
{targets}

What this preset's generating model gives, on {oracle.n_per_centre:,} simulated patients per
centre (seed {oracle.seed}; Monte Carlo error about 0.001 on the AUCs). The *oracle* is the
true probability itself: no model trained on data can beat it in expectation.

| centre | non-response rate | oracle AUC | clinical terms alone | imaging terms alone |
|---|---|---|---|---|
| internal (train, test) | {i.nonresponse_rate:.3f} | {i.auc:.3f} | {i.auc_clinical:.3f} | {i.auc_imaging:.3f} |
| external | {e.nonresponse_rate:.3f} | {e.auc:.3f} | {e.auc_clinical:.3f} | {e.auc_imaging:.3f} |

Follow-up: the true high-risk group (true P(non-response) >= {oracle.cutoff:g}, {oracle.high_risk_share:.0%}
of patients) has a hazard ratio of death of {oracle.hazard_ratio:.1f} against the rest (Cox).
"""


def twin_readme(spec: SyntheticSpec, seed: int, model: TwinModel, df: pd.DataFrame,
                oracle: OracleSummary) -> str:
    """Markdown README of a generated twin: what it is, the generating model, its files."""
    counts = df["cohort"].value_counts()
    rates = df.dropna(subset=["nonresponse"]).groupby("cohort")["nonresponse"].mean()
    follow = df[df["cohort"] == "followup"]
    scanners = "\n".join(
        f"| {s.name} | {s.site} | {s.spacing_factor} | {s.intensity_scale} | {s.intensity_offset} "
        f"| {s.noise_sd} | {s.bias_amplitude} | {s.blur_sigma_vox} |"
        for s in (*model.internal_scanners, *model.external_scanners))
    return f"""# Digital-twin cohort (SYNTHETIC DATA)

Every patient, image and outcome in this folder is simulated. Nothing here describes a
real person. It was written by `tace synth` (tace {__version__}) with seed {seed}; the
same seed and settings give byte-identical files.

## What it holds

| cohort | patients | observed non-response rate |
|---|---|---|
| train | {counts.get('train', 0)} | {rates.get('train', float('nan')):.2f} |
| test | {counts.get('test', 0)} | {rates.get('test', float('nan')):.2f} |
| external | {counts.get('external', 0)} | {rates.get('external', float('nan')):.2f} |
| followup | {counts.get('followup', 0)} | overall survival: {int(follow['os_event'].sum())} deaths |

Files:
- `manifest.csv`: the cohort manifest (the data contract of `tace check-cohort`).
- `images/<patient_id>_hbp.nii.gz`: hepatobiliary-phase-like volume, int16,
  {spec.shape[0]} x {spec.shape[1]} x {spec.shape[2]} voxels; internal spacing {spec.spacing_mm} mm.
- `masks/<patient_id>_tumour.nii.gz`: the index (largest) tumour, label 1. Further tumours
  and satellite nodules are in the image but not in the mask.
- `truth.csv`: per patient, the true probability of non-response (`p_nonresponse`), its
  logit split into the intercept and clinical terms (`clinical_logit`) and the imaging terms
  (`imaging_logit`), the true survival linear predictor (`survival_lp`), and the four imaging
  traits the manifest does not record. Models never see this file; it is there to check them
  against the truth.
- `twin.json`: the signal preset, the seed and the expected oracle figures below.

The internal cohort ({spec.n_internal} patients) was drawn as one population and split
{spec.n_train}/{spec.n_test} into train and test, stratified by outcome. The follow-up
cohort comes from the internal centre; the external cohort from another centre with
another scanner (scanner shift) and more advanced disease (case-mix shift).

{_signal_section(model, oracle)}
## Generating model

1. Clinical variables per centre (`CaseMix`): age ~ Normal; sex ~ Bernoulli; BCLC B ~
   Bernoulli; tumour number 1 for stage A (2 with probability 0.1), for stage B 1 with
   probability 0.3 else 2 + Binomial(2, 0.4); longest diameter log-normal (+12% in stage B),
   clipped to 3.1-12 cm (the study enrolled HCC > 3 cm); log10 AFP ~ Normal (+0.3 in stage B);
   Child-Pugh B ~ Bernoulli.
2. Imaging traits the manifest does not record (`TraitModel`): heterogeneity ~ Normal, its
   mean rising with tumour size; margin irregularity ~ Normal(0, 1); peritumoural
   hypointensity ~ Bernoulli(logistic, rising with margin irregularity); satellite nodules
   ~ Bernoulli(logistic, rising with size and stage B), 1-3 when present.
3. Non-response (`ResponseModel`): logit P = intercept + clinical terms + imaging terms;
   non-responders are PD or SD, responders CR or PR. How large the imaging terms are is the
   signal preset's choice (below).
4. Overall survival (`SurvivalModel`, follow-up cohort): Weibull proportional hazards with
   linear predictor `survival_lp` = response_logit x (logit P of non-response) + Child-Pugh
   and age terms; administrative and drop-out censoring.
5. Images (`tace.cohort.synthetic.phantom`): bright liver with dark vessels, dark index tumour
   of the recorded diameter, margin lobulation that grows with margin irregularity, internal
   texture and necrosis that grow with heterogeneity, a dark peritumoural rim, satellite
   nodules and further tumours; then scanner blur, bias field, Rician noise and intensity scale.

### Internal centre case mix
| parameter | value |
|---|---|
{_params(model.internal)}

### External centre case mix
| parameter | value |
|---|---|
{_params(model.external)}

### Imaging traits
| parameter | value |
|---|---|
{_params(model.traits)}

### Response model (logit of non-response)
| parameter | value |
|---|---|
{_params(model.response)}

### Survival model
| parameter | value |
|---|---|
{_params(model.survival)}

### Scanners
| scanner | site | spacing factor (x, y, z) | intensity scale | offset | noise SD | bias amplitude | blur (voxels) |
|---|---|---|---|---|---|---|---|
{scanners}
"""
