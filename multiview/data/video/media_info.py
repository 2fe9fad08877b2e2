"""Probe one media file: is it a video the suite can train on, and what is in it.

Runs in a child process of the indexer (:mod:`multiview.data.video.index`), so a decoder that crashes
on a hostile file takes down one child, not the indexer. Container metadata comes from PyAV; the
frame check goes through the decoder seam (:mod:`multiview.data.video.decode`), exactly as training
reads frames; the audio check decodes the first seconds with PyAV.

A result is either a record ``{"path", "size", "mtime_ns", "duration", "fps", "frames", "width",
"height", "video_codec", "has_audio", "audio_ok", "sample_rate", "channels", ...}`` or a
rejection ``{"path", "size", "mtime_ns", "reason"}``.
"""

from __future__ import annotations

import os
import re

AUDIO_CHECK_S = 3.0
_DECORD_PREFIX = re.compile(r"^\[\d\d:\d\d:\d\d\] \S+:\d+: ")


def _first_line(e: BaseException, limit: int = 160) -> str:
    text = str(e).strip().splitlines()
    msg = text[0] if text else ""
    msg = _DECORD_PREFIX.sub("", msg)  # "[hh:mm:ss] /github/workspace/src/...cc:NNN: "
    return f"{type(e).__name__}: {msg[:limit]}"


def _count_video_packets(container, stream) -> tuple[int, float]:
    """Frames and duration (s) by demuxing, for files whose header does not say (webm, mpeg-ps)."""
    n, end = 0, 0.0
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None:
            continue
        n += 1
        end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    return n, max(0.0, end - start)


def _check_audio(path: str, seconds: float) -> str | None:
    """Decode the first ``seconds`` of the first audio stream; the reason it failed, or None."""
    from multiview.data.media import open_av

    try:
        with open_av(path) as c:
            stream = c.streams.audio[0]
            rate = stream.codec_context.sample_rate or 1
            decoded = 0
            for frame in c.decode(stream):
                decoded += frame.samples
                if decoded >= seconds * rate:
                    break
            if decoded == 0:
                return "audio stream has no decodable samples"
    except Exception as e:
        return _first_line(e)
    return None


def _check_frames(path: str, check_size: int) -> tuple[int, float]:
    """Open through the decoder seam, as training does, and decode the first and last frame."""
    from multiview.data.video import decode

    reader = decode.video_reader(path)
    n, fps = len(reader), float(reader.get_avg_fps())
    if n == 0 or fps <= 0:
        raise RuntimeError("no frames" if n == 0 else "no frame rate")
    decode.read_frames(path, [0.5 / fps, (n - 0.5) / fps], check_size)
    return n, fps


def probe_file(path: str, check_size: int = 32) -> dict:
    """Probe ``path``; never raises for a bad file (the reason goes in the result)."""
    from multiview.data.media import open_av

    try:
        st = os.stat(path)
    except OSError as e:
        return {"path": path, "size": 0, "mtime_ns": 0, "reason": f"cannot read ({_first_line(e)})"}
    out: dict = {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if st.st_size == 0:
        return {**out, "reason": "empty file (0 bytes)"}
    try:
        with open_av(path) as c:
            if not c.streams.video:
                return {**out, "reason": "no video stream"}
            v = c.streams.video[0]
            a = c.streams.audio[0] if c.streams.audio else None
            out.update(
                width=int(v.codec_context.width), height=int(v.codec_context.height),
                video_codec=v.codec_context.name,
                container_duration=float(c.duration / 1e6) if c.duration else None,
                has_audio=a is not None,
                audio_codec=a.codec_context.name if a else None,
                sample_rate=int(a.codec_context.sample_rate) if a else 0,
                channels=int(a.codec_context.channels) if a else 0,
            )
            if out["container_duration"] is None:
                _, out["container_duration"] = _count_video_packets(c, v)
    except Exception as e:
        return {**out, "reason": f"not a readable video container ({_first_line(e)})"}
    if out["width"] <= 0 or out["height"] <= 0:
        return {**out, "reason": f"video stream has no frame size ({out['width']}x{out['height']})"}
    try:
        frames, fps = _check_frames(path, check_size)
    except Exception as e:
        return {**out, "reason": f"decoder cannot read its frames ({_first_line(e)})"}
    if fps <= 0:
        return {**out, "reason": "video stream has no frame rate"}
    out.update(frames=frames, fps=fps, duration=frames / fps)
    if out["has_audio"]:
        error = _check_audio(path, AUDIO_CHECK_S)
        out.update(audio_ok=error is None, audio_error=error)
    else:
        out.update(audio_ok=False, audio_error="no audio stream")
    return out
