"""Media files that lie or carry foreign bytes, written for the reader fault tests.

* tags that are not UTF-8 (cp1251, as in many spoken-word sets): an Ogg Opus file written with
  PyAV under an ASCII placeholder tag, then patched (and every Ogg page's CRC recomputed); a
  WAV file with a RIFF ``LIST/INFO`` chunk; a Matroska video (written without CRC elements);
* timestamps and durations a small file cannot hold: a Matroska file whose last audio or video
  packet claims to be millions of seconds in.
"""

from __future__ import annotations

import os
import struct
import wave
from pathlib import Path

import numpy as np

CP1251 = "Привет, мир".encode("cp1251")  # not valid UTF-8


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum (CRC-32, polynomial 0x04C11DB7, not reflected, initial 0)."""
    crc = 0
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _patch(path: Path, placeholder: bytes, raw: bytes) -> bytearray:
    data = bytearray(path.read_bytes())
    assert len(placeholder) == len(raw) and placeholder in data
    while (i := data.find(placeholder)) >= 0:
        data[i : i + len(raw)] = raw
    return data


def _tone(n: int, rate: int) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.float32)


def write_ogg_tagged(path: Path, tag: bytes = CP1251, seconds: float = 1.0) -> Path:
    """Ogg Opus, 48 kHz mono, whose title tag is ``tag`` (raw bytes)."""
    import av

    placeholder = "Q" * len(tag)
    with av.open(str(path), "w", format="ogg") as c:
        s = c.add_stream("libopus", rate=48000, layout="mono")
        c.metadata["title"] = s.metadata["title"] = placeholder
        frame = av.AudioFrame.from_ndarray(_tone(int(48000 * seconds), 48000)[None], format="flt", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        for p in [*s.encode(frame), *s.encode(None)]:
            c.mux(p)
    data = _patch(path, placeholder.encode(), tag)
    pos = 0
    while pos < len(data):  # recompute each page's CRC over the patched bytes
        assert data[pos : pos + 4] == b"OggS"
        n_segments = data[pos + 26]
        end = pos + 27 + n_segments + sum(data[pos + 27 : pos + 27 + n_segments])
        data[pos + 22 : pos + 26] = b"\0\0\0\0"
        data[pos + 22 : pos + 26] = struct.pack("<I", ogg_crc(bytes(data[pos:end])))
        pos = end
    path.write_bytes(bytes(data))
    return path


def write_wav_tagged(path: Path, tag: bytes = CP1251, rate: int = 8000, seconds: float = 1.0) -> Path:
    """16-bit PCM WAV with a ``LIST/INFO/INAM`` (title) chunk holding ``tag``."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes((_tone(int(rate * seconds), rate) * 20000).astype("<i2").tobytes())
    info = b"INAM" + struct.pack("<I", len(tag) + 1) + tag + b"\0"
    info += b"\0" * (len(info) % 2)
    data = bytearray(path.read_bytes()) + b"LIST" + struct.pack("<I", 4 + len(info)) + b"INFO" + info
    data[4:8] = struct.pack("<I", len(data) - 8)
    path.write_bytes(bytes(data))
    return path


def write_mkv(path: Path, tag: bytes | None = None, audio_jump_s: float | None = None,
              video_jump_s: float | None = None, n_frames: int = 10) -> Path:
    """Matroska, mpeg4 video 32x32 at 10 fps and PCM audio at 8 kHz; optionally a raw title tag,
    or a last audio/video packet stamped ``*_jump_s`` seconds in."""
    import av

    placeholder = "Q" * len(tag) if tag else None
    with av.open(str(path), "w", format="matroska", options={"write_crc32": "0"}) as c:
        if placeholder:
            c.metadata["title"] = placeholder
        v = c.add_stream("mpeg4", rate=10)
        v.width = v.height = 32
        v.pix_fmt = "yuv420p"
        a = c.add_stream("pcm_s16le", rate=8000, layout="mono")
        video, audio = [], []
        for i in range(n_frames):
            f = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * i, np.uint8), format="rgb24")
            f.pts = i
            video += v.encode(f)
        video += v.encode(None)
        for i in range(n_frames // 10 * 4 or 1):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 2000), np.int16), format="s16", layout="mono")
            f.sample_rate, f.pts = 8000, i * 2000
            audio += a.encode(f)
        audio += a.encode(None)
        if audio_jump_s:
            audio[-1].pts = audio[-1].dts = int(audio_jump_s / audio[-1].time_base)
        if video_jump_s:
            video[-1].pts = video[-1].dts = int(video_jump_s / video[-1].time_base)
        for p in video + audio:
            c.mux(p)
    if tag:
        path.write_bytes(bytes(_patch(path, placeholder.encode(), tag)))
    return path


def deleting_probe(path: str) -> dict:
    """Probe ``path``, first deleting its sibling ``victim.mp4`` (a file removed mid-index)."""
    from multiview.data.video.media_info import probe_file

    victim = os.path.join(os.path.dirname(path), "victim.mp4")
    if os.path.basename(path) != "victim.mp4" and os.path.exists(victim):
        os.remove(victim)
    return probe_file(path)
