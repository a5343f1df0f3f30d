"""The paper's published numbers (analysis/paper/published.csv), the only typed numbers of the
report, against their source: ../shared/paper/seed-summary.txt (the summary of the paper,
Frontiers in Medicine, 2026-04-28)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.conftest import REPO, SHARED

PUBLISHED = REPO / "analysis" / "paper" / "published.csv"
SUMMARY = SHARED / "paper" / "seed-summary.txt"


@pytest.fixture(scope="module")
def summary() -> str:
    if not SUMMARY.is_file():
        pytest.skip(f"{SUMMARY} not found: ../shared is absent (set TACE_SHARED to its location)")
    return re.sub(r"\s+", " ", SUMMARY.read_text(encoding="utf-8"))


WORDS = {"twenty-six": 26.0}  # the source spells this one out


def _numbers(text: str) -> list[float]:
    spelled = [v for w, v in WORDS.items() if w in text.lower()]
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)] + spelled


def test_every_published_value_is_quoted_from_the_source_and_appears_in_its_quote(summary):
    table = pd.read_csv(PUBLISHED)
    assert len(table) == 18
    for row in table.itertuples():
        assert row.quote in summary, row.quote
        assert row.published in _numbers(row.quote), (row.quantity, row.cohort, row.model)
        for bound in (row.ci_low, row.ci_high):
            if pd.notna(bound):
                assert bound in _numbers(row.quote)


def test_the_aucs_are_in_the_published_order_clinical_radiomics_dcnn(summary):
    table = pd.read_csv(PUBLISHED)
    auc = table[table["quantity"] == "AUC"]
    for cohort, part in auc.groupby("cohort"):
        quoted = [v for v in _numbers(part["quote"].iloc[0]) if v < 1]
        assert list(part["published"]) == quoted[-3:], cohort  # the quote lists them in this order
        assert list(part["model"]) == ["clinical", "radiomics", "dcnn"]
