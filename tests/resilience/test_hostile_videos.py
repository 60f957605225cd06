"""Hostile videos at a real probe service process (in front of the fake TorchServe: the decoding, not a model, is
what is measured): a burst of videos just under every limit, and of files that lie about their size, at once; the
service answers each with its status, keeps answering /healthz, and its memory stays within what its configuration
allows (the pixel budget holds a video's decoding and frames, reserved from the header before decoding)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support import videos
from tests.support.fake_torchserve import FakeTorchServe
from tests.support.memory import MB, peak_memory
from tests.support.service import start_test_service

pytestmark = [pytest.mark.slow]

FRAME_SIDE = 1800  # GIF canvases of 3.24 MP: two frames and the decoding fill the pixel budget
PIXEL_BUDGET = 12 * FRAME_SIDE**2  # the decoding (10 frames' worth) and the 2 frames used
UPLOAD_BUDGET = 8 * MB
BYTES_PER_BUDGET_PIXEL = 3  # an RGB pixel
SLACK = 64 * MB  # allocator, FFmpeg's own buffers, Python noise
BURST = 6


def test_a_burst_of_hostile_videos_stays_within_the_configured_memory(tmp_path: Path) -> None:
    just_under = videos.huge_gif(FRAME_SIDE, frames=2)
    hostile = [just_under] * BURST + [videos.huge_gif(16_000), videos.repeated_frames(30_000), videos.lying_size()]
    env = {"PROBE_MAX_PIXELS_IN_FLIGHT": str(PIXEL_BUDGET), "PROBE_MAX_UPLOAD_BYTES_IN_FLIGHT": str(UPLOAD_BUDGET),
           "PROBE_IMAGE__MAX_BYTES": str(2 * MB), "PROBE_SEQUENCE__MAX_BYTES": str(2 * MB),
           "PROBE_ADMISSION_WAIT_S": "30"}  # fmt: skip
    with FakeTorchServe() as fake, start_test_service(fake.url, tmp_path / "service.log", **env) as service:
        model = httpx.get(f"{service.url}/v1/config").json()["models"][0]

        def send(data: bytes) -> int:
            files = {"video": ("clip", data, "video/mp4")}
            return httpx.post(
                f"{service.url}/v1/sequence", params={"models": model}, files=files, timeout=120
            ).status_code

        with peak_memory(service.process.pid) as memory, ThreadPoolExecutor(len(hostile)) as pool:
            statuses = list(pool.map(send, hostile))
            assert httpx.get(f"{service.url}/healthz", timeout=10).status_code == 200
        assert statuses[:BURST] == [200] * BURST, "each waits its turn for the pixel budget, then is answered"
        assert statuses[BURST:] == [413, 413, 400]
        grown = memory.peak - memory.baseline
        bound = PIXEL_BUDGET * BYTES_PER_BUDGET_PIXEL + UPLOAD_BUDGET + SLACK
        assert grown < bound, f"the service grew by {grown / MB:.0f} MB; its configuration allows {bound / MB:.0f} MB"
