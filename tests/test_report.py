"""The paper report end to end: `tace report --profile smoke` on the digital twin, with the
real PyRadiomics, torch training, papermill kernels and the fallback renderer. One run is
shared by the tests of this module; a second run checks that the same seed gives the same
numbers."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup

from tace.report.article import TRIPOD_FILE, load_checklist
from tace.report.notebooks import ANALYSIS_DIR, NOTEBOOKS

REPO = Path(__file__).resolve().parents[1]
EMBED = re.compile(r"\{\{<\s*embed\s+analysis/([^#\s]+)#([a-z0-9-]+)\s*>\}\}")
EMBEDS = EMBED.findall((REPO / "index.qmd").read_text(encoding="utf-8"))
FIGURES = [label for _, label in EMBEDS if label.startswith("fig-")]
TABLES = [label for _, label in EMBEDS if label.startswith("tab-")]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def page(report_run):
    out, _, _ = report_run
    return BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")


def test_the_article_embeds_only_labelled_cells_of_the_committed_notebooks():
    assert len(FIGURES) >= 16 and len(TABLES) >= 14
    for notebook, label in EMBEDS:
        assert notebook in NOTEBOOKS, notebook
        nb = nbformat.read(ANALYSIS_DIR / notebook, as_version=4)
        assert any(c.source.startswith(f"#| label: {label}\n") for c in nb.cells), f"{notebook}#{label}"
    quarto = yaml.safe_load((REPO / "_quarto.yml").read_text())
    assert quarto["project"]["type"] == "manuscript" and quarto["manuscript"]["article"] == "index.qmd"
    assert quarto["manuscript"]["notebooks"] == [f"analysis/{n}" for n in NOTEBOOKS]
    assert set(quarto["format"]) == {"html", "typst", "docx"}
    # every figure cell gives Quarto a caption and alt text
    for notebook, label in EMBEDS:
        if label.startswith("fig-"):
            source = next(c.source for c in nbformat.read(ANALYSIS_DIR / notebook, as_version=4).cells
                          if c.source.startswith(f"#| label: {label}\n"))
            assert "#| fig-cap: " in source and "#| fig-alt: " in source, label


def test_report_runs_every_stage_and_prints_the_report_path(report_run):
    out, result, _ = report_run
    record = json.loads((out / "run.json").read_text())
    assert record["stages_done"] == ["digital-twin cohort", "cohort check", "model development and frozen bundle",
                                     "scores", *[f"notebook {n}" for n in NOTEBOOKS],
                                     "article rendered (fallback: html, pdf, docx)"]
    assert record["data_source"] == "synthetic (digital twin)"
    for fmt in ("html", "pdf", "docx"):
        assert f"Report, {fmt} (fallback): {out / f'report.{fmt}'}" in result.stdout.replace("\n", "")
    assert record["reports"] == {"html": "report.html", "pdf": "report.pdf", "docx": "report.docx"}
    # the AUCs printed on the terminal are the report's (notebook 05's table), not a second computation;
    # for the training patients, the cross-validated ones (the apparent AUCs are in the article, labelled)
    aucs = pd.read_csv(out / "figures" / "tab-auc.csv")
    assert set(aucs["estimate"]) == {"apparent", "cross-validated", "held-out test", "external"}
    for r in aucs[aucs["estimate"] != "apparent"].itertuples():
        assert f"{r.auc:.2f} ({r.delong_ci_low:.2f}-{r.delong_ci_high:.2f})" in result.stdout
    assert "train (CV)" in result.stdout
    for n in NOTEBOOKS:
        executed = nbformat.read(out / "analysis" / n, as_version=4)
        assert all(c.get("execution_count") for c in executed.cells if c.cell_type == "code"), n


#: Figures and tables that exist only when the data allow them (each states why when not):
#: the DLR risk groups need follow-up patients on both sides of the training cut-off, which
#: depends on a trained model's scores and so on the CPU's floating-point path.
#: Items a run may leave out, and what their place in the article must then say.
_NO_GROUPS = ("follow-up patients", "cut-off")
CONDITIONAL = {"fig-km-dlr": [_NO_GROUPS], "tab-cox": [_NO_GROUPS], "tab-ph": [_NO_GROUPS], "fig-ph": [_NO_GROUPS],
               "tab-missing-pooled": [("nothing was imputed",)],
               "tab-survival-calibration": [("follow-up cohort has",), ("too few deaths",), ("no horizon",),
                                            ("fewer than 3 distinct",), ("did not converge",)],
               "fig-survival-calibration": [("follow-up cohort has",), ("too few deaths",), ("no horizon",),
                                            ("fewer than 3 distinct",), ("did not converge",)]}


def produced(out: Path, items) -> list[str]:
    """The items of ``items`` that the run made (a sidecar exists)."""
    return [i for i in items if (out / "figures" / f"{i}.json").is_file()]


def test_every_figure_or_table_is_produced_or_its_place_in_the_article_says_why(report_run, page):
    out, _, _ = report_run
    for item in FIGURES + TABLES:
        if item in produced(out, [item]):
            continue
        assert item in CONDITIONAL, f"{item} was not produced"
        block = page.find(id=item)
        assert block is not None and "missing" in block.get("class", []), item
        reason = block.get_text(" ", strip=True)
        assert any(all(part in reason for part in parts) for parts in CONDITIONAL[item]), (item, reason)


def test_html_holds_every_figure_as_an_inline_image_with_caption_alt_and_synthetic_label(report_run, page):
    out, _, _ = report_run
    for fig_id in produced(out, FIGURES):
        figure = page.find("figure", id=fig_id)
        assert figure is not None, f"{fig_id} missing from the HTML"
        img = figure.find("img")
        assert img["src"].startswith("data:image/png;base64,") and len(img["src"]) > 2000, fig_id
        assert img["alt"].strip(), fig_id
        assert "SYNTHETIC DATA" in figure.figcaption.get_text(), fig_id
    for tab_id in produced(out, TABLES):
        block = page.find(id=tab_id)
        assert block is not None and block.find("table") is not None, f"{tab_id} missing from the HTML"
    assert "SYNTHETIC DATA" in page.title.get_text() and "SYNTHETIC DATA" in page.h1.get_text()


def test_every_figure_is_legible_at_the_width_the_article_prints_it(report_run):
    """Each figure, as its notebook drew it on the twin, checked when it was saved
    (tace.plots.legibility): no text under 7 pt at 17 cm, no two texts overlapping, none cut off."""
    out, _, _ = report_run
    problems = {}
    for fig_id in produced(out, FIGURES):
        found = json.loads((out / "figures" / f"{fig_id}.json").read_text())["legibility"]
        if not found["ok"]:
            problems[fig_id] = {k: found[k] for k in ("min_font_pt", "small", "overlaps", "outside") if found[k]}
    assert not problems, json.dumps(problems, indent=1)


def test_every_figure_and_table_has_its_files_and_a_sidecar_whose_hashes_match(report_run):
    out, _, _ = report_run
    commit = json.loads((out / "run.json").read_text())["git_commit"]
    assert set(FIGURES + TABLES) - set(produced(out, FIGURES + TABLES)) <= set(CONDITIONAL)
    for item in produced(out, FIGURES + TABLES):
        exts = ("png", "svg", "csv", "json") if item.startswith("fig-") else ("csv", "json")
        for ext in exts:
            assert (out / "figures" / f"{item}.{ext}").is_file(), f"{item}.{ext}"
        side = json.loads((out / "figures" / f"{item}.json").read_text())
        assert side["id"] == item and side["cell"] == item
        assert (out / side["notebook"]).is_file()  # the executed notebook, inside the run folder
        assert side["seed"] == side["profile"]["seed"] and side["git_commit"] == commit
        assert {"torch", "numpy", "pyradiomics"} <= set(side["packages"])
        assert side["inputs"], item
        for name, entry in side["inputs"].items():
            path = Path(entry["path"]) if Path(entry["path"]).is_absolute() else out / entry["path"]
            assert _sha256(path) == entry["sha256"], f"{item}: input {name}"


def test_a_reviewer_reaches_notebook_data_and_parameters_in_one_click_from_each_figure(report_run, page):
    out, _, _ = report_run
    for item in FIGURES + TABLES:
        links = {a.get_text(): a["href"] for a in page.find(id=item).find_all("a")}
        targets = set(links.values())
        if item not in produced(out, [item]):  # its reason links to the notebook that gave it
            assert any(t.startswith("analysis/") for t in targets), item
            continue
        assert f"figures/{item}.csv" in targets and f"figures/{item}.json" in targets, item
        assert any(t.startswith("analysis/") and t.endswith(".ipynb") for t in targets), item
        for target in targets:
            assert (out / target).is_file(), f"{item}: link {target} leads nowhere"


def test_every_auc_printed_in_the_html_equals_the_metrics_json(report_run, page):
    out, _, _ = report_run
    metrics = json.loads((out / "figures" / "metrics.json").read_text())
    printed = {span["data-key"]: span for span in page.select("span.metric[data-key]")}
    assert set(printed) == set(metrics)  # every AUC of the run is in the prose, and no other
    for key, span in printed.items():
        assert float(span["data-value"]) == metrics[key], key
        assert span.get_text() == f"{metrics[key]:.2f}", key
    # the AUC table as printed: every row's AUC is the metric rounded as displayed
    table = pd.read_csv(out / "figures" / "tab-auc.csv")
    rows = page.find(id="tab-auc").find("table").find_all("tr")
    header = [c.get_text() for c in rows[0].find_all("th")]
    col = {name: i for i, name in enumerate(header)}
    shown = [[c.get_text() for c in r.find_all(["th", "td"])] for r in rows[1:]]
    assert len(shown) == len(table)
    for cells in shown:
        key = f"auc_{cells[col['model']]}_{cells[col['cohort']]}"
        assert float(cells[col["auc"]]) == round(metrics[key], 3), key


def test_the_html_is_self_contained_and_says_quarto_was_not_used(report_run, page):
    out, _, _ = report_run
    text = (out / "report.html").read_text(encoding="utf-8")
    for tag, attr in (("img", "src"), ("a", "href"), ("script", "src"), ("link", "href")):
        for node in page.find_all(tag):
            value = node.get(attr, "")
            assert not re.match(r"^(https?:)?//", value), f"external {tag} {value}"
    assert "Quarto was not used" in page.find(id="renderer").get_text()
    assert "twin-0" not in text  # no patient identifier in the report


def test_the_tripod_checklist_lists_all_27_items_each_with_a_place_or_a_reason(page):
    items = load_checklist(TRIPOD_FILE)["items"]
    assert {re.match(r"\d+", i["id"]).group() for i in items} == {str(n) for n in range(1, 28)}
    table = page.find(id="sec-tripod").find_next("table")
    rows = {tr.find_all("td")[0].get_text(): tr for tr in table.find_all("tr")[1:]}
    assert set(rows) == {i["id"] for i in items}
    for item in items:
        cells = rows[item["id"]].find_all("td")
        assert cells[3].get_text() == item["status"]
        if item["status"] == "reported":
            anchor = cells[4].find("a")["href"].lstrip("#")
            assert page.find(id=anchor) is not None, f"item {item['id']}: section {anchor} not in the report"
        else:
            assert cells[4].get_text().strip(), item["id"]


def test_the_appendix_states_versions_commit_parameters_and_every_deviation(report_run, page):
    out, _, _ = report_run
    record = json.loads((out / "run.json").read_text())
    appendix = page.find(id="sec-environment").find_next("table").get_text()
    section_text = page.get_text()
    assert record["git_commit"].split("+")[0] in appendix
    for deviation in record["profile"]["deviations_from_paper"]:
        assert deviation in section_text
    assert f"torch {record['packages']['torch']}" in section_text
    assert f"seed: {record['profile']['seed']}" in section_text


def test_the_same_seed_gives_identical_metrics_and_tables(report_run, user_cohort_run):
    """A second report with the same seed and patients: the smoke twin given as a user's
    cohort (:func:`user_cohort_run`), beside the report's own twin. The models, scores and
    every table they feed agree byte for byte; only what a twin alone has (its truth) differs."""
    out, _, _ = report_run
    again, result, _ = user_cohort_run
    assert result.returncode == 0, result.stderr
    assert (again / "scores.csv").read_bytes() == (out / "scores.csv").read_bytes()
    assert (again / "figures" / "metrics.json").read_bytes() == (out / "figures" / "metrics.json").read_bytes()
    tables = sorted(p.name for p in (out / "figures").glob("tab-*.csv"))
    assert len(tables) == len(produced(out, TABLES))
    truth_only = {name for name in tables if name.startswith("tab-truth")}  # the twin's truth
    assert sorted(p.name for p in (again / "figures").glob("tab-*.csv")) == sorted(set(tables) - truth_only)
    for name in sorted(set(tables) - truth_only):
        assert (again / "figures" / name).read_bytes() == (out / "figures" / name).read_bytes(), name


@pytest.mark.parametrize("item, message", [
    ({"id": "1", "topic": "Title", "text": "t", "status": "done"}, "has status 'done'"),
    ({"id": "1", "topic": "Title", "text": "t", "status": "reported"}, "names no section"),
    ({"id": "1", "topic": "Title", "text": "t", "status": "not reported"}, "gives no reason"),
])
def test_a_checklist_item_without_a_place_or_a_reason_is_refused(tmp_path, item, message):
    path = tmp_path / "checklist.yaml"
    path.write_text(yaml.safe_dump({"source": "s", "items": [item]}))
    with pytest.raises(ValueError, match=message):
        load_checklist(path)


@pytest.mark.parametrize("split, expect_figure", [("both", True), ("all_low", False)])
def test_survival_notebook_draws_km_when_both_dlr_groups_exist_and_says_why_when_not(report_run, tmp_path,
                                                                                  split, expect_figure):
    """Notebook 07 on the smoke run with its follow-up DLR scores set on either side of the
    cut-off (or all below it), so that the outcome holds on any CPU."""
    import shutil

    from tace.report.notebooks import run_notebook

    out, _, _ = report_run
    run = tmp_path / "run"
    shutil.copytree(out, run)
    shutil.rmtree(run / "figures")
    cutoff = json.loads((run / "models" / "bundle" / "manifest.json").read_text())["thresholds"]["dlr_survival_cutoff"]
    scores = pd.read_csv(run / "scores.csv")
    follow = scores["cohort"] == "followup"
    n = int(follow.sum())
    low, high = cutoff * 0.5, cutoff + (1 - cutoff) * 0.5
    scores.loc[follow, "dlr"] = [high if (split == "both" and i % 2) else low for i in range(n)]
    scores.to_csv(run / "scores.csv", index=False)
    executed = nbformat.read(run_notebook("07_survival.ipynb", run, "profile.yaml"), as_version=4)
    km_cell = next(c for c in executed.cells if c.source.startswith("#| label: fig-km-dlr\n"))
    shown = [o for o in km_cell.outputs if "data" in o]
    if expect_figure:
        assert (run / "figures" / "fig-km-dlr.png").is_file() and (run / "figures" / "tab-cox.csv").is_file()
        assert any("image/png" in o["data"] for o in shown)
    else:
        assert not (run / "figures" / "fig-km-dlr.png").exists() and not (run / "figures" / "tab-cox.csv").exists()
        reason = "".join(o["data"].get("text/markdown", "") for o in shown)
        assert f"Every one of the {n} follow-up patients falls in the DLR low-risk group" in reason
    # Harrell's C needs no groups: it is there either way
    assert (run / "figures" / "tab-survival-discrimination.csv").is_file()


def test_truth_table_oracle_aucs_equal_an_independent_computation_from_truth_and_outcomes(report_run, page):
    """The oracle AUC of tab-truth-recovery, recomputed here with scikit-learn from the run's
    cohort/truth.csv and outcomes.csv alone (no tace code)."""
    from sklearn.metrics import roc_auc_score

    out, _, _ = report_run
    table = pd.read_csv(out / "figures" / "tab-truth-recovery.csv")
    for column in ("cohort", "model", "auc", "auc_ci_low", "auc_ci_high", "oracle_auc", "share_of_oracle",
                   "mean_abs_error_vs_truth", "ici", "spearman_imaging"):
        assert column in table.columns, column
    truth = pd.read_csv(out / "cohort" / "truth.csv")
    outcomes = pd.read_csv(out / "outcomes.csv")
    data = outcomes.merge(truth[["patient_id", "p_nonresponse"]], on="patient_id")
    assert set(table["cohort"]) == {"train", "test", "external"}
    for cohort, rows in table.groupby("cohort"):
        part = data[data["cohort"] == cohort]
        expected = roc_auc_score(part["nonresponse"].astype(bool), part["p_nonresponse"])
        # the CSV keeps 6 significant digits
        assert rows["oracle_auc"].to_numpy() == pytest.approx(expected, abs=1e-6), cohort
        share = (rows["auc"] - 0.5) / (expected - 0.5)
        assert rows["share_of_oracle"].to_numpy() == pytest.approx(share.to_numpy(), abs=1e-5)
    assert page.find(id="sec-truth") is not None
    assert page.find(id="fig-truth-recovery").find("img") is not None
