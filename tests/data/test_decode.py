"""The decoder seam: any frame size, either backend, a fallback, fresh readers for rewritten files,
audio windows decoded on their own."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest
import torch

from multiview.core.errors import UserError
from multiview.data.video import decode
from tests.av_media import FPS, brightness, write_video

SR = 16000


@pytest.fixture(params=sorted(decode.BACKENDS))
def backend(request):
    old = decode.backend()
    decode.set_backend(request.param)
    decode.clear_cache()
    yield request.param
    decode.set_backend(old)
    decode.clear_cache()


@pytest.mark.parametrize("size", [16, 24, 48, None])
def test_any_frame_size_gives_the_right_frames(backend, tmp_path, size):
    video = write_video(tmp_path / "v.mp4", size=(40, 30))
    frames = decode.read_frames(video, [(k + 0.5) / FPS for k in (0, 7, 19, 3)], size)
    assert frames.dtype == torch.uint8
    assert frames.shape == ((4, size, size, 3) if size else (4, 30, 40, 3))
    levels = frames.float().mean(dim=(1, 2, 3)).numpy()
    assert np.allclose(levels, [brightness(k) for k in (0, 7, 19, 3)], atol=3), levels


def test_a_file_one_backend_cannot_open_is_read_with_the_other(backend, tmp_path):
    webm = write_video(tmp_path / "live.webm", audio=False, vcodec="libvpx", fmt="webm",
                       container_options={"live": "1"})  # no duration: decord refuses it
    reader = decode.video_reader(webm)
    assert isinstance(reader, decode.BACKENDS["pyav"]) and len(reader) == 20
    frames = decode.read_frames(webm, [1.05], 32)
    assert abs(frames.float().mean().item() - brightness(10)) < 4


def test_a_rewritten_file_is_opened_afresh(backend, tmp_path):
    video = write_video(tmp_path / "v.mp4", n_frames=20)
    late = decode.read_frames(video, [2.55], 16).float().mean().item()
    assert abs(late - brightness(19)) < 4  # past the end: the last frame
    write_video(video, n_frames=30)
    os.utime(video, ns=(10**9, 10**9))
    assert abs(decode.read_frames(video, [2.55], 16).float().mean().item() - brightness(25)) < 4


def test_unknown_backend_is_a_one_line_error():
    with pytest.raises(UserError, match="expected one of"):
        decode.set_backend("ffmpeg-cli")


def _onset(x: torch.Tensor) -> int:
    return int(np.nonzero(np.abs(x.numpy()) > 0.05)[0][0])


@pytest.mark.parametrize("rate", [16000, 44100])
def test_audio_window_matches_the_whole_track_and_decodes_only_the_window(tmp_path, monkeypatch, rate):
    video = write_video(tmp_path / "long.mp4", n_frames=100, sample_rate=rate, click_frame=80)  # 10 s
    track = torch.from_numpy(decode.audio_track(video, SR))
    assert _onset(track) == pytest.approx(8.0 * SR, abs=40)
    calls = []
    real = decode._to_mono
    monkeypatch.setattr(decode, "_to_mono", lambda f: calls.append(f.samples) or real(f))
    window = decode.read_audio(video, 7.5, 1.0, SR)
    assert sum(calls) < 2.0 * rate  # about one second decoded, not ten
    assert _onset(window) == pytest.approx(0.5 * SR, abs=40)
    ref = track[int(7.5 * SR): int(8.5 * SR)]
    assert torch.allclose(window, ref, atol=2e-3), (window - ref).abs().max()
    edge = decode.read_audio(video, 9.8, 1.0, SR)  # past the end: zeros
    assert edge[int(0.25 * SR):].abs().max() == 0 and edge.shape == (SR,)


def _read_in_child(path: str) -> float:
    return decode.read_frames(path, [0.55], 16).float().mean().item()


def test_readers_survive_a_fork(tmp_path):
    video = str(write_video(tmp_path / "v.mp4"))
    decode.read_frames(video, [0.15], 16)  # the parent holds an open reader
    with multiprocessing.get_context("fork").Pool(1) as pool:
        level = pool.apply_async(_read_in_child, (video,)).get(timeout=60)
    assert abs(level - brightness(5)) < 4


def test_open_readers_stay_bounded_and_evicted_ones_are_closed(backend, tmp_path, monkeypatch):
    videos = [str(write_video(tmp_path / f"v{k}.mp4", n_frames=10, audio=False))
              for k in range(decode.CACHE_SIZE + 4)]
    cls = decode.BACKENDS[backend]
    opened, closed = [], []
    monkeypatch.setattr(cls, "__init__",
                        lambda self, path, real=cls.__init__: opened.append(self) or real(self, path))
    monkeypatch.setattr(cls, "close", lambda self, real=cls.close: closed.append(self) or real(self))
    for step in range(40):
        path = videos[step % len(videos) if step % 4 else 0]
        level = decode.read_frames(path, [(step % 10 + 0.5) / FPS], 16).float().mean().item()
        assert abs(level - brightness(step % 10)) < 4
        assert len(decode._readers) <= decode.CACHE_SIZE
        assert len(opened) - len(closed) == len(decode._readers)
    assert len(opened) > decode.CACHE_SIZE and set(closed) == set(opened) - set(decode._readers.values())


def test_audio_windows_resample_at_one_shape_per_rate(tmp_path, monkeypatch):
    import torchaudio.functional as AF

    video = write_video(tmp_path / "a.mp4", n_frames=60, sample_rate=44100)
    shapes = set()
    real = AF.resample
    monkeypatch.setattr(AF, "resample", lambda x, *a, **k: shapes.add(tuple(x.shape)) or real(x, *a, **k))
    for start in np.linspace(0.3, 4.7, 23):
        assert decode.read_audio(video, float(start), 1.0, SR).shape == (SR,)
    assert len(shapes) == 1, shapes
