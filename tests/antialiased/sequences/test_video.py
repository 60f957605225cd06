"""Video files as frame sequences (antialiased.sequences.video): the frames PyAV decodes, the stride and max_frames
cut, and every hostile file refused with the error that names its problem, before decoding where the header tells,
with the memory of the process bounded."""

from __future__ import annotations

import resource
import time

import numpy as np
import pytest

from antialiased.errors import ApiError, ErrorCode
from antialiased.imagefile import ImageLimits
from antialiased.sequences import FrameSelection, SequenceLimits, video
from antialiased.sequences.video import open_video
from tests.support import videos

LIMITS = SequenceLimits(max_video_frames=30)
IMAGE_LIMITS = ImageLimits()


EVERY_FRAME = FrameSelection()


def _decode(data: bytes, selection: FrameSelection = EVERY_FRAME, limits: SequenceLimits = LIMITS):
    with open_video(data, limits, IMAGE_LIMITS, selection) as reader:
        return reader.info, list(reader.frames())


@pytest.mark.parametrize("make", [videos.mp4, videos.webm, videos.gif], ids=["mp4-h264", "webm-vp9", "gif"])
def test_each_container_gives_its_frames_in_order(make) -> None:
    frames = videos.moving_square(5, side=48)
    info, decoded = _decode(make(frames))
    assert [index for index, _ in decoded] == [0, 1, 2, 3, 4]
    assert (info.width, info.height, info.frames) == (48, 48, 5)
    for k, (_, pixels) in enumerate(decoded):
        assert pixels.shape == (48, 48, 3) and pixels.dtype == np.uint8
        errors = [np.abs(pixels.astype(int) - original).mean() for original in frames]
        assert errors[k] < 12 and int(np.argmin(errors)) == k, "frame k is the k-th frame (the square moves)"


def test_stride_and_max_frames_pick_the_frames_and_decoding_stops_at_the_last() -> None:
    data = videos.mp4(videos.noise_frames(12, side=32))
    _, decoded = _decode(data, FrameSelection(stride=3, max_frames=3))
    assert [index for index, _ in decoded] == [0, 3, 6]
    _, every = _decode(data)
    assert all((pixels == every[index][1]).all() for index, pixels in decoded)
    with pytest.raises(ApiError) as refused:
        _decode(data, FrameSelection(max_frames=LIMITS.max_frames + 1))
    assert refused.value.code == ErrorCode.INVALID_PARAMETER
    with pytest.raises(ApiError) as refused:
        _decode(data, FrameSelection(stride=12))
    assert refused.value.code == ErrorCode.TOO_FEW_FRAMES


HOSTILE = {
    "cut-short-mid-frame": (videos.cut_short, ErrorCode.INVALID_VIDEO, 400, "cannot be decoded at frame"),
    "cut-short-at-a-frame": (videos.cut_at_packet, ErrorCode.INVALID_VIDEO, 400, "its header declares 8"),
    "frame-larger-than-header": (videos.lying_size, ErrorCode.INVALID_VIDEO, 400, "larger than its header says"),
    "30000-tiny-frames": (lambda: videos.repeated_frames(30_000), ErrorCode.TOO_MANY_FRAMES, 413, "30000 frames"),
    "30000-frames-webm": (
        lambda: videos.repeated_frames(30_000, "matroska"),
        ErrorCode.TOO_MANY_FRAMES,
        413,
        "30000 frames",
    ),
    "header-silent-on-count": (
        lambda: videos.lying_duration(300, 0.0),
        ErrorCode.TOO_MANY_FRAMES,
        413,
        "more than 30 frames",
    ),
    "16k-by-16k-frame": (videos.huge_gif, ErrorCode.TOO_MANY_PIXELS, 413, "16000x16000"),
    "16384-square-frame": (lambda: videos.huge_gif(16_384), ErrorCode.INVALID_VIDEO, 400, "no frame size"),
    "audio-only": (videos.audio_only, ErrorCode.NO_VIDEO_STREAM, 400, "streams: audio"),
    "playlist-not-a-video": (lambda: videos.NOT_A_VIDEO, ErrorCode.INVALID_VIDEO, 400, "not a video file"),
    "png-not-a-video": (videos.png, ErrorCode.INVALID_VIDEO, 400, "not a video file"),
}


@pytest.mark.parametrize(("make", "code", "status", "words"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_video_is_refused_naming_its_problem(make, code, status, words) -> None:
    data = make()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ApiError) as refused:
        _decode(data)  # 41 frames used: a silent header's frames are counted past the limit
    assert (refused.value.code, refused.value.status) == (code, status)
    assert words in refused.value.message
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 64, f"decoding the hostile file took {grown_mb:.0f} MB"


def test_a_header_that_claims_fewer_frames_bounds_the_frames_used() -> None:
    """Matroska says its duration only: 2 s at 25 fps is 50 frames, whatever the file holds (3000 here)."""
    info, decoded = _decode(videos.lying_duration(3000, 2.0), FrameSelection(stride=10), SequenceLimits())
    assert (info.frames, info.declared) == (50, False)
    assert [index for index, _ in decoded] == [0, 10, 20, 30, 40]


def test_decoding_stops_at_its_wall_clock_budget() -> None:
    data = videos.mp4(videos.noise_frames(4, side=32))
    with pytest.raises(ApiError) as refused:
        _decode(data, limits=SequenceLimits(decode_seconds=1e-9))
    assert (refused.value.code, refused.value.status) == (ErrorCode.VIDEO_TOO_SLOW, 413)


def test_the_wall_clock_budget_runs_from_the_header_read_and_carries_what_was_spent(monkeypatch) -> None:
    """`decode_seconds` bound the whole work on a video: a header that takes the budget to read leaves no time for
    its frames (a slowed `av.open` stands in for a header slow to parse: every wait here is a lower bound, so the
    outcome is certain), and seconds `spent` on the video before count too."""
    data = videos.mp4(videos.noise_frames(3, side=32))
    budget = 0.2
    opened = video.av.open

    def slow_open(*args, **kwargs):
        time.sleep(budget * 1.5)
        return opened(*args, **kwargs)

    monkeypatch.setattr(video.av, "open", slow_open)
    with pytest.raises(ApiError) as refused, open_video(data, SequenceLimits(decode_seconds=budget), IMAGE_LIMITS):
        pass
    assert (refused.value.code, refused.value.status) == (ErrorCode.VIDEO_TOO_SLOW, 413)
    assert f"the {budget:g} s allowed (its header)" in refused.value.message
    monkeypatch.setattr(video.av, "open", opened)
    limits = SequenceLimits(decode_seconds=60)
    with pytest.raises(ApiError) as refused, open_video(data, limits, IMAGE_LIMITS, spent=61):
        pass
    assert refused.value.code == ErrorCode.VIDEO_TOO_SLOW
    with open_video(data, limits, IMAGE_LIMITS, spent=30) as reader:
        assert 30 <= reader.elapsed < 60 and len(list(reader.frames())) == 3


def test_the_header_is_checked_against_the_limits_before_decoding() -> None:
    data = videos.mp4(videos.noise_frames(6, side=64))
    for limits, code in (
        (SequenceLimits(max_video_frames=5), ErrorCode.TOO_MANY_FRAMES),
        (SequenceLimits(max_pixels=5 * 64 * 64), ErrorCode.TOO_MANY_PIXELS),
        (SequenceLimits(max_bytes=len(data) - 1), ErrorCode.IMAGE_TOO_LARGE),
    ):
        with pytest.raises(ApiError) as refused, open_video(data, limits, IMAGE_LIMITS):
            pass
        assert (refused.value.code, refused.value.status) == (code, 413), limits
    assert len(_decode(data, limits=SequenceLimits())[1]) == 6  # within the default limits
    with pytest.raises(ApiError) as refused, open_video(data, SequenceLimits(), ImageLimits(min_side=65)):
        pass
    assert refused.value.code == ErrorCode.IMAGE_TOO_SMALL
