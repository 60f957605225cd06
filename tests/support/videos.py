"""Video files for the tests, made with PyAV: small good ones, and hostile ones built the way an attacker would (a
header crafted, never a huge frame encoded): cut short, a header that lies about the frame size or the frame count,
30 000 tiny frames, a 16k x 16k frame, audio only, not a video at all."""

from __future__ import annotations

import io
import struct
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from antialiased.imagefile import ImageLimits
from antialiased.sequences import SequenceLimits
from antialiased.sequences.video import open_video

MKV_DURATION = b"\x44\x89\x88"  # Matroska's Segment Duration element, an 8-byte float (milliseconds)
# `python -m antialiased.sequences make`'s arguments in tests: x264's fastest preset; 9 frames a sequence (enough for
# ImageNet-P's difficulty 3, cheap to classify)
MAKE_FAST = ["--preset", "ultrafast"]
MAKE_SHORT = ["--max-shift", "4"]


def colour_frames(reds: list[int], side: int = 64) -> list[np.ndarray]:
    """Frames of one colour each, (red, 40, 80): the fake TorchServe's top-1 is the red value mod 3."""
    return [np.full((side, side, 3), (red, 40, 80), np.uint8) for red in reds]


def moving_square(count: int, side: int = 64) -> list[np.ndarray]:
    """A smooth gradient with a white square moving right by 8 pixels a frame (lossy codecs keep it well)."""
    ramp = np.linspace(0, 200, side, dtype=np.float32)
    base = np.stack([ramp[None, :].repeat(side, 0), ramp[:, None].repeat(side, 1), np.full((side, side), 90.0)], 2)
    frames = []
    for k in range(count):
        frame = base.astype(np.uint8)
        frame[8:24, 8 * k : 8 * k + 16] = 255  # side >= 8 * count + 8: the square stays inside
        frames.append(frame)
    return frames


def noise_frames(count: int, side: int = 64, seed: int = 0) -> list[np.ndarray]:
    return list(np.random.default_rng(seed).integers(0, 256, (count, side, side, 3), dtype=np.uint8))


def encode(
    frames: list[np.ndarray],
    container: str = "mp4",
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    path: Path | None = None,
) -> bytes:
    """`frames` as a video at 1 frame per second (in memory, or through `path` for muxers that seek back)."""
    target: Path | io.BytesIO = path if path is not None else io.BytesIO()
    container_options = {"movflags": "faststart"} if path is not None and container == "mp4" else {}
    with av.open(target, "w", format=container, options=container_options) as output:
        stream = output.add_stream(codec, rate=1, options=options or {})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        for pixels in frames:
            output.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        output.mux(stream.encode())
    return path.read_bytes() if path is not None else target.getvalue()  # type: ignore[union-attr]


def mp4(frames: list[np.ndarray]) -> bytes:
    return encode(frames, options={"crf": "20", "preset": "ultrafast"})


def webm(frames: list[np.ndarray]) -> bytes:
    return encode(frames, "webm", "libvpx-vp9", options={"deadline": "realtime", "cpu-used": "8"})


def gif(frames: list[np.ndarray]) -> bytes:
    return encode(frames, "gif", "gif", "rgb8")


def cut_short(frames: int = 8, keep: float = 0.5) -> bytes:
    """An MP4 whose index (at the front) declares `frames` frames, cut after `keep` of its bytes."""
    with tempfile.TemporaryDirectory() as folder:
        data = encode(noise_frames(frames), options={"preset": "ultrafast"}, path=Path(folder) / "v.mp4")
    return data[: int(len(data) * keep)]


def cut_at_packet(frames: int = 8, kept: int = 4) -> bytes:
    """An MP4 whose index declares `frames` frames, cut exactly where frame `kept`'s data begins (every frame is a
    key frame: the frames before decode whole)."""
    with tempfile.TemporaryDirectory() as folder:
        options = {"preset": "ultrafast", "g": "1"}
        data = encode(noise_frames(frames), options=options, path=Path(folder) / "v.mp4")
    with av.open(io.BytesIO(data)) as video:
        positions = sorted(p.pos for p in video.demux(video.streams.video[0]) if p.size)
    return data[: positions[kept]]


def lying_size(side: int = 64, real_side: int = 256) -> bytes:
    """A Matroska MJPEG video whose header (and first frame) says `side` x `side`, and whose second frame is
    `real_side` x `real_side`: the decoder's frame is larger than the header said."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as output:
        stream = output.add_stream("mjpeg", rate=1)
        stream.width = stream.height = side
        stream.pix_fmt = "yuvj420p"
        for index, size in enumerate((side, real_side, side)):
            jpeg = io.BytesIO()
            Image.new("RGB", (size, size), (60 * index, 0, 0)).save(jpeg, "JPEG")
            packet = av.Packet(jpeg.getvalue())
            packet.stream, packet.time_base = stream, Fraction(1, 1000)
            packet.pts = packet.dts = index * 1000
            output.mux(packet)
    return buffer.getvalue()


def repeated_frames(count: int, container: str = "mp4", side: int = 32) -> bytes:
    """`count` tiny frames, made cheaply: one key frame, then one encoded "nothing changed" frame (a few bytes)
    muxed `count` - 1 times (a valid stream: each repeats the one before)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream("libx264", rate=25, options={"preset": "ultrafast", "bframes": "0"})
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((side, side, 3), np.uint8), format="rgb24")
        key, same = [bytes(packet) for packet in [*stream.encode(frame), *stream.encode(frame), *stream.encode()]]
        for index in range(count):
            packet = av.Packet(key if index == 0 else same)
            packet.stream, packet.time_base, packet.is_keyframe = stream, Fraction(1, 25), index == 0
            packet.pts = packet.dts = index
            output.mux(packet)
    return buffer.getvalue()


def lying_duration(frames: int, claimed_seconds: float) -> bytes:
    """A Matroska video of `frames` tiny frames at 25 fps whose header claims to last `claimed_seconds`."""
    data = bytearray(repeated_frames(frames, "matroska"))
    at = data.index(MKV_DURATION) + len(MKV_DURATION)
    data[at : at + 8] = struct.pack(">d", claimed_seconds * 1000)
    return bytes(data)


def huge_gif(side: int = 16_000, frames: int = 3) -> bytes:
    """A GIF of a few hundred bytes whose header declares a `side` x `side` canvas (its frames are 32 x 32): decoded,
    each frame would take side² x 4 bytes."""
    pictures = [Image.new("RGB", (32, 32), (80 * k % 256, 0, 0)).convert("P") for k in range(frames)]
    buffer = io.BytesIO()
    pictures[0].save(buffer, "GIF", save_all=True, append_images=pictures[1:], duration=100)
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", side, side)
    return bytes(data)


def audio_only() -> bytes:
    """An MP4 with one AAC audio stream and no video."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("aac", rate=8000)
        for index in range(4):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, index * 1024
            output.mux(stream.encode(frame))
        output.mux(stream.encode())
    return buffer.getvalue()


def decoded(video: Path) -> list[np.ndarray]:
    """The frames of a video file as the library decodes them (`antialiased.sequences.video`)."""
    with open_video(video.read_bytes(), SequenceLimits(), ImageLimits()) as reader:
        return [pixels for _, pixels in reader.frames()]


def png() -> bytes:
    """An image, not a video."""
    buffer = io.BytesIO()
    Image.fromarray(noise_frames(1)[0]).save(buffer, "PNG")
    return buffer.getvalue()


NOT_A_VIDEO = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n"  # an HLS playlist naming a file
