"""The page at `/` in headless Chromium (Debian's system browser, driven by Playwright; nothing is downloaded):
pick a sample photo, probe two models side by side, and check that the heatmaps and curves are drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.probe import ServiceProcess

pytestmark = [pytest.mark.browser, pytest.mark.serving, pytest.mark.slow]

# Counts the pixels of a canvas that are neither transparent nor white, and the distinct colours among them.
CANVAS_INK = """canvas => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0; const colours = new Set();
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0 && (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235)) {
      ink += 1; colours.add(`${data[i] >> 3},${data[i + 1] >> 3},${data[i + 2] >> 3}`);
    }
  }
  return {ink, colours: colours.size, pixels: canvas.width * canvas.height};
}"""


def test_page_probes_two_models_and_draws_heatmaps_and_curves(browser, service: ServiceProcess, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{service.url}/")
    page.wait_for_selector("#models input")
    for box in page.locator("#models input").all():
        box.set_checked(box.get_attribute("value") in ("circular_invariant", "resnet50"))
    page.get_by_role("button", name="Cat").click()
    page.wait_for_function("!document.getElementById('run').disabled")
    page.select_option("#protocol", "grid")
    page.fill("#step", "16")
    page.click("#run")
    page.wait_for_function("document.querySelectorAll('.result').length === 2", timeout=120_000)

    results = page.locator(".result")
    assert [results.nth(i).get_attribute("data-model") for i in range(2)] == ["resnet50", "circular_invariant"]
    for i in range(2):
        score = float(results.nth(i).locator(".score-value").inner_text())
        assert 0.0 <= score <= 1.0
        heatmap = results.nth(i).locator("canvas.heatmap").evaluate(CANVAS_INK)
        curve = results.nth(i).locator("canvas.curve").evaluate(CANVAS_INK)
        assert heatmap["ink"] > 0.5 * heatmap["pixels"], f"heatmap of result {i} is not drawn: {heatmap}"
        assert curve["ink"] > 500, f"curve of result {i} is not drawn: {curve}"
        assert curve["colours"] >= 2, "axes and the class-coloured line"
        assert results.nth(i).locator(".legend li").count() >= 1
        assert "consistency" in results.nth(i).locator(".metrics").inner_text()
    image = page.locator("#image-canvas").evaluate(CANVAS_INK)
    assert image["colours"] > 100, "the photo with its crop window is drawn"
    assert "9 shifts" in page.locator("#status").inner_text()

    screenshot = tmp_path / "page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000
    assert not errors, errors
    outside = [url for url in requested if not url.startswith((service.url, "data:"))]
    assert not outside, f"the page must not load anything from elsewhere: {outside}"


def test_page_shows_the_service_error_for_a_bad_image(browser, service: ServiceProcess, tmp_path: Path) -> None:
    page = browser.new_page()
    page.goto(f"{service.url}/")
    page.wait_for_selector("#models input")
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not an image")
    page.set_input_files("#file", str(not_an_image))
    page.wait_for_function("!document.getElementById('run').disabled")
    page.fill("#step", "16")
    page.click("#run")
    page.wait_for_function("document.getElementById('status').classList.contains('error')")
    assert page.locator("#status").inner_text().startswith("invalid_image:")
    assert page.locator(".result").count() == 0
