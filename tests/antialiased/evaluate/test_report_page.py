"""The HTML report in headless Chromium (Debian's, driven by Playwright): self-contained, plots drawn, tables filled."""

from __future__ import annotations

import shutil

import pytest

# The page tests' headless Chromium fixture (module-scoped), shared rather than copied.

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_report_is_self_contained_and_shows_figures_plots_and_skips(browser, run_cli, colour_folder, model_specs,
                                                                     tmp_path) -> None:  # fmt: skip
    data = tmp_path / "data"
    shutil.copytree(colour_folder, data)
    (next(data.iterdir()) / "broken.png").write_bytes(b"not a png")
    run = run_cli("--data", str(data), "--model", model_specs["colour"], "--model", model_specs["tiny"],
                  "--measure", "consistency,diagonal", "--epochs-shift", "2")  # fmt: skip
    report = run["out"] / "report.html"

    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    requested: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requested.append(request.url))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")

    assert not errors
    assert all(url == report.as_uri() or url.startswith("data:") for url in requested), requested
    images = page.locator("img")
    assert images.count() == 2, "accuracy vs consistency, diagonal curves"
    for i in range(images.count()):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 400"), f"plot {i} is not drawn"
    names = [m["name"] for m in run["results"]["models"]]
    figures = page.locator("table.figures")
    assert figures.locator("tbody tr").count() == 2
    assert [figures.locator("tbody tr").nth(i).locator("td").first.inner_text() for i in range(2)] == names
    assert "83.33" in figures.inner_text(), "the colour model's accuracy, with its interval"
    assert page.locator("table.comparisons tbody tr").count() == 1
    assert "broken.png" in page.locator("table.unreadable").inner_text()
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
