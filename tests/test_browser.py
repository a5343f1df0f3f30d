"""The HTML report in a real browser: headless Chromium (installed by .ci/run when missing)
loads it at 1280 px, as a reader's browser would, driven over the DevTools protocol."""

from __future__ import annotations

import pytest

from tace.report.browser import check_in_browser, find_chromium

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed; .ci/run installs it")


def test_the_browser_check_finds_console_errors_broken_images_dead_links_and_overflow(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<!DOCTYPE html><html><body><p id="here">x</p><a href="#here">ok</a><a href="#nowhere">n</a>'
                    '<a href="figures/none.csv">data</a><img src="data:image/png;base64,AAAA" alt="bad png">'
                    '<div style="width:2000px">wide</div><script>console.error("boom")</script></body></html>',
                    encoding="utf-8")
    found = check_in_browser(page)
    assert found.console_errors == ("boom",)
    assert found.broken_images == ("bad png",)
    assert found.missing_anchors == ("nowhere",) and found.missing_files == ("figures/none.csv",)
    assert found.scroll_width > found.width == 1280 and not found.ok


def test_the_report_opens_in_chromium_without_errors_and_fits_1280_px(report_run):
    out, _, _ = report_run
    found = check_in_browser(out / "report.html", screenshot=out / "report-screenshot.png")
    assert found.console_errors == () and found.broken_images == ()
    assert found.missing_anchors == () and found.missing_files == ()
    assert found.scroll_width <= 1280, f"the page is {found.scroll_width} px wide at a 1280 px window"
    assert found.n_images >= 15 and found.height > 5000
    assert found.screenshot.stat().st_size > 100_000
