"""A video on the sequence probe (/v1/sequence), in-process in front of the fake TorchServe (a plain answer's top-1 is
the red value of the frame's top-left pixel mod 3): the frames used (stride, max_frames) and the answer that says
which, each frame classified as the service decoded it, and every hostile video refused as a 4xx naming its problem
before anything reaches TorchServe, while a good request at the same time is answered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from antialiased.imagefile import ImageLimits
from antialiased.sequences import FrameSelection, SequenceLimits, sequence_metrics, video
from antialiased.sequences.video import open_video
from service.app import create_app
from service.settings import Settings
from tests.support import videos
from tests.support.fake_torchserve import FakeTorchServe
from tests.support.served_models import BASELINE_MODEL, LPF_MODEL

LIMITS = SequenceLimits(max_frames=8, max_bytes=1_000_000, max_pixels=8 * 64 * 64, max_video_frames=40)
REDS = [0, 30, 31, 60, 100, 101, 150, 200, 250]  # H.264 moves a red value by a little: the answers come from the decode


def _client(fake: FakeTorchServe, **settings) -> TestClient:
    defaults = {"image": ImageLimits(min_side=8), "sequence": LIMITS, "retries": 0, "ready_interval_s": 600,
                "ready_idle_s": 3600}  # fmt: skip
    return TestClient(create_app(Settings(torchserve_url=fake.url, models=(LPF_MODEL, BASELINE_MODEL), **{
        **defaults, **settings})))  # fmt: skip


@pytest.fixture(scope="module")
def client(fake: FakeTorchServe) -> Iterator[TestClient]:
    with _client(fake) as test_client:
        yield test_client


def _video(data: bytes, name: str = "clip.mp4") -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("video", (name, data, "video/mp4"))]


def _decoded_top1(data: bytes, selection: FrameSelection) -> tuple[list[int], list[int]]:
    """The frames the service uses and the fake's top-1 of each, from the library's own decoding."""
    with open_video(data, LIMITS, ImageLimits(min_side=8), selection) as reader:
        frames = list(reader.frames())
    return [index for index, _ in frames], [int(pixels[0, 0, 0]) % 3 for _, pixels in frames]


@pytest.mark.parametrize("make", [videos.mp4, videos.webm, videos.gif], ids=["mp4", "webm", "gif"])
def test_a_video_is_classified_frame_by_frame(client: TestClient, make) -> None:
    data = make(videos.colour_frames(REDS[:6]))
    response = client.post("/v1/sequence", params={"topk": 3}, files=_video(data))
    assert response.status_code == 200, response.text
    answer = response.json()
    used, top1 = _decoded_top1(data, FrameSelection())
    assert (answer["frames"], answer["frames_used"]) == (6, used) and used == [0, 1, 2, 3, 4, 5]
    assert answer["video"]["width"] == 64 and answer["video"]["frames"] == 6
    for result in answer["results"]:
        assert [frame[0]["index"] for frame in result["frames"]] == top1
        curves = {int(c): p for c, p in result["class_probabilities"].items()}
        expected = sequence_metrics([[(t + i) % 1000 for i in range(5)] for t in top1], curves)
        assert result["metrics"] == expected.to_json()


def test_stride_and_max_frames_pick_the_frames_and_the_answer_says_which(client: TestClient) -> None:
    data = videos.mp4(videos.colour_frames(REDS))
    response = client.post("/v1/sequence", data={"stride": "2", "max_frames": "3"}, files=_video(data))
    assert response.status_code == 200, response.text
    answer = response.json()
    used, top1 = _decoded_top1(data, FrameSelection(2, 3))
    assert answer["frames_used"] == used == [0, 2, 4] and answer["frames"] == 3
    assert [f[0]["index"] for f in answer["results"][0]["frames"]] == top1


def test_stride_and_max_frames_apply_to_frames_too(client: TestClient) -> None:
    frames = [("frame", (f"{k}.png", videos.png(), "image/png")) for k in range(5)]
    answer = client.post("/v1/sequence", params={"stride": 2}, files=frames).json()
    assert (answer["frames"], answer["frames_used"], answer["video"]) == (3, [0, 2, 4], None)


HOSTILE = {
    "cut-short": (videos.cut_short, 1, 400, "invalid_video"),
    "cut-at-a-frame": (videos.cut_at_packet, 1, 400, "invalid_video"),
    "frame-larger-than-header": (videos.lying_size, 1, 400, "invalid_video"),
    "30000-tiny-frames": (lambda: videos.repeated_frames(30_000), 1, 413, "too_many_frames"),
    # 8 frames with stride 10 reach frame 70: counted past the 40 frames a video may have
    "header-silent-on-count": (lambda: videos.lying_duration(300, 0.0), 10, 413, "too_many_frames"),
    "16k-by-16k-frame": (videos.huge_gif, 1, 413, "too_many_pixels"),
    "audio-only": (videos.audio_only, 1, 400, "no_video_stream"),
    "playlist-not-a-video": (lambda: videos.NOT_A_VIDEO, 1, 400, "invalid_video"),
}


@pytest.mark.parametrize(("make", "stride", "status", "code"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_video_is_refused_and_a_good_request_meanwhile_is_answered(
    client: TestClient, fake: FakeTorchServe, make, stride: int, status: int, code: str
) -> None:
    good, bad = videos.mp4(videos.colour_frames([0, 1, 2])), make()
    before = fake.requests
    response = client.post("/v1/sequence", params={"stride": stride}, files=_video(bad))
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert response.json()["message"]
    assert fake.requests == before, "nothing reached TorchServe"

    def send(data: bytes):
        return client.post("/v1/sequence", params={"stride": stride if data is bad else 1}, files=_video(data))

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, [bad, good, bad, good]))
    assert [a.status_code for a in answers] == [status, 200, status, 200]


def test_a_video_whose_decoding_does_not_fit_the_pixel_budget_is_refused(fake: FakeTorchServe) -> None:
    """A budget of 13 frames of 64 x 64: the decoding (10) and 3 PNGs fit, 4 do not."""
    data = videos.mp4(videos.colour_frames([0, 1, 2, 3]))
    with _client(fake, max_pixels_in_flight=13 * 64 * 64) as client:
        response = client.post("/v1/sequence", files=_video(data))
        assert (response.status_code, response.json()["code"]) == (413, "too_many_pixels")
        assert "max_frames" in response.json()["message"]
        assert client.post("/v1/sequence", params={"max_frames": 3}, files=_video(data)).status_code == 200


def test_the_decoding_budget_bounds_the_header_check_and_the_frames_together(fake: FakeTorchServe, monkeypatch) -> None:
    """PROBE_SEQUENCE__DECODE_SECONDS bounds the request's whole decoding: a header check and a decoding that each
    take 60% of it (a slowed `av.open` stands in for a slow container: every wait is a lower bound, so the outcome
    is certain) are refused together, though neither alone would be; the same video with the budget to spare is
    classified."""
    budget = 1.0
    opened = video.av.open

    def slow_open(*args, **kwargs):
        time.sleep(0.6 * budget)
        return opened(*args, **kwargs)

    data = videos.mp4(videos.colour_frames([0, 1, 2]))
    monkeypatch.setattr(video.av, "open", slow_open)
    with _client(fake, sequence=LIMITS.model_copy(update={"decode_seconds": budget})) as client:
        response = client.post("/v1/sequence", files=_video(data))
        assert (response.status_code, response.json()["code"]) == (413, "video_too_slow"), response.text
    with _client(fake, sequence=LIMITS.model_copy(update={"decode_seconds": 60.0})) as client:
        assert client.post("/v1/sequence", files=_video(data)).status_code == 200


def test_frames_and_a_video_together_or_two_videos_are_refused(client: TestClient) -> None:
    data = videos.mp4(videos.colour_frames([0, 1]))
    for files in ([*_video(data), ("frame", ("0.png", videos.png(), "image/png"))], _video(data) * 2):
        response = client.post("/v1/sequence", files=files)
        assert (response.status_code, response.json()["code"]) == (400, "invalid_multipart")
    response = client.post("/v1/sequence", params={"max_frames": 9}, files=_video(data))
    assert (response.status_code, response.json()["code"]) == (400, "invalid_parameter")


def test_the_config_and_schema_state_the_video_limits(client: TestClient) -> None:
    config = client.get("/v1/config").json()["sequence"]
    assert (config["max_video_frames"], config["decode_seconds"]) == (40, LIMITS.decode_seconds)
    body = client.get("/openapi.json").json()["paths"]["/v1/sequence"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["video"]["format"] == "binary" and schema["properties"]["frame"]["maxItems"] == 8
