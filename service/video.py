"""A video on the sequence probe (/v1/sequence): one file in a multipart field `video`, decoded by the service into
the frames that are used (`antialiased.sequences.video`: its header checked against the limits before anything is
decoded, then one frame at a time in a worker thread). Each frame used becomes a lossless PNG, so that every target
gets it as it would get an uploaded frame; the decoding and the PNGs are held in the pixel budget
(`PROBE_MAX_PIXELS_IN_FLIGHT`), reserved from the header before decoding starts. The wall-clock budget
(`PROBE_SEQUENCE__DECODE_SECONDS`) bounds the request's decoding work: the header check and the decoding together,
each counted from when its worker thread starts on it (a wait for a thread or for the pixel budget is not counted)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from antialiased.errors import ApiError, ErrorCode
from antialiased.imagefile import ImageInfo
from antialiased.sequences import FrameSelection
from antialiased.sequences.video import DECODER_FRAMES, VideoInfo, frame_png, open_video
from service.settings import Settings

VIDEO_FIELD = "video"


@dataclass(frozen=True)
class VideoHeader:
    """What the video's header says, the indices of the frames that will be used (as far as it tells), and the
    seconds the check took (of the decoding budget)."""

    info: VideoInfo
    used: range
    seconds: float

    @property
    def pixels(self) -> int:
        """Pixels held while decoding: the decoder's frames and the PNG of every frame used."""
        return self.info.pixels * (DECODER_FRAMES + len(self.used))


async def read_header(video: bytes, settings: Settings, selection: FrameSelection, crops: int) -> VideoHeader:
    """The video's header, checked against the limits; nothing is decoded (ApiError names the problem). Its
    decoding and `crops` (pixels of the crops the service cuts) must fit in the pixel budget (else 413)."""

    def header() -> VideoHeader:
        with open_video(video, settings.sequence, settings.image, selection) as reader:
            return VideoHeader(reader.info, reader.used, reader.elapsed)

    checked = await asyncio.to_thread(header)
    needed = checked.pixels + crops * len(checked.used)
    if needed > settings.max_pixels_in_flight:
        info = checked.info
        message = (
            f"decoding {len(checked.used)} frames of {info.width}x{info.height} holds {needed} pixels, more than "
            f"the service holds at once ({settings.max_pixels_in_flight}): use fewer frames (max_frames, stride)"
        )
        raise ApiError(ErrorCode.TOO_MANY_PIXELS, message, 413)
    return checked


async def decode_frames(
    video: bytes, settings: Settings, selection: FrameSelection, header: VideoHeader
) -> tuple[list[bytes], list[ImageInfo], list[int]]:
    """The frames used as PNG files, their headers and their indices in the video; decoded in a worker thread, one
    at a time, within what is left of the decoding budget after the `header` check."""

    def decode() -> tuple[list[bytes], list[ImageInfo], list[int]]:
        frames, infos, indices = [], [], []
        with open_video(video, settings.sequence, settings.image, selection, header.seconds) as reader:
            for index, pixels in reader.frames():
                frames.append(frame_png(pixels))
                infos.append(ImageInfo("PNG", "RGB", reader.info.width, reader.info.height))
                indices.append(index)
        return frames, infos, indices

    return await asyncio.to_thread(decode)
