"""The handler without a server: TorchServe's own Context and metrics cache, the tiny circular-invariant model.

Faster than going through TorchServe, and it can look inside: how many forward passes a batch takes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from ts.context import Context

from antialiased import imagefile
from antialiased.models import create_model
from antialiased.preprocessing import CROP_SIZE
from antialiased.serving import contract
from antialiased.shifts import (
    MAX_CROP_SIZE,
    MAX_OFFSETS_PER_REQUEST,
    MAX_VIEW_PIXELS_PER_REQUEST,
    MIN_CROP_SIZE,
    ShiftRequest,
)
from antialiased.weights import WeightsError, get_entry, save_checkpoint, sha256_file
from archives.archive import TEMPLATE, model_config, model_spec
from handlers import image_classifier
from handlers.image_classifier import ImageClassifier
from handlers.model import load_prepared_model, select_device
from handlers.settings import HandlerSettings, SettingsError
from tests.support.models.circular_invariant import CircularInvariant
from tests.support.models.circular_invariant import model_spec as circular_spec
from tests.support.models.white_intolerant import OVERRIDES as WHITE_INTOLERANT_OVERRIDES
from tests.support.models.white_intolerant import WhiteIntolerant
from tests.support.models.white_intolerant import model_spec as white_intolerant_spec
from tests.support.serving import encode, handle_batch, handler_context, photo

SPEC = {**circular_spec(), "builder": "tests.support.models.circular_invariant:CircularInvariant"}
WHITE_INTOLERANT_SPEC = {**white_intolerant_spec(), "builder": "tests.support.models.white_intolerant:WhiteIntolerant"}


class ForwardCounter(torch.nn.Module):
    """Wraps the prepared model and records the batch size of each forward pass."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.batch_sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(len(x))
        return self.model(x)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(1)
    return save_checkpoint(CircularInvariant(), tmp_path_factory.mktemp("weights"), "circular_random")


def _context(checkpoint: Path, overrides: dict | None = None, sha256: str | None = None) -> Context:
    overrides = {"handler": {"device": "cpu"}, **(overrides or {})}
    return handler_context("circular", checkpoint, SPEC, overrides, sha256=sha256)


def _handler(context: Context) -> tuple[ImageClassifier, ForwardCounter]:
    handler = ImageClassifier()
    handler.initialize(context)
    handler.model = counter = ForwardCounter(handler.model)
    return handler, counter


def test_a_mixed_batch_runs_in_one_forward_pass_and_each_request_gets_its_own_answer(checkpoint):
    context = _context(checkpoint)
    handler, counter = _handler(context)
    image = encode(photo("chelsea"))
    shifts = ShiftRequest(offsets=((0, 0), (4, 4), (8, 2)), mode="crop")
    rows = [
        {"body": bytearray(image)},
        {"body": bytearray(b"garbage")},
        {"data": bytearray(image), "topk": bytearray(b"2")},
        {"data": bytearray(image), "shifts": json.dumps(shifts.to_json())},
        {"data": bytearray(image), "topk": "99"},
    ]
    results = handle_batch(handler, context, rows)
    assert [status for status, _ in results] == [200, 400, 200, 200, 400]
    assert counter.batch_sizes == [1 + 1 + 3]  # every view of the batch in one forward pass
    (_, plain), (_, bad), (_, top2), (_, shifted), (_, bad_topk) = results
    assert bad == {"code": "invalid_image", "message": bad["message"]} and bad_topk["code"] == "bad_topk"
    assert len(plain["topk"]) == 5 and top2["topk"] == plain["topk"][:2]
    assert [entry["offset"] for entry in shifted["shifts"]] == [[0, 0], [4, 4], [8, 2]]
    assert plain["weights"]["untrained"] is True and plain["model"]["name"] == "circular"


def test_topk_header_applies_to_a_raw_body(checkpoint):
    context = _context(checkpoint)
    handler, _ = _handler(context)
    results = handle_batch(handler, context, [{"body": bytearray(encode(photo("coffee")))}], [{"X-TopK": "7"}])
    assert results[0][0] == 200 and len(results[0][1]["topk"]) == 7


def test_every_class_probability_is_answered_when_asked_and_only_then(checkpoint):
    """Plain and shift requests alike; a shift answer without `probabilities` asked has none (the wire as before)."""
    context = _context(checkpoint)
    handler, _ = _handler(context)
    image = bytearray(encode(photo("coffee")))
    center = json.dumps(ShiftRequest(offsets=((16, 16), (0, 0))).to_json())  # the plain request's view, and another
    too_many = ShiftRequest(offsets=tuple((d // 8, d % 8) for d in range(contract.MAX_PROBABILITY_VIEWS + 1)))
    rows = [
        {"data": image, "probabilities": "true", "topk": "3"},
        {"body": image},
        {"body": image},
        {"data": image, "probabilities": "maybe"},
        {"data": image, "probabilities": "1", "shifts": center},
        {"data": image, "shifts": center},
        {"data": image, "probabilities": "1", "shifts": json.dumps(too_many.to_json())},
    ]
    headers = [{}, {"X-Probabilities": "true"}, {}, {}, {}, {}, {}]
    (asked, field), (by_header, header), (plain_status, plain), bad, with_shifts, without, beyond = handle_batch(
        handler, context, rows, headers
    )
    assert asked == by_header == plain_status == 200
    assert "probabilities" not in plain, "only when asked: the plain answer is unchanged"
    probabilities = field["probabilities"]
    assert len(probabilities) == 1000
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
    assert header["probabilities"] == probabilities
    for entry in field["topk"]:
        assert probabilities[entry["index"]] == entry["probability"], "the same float32 values as the top-k"
    assert max(range(1000), key=probabilities.__getitem__) == field["topk"][0]["index"]
    assert bad == (400, {"code": "invalid_parameter", "message": bad[1]["message"]})
    # A shift request: each view's, the center view's the plain request's; only when asked, for a few views
    assert with_shifts[0] == without[0] == 200 and "probabilities" not in without[1]
    views = with_shifts[1]["probabilities"]
    assert len(views) == 2 and views[0] == probabilities and views[1] != probabilities
    assert {c: [view[int(c)] for view in views] for c in with_shifts[1]["class_probabilities"]} == with_shifts[1][
        "class_probabilities"
    ]
    assert beyond[0] == 400 and beyond[1]["code"] == "invalid_parameter"
    assert f"at most {contract.MAX_PROBABILITY_VIEWS} views" in beyond[1]["message"]


def test_views_beyond_the_forward_limit_run_in_chunks_with_the_same_result(checkpoint):
    shifts = ShiftRequest(offsets=tuple((d, d) for d in range(7)), mode="circular")
    rows = [{"data": bytearray(encode(photo("rocket"))), "shifts": json.dumps(shifts.to_json()), "topk": "20"}]
    whole_context = _context(checkpoint)
    whole, whole_counter = _handler(whole_context)
    limits = {"max_view_pixels_per_forward": 3 * CROP_SIZE**2, "max_crop_size": CROP_SIZE}
    chunked_context = _context(checkpoint, {"handler": {"limits": limits}})
    chunked, chunked_counter = _handler(chunked_context)
    expected, got = handle_batch(whole, whole_context, rows), handle_batch(chunked, chunked_context, rows)
    assert whole_counter.batch_sizes == [7] and chunked_counter.batch_sizes == [3, 3, 1]
    for a, b in zip(expected[0][1]["shifts"], got[0][1]["shifts"], strict=True):
        assert [t["index"] for t in a["topk"]] == [t["index"] for t in b["topk"]]
        assert [t["probability"] for t in a["topk"]] == pytest.approx([t["probability"] for t in b["topk"]], abs=1e-6)


def test_large_crops_run_in_forward_passes_of_at_most_the_view_pixel_budget(checkpoint):
    """A forward pass holds at most max_view_pixels_per_forward view pixels: one 512 x 512 view, or five of 224."""
    context = _context(checkpoint, {"handler": {"limits": {"max_view_pixels_per_forward": 512**2}}})
    handler, counter = _handler(context)
    image = bytearray(encode(photo("rocket")))
    large = ShiftRequest(offsets=((0, 0), (3, 3)), mode="circular", crop_size=512, resize_size=512)
    rows = [{"data": image, "shifts": json.dumps(large.to_json())}, {"body": image}, {"body": image}]
    results = handle_batch(handler, context, rows)
    assert [status for status, _ in results] == [200, 200, 200]
    assert counter.batch_sizes == [1, 1, 2]  # the 512-pixel views one by one, then the plain views together
    assert [entry["offset"] for entry in results[0][1]["shifts"]] == [[0, 0], [3, 3]]


def test_a_request_no_batch_can_hold_is_refused_with_413_and_one_that_does_not_fit_now_with_503(checkpoint):
    """Admission counts view pixels (views x crop area): beyond what one request may hold a request can never be
    served (413, naming the limit, undecoded); beyond what is left of the batch's budget, not now (503)."""
    budget = 4 * CROP_SIZE**2
    limits = {"max_crop_size": CROP_SIZE, "max_view_pixels_per_forward": CROP_SIZE**2,
              "max_view_pixels_per_batch": budget, "max_view_pixels_per_request": budget}  # fmt: skip
    context = _context(checkpoint, {"handler": {"limits": limits}})
    handler, counter = _handler(context)
    image = bytearray(encode(photo("coffee")))

    def shifts(views: int) -> str:
        return json.dumps(ShiftRequest(offsets=tuple((d, d) for d in range(views)), mode="circular").to_json())

    rows = [{"data": image, "shifts": shifts(5)}, {"data": image, "shifts": shifts(3)},
            {"data": image, "shifts": shifts(2)}, {"body": image}]  # fmt: skip
    results = handle_batch(handler, context, rows)
    assert [status for status, _ in results] == [413, 200, 503, 200]
    never, _, later, _ = (answer for _, answer in results)
    assert never["code"] == "too_many_pixels" and "max_view_pixels_per_request" in never["message"]
    assert later["code"] == "overloaded" and context.get_response_headers(2)["Retry-After"] == "1"
    assert counter.batch_sizes == [1, 1, 1, 1]


def test_a_request_whose_forward_pass_fails_fails_alone_and_the_rest_of_its_batch_is_answered(tmp_path):
    """The model raises on an all-white view: the batch's forward pass fails, each request then runs on its own,
    the white one gets a 500 and the others the answers they get without it."""
    torch.manual_seed(2)
    weights = save_checkpoint(WhiteIntolerant(), tmp_path, "white_intolerant_random")
    context = handler_context("fragile", weights, WHITE_INTOLERANT_SPEC, WHITE_INTOLERANT_OVERRIDES)
    handler, counter = _handler(context)
    photo_bytes = bytearray(encode(photo("chelsea")))
    white = bytearray(encode(np.full((300, 300, 3), 255, np.uint8), "PNG"))
    shifts = json.dumps(ShiftRequest(offsets=((0, 0), (4, 4), (8, 2))).to_json())
    good = [{"body": photo_bytes}, {"data": photo_bytes, "shifts": shifts}]
    alone = handle_batch(handler, context, good)
    counter.batch_sizes.clear()
    results = handle_batch(handler, context, [good[0], {"body": white}, good[1]])
    assert [status for status, _ in results] == [200, 500, 200]
    assert results[1][1]["code"] == "internal_error"
    plain, shifted = results[0][1], results[2][1]
    assert _classes(plain["topk"]) == _classes(alone[0][1]["topk"])
    assert [_classes(s["topk"]) for s in shifted["shifts"]] == [_classes(s["topk"]) for s in alone[1][1]["shifts"]]
    assert counter.batch_sizes == [5, 1, 1, 3], "the batch, then each request on its own"
    assert [status for status, _ in handle_batch(handler, context, good)] == [200, 200], "the worker goes on"


def _classes(topk: list[dict]) -> list[int]:
    return [entry["index"] for entry in topk]


def test_the_smallest_crop_the_model_takes_is_found_at_load_time(checkpoint):
    handler, _ = _handler(_context(checkpoint))
    assert handler.min_crop_size == MIN_CROP_SIZE, "the circular-invariant model takes any crop"


def test_configured_limits_are_applied(checkpoint):
    context = _context(checkpoint, {"handler": {"limits": {"max_offsets": 2, "image": {"max_bytes": 50_000}}}})
    handler, _ = _handler(context)
    small = encode(photo("coffee")[:100, :100])
    three = json.dumps(ShiftRequest(offsets=((0, 0), (1, 1), (2, 2))).to_json())
    rows = [{"data": bytearray(small), "shifts": three}, {"body": bytearray(200_000)}]
    results = handle_batch(handler, context, rows)
    assert [(status, answer["code"]) for status, answer in results] == [
        (400, "bad_shift_request"),
        (413, "image_too_large"),
    ]


def test_requests_beyond_the_batch_view_budget_are_told_to_retry(checkpoint):
    context = _context(checkpoint, {"handler": {"limits": {"max_images_per_batch": 7, "max_offsets": 5}}})
    handler, counter = _handler(context)
    image = bytearray(encode(photo("coffee")))
    three = json.dumps(ShiftRequest(offsets=((0, 0), (1, 1), (2, 2))).to_json())
    rows = [{"data": image, "shifts": three}, {"data": image, "shifts": three}, {"data": image, "shifts": three},
            {"body": image}]  # fmt: skip
    results = handle_batch(handler, context, rows)
    assert [status for status, _ in results] == [200, 200, 503, 200]
    assert results[2][1]["code"] == "overloaded" and context.get_response_headers(2)["Retry-After"] == "1"
    assert counter.batch_sizes == [3 + 3 + 1]


def test_requests_beyond_the_batch_pixel_budget_are_told_to_retry_without_being_decoded(checkpoint, monkeypatch):
    """The budget counts decoded pixels from the headers: a batch never decodes more than max_pixels_per_batch."""
    limits = {"image": {"max_pixels": 240_000}, "max_pixels_per_batch": 300_000}
    context = _context(checkpoint, {"handler": {"limits": limits}})
    handler, counter = _handler(context)
    large = bytearray(encode(photo("coffee")))  # 400 x 600 = 240,000 pixels
    small = bytearray(encode(photo("coffee")[:200, :200]))  # 40,000 pixels
    decoded: list[bytes] = []
    decode = image_classifier.decode_images
    monkeypatch.setattr(image_classifier, "decode_images", lambda datas, *a: decode(decoded.extend(datas) or datas, *a))
    results = handle_batch(handler, context, [{"body": large}, {"body": large}, {"body": small}, {"body": large}])
    assert [status for status, _ in results] == [200, 503, 200, 503]
    assert all(results[i][1]["code"] == "overloaded" for i in (1, 3))
    assert context.get_response_headers(1)["Retry-After"] == "1"
    assert decoded == [bytes(large), bytes(small)], "the refused requests were never decoded"
    assert counter.batch_sizes == [2]


def test_reduced_precision_setting_keeps_float32_on_the_cpu(checkpoint):
    """Each documented `--precision` (docs/configuration.md) is accepted; on the CPU the answers stay float32's."""
    rows = [{"body": bytearray(encode(photo("astronaut")))}]
    answers = []
    for precision in ("float32", "bfloat16", "float16"):
        context = _context(checkpoint, {"handler": {"precision": precision}})
        answers.append(handle_batch(_handler(context)[0], context, rows)[0][1]["topk"])
    assert answers[0] == answers[1] == answers[2]


def test_weights_that_do_not_match_the_configured_hash_refuse_to_load(checkpoint):
    with pytest.raises(WeightsError, match="sha256"):
        ImageClassifier().initialize(_context(checkpoint, sha256="0" * 64))


def test_a_served_densenet_loads_the_legacy_keys_of_the_published_files(tmp_path):
    """The paper's DenseNet files say `norm.1` where today's models say `norm1`; the handler renames them."""
    state = create_model("densenet121", 4).state_dict()
    legacy = {key.replace(".norm1.", ".norm.1."): value for key, value in state.items()}
    path = save_checkpoint(legacy, tmp_path, "densenet121_legacy")
    weights = {"name": None, "sha256": sha256_file(path), "untrained": True}
    config = model_config(model_spec(get_entry("densenet121_lpf4")), weights, {"handler": {"fold_batch_norm": False}})
    model = load_prepared_model(HandlerSettings.from_model_config(config), path, torch.device("cpu"))
    key = "features.denseblock1.denselayer1.norm1.weight"
    assert torch.equal(model.state_dict()[key], state[key])


def test_cpu_only_machine_serves_on_the_cpu_and_refuses_a_required_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert select_device("auto", 0) == torch.device("cpu")
    assert select_device("auto", None) == torch.device("cpu")
    with pytest.raises(RuntimeError, match="no GPU"):
        select_device("cuda", 0)


def test_settings_refuse_unknown_and_missing_keys(checkpoint):
    config = model_config(SPEC, {"name": None, "sha256": "0" * 64, "untrained": True})
    HandlerSettings.from_model_config(config)
    for broken in (
        {**config, "handler": {**config["handler"], "devise": "cpu"}},
        {**config, "handler": {**config["handler"], "precision": "int8"}},
        {**config, "handler": {k: v for k, v in config["handler"].items() if k != "limits"}},
        *(
            {**config, "handler": {**config["handler"], "limits": {**config["handler"]["limits"], **limits}}}
            for limits in (
                {"max_offsets": 10**6},
                {"max_crop_size": MIN_CROP_SIZE - 1},
                {"max_view_pixels_per_forward": MAX_CROP_SIZE**2 - 1},
                {"max_view_pixels_per_batch": config["handler"]["limits"]["max_view_pixels_per_forward"] - 1},
                {"max_view_pixels_per_request": MAX_CROP_SIZE**2 - 1},
                {"max_view_pixels_per_request": config["handler"]["limits"]["max_view_pixels_per_batch"] + 1},
                {"image": {**config["handler"]["limits"]["image"], "min_side": 0}},
                {"image": {**config["handler"]["limits"]["image"], "max_side": 10}},
                {"image": {**config["handler"]["limits"]["image"], "max_pixels": 10**9}},
            )
        ),
    ):
        with pytest.raises(SettingsError):
            HandlerSettings.from_model_config(broken)


def test_an_archive_built_before_the_rename_still_loads_its_max_shifts_as_max_offsets(caplog):
    """handler.limits.max_shifts (archives built before it was max_offsets) is read for one release and logged."""
    config = model_config(SPEC, {"name": None, "sha256": "0" * 64, "untrained": True})
    limits = dict(config["handler"]["limits"])
    limits["max_shifts"] = limits.pop("max_offsets") - 1
    with caplog.at_level(logging.WARNING, logger="handlers.settings"):
        settings = HandlerSettings.from_model_config({**config, "handler": {**config["handler"], "limits": limits}})
    assert settings.limits.max_offsets == MAX_OFFSETS_PER_REQUEST - 1
    assert "handler.limits.max_shifts is deprecated" in caplog.text
    both = {**config["handler"]["limits"], "max_shifts": 5}
    with pytest.raises(SettingsError, match="max_shifts"):
        HandlerSettings.from_model_config({**config, "handler": {**config["handler"], "limits": both}})


def test_the_archive_limits_are_the_library_constants_written_once():
    """The template holds only the handler's own limit; the build writes the library's constants into each archive."""
    assert set(yaml.safe_load(TEMPLATE.read_text())["handler"]["limits"]) == {"max_view_pixels_per_forward"}
    limits = model_config(SPEC, {"name": None, "sha256": "0" * 64, "untrained": True})["handler"]["limits"]
    assert limits["image"] == dataclasses.asdict(imagefile.ImageLimits())
    assert limits["image"]["max_bytes"] == imagefile.MAX_IMAGE_BYTES
    assert limits["max_offsets"] == limits["max_images_per_batch"] == MAX_OFFSETS_PER_REQUEST
    assert (limits["default_topk"], limits["max_topk"]) == (contract.DEFAULT_TOPK, contract.MAX_TOPK)
    assert limits["max_pixels_per_batch"] == imagefile.MAX_PIXELS_PER_BATCH >= limits["image"]["max_pixels"]
    assert limits["max_crop_size"] == MAX_CROP_SIZE
    assert limits["max_view_pixels_per_batch"] == MAX_OFFSETS_PER_REQUEST * CROP_SIZE**2, "the paper's range fits"
    assert limits["max_view_pixels_per_request"] == MAX_VIEW_PIXELS_PER_REQUEST == 64 * CROP_SIZE**2
    assert limits["max_view_pixels_per_forward"] >= MAX_CROP_SIZE**2
    overridden = model_config(SPEC, {}, {"handler": {"limits": {"image": {"max_pixels": 1000}}}})["handler"]["limits"]
    assert overridden["image"] == {**limits["image"], "max_pixels": 1000}, "an override changes only what it names"
