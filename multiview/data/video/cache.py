"""Optional on-disk caches of decoded media for repeated epochs, invalidated when the source changes.

An entry is keyed by the source's absolute path and the decoding parameters, and stores the
source's size and mtime beside the tensor; a lookup whose source no longer matches decodes again
and overwrites the entry. Entries are written atomically with :func:`multiview.io.save_tensors`
and read with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from multiview.io import load_tensors, save_tensors
from multiview.paths import cache_dir


class DecodeCache:
    """Tensors decoded from media files, under ``cache_dir("decoded", kind)`` unless ``root`` is given."""

    def __init__(self, kind: str, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_dir("decoded", kind)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0

    def entry(self, path: str, params: dict) -> Path:
        key = json.dumps([os.path.abspath(path), params], sort_keys=True)
        return self.root / (hashlib.sha1(key.encode()).hexdigest() + ".pt")

    def get(self, path: str, params: dict, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        st = os.stat(path)
        entry = self.entry(path, params)
        if entry.is_file():
            try:
                saved = load_tensors(entry)
                if saved["size"] == st.st_size and saved["mtime_ns"] == st.st_mtime_ns:
                    self.hits += 1
                    return saved["data"]
            except Exception:  # a torn or foreign file: decode again and overwrite it
                pass
        self.misses += 1
        data = make()
        save_tensors(entry, {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "data": data})
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
