"""Reading shards (:mod:`.shards`): :class:`ShardDataModule`, on plain litdata
(``StreamingDataset`` / ``StreamingDataLoader``).

The order is litdata's: chunks and the samples inside them shuffled from ``seed`` and the epoch,
split across ranks and workers, so that under DDP every sample is seen once per epoch. The
loader's state (epoch, samples yielded) goes into every checkpoint through the data module's
``state_dict``; restored, the epoch goes on at the next sample, also with another worker count or
world size (litdata's elastic resume rebuilds the remaining order from the first run's layout).

Frames are decoded from JPEG in the loader workers (``frame_decode="worker"``) or, with
``"device"``, passed on as bytes and decoded as a batch on the model's device (nvjpeg through
``torchvision.io.decode_jpeg`` on cuda), which frees the CPU cores for reading.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITDATA_DISABLE_VERSION_CHECK", "1")  # no look-up of new versions online

from pathlib import Path

import lightning as L
import numpy as np
import torch
from litdata import StreamingDataLoader, StreamingDataset
from litdata.streaming.sampler import ChunkedIndex
from litdata.utilities.env import _DistributedEnv
from torch.utils.data import default_collate

from multiview.core.errors import UserError
from multiview.core.io import read_json
from multiview.data.loader import worker_ignores_sigterm
from multiview.data.splits import TRAIN, VAL
from multiview.data.video.shard_check import check_split
from multiview.data.video.spec import ClipSpec, documented

FRAME_DECODE = ("worker", "device")
FORMAT = 1  # of shards.json


def read_meta(shards: str) -> dict:
    path = Path(shards) / "shards.json"
    if not path.is_file():
        raise UserError(f"data.shards: {shards} holds no shards.json; write shards with "
                        f"`multiview data shard INDEX --out {shards}`")
    try:
        meta = read_json(path)
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"data.shards: {path}: not valid JSON ({str(e)[:80]})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UserError(f"data.shards: {path} has format {getattr(meta, 'get', dict().get)('format')!r}, "
                        f"expected {FORMAT}")
    splits, names = meta.get("splits"), meta.get("label_names")
    if not (isinstance(splits, dict) and set(splits) <= {TRAIN, VAL} and all(
            isinstance(s, dict) and type(s.get("samples")) is int for s in splits.values())):
        raise UserError(f"data.shards: {path}: splits: expected {TRAIN} and {VAL}, each with its samples")
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise UserError(f"data.shards: {path}: label_names: expected a list of names")
    shard_spec(meta, path)
    return meta


def shard_spec(meta: dict, where: str | Path = "shards.json") -> ClipSpec:
    """The clip spec the shards were cut with."""
    try:
        return ClipSpec.from_dict(meta["spec"])
    except (KeyError, TypeError, AttributeError) as e:
        raise UserError(f"data.shards: {where}: spec: expected the clip settings ({type(e).__name__}: {e})") from None


def check_spec(meta: dict, wanted: ClipSpec, shards: str) -> None:
    """One line naming the first setting where the data module and the shards disagree."""
    cut = shard_spec(meta)
    key = wanted.first_difference(cut)
    if key is not None:
        value, theirs = getattr(wanted, key), getattr(cut, key)
        raise UserError(f"data.{key}: {value!r}, but the shards in {shards} were cut with "
                        f"{key}={theirs!r}; pass --data.{key} {theirs} or cut them again")


def decode_frames(jpegs: list, device: str | torch.device = "cpu") -> torch.Tensor:
    """JPEG bytes (uint8 tensors) -> float [N, 3, H, W] in [0, 1], decoded on ``device`` (nvjpeg on cuda)."""
    from torchvision.io import ImageReadMode, decode_jpeg

    data = [j if isinstance(j, torch.Tensor) else torch.frombuffer(bytearray(j), dtype=torch.uint8) for j in jpegs]
    out = decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
    return torch.stack(out).float().div_(255.0)


class ShardDataset(StreamingDataset):
    """Samples of one split of a shard folder, shaped like :class:`multiview.data.video.clips.ClipDataset`'s.

    ``len()`` is the number of samples in the split (all ranks together), so ``index`` runs over
    ``range(len(dataset))``, as memory banks need; the loader's per-rank length is litdata's.

    Args:
        input_dir: a split folder written by ``multiview data shard`` (``DIR/train``).
        frames: frames per sample stored in the shards.
        shuffle: litdata's seeded shuffle of chunks and samples.
        seed: the shuffle's seed.
        frame_decode: "worker" (JPEG decoded in the loader workers) or "device" (JPEG bytes
            handed on, decoded on the batch's device by :func:`decode_batch_frames`).
        drop_last: None: litdata's choice (under DDP, ranks get equal shares; samples past the
            last whole share are left out of that epoch, fewer than ``world_size``).
    """

    def __init__(self, input_dir: str, frames: int = 1, shuffle: bool = True, seed: int = 0,
                 frame_decode: str = "worker", drop_last: bool | None = False, audio_samples: int | None = None,
                 frame_size: int | None = None):
        if frame_decode not in FRAME_DECODE:
            raise UserError(f"data.frame_decode: expected one of {', '.join(FRAME_DECODE)}, got {frame_decode!r}")
        index = check_split(input_dir, frames)  # before litdata reads anything of the folder
        super().__init__(input_dir=input_dir, shuffle=shuffle, seed=seed, drop_last=drop_last)
        self.frames, self.frame_decode = frames, frame_decode
        self.audio_samples, self.frame_size, self.folder = audio_samples, frame_size, str(input_dir)
        self.total = index["samples"]
        self.chunk_names = [c["filename"] for c in index["chunks"]]
        self.chunk_ends = np.cumsum([c["chunk_size"] for c in index["chunks"]])

    def __len__(self) -> int:
        return self.total

    def failed_files(self) -> list[str]:
        return []  # counted when the shards were written (shards.json)

    def __getitem__(self, index):
        i = index.index if isinstance(index, ChunkedIndex) else int(index)
        if not 0 <= i < self.total:
            raise IndexError(f"sample {i} of {self.total}")
        try:
            return self._sample(super().__getitem__(index), i)
        except Exception as e:  # noqa: BLE001 -- whatever litdata or the JPEG decoder raised on a damaged chunk
            chunk = self.chunk_names[int(np.searchsorted(self.chunk_ends, i, side="right"))]
            raise UserError(f"data.shards: {os.path.join(self.folder, chunk)}: sample {i} cannot be "
                            f"read ({type(e).__name__}: {str(e)[:160]}); the chunk is damaged: copy the folder "
                            "again or cut the shards again") from None

    def _sample(self, item, i: int) -> dict:
        jpegs = [torch.frombuffer(bytearray(item[f"jpeg{t}"]), dtype=torch.uint8) for t in range(self.frames)]
        pcm = item["audio"]
        if not (isinstance(pcm, np.ndarray) and pcm.ndim == 1) or (
                self.audio_samples is not None and len(pcm) != self.audio_samples):
            raise ValueError(f"audio of {getattr(pcm, 'shape', '?')} samples, expected {self.audio_samples}")
        audio = torch.from_numpy(np.asarray(pcm, dtype=np.float32) / 32767.0)
        sample = {"audio": audio, "label": int(item["label"]), "caption": str(item["caption"]), "index": i,
                  "time": float(item["time"])}
        if self.frame_decode == "device":
            sample["jpeg"] = jpegs
            return sample
        frames = decode_frames(jpegs)
        if self.frame_size is not None and frames.shape[-2:] != (self.frame_size, self.frame_size):
            raise ValueError(f"frames of {tuple(frames.shape[-2:])} pixels, expected {self.frame_size}")
        sample.update({"frame": frames[0]} if self.frames == 1 else {"frames": frames})
        return sample


def collate(samples: list[dict]) -> dict:
    """``default_collate``, keeping ``jpeg`` (bytes of different lengths) as a list per sample."""
    jpegs = [s.pop("jpeg") for s in samples] if samples and "jpeg" in samples[0] else None
    batch = default_collate(samples)
    if jpegs is not None:
        batch["jpeg"] = jpegs
    return batch


def decode_batch_frames(batch: dict, device: torch.device | str) -> dict:
    """Replace ``jpeg`` by ``frame`` [B, 3, H, W] (or ``frames`` [B, T, 3, H, W]) decoded on ``device``."""
    if "jpeg" not in batch:
        return batch
    jpegs = batch.pop("jpeg")
    t = len(jpegs[0])
    try:
        frames = decode_frames([j for sample in jpegs for j in sample], device)
    except RuntimeError as e:  # torchvision's error on bytes that are not a JPEG
        raise UserError(f"data.shards: a frame of samples {batch['index'].tolist()[:8]} is not a valid JPEG "
                        f"({str(e)[:120]}); the shards are damaged: cut them again") from None
    frames = frames.view(len(jpegs), t, *frames.shape[1:])
    batch.update({"frame": frames[:, 0]} if t == 1 else {"frames": frames})
    return batch


class ShardLoader(StreamingDataLoader):
    """litdata's loader; a state saved at the end of an epoch starts the next one, at any world size."""

    def __iter__(self):
        try:
            yield from super().__iter__()
            return
        except UserError as e:  # raised in a worker: torch adds the worker's traceback to the message
            message = str(e).strip().splitlines()[-1].removeprefix(f"{UserError.__module__}.UserError: ")
        # raised here, with no traceback holding the worker iterator: it is freed and stops its workers
        # now (a worker left to the exit handler ignores its SIGTERM, and the exit would wait on it)
        raise UserError(message)

    def load_state_dict(self, obj: dict) -> None:
        super().load_state_dict(obj)
        per_rank = self.dataset.get_len(self.num_workers, self.batch_size)
        if self.restore and self._num_samples_yielded_streaming >= per_rank:
            self.restore = False


@documented
class ShardDataModule(L.LightningDataModule):
    """Samples from shards written by ``multiview data shard`` (:mod:`multiview.data.video.shards`).

    The held-out split is the one the shards were cut with (:mod:`multiview.data.splits`: the
    same videos a folder run holds out). The clip settings must match the shards'; a mismatch is
    one line naming the key. The order is litdata's seeded shuffle; the loader's state goes into
    every checkpoint, and a resumed run goes on at the next sample.

    Args:
        shards: a folder written by ``multiview data shard`` (holding ``shards.json``).
        batch_size: samples per batch.
        num_workers: DataLoader worker processes.
        seed: seed of litdata's shuffle of chunks and samples.
        frame_decode: where JPEG frames are decoded: "worker", "device" (nvjpeg on the GPU), or
            "auto" ("device" where a GPU is, else "worker").
    """

    def __init__(self, shards: str = "", frames: int = 1, fps: float | None = None, frame_size: int = 64,
                 sample_rate: int = 16000, audio_seconds: float = 1.0, no_audio: str = "skip",
                 batch_size: int = 64, num_workers: int = 2, seed: int = 0, frame_decode: str = "auto"):
        super().__init__()
        if frame_decode not in ("auto", *FRAME_DECODE):
            raise UserError(f"data.frame_decode: expected one of auto, {', '.join(FRAME_DECODE)}, got {frame_decode!r}")
        self.spec = ClipSpec(frames=frames, fps=fps, frame_size=frame_size, sample_rate=sample_rate,
                             audio_seconds=audio_seconds, no_audio=no_audio)
        self.shards, self.batch_size, self.num_workers, self.seed = shards, batch_size, num_workers, seed
        self.frame_decode = frame_decode
        self.train_set: ShardDataset | None = None
        self.val_set: ShardDataset | None = None
        self.label_names: list[str] = []
        self._shard_state: dict | None = None
        self._shard_loader: ShardLoader | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        meta = read_meta(self.shards)
        check_spec(meta, self.spec, self.shards)
        self.label_names = meta["label_names"]
        if self.frame_decode == "auto":
            self.frame_decode = "device" if torch.cuda.is_available() else "worker"
        splits = {name: os.path.join(self.shards, name) for name, s in meta["splits"].items() if s["samples"]}
        if TRAIN not in splits:
            raise UserError(f"data.shards: {self.shards} has no training split")
        shape = {"audio_samples": self.spec.audio_samples, "frame_size": self.spec.frame_size}
        self.train_set = ShardDataset(splits[TRAIN], self.spec.frames, shuffle=True, seed=self.seed,
                                      frame_decode=self.frame_decode, drop_last=None, **shape)
        self.val_set = ShardDataset(splits.get(VAL, splits[TRAIN]), self.spec.frames, shuffle=False,
                                    frame_decode=self.frame_decode, **shape)
        for name, ds in ((TRAIN, self.train_set), (VAL, self.val_set if VAL in splits else None)):
            if ds is not None and len(ds) != meta["splits"][name]["samples"]:
                raise UserError(f"data.shards: {splits[name]}/index.json lists {len(ds)} samples, but "
                                f"{self.shards}/shards.json says {meta['splits'][name]['samples']}")
        if len(self.train_set) < self.batch_size:
            raise UserError(f"data.shards: {self.shards} holds {len(self.train_set)} training samples; "
                            f"need at least data.batch_size={self.batch_size}")

    def _loader(self, dataset: ShardDataset, train: bool) -> ShardLoader:
        # litdata reads the rank and world size when the dataset is built; under Lightning's DDP the
        # data module may be set up before the process group exists, so read them again here
        # (loaders are made after it is up, and before any worker process starts)
        dataset.distributed_env = _DistributedEnv.detect()
        loader = ShardLoader(dataset, batch_size=self.batch_size, num_workers=self.num_workers,
                             drop_last=train, collate_fn=collate, pin_memory=torch.cuda.is_available(),
                             persistent_workers=False, worker_init_fn=worker_ignores_sigterm)
        if train:
            if self._shard_state:
                loader.load_state_dict(self._shard_state)
                self._shard_state = None
            self._shard_loader = loader
        return loader

    def train_dataloader(self) -> ShardLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> ShardLoader:
        return self._loader(self.val_set, train=False)

    def state_dict(self) -> dict:
        if self._shard_loader is None:
            return {}
        return {"shard_loader": self._shard_loader.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if state.get("shard_loader"):
            self._shard_state = state["shard_loader"]
            if self._shard_loader is not None:
                self._shard_loader.load_state_dict(self._shard_state)

    def on_before_batch_transfer(self, batch, dataloader_idx: int):
        if isinstance(batch, dict) and "jpeg" in batch:
            trainer = getattr(self, "trainer", None)
            device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
            return decode_batch_frames(batch, device if device.type == "cuda" else "cpu")
        return batch
