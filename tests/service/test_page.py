"""The page at `/` in headless Chromium (Debian's system browser, driven by Playwright; nothing is downloaded):
pick a sample photo, probe two models side by side, and check that the heatmaps and curves are drawn; upload a
video and check its per-frame curves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launcher.probe_service import ServiceProcess
from tests.support import videos
from tests.support.fake_torchserve import FakeTorchServe
from tests.support.service import start_test_service

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
    classes = page.locator("#models .model-classes").all_inner_texts()
    assert classes and all(text.strip() == "(1000 classes)" for text in classes), "each model's own classes"
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


# The colour of one canvas pixel: [r, g, b, a].
PIXEL = "(canvas, [x, y]) => [...canvas.getContext('2d').getImageData(Math.round(x), Math.round(y), 1, 1).data]"


def _inked(canvas, x: float, y: float) -> list[int]:
    r, g, b, a = canvas.evaluate(PIXEL, [x, y])
    assert a > 0 and min(r, g, b) < 235, f"nothing drawn at ({x:.0f}, {y:.0f}): {[r, g, b, a]}"
    return [r, g, b]


def _probe(page, protocol: str, fields: dict[str, str], endpoint: str, status: str) -> dict:
    page.select_option("#protocol", protocol)
    for selector, value in fields.items():
        page.fill(selector, value)
    with page.expect_response(lambda response: endpoint in response.url, timeout=180_000) as answered:
        page.click("#run")
    page.wait_for_function(f"document.getElementById('status').innerText.includes({status!r})", timeout=30_000)
    return answered.value.json()


def test_page_draws_each_protocol_beyond_the_paper_from_the_answer(browser, service: ServiceProcess) -> None:
    """The sub-pixel curve, the worst-case window's heatmap with its worst shift, and the per-frame curve of a
    sequence: what each canvas plotted is the answer's numbers, and there is ink where it says it drew them."""
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{service.url}/")
    page.wait_for_selector("#models input")
    for box in page.locator("#models input").all():
        box.set_checked(box.get_attribute("value") in ("circular_invariant", "resnet50"))
    page.get_by_role("button", name="Cat").click()
    page.wait_for_function("!document.getElementById('run').disabled")

    answer = _probe(page, "fractional", {"#subpixel_step": "0.5"}, "/v1/compare", "3 shifts")
    for result in answer["results"]:
        canvas = page.locator(f'.result[data-model="{result["target"]}"] canvas.curve')
        points = json.loads(canvas.get_attribute("data-plotted"))
        assert [p["x"] for p in points] == [0, 0.5, 1] and [p["p"] for p in points] == result["metrics"]["origin"][
            "curve"
        ]
        for point in points:
            _inked(canvas, point["px"], point["py"])

    answer = _probe(page, "worst-case", {"#max_shift": "2"}, "/v1/compare", "25 shifts")
    for result in answer["results"]:
        origin = result["metrics"]["origin"]
        canvas = page.locator(f'.result[data-model="{result["target"]}"] canvas.heatmap')
        plotted = json.loads(canvas.get_attribute("data-plotted"))
        assert [c["p"] for c in plotted["cells"]] == origin["curve"]
        assert [c["shift"] for c in plotted["cells"]] == [[dy - 2, dx - 2] for dy, dx in answer["plan"]["offsets"]]
        assert plotted["worst"]["shift"] == origin["worst_shift"] and plotted["worst"]["p"] == origin["min_probability"]
        darkest = max(plotted["cells"], key=lambda c: c["p"])
        _inked(canvas, darkest["px"], darkest["py"])
        r, g, _ = _inked(canvas, plotted["worst"]["px"] + plotted["worst"]["ring"], plotted["worst"]["py"])
        assert r > 150 and g < 120, "the worst shift's red ring"

    answer = _probe(page, "sequence", {}, "/v1/sequence", "8 frames")
    assert [r["target"] for r in answer["results"]] == ["resnet50", "circular_invariant"]
    for result in answer["results"]:
        article = page.locator(f'.result[data-model="{result["target"]}"]')
        canvas = article.locator("canvas.frames")
        points = json.loads(canvas.get_attribute("data-plotted"))
        assert [p["x"] for p in points] == list(range(8)) and [p["p"] for p in points] == result["metrics"]["curve"]
        for point in points:
            _inked(canvas, point["px"], point["py"])
        assert float(article.locator(".score-value").inner_text()) == round(result["metrics"]["flip_rate"], 3)
    assert not errors, errors


def test_page_probes_an_uploaded_video_as_a_sequence(browser, tmp_path: Path) -> None:
    """A video chosen in the file field switches the page to the sequence protocol; with stride 2 the curve's points
    are the frames the answer says it used, at the probabilities it answered. (The fake TorchServe answers: the
    video's frames, not a model, are what this checks.)"""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(videos.mp4(videos.colour_frames([0, 40, 80, 120, 160, 200, 240], side=96)))
    with FakeTorchServe() as fake, start_test_service(fake.url, tmp_path / "service.log") as service:
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{service.url}/")
        page.wait_for_selector("#models input")
        page.set_input_files("#file", str(clip))
        page.wait_for_function("!document.getElementById('run').disabled")
        assert page.locator("#protocol").input_value() == "sequence"
        page.fill("#stride", "2")
        with page.expect_response(lambda response: "/v1/sequence" in response.url, timeout=60_000) as answered:
            page.click("#run")
        page.wait_for_function("document.getElementById('status').innerText.includes('h264 video')", timeout=30_000)
        answer = answered.value.json()
        assert answer["frames_used"] == [0, 2, 4, 6] and answer["video"]["frames"] == 7
        for result in answer["results"]:
            canvas = page.locator(f'.result[data-model="{result["target"]}"] canvas.frames')
            points = json.loads(canvas.get_attribute("data-plotted"))
            assert [p["x"] for p in points] == [0, 2, 4, 6] and [p["p"] for p in points] == result["metrics"]["curve"]
            for point in points:
                _inked(canvas, point["px"], point["py"])
        assert not errors, errors
