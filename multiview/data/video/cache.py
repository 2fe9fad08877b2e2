"""Optional on-disk caches of decoded media for repeated epochs, invalidated when the source changes.

An entry is keyed by the source's absolute path, size, mtime and the decoding parameters, and
stores the size and mtime beside the tensor too; a lookup whose source no longer matches decodes
again. Entries are made under a lock, written to a unique temp file and renamed, and counted in
the cache's byte budget (:mod:`multiview.core.cache`); they are read with ``weights_only=True``,
under a shared lock that eviction respects.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from multiview.core import cache as cache_store
from multiview.core.io import load_tensors


class DecodeCache:
    """Tensors decoded from media files, under ``cache_dir("decoded-" + kind)`` unless ``root`` is given."""

    def __init__(self, kind: str, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_store.folder(f"decoded-{kind}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0

    def entry(self, path: str, params: dict, st: os.stat_result | None = None) -> Path:
        st = st or os.stat(path)
        key = json.dumps([os.path.abspath(path), st.st_size, st.st_mtime_ns, params], sort_keys=True)
        return self.root / (hashlib.sha1(key.encode()).hexdigest() + ".pt")

    def _load(self, entry: Path, st: os.stat_result):
        if entry.is_file():
            try:
                with cache_store.reading(entry):  # not evicted while it is read
                    saved = load_tensors(entry)
                if saved["size"] == st.st_size and saved["mtime_ns"] == st.st_mtime_ns:
                    cache_store.touch(entry)
                    return saved["data"]
            except Exception:  # a torn or foreign file: decode again and overwrite it
                pass
        return None

    def get(self, path: str, params: dict, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        st = os.stat(path)
        entry = self.entry(path, params, st)
        data = self._load(entry, st)
        if data is None:
            with cache_store.locked(entry):  # another rank may have made it meanwhile
                data = self._load(entry, st)
                if data is None:
                    self.misses += 1
                    data = make()
                    saved = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "data": data}
                    cache_store.write(entry, lambda tmp: torch.save(saved, tmp))
                    return data
        self.hits += 1
        return data


def audio_track(path: str, sample_rate: int, cache: DecodeCache) -> torch.Tensor:
    """The whole mono track at ``sample_rate`` (float32 ``[n]``), through ``cache``."""
    from multiview.data.video import decode

    return cache.get(path, {"audio": sample_rate},
                     lambda: torch.from_numpy(decode.audio_track(path, sample_rate).copy()))


def log_mel(path: str, sample_rate: int, n_mels: int, cache: DecodeCache, hop: int = 160) -> torch.Tensor:
    """Log-mel spectrogram ``[n_mels, frames]`` of the whole track (hop 10 ms at 16 kHz), cached."""
    import torchaudio

    def make() -> torch.Tensor:
        wave = audio_track(path, sample_rate, cache)
        mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=4 * hop, hop_length=hop, n_mels=n_mels)
        return torch.log(mel(wave) + 1e-6)

    return cache.get(path, {"log_mel": [sample_rate, n_mels, hop]}, make)


def resized_frames(path: str, size: int, cache: DecodeCache) -> torch.Tensor:
    """Every frame resized to ``size`` x ``size`` as uint8 ``[N, size, size, 3]``, cached (short clips only)."""
    from multiview.data.video import decode

    def make() -> torch.Tensor:
        reader = decode.video_reader(path)
        fps = reader.get_avg_fps() or 1.0
        return decode.read_frames(path, ((np.arange(len(reader)) + 0.5) / fps).tolist(), size)

    return cache.get(path, {"frames": size}, make)
