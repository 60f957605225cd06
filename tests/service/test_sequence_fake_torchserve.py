"""The sequence probe (/v1/sequence) in-process in front of the fake TorchServe (tests/support/fake_torchserve.py),
whose plain answers' top-1 is the red value of a frame's top-left pixel mod 3: per-frame top-k, the metrics of
`antialiased.sequences` side by side, and every kind of bad sequence refused as a 4xx JSON error before anything
reaches TorchServe."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from antialiased.imagefile import ImageLimits, decode_rgb, inspect_image
from antialiased.sequences import SequenceLimits, sequence_metrics
from service.app import create_app
from service.settings import Settings
from service.targets.base import FramesProbe
from service.views import resize_center_crop
from tests.support.fake_torchserve import FakeTorchServe
from tests.support.served_models import BASELINE_MODEL, LPF_MODEL

MAX_FRAMES = 4
MAX_PIXELS_IN_ALL = 4 * 100 * 100


@pytest.fixture(scope="module")
def client(fake: FakeTorchServe) -> Iterator[TestClient]:
    settings = Settings(
        torchserve_url=fake.url,
        models=(LPF_MODEL, BASELINE_MODEL),
        image=ImageLimits(max_bytes=200_000),
        sequence=SequenceLimits(max_frames=MAX_FRAMES, max_bytes=300_000, max_pixels=MAX_PIXELS_IN_ALL),
        retries=0,
        ready_interval_s=600,
        ready_idle_s=3600,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def frame(red: int, side: int = 100) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (red, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


def files(*frames: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("frame", (f"{k}.png", data, "image/png")) for k, data in enumerate(frames)]


def test_each_frame_and_the_sequence_metrics_side_by_side(client: TestClient) -> None:
    reds = [0, 1, 1, 2]  # top-1 classes 0, 1, 1, 2: two flips in three steps
    response = client.post("/v1/sequence", params={"topk": 3}, files=files(*map(frame, reds)))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["frames"] == 4
    assert [result["target"] for result in answer["results"]] == [LPF_MODEL, BASELINE_MODEL]
    for result in answer["results"]:
        assert [f[0]["index"] for f in result["frames"]] == [0, 1, 1, 2]
        assert all(len(f) == 3 for f in result["frames"])
        metrics = result["metrics"]
        assert metrics["flip_rate"] == pytest.approx(2 / 3)
        assert (metrics["majority_class"], result["majority_label"]) == (1, "goldfish")
        # every class's probability is known at every frame (the handler's plain answer with all of them)
        curves = {int(c): p for c, p in result["class_probabilities"].items()}
        assert curves[1] == [0.2, 0.6, 0.6, 0.0]  # second to class 0, top-1 twice, absent from class 2's top 5
        expected = sequence_metrics([[(r + i) % 1000 for i in range(5)] for r in reds], curves)
        assert metrics == expected.to_json()


def test_the_models_and_topk_may_be_form_fields(client: TestClient) -> None:
    fields = {"models": BASELINE_MODEL, "topk": "1"}
    response = client.post("/v1/sequence", data=fields, files=files(frame(0), frame(0)))
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["target"] == BASELINE_MODEL and result["metrics"]["flip_rate"] == 0.0
    assert all(len(f) == 1 for f in result["frames"])


NOT_AN_IMAGE = b"this is not an image, just text"  # (corrupt pixels behind a good header: the handler's invalid_image)


BAD_IDS = "no-frames not-multipart one-frame too-many-frames too-many-pixels not-an-image too-small too-many-bytes"
BAD_IDS += " unknown-field"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"files": [("other", ("a.png", frame(0), "image/png"))]}, 400, "empty_body"),
        ({"content": frame(0), "headers": {"content-type": "image/png"}}, 400, "invalid_multipart"),
        ({"files": files(frame(0))}, 400, "too_few_frames"),
        ({"files": files(*[frame(0, 40)] * (MAX_FRAMES + 1))}, 413, "too_many_frames"),
        ({"files": files(*[frame(0, 101)] * 4)}, 413, "too_many_pixels"),  # 40,804 > 40,000 pixels in all
        ({"files": files(frame(0), NOT_AN_IMAGE)}, 400, "invalid_image"),
        ({"files": files(frame(0), frame(0, 8))}, 400, "image_too_small"),
        ({"files": files(*[b"\x89PNG" + bytes(190_000)] * 2)}, 413, "image_too_large"),  # 380 kB > 300 kB in all
        ({"files": files(frame(0), frame(0)), "data": {"pairs": "3"}}, 400, "invalid_parameter"),
    ],
    ids=BAD_IDS.split(),
)
def test_bad_sequences_are_refused_before_torchserve(
    client: TestClient, fake: FakeTorchServe, body: dict, status: int, code: str
) -> None:
    before = fake.requests
    response = client.post("/v1/sequence", **body)
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert fake.requests == before, "nothing reached TorchServe"


def test_a_bad_frame_is_named(client: TestClient) -> None:
    response = client.post("/v1/sequence", files=files(frame(0), frame(0), NOT_AN_IMAGE))
    assert response.json()["message"].startswith("frame 2: ") and response.json()["detail"] == {"frame": 2}


def test_the_config_and_schema_state_the_limits(client: TestClient) -> None:
    config = client.get("/v1/config").json()
    assert config["sequence"] == {"max_frames": MAX_FRAMES, "max_bytes": 300_000, "max_pixels": MAX_PIXELS_IN_ALL,
                                  "max_video_frames": 1800, "decode_seconds": 10.0}  # fmt: skip
    body = client.get("/openapi.json").json()["paths"]["/v1/sequence"]["post"]["requestBody"]
    assert body["content"]["multipart/form-data"]["schema"]["properties"]["frame"]["maxItems"] == MAX_FRAMES


def test_targets_that_take_images_get_each_frame_s_center_crop() -> None:
    """What the service cuts for `torchserve` and `oip` targets: one plain classification's view per frame."""
    frames = [frame(0, 300), frame(200, 260)]
    infos = [inspect_image(f) for f in frames]
    views = asyncio.run(FramesProbe(frames, ImageLimits(), infos).views())
    assert views.shape == (2, 224, 224, 3)
    for view, data in zip(views, frames, strict=True):
        assert (view == resize_center_crop(decode_rgb(data), 224, 256)).all()
