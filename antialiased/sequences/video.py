"""Video files as frame sequences: decoded by PyAV (FFmpeg's libraries) within bounds, one frame at a time
(torch-free).

Bounds hold before and while decoding:
- the container is recognised by its first bytes (ISO BMFF: MP4 and MOV; Matroska: MKV and WebM; GIF) and opened
  as that format only, so FFmpeg never guesses among its other demuxers (playlists that open other files, raw
  streams); its first video stream must be of an accepted codec (`VIDEO_CODECS`);
- the header's frame size is checked against the image limits and, with the frames that will be used (the frame
  count the header declares, or its duration times its frame rate), against `SequenceLimits` before any frame is
  decoded (FFmpeg reads the header with frame decoding switched off);
- the decoder refuses any frame much larger than the header's size before allocating it (FFmpeg's `max_pixels`),
  runs on one thread, and each frame must be of the header's size; the frames are counted against
  `max_video_frames` whatever the header said; decoding stops at the last frame used;
- `decode_seconds` of wall-clock time bound the work, from the moment `open_video` starts reading the header to the
  last frame used (less the seconds `spent` on the same video before, e.g. by an earlier header check: a caller's
  whole decoding work is bounded, its waits in between are not counted); checked after the header and between
  packets and frames;
- a video that ends before the frames its header declares is refused as cut short.
Every refusal is an `ApiError` naming the problem: invalid_video, no_video_stream, too_few_frames,
too_many_frames, too_many_pixels (413), image_too_small, aspect_ratio_too_large, video_too_slow (413).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from time import monotonic

import av
import av.error
import numpy as np
from PIL import Image

from antialiased.errors import ApiError, ErrorCode
from antialiased.imagefile import ImageLimits, check_dimensions, error_text
from antialiased.sequences import MIN_FRAMES, FrameSelection, SequenceLimits, check_sequence_pixels

# FFmpeg's demuxer for each recognised container, by its first bytes.
ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide")
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
GIF_MAGICS = (b"GIF87a", b"GIF89a")
VIDEO_CODECS = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mjpeg", "gif")  # FFmpeg's canonical names
ACCEPTED_CONTAINERS = "MP4/MOV, MKV/WebM or GIF"
# Budget units (pixels of an RGB frame) one decoding holds per pixel of the frame size: the decoder's reference
# frames (up to 16 in YUV 4:2:0, 1.5 bytes a pixel), the RGB frame and its PNG.
DECODER_FRAMES = 10
EVERY_FRAME = FrameSelection()


@dataclass(frozen=True)
class VideoInfo:
    """What the header says: the container, the codec, the frame size and frame rate, and the frame count
    (`declared` when the header states it; else its duration times its frame rate; None when it says neither)."""

    container: str
    codec: str
    width: int
    height: int
    frames: int | None
    fps: float | None
    declared: bool = True

    @property
    def pixels(self) -> int:
        return self.width * self.height


def container_format(data: bytes) -> str:
    """FFmpeg's demuxer for the container `data` starts with; ApiError invalid_video for anything else."""
    if data[4:8] in ISO_BOXES:
        return "mov"
    if data.startswith(EBML_MAGIC):
        return "matroska"
    if data.startswith(GIF_MAGICS):
        return "gif"
    raise ApiError(ErrorCode.INVALID_VIDEO, f"not a video file: send {ACCEPTED_CONTAINERS}")


class VideoReader:
    """An opened video whose header passed the limits (`open_video`): `info`, then `frames()` one at a time."""

    def __init__(
        self,
        container: av.container.InputContainer,
        info: VideoInfo,
        used: range,
        limits: SequenceLimits,
        started: float,
    ):
        self._container = container
        self._stream = container.streams.video[0]
        self.info = info
        self.used = used  # the indices to use, as far as the header tells (the frame count may be unknown)
        self._limits = limits
        self._started = started

    @property
    def elapsed(self) -> float:
        """The seconds of `decode_seconds` spent so far on this video (see the module docstring)."""
        return monotonic() - self._started

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """(index in the video, (H, W, 3) uint8 RGB) of each frame used, in order, decoded one at a time."""
        wanted, last = set(self.used), self.used[-1]
        context = self._stream.codec_context
        context.thread_count = 1
        # A frame far beyond the header's size is an error before it is allocated (twice: decoders' own buffers,
        # e.g. GIF's, are a little larger than the frame); each frame is then checked to be of the header's size.
        context.options = {"max_pixels": str(2 * self.info.pixels)}
        decoded = 0
        try:
            for packet in self._container.demux(self._stream):
                self._check_time(decoded)
                for frame in packet.decode():
                    self._check_frame(frame, decoded)
                    if decoded in wanted:
                        yield decoded, frame.to_ndarray(format="rgb24")
                    if decoded == last:
                        return
                    decoded += 1
                    self._check_time(decoded)
        except av.error.FFmpegError as error:
            raise ApiError(
                ErrorCode.INVALID_VIDEO,
                f"the video cannot be decoded at frame {decoded}: its data is corrupt, cut short or larger than "
                f"its header says ({error_text(error)})",
            ) from None
        self._check_end(decoded)

    def _check_frame(self, frame: av.VideoFrame, index: int) -> None:
        if (frame.width, frame.height) != (self.info.width, self.info.height):
            message = f"frame {index} is {frame.width}x{frame.height}; the header says {self.info.width}x"
            raise ApiError(ErrorCode.INVALID_VIDEO, f"{message}{self.info.height}")
        if index >= self._limits.max_video_frames:
            raise _too_many(f"the video has more than {self._limits.max_video_frames} frames (the limit)")

    def _check_time(self, decoded: int) -> None:
        _check_deadline(self._started, self._limits, f"{decoded} frames")

    def _check_end(self, decoded: int) -> None:
        """At the end of the stream: as many frames as the header declares, and at least two used."""
        if self.info.declared and self.info.frames is not None and decoded < min(self.info.frames, self.used[-1] + 1):
            message = f"the video ends after {decoded} frames; its header declares {self.info.frames}: it is cut short"
            raise ApiError(ErrorCode.INVALID_VIDEO, message)
        used = len(range(0, decoded, self.used.step))
        if used < MIN_FRAMES:
            message = f"the video has {decoded} frames: {used} used with stride {self.used.step}, {MIN_FRAMES} needed"
            raise ApiError(ErrorCode.TOO_FEW_FRAMES, message)


def _check_deadline(started: float, limits: SequenceLimits, done: str) -> None:
    """ApiError video_too_slow (413) once `decode_seconds` have passed since `started`."""
    if monotonic() - started > limits.decode_seconds:
        message = f"decoding took longer than the {limits.decode_seconds:g} s allowed ({done})"
        raise ApiError(ErrorCode.VIDEO_TOO_SLOW, message, 413)


@contextmanager
def open_video(
    data: bytes,
    limits: SequenceLimits,
    image_limits: ImageLimits,
    selection: FrameSelection = EVERY_FRAME,
    spent: float = 0.0,
) -> Iterator[VideoReader]:
    """The video of `data`, its header checked against the limits (see the module docstring) before anything is
    decoded; closed when the block ends. `decode_seconds` run from now, less the seconds already `spent` on it."""
    started = monotonic() - spent
    if not data:
        raise ApiError(ErrorCode.EMPTY_BODY, "the video file is empty")
    if len(data) > limits.max_bytes:
        raise ApiError(
            ErrorCode.IMAGE_TOO_LARGE, f"the video has {len(data)} bytes; the limit is {limits.max_bytes}", 413
        )
    cap = selection.cap(limits)
    form = container_format(data)
    try:
        # The header only: FFmpeg's probe decodes no frame (skip_frame), on one thread.
        container = av.open(io.BytesIO(data), format=form, options={"skip_frame": "all", "threads": "1"})
    except av.error.FFmpegError as error:
        raise ApiError(ErrorCode.INVALID_VIDEO, f"the video header cannot be read: {error_text(error)}") from None
    try:
        info = _checked_info(container, form, limits, image_limits)
        declared = info.frames if info.frames is not None else selection.stride * cap
        used = selection.indices(declared, limits)
        if len(used) < MIN_FRAMES:
            message = f"the video has {declared} frames: {len(used)} used with stride {selection.stride}"
            raise ApiError(ErrorCode.TOO_FEW_FRAMES, f"{message}, {MIN_FRAMES} needed")
        try:
            check_sequence_pixels(len(used) * info.pixels, limits)
        except ApiError as error:
            hint = "; use fewer frames (max_frames, stride) or a smaller video"
            raise ApiError(error.code, error.message + hint, error.status) from None
        _check_deadline(started, limits, "its header")
        yield VideoReader(container, info, used, limits, started)
    finally:
        container.close()


def _checked_info(
    container: av.container.InputContainer, form: str, limits: SequenceLimits, image_limits: ImageLimits
) -> VideoInfo:
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
        raise ApiError(ErrorCode.NO_VIDEO_STREAM, f"the file holds no video stream (its streams: {kinds})")
    stream = container.streams.video[0]
    codec = stream.codec_context.codec.canonical_name if stream.codec_context is not None else "unknown"
    if codec not in VIDEO_CODECS:
        raise ApiError(ErrorCode.INVALID_VIDEO, f"the video codec {codec} is not accepted: {', '.join(VIDEO_CODECS)}")
    if stream.width <= 0 or stream.height <= 0:
        raise ApiError(
            ErrorCode.INVALID_VIDEO, "the video header gives no frame size FFmpeg accepts (malformed, or far too large)"
        )
    check_dimensions(stream.width, stream.height, image_limits, "the video's frame")
    fps = float(stream.average_rate) if stream.average_rate else None
    frames = stream.frames or None
    declared = frames is not None
    if frames is None and container.duration and fps:
        frames = round(container.duration / av.time_base * fps)  # Matroska and WebM say their duration only
    if frames is not None and frames > limits.max_video_frames:
        raise _too_many(f"the video has {frames} frames; the limit is {limits.max_video_frames}")
    return VideoInfo(form, codec, stream.width, stream.height, frames, fps, declared)


def _too_many(message: str) -> ApiError:
    return ApiError(ErrorCode.TOO_MANY_FRAMES, message, 413)


def frame_png(pixels: np.ndarray) -> bytes:
    """A decoded frame, (H, W, 3) uint8 RGB, as a lossless PNG file (fast compression): how a frame of a video is
    sent on to a classifier that takes image files."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
