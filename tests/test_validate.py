"""`tace validate`: the frozen smoke bundle on cohorts it has never seen, through the real
CLI (PyRadiomics, torch, papermill kernels, the fallback renderer)."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from bs4 import BeautifulSoup

from tace.cohort.synthetic import INTERNAL_SCANNERS, Scanner, generate_twin
from tace.cohort.synthetic.model import TwinModel
from tace.report.article import load_checklist
from tace.stats import roc_auc
from tests.conftest import tree_digest
from tests.test_cli import tace
from tests.test_cohort_contract import CORPUS

#: A third site whose scanner differs from both development and the first external site.
SCANNER_C = Scanner("C-3T", "C", (0.9, 0.9, 1.1), 0.7, -20.0, 0.08, 0.30, 1.0)


def _validate(bundle: Path, manifest: Path, out: Path, cache: Path, *extra: str):
    return tace("validate", "--models", str(bundle), "--cohort", str(manifest), "--out", str(out), "--jobs", "2",
                "--renderer", "fallback", *extra, cache=cache)


@pytest.fixture(scope="module")
def second_twin(tmp_path_factory, smoke_profile):
    """Another digital twin: another seed, and its external patients on scanner C."""
    out = tmp_path_factory.mktemp("twin2") / "twin"
    model = TwinModel(internal_scanners=INTERNAL_SCANNERS, external_scanners=(SCANNER_C,))
    generate_twin(out, smoke_profile.synthetic, seed=99, n_jobs=2, model=model)
    return out


#: Predictors blanked in the validation cohort, with the share of patients (seeded): AFP as the
#: quality bar asks (30%), and predictors the clinical model is likely to use.
BLANKED = {"afp_ng_ml": 0.30, "tumor_size_cm": 0.15, "bclc": 0.10}


def _with_missing_predictors(twin: Path) -> Path:
    """The twin's manifest with predictors blanked at random (seed 12), beside the original."""
    table = pd.read_csv(twin / "manifest.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(12)
    for column, share in BLANKED.items():
        table.loc[rng.random(len(table)) < share, column] = ""
    path = twin / "manifest_missing.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def validated(trained, second_twin, radiomics_cache, tmp_path_factory):
    _, result = trained
    manifest = _with_missing_predictors(second_twin)
    before = {"bundle": tree_digest(result.bundle), "cohort": tree_digest(second_twin)}
    out = tmp_path_factory.mktemp("validate") / "run"
    run = _validate(result.bundle, manifest, out, radiomics_cache)
    assert run.returncode == 0, run.stderr
    return out, run, result, before


def test_a_second_twin_validates_end_to_end_and_the_report_has_every_part(validated):
    out, run, _, _ = validated
    assert f"Report, html (fallback): {out / 'report.html'}" in run.stdout.replace("\n", "")
    record = json.loads((out / "run.json").read_text())
    assert record["kind"].startswith("external validation")
    page = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    for fig in ("fig-flow", "fig-roc-external", "fig-calibration-external", "fig-dca-external", "fig-casemix"):
        assert page.find("figure", id=fig) is not None, fig
    for tab in ("tab-validation-performance", "tab-casemix", "tab-lp-relatedness", "tab-sample-size", "tab-updating",
                "tab-subgroups", "tab-auc", "tab-calibration", "tab-survival-discrimination"):
        assert page.find(id=tab).find("table") is not None, tab
        assert (out / "figures" / f"{tab}.csv").is_file() and (out / "figures" / f"{tab}.json").is_file()
    # the DLR risk groups depend on the trained model's scores (and so on the CPU): the KM figure
    # and the Cox table when both groups exist, else the reason in their place
    scores = pd.read_csv(out / "scores.csv")
    cutoff = json.loads((out / "models" / "bundle" / "manifest.json").read_text())["thresholds"]["dlr_survival_cutoff"]
    high = (scores.loc[scores["cohort"] == "followup", "dlr"] >= cutoff)
    for item in ("fig-km-dlr", "tab-cox"):
        if high.any() and not high.all():
            assert page.find(id=item).find(["img", "table"]) is not None, item
        else:
            assert "falls in the DLR" in page.find(id=item).get_text(), item
    assert "Quarto was not used" in page.get_text()


def test_the_validation_report_reads_in_a_browser_and_as_pdf_and_docx(validated):
    """The validation article in its three formats: no dead anchor in the HTML (the
    provenance appendix links only what the article shows), every figure legible, and a
    PDF and DOCX that hold the figures (pandoc and Typst refuse a link to a missing label)."""
    from pypdf import PdfReader

    from tace.report.browser import check_in_browser, find_chromium

    out, _, _, _ = validated
    record = json.loads((out / "run.json").read_text())
    assert record["reports"] == {"html": "report.html", "pdf": "report.pdf", "docx": "report.docx"}
    text = " ".join((p.extract_text() or "") for p in PdfReader(out / "report.pdf").pages)
    assert "Figure 1:" in text and "TRIPOD+AI checklist" in text
    for sidecar in (out / "figures").glob("fig-*.json"):
        assert json.loads(sidecar.read_text())["legibility"]["ok"], sidecar.name
    if find_chromium() is not None:  # .ci/run installs it
        found = check_in_browser(out / "report.html")
        assert found.ok, found


def test_the_bundle_and_the_cohort_are_never_modified(validated, second_twin):
    _, _, result, before = validated
    assert tree_digest(result.bundle) == before["bundle"]
    assert tree_digest(second_twin) == before["cohort"]


def test_every_patient_is_validated_and_the_auc_is_recomputable_from_the_scores(validated, second_twin):
    out, _, result, _ = validated
    scores = pd.read_csv(out / "scores.csv")
    outcomes = pd.read_csv(out / "outcomes.csv")
    assert len(scores) == len(pd.read_csv(second_twin / "manifest.csv"))
    assert set(scores["cohort"]) == {"external", "followup"}
    assert set(outcomes["source_cohort"]) == {"train", "test", "external", "followup"}
    data = scores.merge(outcomes[["patient_id", "nonresponse"]], on="patient_id").dropna(subset=["nonresponse"])
    perf = pd.read_csv(out / "figures" / "tab-validation-performance.csv").set_index("model")
    manifest = json.loads((result.bundle / "manifest.json").read_text())
    for model in ("clinical", "radiomics", "dcnn", "dlr"):
        expected = roc_auc(data["nonresponse"].astype(bool).to_numpy(), data[model].to_numpy()).estimate
        assert perf.loc[model, "validation_auc"] == pytest.approx(expected, rel=1e-5)
        dev = manifest["development_summary"]["oof_performance"][model]["auc"]
        assert perf.loc[model, "development_auc_oof"] == pytest.approx(dev, rel=1e-5)


def test_missing_predictors_are_counted_imputed_and_pooled_beside_complete_cases(validated, second_twin):
    """30% of the patients lack AFP (and some tumour size or BCLC stage): the cohort validates
    end to end, the report counts the missing values and their patterns, and the clinical
    model's pooled performance (Rubin's rules over the imputations, recomputed here from
    imputations.csv) stands beside its complete-case performance."""
    from tace.models.predict import imputed_score_sets
    from tace.stats.pooling import performance_with_ci, pooling_scale_measures, rubin_pool

    out, run, result, _ = validated
    manifest = pd.read_csv(second_twin / "manifest_missing.csv", dtype=str, keep_default_na=False)
    assert "miss at least one clinical predictor" in run.stderr.replace("\n", " ")
    missing = pd.read_csv(out / "figures" / "tab-missing.csv").set_index("predictor")
    for column in BLANKED:
        assert missing.loc[column, "total_missing"] == int((manifest[column] == "").sum())
    assert missing.loc["afp_ng_ml", "total_missing"] / len(manifest) == pytest.approx(0.30, abs=0.1)
    patterns = pd.read_csv(out / "figures" / "tab-missing-patterns.csv")
    assert patterns["total"].sum() == len(manifest)
    assert patterns.loc[0, "pattern"] == "none missing"

    bundle = json.loads((result.bundle / "manifest.json").read_text())
    m = bundle["profile"].get("imputation", {}).get("m", 20)
    scores = pd.read_csv(out / "scores.csv")
    imputations = pd.read_csv(out / "imputations.csv")
    incomplete = set(manifest.loc[(manifest[list(BLANKED)] == "").any(axis=1), "patient_id"])
    assert set(imputations["patient_id"]) == incomplete
    assert (imputations.groupby("patient_id").size() == m).all()
    used = bundle["clinical"]["predictors"]
    lacking = manifest.set_index("patient_id")[used].eq("").sum(axis=1)
    assert (scores.set_index("patient_id")["imputed_predictors"] == lacking.loc[scores["patient_id"]].to_numpy()).all()

    page = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    for tab in ("tab-missing", "tab-missing-patterns"):
        assert page.find(id=tab).find("table") is not None, tab
    outcomes = pd.read_csv(out / "outcomes.csv")[["patient_id", "nonresponse"]]
    part = scores[scores["cohort"] == "external"].merge(outcomes, on="patient_id").dropna(subset=["nonresponse"])
    part = part.reset_index(drop=True)
    if not (part["imputed_predictors"] > 0).any():  # the clinical model uses none of the blanked predictors
        assert "nothing was imputed" in page.find(id="tab-missing-pooled").get_text()
        return
    assert page.find(id="tab-missing-pooled").find("table") is not None
    pooled = pd.read_csv(out / "figures" / "tab-missing-pooled.csv")
    assert set(pooled["analysis"]) == {f"pooled over {m} imputations (Rubin's rules)", "complete cases"}
    y = part["nonresponse"].astype(bool).to_numpy()
    sets = [s.clip(1e-6, 1 - 1e-6) for s in imputed_score_sets(part, imputations)]
    logit_c = [pooling_scale_measures(y, s, ("C-statistic",))[0] for s in sets]
    r = rubin_pool([v["estimate"] for v in logit_c], [v["variance"] for v in logit_c])
    row = pooled[pooled["analysis"].str.startswith("pooled") & (pooled["measure"] == "C-statistic")].iloc[0]
    assert row["estimate"] == pytest.approx(1 / (1 + np.exp(-r.estimate)), rel=1e-5)
    assert row["n"] == len(part)
    complete = part["imputed_predictors"] == 0
    cc = pooled[(pooled["analysis"] == "complete cases") & (pooled["measure"] == "C-statistic")].iloc[0]
    assert cc["n"] == int(complete.sum())
    if complete.sum() >= 2 and 0 < y[complete].sum() < complete.sum():
        want = performance_with_ci(y[complete], sets[0][complete.to_numpy()]).set_index("measure")
        assert cc["estimate"] == pytest.approx(want.loc["C-statistic", "estimate"], rel=1e-5)  # CSV: 6 digits


def test_case_mix_sample_size_updating_and_subgroups_are_reported(validated):
    out, _, _, _ = validated
    casemix = pd.read_csv(out / "figures" / "tab-casemix.csv")
    assert set(casemix["predictor"]) == {"age", "sex", "bclc", "tumor_number", "tumor_size_cm", "afp_ng_ml",
                                         "child_pugh"}
    size = pd.read_csv(out / "figures" / "tab-sample-size.csv")
    # criterion 4 at the DLR's development threshold, as pmvalsampsize
    assert list(size["criterion"]) == ["O/E", "calibration slope", "C-statistic", "net benefit"]
    assert set(size["lp_model"]) == {"binormal"}
    updating = pd.read_csv(out / "figures" / "tab-updating.csv")
    assert set(updating["update"]) == {"as is", "recalibration-in-the-large", "logistic recalibration"}
    subgroups = pd.read_csv(out / "figures" / "tab-subgroups.csv")
    assert {"site", "scanner", "bclc"} <= set(subgroups["subgroup"])
    assert "C" in set(subgroups.loc[subgroups["subgroup"] == "site", "level"])  # the new scanner's site
    # out-of-sample performance of the updates, and the sites' heterogeneity, or the reason why not
    page_text = (out / "report.html").read_text(encoding="utf-8")
    if (out / "figures" / "tab-updating-validated.csv").is_file():
        validated_updates = pd.read_csv(out / "figures" / "tab-updating-validated.csv")
        assert set(validated_updates["measure"]) == {"auc", "intercept", "slope", "brier"}
    else:
        assert "bootstrap validation of the" in page_text
    heterogeneity = pd.read_csv(out / "figures" / "tab-site-heterogeneity.csv")
    assert {"logit C", "ln O/E", "calibration slope"} <= set(heterogeneity["measure"])
    assert heterogeneity["level"].astype(str).str.startswith("pooled").any()
    text = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser").get_text()
    assert "reproducibility" in text or "transportability" in text
    assert "WARNING: the cohort" in text  # a smoke-sized cohort is too small, and the report says so


def test_the_validation_checklist_marks_development_items_not_applicable(validated):
    out, _, _, _ = validated
    page = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    rows = {tr.find_all("td")[0].get_text(): tr.find_all("td") for tr in
            page.find(id="sec-tripod").find_next("table").find_all("tr")[1:]}
    for item in load_checklist()["items"]:
        cells = rows[item["id"]]
        if item.get("development_only"):
            assert cells[3].get_text() == "not applicable", item["id"]
        elif item["status"] == "reported":
            anchor = cells[4].find("a")["href"].lstrip("#")
            assert page.find(id=anchor) is not None, f"item {item['id']}: {anchor}"


def test_a_cohort_where_everyone_has_the_same_outcome_gets_a_report_saying_what_could_not_be_done(
        trained, small_cohort, radiomics_cache, tmp_path):
    _, result = trained
    for row in small_cohort.rows:
        if row["cohort"] != "followup":
            row["mrecist"] = "SD"  # everyone a non-responder
    small_cohort.write()
    out = tmp_path / "run"
    run = _validate(result.bundle, small_cohort.manifest, out, radiomics_cache)
    assert run.returncode == 0, run.stderr
    text = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser").get_text()
    assert "Not done: discrimination (AUC, DeLong) (every assessed patient has the same outcome (non-response))" in text
    assert "fig-roc-external: not produced in this run" in text


def test_a_broken_cohort_exits_one_names_the_patient_and_writes_nothing(trained, small_cohort, tmp_path):
    _, result = trained
    small_cohort.rows[2]["bclc"] = "C"
    small_cohort.write()
    out = tmp_path / "run"
    run = _validate(result.bundle, small_cohort.manifest, out, tmp_path / "cache")
    assert run.returncode == 1
    assert f"patient_id {small_cohort.rows[2]['patient_id']}, column bclc: unknown category 'C'" in run.stderr
    assert not out.exists()


def test_a_mask_label_absent_from_the_masks_is_a_clear_error(trained, small_cohort, tmp_path):
    _, result = trained
    run = _validate(result.bundle, small_cohort.manifest, tmp_path / "run", tmp_path / "cache", "--mask-label", "7")
    assert run.returncode == 1
    assert "label 7" in run.stderr and small_cohort.rows[0]["patient_id"] in run.stderr
    assert not (tmp_path / "run").exists()


def test_an_image_in_another_orientation_than_its_mask_is_a_clear_error(trained, small_cohort, tmp_path):
    _, result = trained
    row = small_cohort.rows[0]
    image = sitk.ReadImage(str(small_cohort.root / row["image"]))
    image.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))  # LPS flipped in-plane: another orientation
    sitk.WriteImage(image, str(small_cohort.root / row["image"]))
    run = _validate(result.bundle, small_cohort.manifest, tmp_path / "run", tmp_path / "cache")
    assert run.returncode == 1
    assert f"patient_id {row['patient_id']}" in run.stderr and "direction" in run.stderr
    assert not (tmp_path / "run").exists()


def test_a_tampered_bundle_is_refused_before_anything_is_read(trained, small_cohort, tmp_path):
    _, result = trained
    bundle = tmp_path / "bundle"
    shutil.copytree(result.bundle, bundle)
    with (bundle / "fusion.json").open("a") as fh:
        fh.write(" ")
    run = _validate(bundle, small_cohort.manifest, tmp_path / "run", tmp_path / "cache")
    assert run.returncode == 1
    assert "fusion.json: sha256" in run.stderr and "altered or corrupted" in run.stderr
    assert not (tmp_path / "run").exists()


def test_real_scanner_cases_with_made_up_outcomes_run_through_scoring(trained, refcases, tmp_path):
    """The PyRadiomics reference cases (brain, breast MRI and a phantom; ../shared/refdata) in a
    manifest whose clinical values and outcomes are made up: the report says so."""
    _, result = trained
    rows = [("brain1", "PR", "", 60, "M"), ("brain2", "SD", "", 55, "F"), ("breast1", "PD", "", 48, "F"),
            ("prostate_phantom", "CR", "8", 70, "M")]
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["patient_id", "cohort", "image", "mask", "mask_label", "age", "sex", "bclc", "tumor_number",
                         "tumor_size_cm", "afp_ng_ml", "child_pugh", "mrecist", "os_months", "os_event"])
        for k, (case, mrecist, label, age, sex) in enumerate(rows):
            image, mask = refcases / f"{case}_image.nrrd", refcases / f"{case}_label.nrrd"
            writer.writerow([f"ref-{k + 1}", "external", image, mask, label, age, sex, "AB"[k % 2], 1, 4.0 + k,
                             20.0 * (k + 1), "A", mrecist, "", ""])
    note = "real scanner images (PyRadiomics test cases) with made-up clinical values and outcomes"
    out = tmp_path / "run"
    run = tace("validate", "--models", str(result.bundle), "--cohort", str(manifest), "--out", str(out),
               "--jobs", "2", "--renderer", "fallback", "--note", note, cache=tmp_path / "cache")
    assert run.returncode == 0, run.stderr
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 4 and scores[["clinical", "radiomics", "dcnn", "dlr"]].notna().all().all()
    text = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser").get_text()
    assert f"Note on the data. {note}" in text


@pytest.mark.parametrize("case", list(CORPUS), ids=list(CORPUS))
def test_every_malformed_manifest_of_the_contract_corpus_stops_validation_before_anything_is_written(
        trained, small_cohort, tmp_path, case):
    """The data contract's corpus (tests/test_cohort_contract.py) through `run_validation`: the
    same one clear problem, and no run folder."""
    from rich.console import Console

    from tace.cohort import CohortError
    from tace.report import run_validation

    _, result = trained
    mutate, row_index, column, pattern = CORPUS[case]
    mutate(small_cohort)
    manifest = small_cohort.write()
    out = tmp_path / "run"
    with pytest.raises(CohortError) as caught:
        run_validation(result.bundle, manifest, out, n_jobs=1, console=Console(quiet=True))
    (problem,) = caught.value.problems
    assert problem.column == column and re.search(pattern, problem.message), problem.message
    assert not out.exists()
