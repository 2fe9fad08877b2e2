"""Small real media files written with PyAV for the video-corpus tests, good and bad.

Frame ``i`` of a written video is flat grey at level ``brightness(i)``, so a test can tell which
frame a decoder returned; the audio is silent except for a 440 Hz burst (a "click") starting at
the frame given, so a test can check that sound and frames are aligned.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np

FPS = 10
N_FRAMES = 20


def brightness(i: int) -> int:
    return (20 + 10 * i) % 256


def write_video(path: Path, n_frames: int = N_FRAMES, fps: int = FPS, size=(32, 24), audio: bool = True,
                sample_rate: int = 16000, channels: int = 1, click_frame: int | None = 5,
                vcodec: str = "libx264", acodec: str = "aac", fmt: str | None = None,
                container_options: dict | None = None, pix_fmt: str = "yuv420p") -> Path:
    import av

    with av.open(str(path), "w", format=fmt, container_options=container_options or {}) as c:
        v = c.add_stream(vcodec, rate=fps)
        v.width, v.height, v.pix_fmt = size[0], size[1], pix_fmt
        a = None
        if audio:
            layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
            a = c.add_stream(acodec, rate=sample_rate, layout=layout)
        for i in range(n_frames):
            img = np.full((size[1], size[0], 3), brightness(i), np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is not None:
            n = sample_rate * n_frames // fps
            x = np.zeros(n, np.float32)
            if click_frame is not None:
                s = click_frame * sample_rate // fps
                t = np.arange(sample_rate // 20) / sample_rate
                x[s : s + len(t)] = 0.5 * np.sin(2 * np.pi * 440 * t)
            step = 1024
            for s in range(0, n, step):
                chunk = np.ascontiguousarray(np.repeat(x[None, s : s + step], channels, 0))
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=a.layout.name)
                frame.sample_rate, frame.pts = sample_rate, s
                for p in a.encode(frame):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path


def write_garbage_audio(path: Path) -> Path:
    """A video whose AAC audio packets are random bytes: the container opens, the audio never decodes."""
    import fractions

    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = 32, 24, "yuv420p"
        a = c.add_stream("aac", rate=16000, layout="mono")
        for i in range(N_FRAMES):
            img = np.full((24, 32, 3), brightness(i), np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        for k in range(32):
            packet = av.Packet(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
            packet.stream, packet.pts, packet.dts = a, k * 1024, k * 1024
            packet.time_base = fractions.Fraction(1, 16000)
            c.mux(packet)
    return path


def make_corpus(root: Path) -> dict[str, str]:
    """Every bad input the corpus tests try, beside good files; returns name -> what to expect."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sub").mkdir(exist_ok=True)
    write_video(root / "good.mp4")
    write_video(root / "sub" / "good_stereo.mov", channels=2, sample_rate=22050, click_frame=12)
    write_video(root / "no_audio.mp4", audio=False)
    write_video(root / "six_channels.mp4", channels=6, sample_rate=48000)
    write_video(root / "one_pixel.mp4", size=(1, 1), vcodec="mpeg4", pix_fmt="yuv420p")
    write_garbage_audio(root / "bad_audio.mp4")
    write_video(root / "no_duration.webm", audio=False, vcodec="libvpx", fmt="webm",
                container_options={"live": "1"})
    (root / "zero.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("this is not a video\n")
    data = (root / "good.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (root / "notes.txt").write_text("not a video extension, never probed\n")
    return {
        "good.mp4": "usable", "sub/good_stereo.mov": "usable", "no_audio.mp4": "usable",
        "six_channels.mp4": "usable", "one_pixel.mp4": "usable", "bad_audio.mp4": "usable",
        "no_duration.webm": "usable", "zero.mp4": "rejected", "text.mp4": "rejected",
        "truncated.mp4": "rejected",
    }


def hanging_probe(path: str) -> dict:
    """A probe that never returns on files named ``hang*``, like a decoder stuck in a loop."""
    import time

    from multiview.data.video.media_info import probe_file

    if os.path.basename(path).startswith("hang"):
        time.sleep(3600)
    return probe_file(path)


def crashing_probe(path: str) -> dict:
    """A probe that dies like a segfaulting decoder on files named ``crash*``."""
    from multiview.data.video.media_info import probe_file

    if os.path.basename(path).startswith("crash"):
        os.kill(os.getpid(), signal.SIGSEGV)
    return probe_file(path)
