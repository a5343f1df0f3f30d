"""Digital-twin tables: each estimate beside the truth the twin knows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...stats import concordance, trait_spearman, truth_recovery_table

__all__ = ["recovery_table", "trait_table", "truth_survival_table"]


def recovery_table(data: pd.DataFrame, models: list[str], cohorts: list[str], expected_oracle: dict) -> pd.DataFrame:
    """:func:`tace.stats.truth_recovery_table` with, beside each cohort's oracle AUC, its
    expectation in the generating model's population (``expected_oracle``: the twin's
    ``expected_oracle``, keyed ``internal`` and ``external``)."""
    recovery = truth_recovery_table(data, models, cohorts)
    recovery.insert(recovery.columns.get_loc("oracle_auc") + 1, "expected_oracle_auc",
                    [expected_oracle["external" if c == "external" else "internal"]["auc"]
                     for c in recovery["cohort"]])
    return recovery


def trait_table(data: pd.DataFrame, models: list[str], cohorts: list[str], traits: list[str]) -> pd.DataFrame:
    """Spearman correlation of each imaging score with each of ``traits`` (the true imaging
    logit and the planted traits), one row per cohort and model, one column per trait."""
    long = trait_spearman(data, models, cohorts, traits)
    wide = (long.pivot_table(index=["cohort", "model"], columns="trait", values="spearman", sort=False)
            .reindex(columns=traits).reset_index())
    wide.columns.name = None
    return wide


def truth_survival_table(follow: pd.DataFrame, cutoff: float, signal: str, *, population_n: int = 20_000,
                         seed: int = 1, time: str = "os_months", event: str = "os_event") -> pd.DataFrame:
    """Survival in the follow-up cohort, estimate beside truth: Harrell's C of the DLR score,
    of the true survival linear predictor and of the true P(non-response); the hazard ratio of
    the DLR high-risk group (DLR >= ``cutoff``) beside that of the true high-risk group in this
    cohort and in ``population_n`` patients drawn from the twin's generating model (preset
    ``signal``). Hazard ratios are NaN where a group has no deaths."""
    from ...cohort.synthetic import twin_model
    from ...cohort.synthetic.oracle import oracle_summary, true_group_hazard_ratio

    rows = []
    for what, risk in (("DLR score", follow["dlr"]), ("true survival linear predictor", follow["survival_lp"]),
                       ("true P(non-response)", follow["p_nonresponse"])):
        c = concordance(follow[time], follow[event], risk)
        rows.append({"measure": "Harrell's C", "of": what, "estimate": c.estimate, "ci_low": c.ci_low,
                     "ci_high": c.ci_high})
    for what, high in (("DLR high-risk group (estimate)", follow["dlr"] >= cutoff),
                       ("true high-risk group, this cohort", follow["p_nonresponse"] >= cutoff)):
        rows.append({"measure": "hazard ratio", "of": what, "estimate": true_group_hazard_ratio(
            follow[time], follow[event], high), "ci_low": np.nan, "ci_high": np.nan})
    population = oracle_summary(twin_model(signal), n=population_n, seed=seed, cutoff=cutoff)
    rows.append({"measure": "hazard ratio", "of": "true high-risk group, generating model's population",
                 "estimate": population.hazard_ratio, "ci_low": np.nan, "ci_high": np.nan})
    return pd.DataFrame(rows)
