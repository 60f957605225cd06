"""Bad requests to a real TorchServe: each gets its own 4xx JSON answer, and the worker keeps serving."""

from __future__ import annotations

import functools
import io
import json

import httpx
import numpy as np
import pytest
from PIL import Image, ImageOps

from antialiased.imagefile import MAX_IMAGE_BYTES
from antialiased.shifts import MIN_CROP_SIZE, ShiftRequest
from tests.support.served_models import LPF_MODEL
from tests.support.serving import (
    PROBABILITY_TOLERANCE,
    burst_until,
    encode,
    photo,
    png_16bit,
    png_declaring,
    png_ending_early,
    reference_network,
    reference_probabilities,
    shares_a_batch,
    stored_for_orientation,
    with_exif_orientation,
)

pytestmark = [pytest.mark.serving, pytest.mark.slow]

GOOD = encode(photo("chelsea"))


def _raw(torchserve, body: bytes, content_type: str = "application/octet-stream") -> httpx.Response:
    return httpx.post(
        f"{torchserve.inference_url}/predictions/{LPF_MODEL}",
        content=body,
        headers={"Content-Type": content_type},
        timeout=60,
    )


BAD_BODIES = {
    "truncated_jpeg": (GOOD[: len(GOOD) // 2], "invalid_image", 400),
    "random_bytes": (np.random.default_rng(1).bytes(20_000), "invalid_image", 400),
    "one_pixel": (encode(np.zeros((1, 1, 3), np.uint8), "PNG"), "image_too_small", 400),
    "png_declaring_50000x50000": (png_declaring(50_000, 50_000), "too_many_pixels", 413),
    "png_sliver_32x200000": (png_declaring(200_000, 32), "aspect_ratio_too_large", 400),
    "png_declaring_49_megapixels_in_90_bytes": (png_declaring(7_000, 7_000), "invalid_image", 400),
    "png_data_ending_after_100_rows": (png_ending_early(photo("chelsea"), 100 / 300), "invalid_image", 400),
    "oversized_body": (GOOD + bytes(MAX_IMAGE_BYTES), "image_too_large", 413),
}


@pytest.mark.parametrize("name", BAD_BODIES)
def test_bad_image_gets_its_own_json_error(torchserve, name):
    body, code, status = BAD_BODIES[name]
    response = torchserve.predict(LPF_MODEL, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    answer = response.json()
    assert answer["code"] == code and answer["message"]


def test_empty_raw_body_is_refused(torchserve):
    response = _raw(torchserve, b"")
    assert response.status_code == 400
    assert response.json()["code"] == "empty_body"


@pytest.mark.parametrize(
    ("body", "content_type"), [(b"a photo of a cat", "text/plain"), (b'{"url": 1}', "application/json")]
)
def test_text_and_json_bodies_are_refused(torchserve, body, content_type):
    response = _raw(torchserve, body, content_type)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_image"


def test_image_sent_as_a_url_encoded_form_is_refused_with_a_hint(torchserve):
    """curl --data-binary without a Content-Type sends a form, which TorchServe splits into fields."""
    response = _raw(torchserve, b"not-an-upload", "application/x-www-form-urlencoded")
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "empty_body"
    assert "application/octet-stream" in answer["message"], answer


def test_multipart_without_the_image_field_is_refused(torchserve):
    response = httpx.post(
        f"{torchserve.inference_url}/predictions/{LPF_MODEL}",
        files={"picture": ("image", GOOD, "image/jpeg")},
        timeout=60,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "empty_body"


@pytest.mark.parametrize("topk", ["0", "21", "three", "-1"])
def test_bad_topk_is_refused(torchserve, topk):
    response = torchserve.predict(LPF_MODEL, GOOD, topk=topk)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_topk"


@pytest.mark.parametrize(
    "shifts",
    [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"mode": "crop", "offsets": [[0, 40]]}),
        json.dumps({"mode": "diagonal", "offsets": [[0, 0]]}),
        json.dumps({"mode": "crop", "offsets": []}),
        json.dumps({"mode": "crop", "offsets": [[0, 0]] * 1090}),
        json.dumps({"mode": "crop", "offsets": [[0, 0]], "crop_size": 4096}),
    ],
    ids=["not_json", "not_object", "offset_out_of_range", "unknown_mode", "no_offsets", "too_many", "huge_crop"],
)
def test_bad_shift_request_is_refused(torchserve, shifts):
    response = torchserve.predict(LPF_MODEL, GOOD, shifts=shifts)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_shift_request"


def test_bad_requests_in_a_batch_do_not_affect_the_good_ones(torchserve):
    """Good and bad requests sent together land in shared batches; each is answered on its own."""
    bad = [b"", b"not an image", GOOD[:1000], png_declaring(50_000, 50_000)]
    bodies = [GOOD, *bad, GOOD, encode(photo("coffee")), encode(photo("rocket"))]
    send = functools.partial(torchserve.predict, LPF_MODEL)
    responses = burst_until(send, bodies, lambda answers: any(shares_a_batch(answers, i) for i in range(1, 5)))
    statuses = [response.status_code for response in responses]
    assert statuses == [200, 400, 400, 400, 413, 200, 200, 200]
    assert all("topk" in r.json() for r in responses if r.status_code == 200)
    assert all("code" in r.json() for r in responses if r.status_code != 200)
    assert _raw(torchserve, GOOD).status_code == 200  # the worker is still serving


def test_a_crop_smaller_than_the_model_takes_is_refused_alone_and_its_batch_is_answered(torchserve):
    """A 32-pixel crop is too small for the antialiased ResNet50 (a 2 x 2 feature map cannot be reflect-padded for
    its blur): refused with 400 naming the model's smallest crop, found when the worker loaded it, before any
    forward pass; the plain requests of its batch are answered (before, the whole batch failed)."""
    tiny = ShiftRequest(offsets=((0, 0), (1, 1)), crop_size=MIN_CROP_SIZE, base_size=MIN_CROP_SIZE + 1)
    fields = [{}, {}, {}, {"shifts": json.dumps(tiny.to_json())}, {}, {}, {}]

    def send(extra: dict[str, str]) -> httpx.Response:
        return torchserve.predict(LPF_MODEL, GOOD, **extra)

    responses = burst_until(send, fields, lambda answers: shares_a_batch(answers, 3))
    assert [r.status_code for r in responses] == [200, 200, 200, 400, 200, 200, 200], [r.text for r in responses]
    refused = responses[3].json()
    assert refused["code"] == "bad_shift_request"
    assert f"crop_size {MIN_CROP_SIZE} is smaller than model {LPF_MODEL} takes: at least 35" in refused["message"]
    assert all(len(r.json()["topk"]) == 5 for r in responses if r.status_code == 200)


@pytest.mark.parametrize(
    "mode",
    ["grayscale_png", "palette_png", "rgba_png", "la_png", "cmyk_jpeg", "gray16_png", "rgb16_png", "animated_gif",
     "webp", "bmp", "tiff", "grayscale_jpeg"],
)  # fmt: skip
def test_odd_colour_modes_and_formats_are_classified_like_in_process(torchserve, served_checkpoints, mode):
    pixels = photo("astronaut")
    gray = pixels.mean(axis=2).astype(np.uint8)
    alpha = np.tile(np.linspace(0, 255, pixels.shape[1]).astype(np.uint8), (pixels.shape[0], 1))
    bodies = {
        "grayscale_png": lambda: encode(gray, "PNG"),
        "palette_png": lambda: encode(Image.fromarray(pixels).quantize(64), "PNG"),
        "rgba_png": lambda: encode(np.dstack([pixels, alpha]), "PNG"),
        "la_png": lambda: encode(Image.fromarray(np.dstack([gray, alpha]), "LA"), "PNG"),
        "cmyk_jpeg": lambda: encode(Image.fromarray(pixels).convert("CMYK"), "JPEG"),
        "gray16_png": lambda: png_16bit(gray.astype(np.uint16) * 257),
        "rgb16_png": lambda: png_16bit(pixels.astype(np.uint16) * 257),
        "animated_gif": lambda: encode(
            Image.fromarray(pixels).quantize(256), "GIF", save_all=True, append_images=[Image.fromarray(255 - pixels)]
        ),
        "webp": lambda: encode(pixels, "WEBP"),
        "bmp": lambda: encode(pixels, "BMP"),
        "tiff": lambda: encode(pixels, "TIFF"),
        "grayscale_jpeg": lambda: encode(gray, "JPEG"),
    }
    body = bodies[mode]()
    response = torchserve.predict(LPF_MODEL, body, topk="5")
    assert response.status_code == 200, response.text
    expected = reference_probabilities(reference_network(LPF_MODEL, served_checkpoints[LPF_MODEL]), body)[0]
    for entry in response.json()["topk"]:
        assert abs(entry["probability"] - expected[entry["index"]].item()) <= PROBABILITY_TOLERANCE


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_exif_rotated_photo_is_classified_like_the_upright_one(torchserve, fmt):
    upright = photo("chelsea")  # not square: a wrong rotation changes the crop
    stored = stored_for_orientation(upright, 6)
    rotated = with_exif_orientation(stored, 6, fmt)
    # The upright reference: Pillow's reading of the tagged file, stored losslessly.
    reference = encode(ImageOps.exif_transpose(Image.open(io.BytesIO(rotated))), "PNG")
    answers = [torchserve.predict(LPF_MODEL, body, topk="20").json()["topk"] for body in (reference, rotated)]
    assert [e["index"] for e in answers[0]] == [e["index"] for e in answers[1]]
    for a, b in zip(*answers, strict=True):
        assert abs(a["probability"] - b["probability"]) <= PROBABILITY_TOLERANCE
    unrotated = torchserve.predict(LPF_MODEL, encode(stored, fmt), topk="20").json()["topk"]
    assert [e["probability"] for e in unrotated] != pytest.approx([e["probability"] for e in answers[0]], abs=1e-3)
