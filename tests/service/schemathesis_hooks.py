"""What OpenAPI cannot state, told to schemathesis (`SCHEMATHESIS_HOOKS=tests.service.schemathesis_hooks`).

- A valid image is a decodable photo of at least MIN_IMAGE_SIDE pixels a side, not schemathesis's 1x1 sample, and a
  valid video a real one: strategies for the image and video media types draw real PNGs and JPEGs of random size and
  content, and MP4 (H.264) and animated GIF files of 2 to 5 such frames.
- /v1/sequence's frames are files of the multipart array `frame`. schemathesis fills a property with an `encoding`
  content type from that media type's strategy, so for an array it draws one image, which it then sends as a text
  part (no filename). `sequence_frames` gives such a case 2 to 6 frames of one format instead, sent as files: the
  success path is fuzzed with valid frames.
- Probe parameters obey rules across parameters (the crop window and its shifts inside the resized image, at most
  PROBE_MAX_OFFSETS views, a grid step within the range, at least two frames used). No case is dropped: the check
  `documented_answers` holds every answer to a schema-valid request against tests/support/probe_rules.py (the rules
  written from the docs, not the library's `make_plan`): where no rule is broken the request must succeed, with the
  plan (views, pairs, offsets) or frames the docs define; where one is, it must be refused with 400 and that rule's
  code. schemathesis.toml lets ST202 take 400 there for that reason; this check decides.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
from typing import Any

import numpy as np
import schemathesis
from hypothesis import strategies as st
from PIL import Image
from schemathesis.generation import GenerationMode
from schemathesis.generation.value import GeneratedValue

from antialiased.imagefile import MIN_IMAGE_SIDE
from tests.support.probe_rules import PROTOCOLS, Verdict, probe_verdict, sequence_verdict
from tests.support.videos import gif, mp4, noise_frames

# The limits of the service under test (tests/service/test_schema.py gives it and this process the same values).
MAX_OFFSETS = int(os.environ["PROBE_MAX_OFFSETS"])
MAX_FRAMES = int(os.environ["PROBE_SEQUENCE__MAX_FRAMES"])
PROBES = ("/v1/stability", "/v1/compare")
SEQUENCE = "/v1/sequence"
INFER = "/v2/models/{name}/infer"
# What /v2 inference answers a schema-valid body it refuses (docs/open-inference-protocol.md): not the protocol, or
# an image the handler refuses.
OIP_REFUSALS = {"invalid_inference_request", "invalid_image", "image_too_small", "aspect_ratio_too_large"}
VIDEO_SIDES = (32, 48, 64)  # even (H.264's 4:2:0), at least MIN_IMAGE_SIDE
# modest_probes: the widest shift of each protocol whose views fit in 64 (a grid at step 1, a worst-case window), and
# the settings it leaves at their defaults
MODEST_SHIFT = {"paper": 32, "diagonal": 32, "grid": 7, "circular": 32, "fractional": 8, "worst-case": 3}
FINER_SETTINGS = {"resize_size", "subpixel_step", "half_pixel", "mode"}
_video_frames: dict[bytes, int] = {}  # each video drawn -> its number of frames
_valid_infer_requests: set[str] = set()  # the valid /v2 inference bodies drawn, as sorted JSON


def _encode(fmt: str, width: int, height: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def _images(fmt: str) -> st.SearchStrategy[bytes]:
    side = st.integers(MIN_IMAGE_SIDE, 4 * MIN_IMAGE_SIDE)
    return st.builds(_encode, st.just(fmt), side, side, st.integers(0, 2**16))


def _video(container: str, count: int, side: int, seed: int) -> bytes:
    frames = noise_frames(count, side, seed)
    video = mp4(frames) if container == "mp4" else gif(frames)
    _video_frames[video] = count
    return video


schemathesis.openapi.media_type("image/png", _images("PNG"))
schemathesis.openapi.media_type("image/jpeg", _images("JPEG"))
schemathesis.openapi.media_type("image/*", _images("PNG") | _images("JPEG"))
schemathesis.openapi.media_type(
    "video/*",
    st.builds(_video, st.sampled_from(["mp4", "gif"]), st.integers(2, 5), st.sampled_from(VIDEO_SIDES),
              st.integers(0, 2**16)),
)  # fmt: skip


@schemathesis.hook("before_generate_query").apply_to(path_regex="^/v1/(stability|compare)$")
def modest_probes(ctx, strategy):
    """Half of the positive probe queries name a protocol and get a shift range, grid step, pairs and crop of real use
    for it (still within the schema), the protocol's finer settings left at their defaults: drawn across the schema's
    whole ranges, most break a rule, and the success path of the rarer protocols (a grid, a worst-case window) would
    hardly be reached in the examples the suite can afford. The test's PROBE_MAX_OFFSETS (64) bounds the shifts."""

    def modest(protocol: str) -> st.SearchStrategy:
        optional = {"max_shift": st.integers(1, MODEST_SHIFT[protocol]), "step": st.integers(1, 8),
                    "pairs": st.integers(1, 30), "crop_size": st.integers(32, 224)}  # fmt: skip
        return st.fixed_dictionaries({"protocol": st.just(protocol)}, optional=optional)

    def maybe_modest(query: Any) -> st.SearchStrategy:
        if isinstance(query, GeneratedValue) or not isinstance(query, dict):
            return st.just(query)
        others = {name: value for name, value in query.items() if name not in FINER_SETTINGS}
        drawn = st.sampled_from(PROTOCOLS).flatmap(modest)
        return st.one_of(drawn.map(lambda chosen: {**others, **chosen}), st.just(query))

    return strategy.flatmap(maybe_modest)


@schemathesis.hook("before_generate_body").apply_to(path=SEQUENCE)
def sequence_frames(ctx, strategy):
    """A positive /v1/sequence body whose `frame` is one image (see the module docstring) gets a list of 2 to 6 frames
    of one format instead. A negative body (drawn wrapped in its mutations) keeps it: one image where the schema wants
    an array may be what it negates. Done before the case is built, so that schemathesis still knows it positive."""

    def frames(value: Any) -> st.SearchStrategy:
        if isinstance(value, GeneratedValue) or not isinstance(getattr(value, "body", None), dict):
            return st.just(value)
        if "frame" not in value.body:
            return st.just(value)
        return st.sampled_from(["PNG", "JPEG"]).flatmap(
            lambda fmt: st.lists(_images(fmt), min_size=2, max_size=min(6, MAX_FRAMES)).map(
                lambda drawn: dataclasses.replace(
                    value, body={**value.body, "frame": drawn},
                    content_types={**value.content_types, "frame": f"image/{fmt.lower()}"},
                )
            )
        )  # fmt: skip

    return strategy.flatmap(frames)


@schemathesis.hook("before_generate_body").apply_to(path=INFER)
def oip_requests(ctx, strategy):
    """Half of the positive JSON bodies of /v2 inference are replaced by valid requests of 1 to 3 real images (base64
    in JSON, shape [N] or [N, 1], every probability or the top k), so that its success path is fuzzed too; a body
    drawn at random from the protocol's generic schema almost never holds an image."""

    def valid(value: Any) -> st.SearchStrategy:
        if isinstance(value, GeneratedValue) or not isinstance(value, dict):
            return st.just(value)
        drawn = st.builds(_infer_request, st.lists(_images("PNG") | _images("JPEG"), min_size=1, max_size=3),
                          st.booleans(), st.none() | st.integers(1, 5))  # fmt: skip
        return st.one_of(drawn, st.just(value))

    return strategy.flatmap(valid)


def _infer_request(images: list[bytes], flat: bool, classes: int | None) -> dict[str, Any]:
    shape = [len(images)] if flat else [len(images), 1]
    data = [base64.b64encode(image).decode() for image in images]
    output = {"name": "probabilities"} | ({"parameters": {"classification": classes}} if classes else {})
    body = {"inputs": [{"name": "image", "shape": shape, "datatype": "BYTES", "data": data}], "outputs": [output]}
    _valid_infer_requests.add(json.dumps(body, sort_keys=True))
    return body


def _positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


def _verdict(case) -> Verdict | None:
    """What the docs say of a schema-valid probe or sequence request (None: another operation)."""
    query = dict(case.query or {})
    if case.operation.path in PROBES:
        return probe_verdict(query, MAX_OFFSETS)
    if case.operation.path == SEQUENCE and isinstance(case.body, dict):
        frames = case.body.get("frame")
        count = len(frames) if isinstance(frames, list) else _video_frames[bytes(case.body["video"])]
        return sequence_verdict(query, count, MAX_FRAMES)
    return None


@schemathesis.check
def documented_answers(ctx, response, case) -> None:
    """A schema-valid probe or sequence request succeeds with what the docs define, or is refused with the code of a
    documented rule it breaks (tests/support/probe_rules.py)."""
    if not _positive(case):
        return
    if case.operation.path == INFER:
        _check_inference(response, case)
        return
    verdict = _verdict(case)
    if verdict is None:
        return
    if response.status_code == 200 and not verdict.must_succeed and not verdict.may_succeed:
        raise AssertionError(f"accepted, though it breaks the documented rules of {sorted(verdict.refusals)}")
    if response.status_code != 200:
        code = response.json().get("code") if response.status_code == 400 else None
        if code not in verdict.refusals:
            expected = f"400 with a code of {sorted(verdict.refusals)}" if verdict.refusals else "200"
            raise AssertionError(f"expected {expected} by the documented rules, got {response.status_code} {code}")
        return
    _check_success(verdict, response.json(), case)
    _tally(case.operation.path, _kind(case))


def _check_success(verdict: Verdict, body: dict[str, Any], case) -> None:
    """A successful answer shows the plan or the frames the docs define."""
    if verdict.frames_used is not None:
        used = verdict.frames_used
        assert body["frames"] == len(used) and body["frames_used"] == used, (body["frames_used"], used)
        topk = case.query.get("topk") or 5
        assert all(len(r["frames"]) == len(used) for r in body["results"]), "every target classified every frame"
        assert all(len(frame) == topk for r in body["results"] for frame in r["frames"]), "topk predictions a frame"
        return
    plan = body["plan"]
    if verdict.views is not None:
        assert len(plan["offsets"]) == verdict.views, (len(plan["offsets"]), verdict.views)
    assert len(plan["pairs"]) == verdict.pairs, (len(plan["pairs"]), verdict.pairs)
    low, high = verdict.offset_range
    assert all(low <= value <= high for offset in plan["offsets"] for value in offset), (plan["offsets"], low, high)


def _check_inference(response, case) -> None:
    """A valid inference request drawn by `oip_requests` is answered with every image's probabilities (or top k);
    any other schema-valid body is answered, or refused with a documented 400."""
    body = case.body
    if isinstance(body, dict) and json.dumps(body, sort_keys=True) in _valid_infer_requests:
        assert response.status_code == 200, f"a valid inference request refused: {response.status_code} {response.text}"
        (output,) = response.json()["outputs"]
        classes = body["outputs"][0].get("parameters", {}).get("classification", 1000)
        assert output["shape"] == [body["inputs"][0]["shape"][0], classes], output["shape"]
        _tally(INFER, "images")
    elif response.status_code != 200:
        code = response.json().get("code")
        assert response.status_code == 400 and code in OIP_REFUSALS, f"{response.status_code} {code}: undocumented"


def _kind(case) -> str:
    """What a successful case probed: its protocol, or frames or a video."""
    if case.operation.path == SEQUENCE:
        return "video" if "video" in case.body else "frames"
    return str((case.query or {}).get("protocol") or "paper")


def _tally(path: str, kind: str) -> None:
    """Count a success in the file SCHEMATHESIS_TALLY names (a line each), so the test sees the success path ran."""
    with open(os.environ["SCHEMATHESIS_TALLY"], "a") as tally:
        tally.write(f"{path} {kind}\n")
