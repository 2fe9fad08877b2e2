"""The embedded default corpus: a small audio-visual world written as real mp4 files.

Each clip shows one object moving (and bouncing) over a textured background and carries the
sound that object makes. What is heard is tied to what is seen:

- the object's *kind* (shape and colour) sets its base pitch and timbre (harmonic profile);
- its *height* on screen sets the pitch at that moment (higher on screen, higher pitch);
- its *size* sets the loudness;
- its *speed* sets the rate of amplitude pulses (the rhythm);
- every clip also has ambient noise and a hum unrelated to the picture.

Files are written with PyAV (MPEG-4 video + AAC in mp4) into a cache folder on first use, deterministically
from the seed, with ``labels.tsv`` (file, kind) and ``captions.tsv`` (file, caption), the same
layout a user's folder of captioned videos has.
"""

from __future__ import annotations

import csv
import fcntl
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from multiview.core import paths
from multiview.core.io import read_json, write_json
from multiview.data.video.datamodule import VideoFolderDataModule
from multiview.data.video.spec import documented

KINDS = [  # (shape, colour name, rgb, base pitch Hz, harmonic amplitudes)
    ("square", "red", (220, 40, 40), 196.0, (1.0, 0.0, 0.33, 0.0, 0.2)),
    ("circle", "green", (40, 200, 60), 294.0, (1.0, 0.0, 0.0, 0.0, 0.0)),
    ("triangle", "blue", (50, 80, 230), 392.0, (1.0, 0.5, 0.33, 0.25, 0.2)),
    ("circle", "yellow", (230, 210, 40), 523.0, (1.0, 0.6, 0.0, 0.3, 0.0)),
    ("square", "purple", (160, 60, 200), 330.0, (1.0, 0.0, 0.6, 0.0, 0.5)),
    ("triangle", "white", (235, 235, 235), 440.0, (1.0, 0.2, 0.1, 0.05, 0.0)),
]
VERSION = 3


@dataclass
class WorldConfig:
    n_clips: int = 384
    seed: int = 0
    duration: float = 3.0
    fps: int = 8
    size: int = 64
    sample_rate: int = 16000


@dataclass
class Clip:
    kind: int
    x0: float
    y0: float
    vx: float
    vy: float
    radius: float
    speed: float
    caption: str


def _trajectory(clip: Clip, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in [r, 1-r] at times t, bouncing off the walls (triangle-wave reflection)."""
    lo, hi = clip.radius, 1.0 - clip.radius

    def bounce(p0, v):
        span = hi - lo
        u = np.mod(p0 - lo + v * t, 2 * span)
        return lo + np.where(u > span, 2 * span - u, u)

    return bounce(clip.x0, clip.vx), bounce(clip.y0, clip.vy)


def _sample_clip(rng: np.random.Generator) -> Clip:
    kind = int(rng.integers(len(KINDS)))
    direction = ["left", "right", "up", "down"][int(rng.integers(4))]
    speed = float(rng.uniform(0.08, 0.4))
    dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[direction]
    wobble = float(rng.uniform(-0.25, 0.25))
    vx, vy = speed * (dx + wobble * dy), speed * (dy + wobble * dx)
    radius = float(rng.uniform(0.09, 0.2))
    shape, colour = KINDS[kind][0], KINDS[kind][1]
    pace = "slowly" if speed < 0.2 else "quickly"
    x0, y0 = float(rng.uniform(radius, 1 - radius)), float(rng.uniform(radius, 1 - radius))
    size = "small" if radius < 0.13 else "big" if radius > 0.165 else "medium"
    where = "top" if y0 < 1 / 3 else "bottom" if y0 > 2 / 3 else "middle"
    caption = f"a {size} {colour} {shape} starts near the {where} and moves {direction} {pace}"
    return Clip(kind, x0, y0, vx, vy, radius, speed, caption)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    c1, c2 = rng.uniform(0, 120, 3), rng.uniform(0, 120, 3)
    ramp = np.linspace(0, 1, size)[:, None, None]
    img = c1 * (1 - ramp) + c2 * ramp
    img = img + rng.normal(0, 12, (size // 8, size // 8, 1)).repeat(8, 0).repeat(8, 1)
    return np.broadcast_to(img, (size, size, 3)).copy()


def _draw(img: np.ndarray, clip: Clip, x: float, y: float) -> np.ndarray:
    size = img.shape[0]
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    dx, dy, r = xx - x, yy - y, clip.radius
    shape = KINDS[clip.kind][0]
    if shape == "square":
        mask = (np.abs(dx) < 0.8 * r) & (np.abs(dy) < 0.8 * r)
    elif shape == "circle":
        mask = dx**2 + dy**2 < r**2
    else:
        mask = (dy < 0.8 * r) & (dy > -r + 1.8 * np.abs(dx))
    out = img.copy()
    out[mask] = KINDS[clip.kind][2]
    return out


def _sound(rng: np.random.Generator, clip: Clip, cfg: WorldConfig) -> np.ndarray:
    n = int(cfg.duration * cfg.sample_rate)
    t = np.arange(n) / cfg.sample_rate
    _, y = _trajectory(clip, t)
    base, harmonics = KINDS[clip.kind][3], KINDS[clip.kind][4]
    freq = base * 2.0 ** (1.2 * (0.5 - y))
    phase = 2 * np.pi * np.cumsum(freq) / cfg.sample_rate
    tone = sum(a * np.sin((h + 1) * phase) for h, a in enumerate(harmonics) if a)
    tone /= sum(harmonics)
    pulse_hz = 1.5 + 20.0 * clip.speed
    pulses = 0.55 + 0.45 * np.cos(2 * np.pi * pulse_hz * t) ** 2
    loud = 0.15 + 2.2 * (clip.radius - 0.09)
    noise = np.cumsum(rng.normal(0, 1, n))
    noise = noise - np.convolve(noise, np.ones(400) / 400, mode="same")
    noise *= rng.uniform(0.01, 0.05) / (noise.std() + 1e-8)
    hum = rng.uniform(0.005, 0.03) * np.sin(2 * np.pi * rng.uniform(50, 120) * t)
    return np.clip(loud * pulses * tone + noise + hum, -0.99, 0.99).astype(np.float32)


def write_clip(path: Path, clip: Clip, rng: np.random.Generator, cfg: WorldConfig) -> None:
    """Write one clip as MPEG-4 Part 2 + AAC in mp4.

    MPEG-4 Part 2 rather than h264: libx264's output was seen to vary from run to run on a busy
    machine even single-threaded, and the corpus must be the same bytes for the same seed.
    """
    import av

    background = _background(rng, cfg.size)
    wave = _sound(rng, clip, cfg)
    times = np.arange(int(cfg.duration * cfg.fps)) / cfg.fps
    xs, ys = _trajectory(clip, times)
    with av.open(str(path), "w", format="mp4") as c:
        v = c.add_stream("mpeg4", rate=cfg.fps)
        v.width = v.height = cfg.size
        v.pix_fmt = "yuv420p"
        v.thread_count = 1
        v.options = {"qscale": "2"}
        a = c.add_stream("aac", rate=cfg.sample_rate)
        a.layout = "mono"
        for x, y in zip(xs, ys):
            img = np.clip(_draw(background, clip, x, y), 0, 255).astype(np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        for s in range(0, len(wave), 1024):
            frame = av.AudioFrame.from_ndarray(wave[None, s : s + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts = cfg.sample_rate, s
            for p in a.encode(frame):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


def generate(cfg: WorldConfig, root: Path | None = None) -> Path:
    """Write the corpus (once) and return its folder; later calls reuse the cache."""
    key = f"v{VERSION}-n{cfg.n_clips}-seed{cfg.seed}-{cfg.duration:g}s-{cfg.fps}fps-{cfg.size}px-{cfg.sample_rate}hz"
    folder = (root or paths.cache_dir("synthetic")) / key
    if (folder / "manifest.json").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "manifest.json").exists():
            return folder
        tmp = folder.parent / f".{key}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        rng = np.random.default_rng(cfg.seed)
        rows = []
        for i in range(cfg.n_clips):
            clip = _sample_clip(rng)
            name = f"clip{i:05d}.mp4"
            write_clip(tmp / name, clip, np.random.default_rng([cfg.seed, i]), cfg)
            rows.append((name, clip))
        with open(tmp / "labels.tsv", "w", newline="") as f:
            csv.writer(f, delimiter="\t").writerows([("file", "label")] + [(n, c.kind) for n, c in rows])
        with open(tmp / "captions.tsv", "w", newline="") as f:
            csv.writer(f, delimiter="\t").writerows([("file", "caption")] + [(n, c.caption) for n, c in rows])
        write_json(tmp / "manifest.json", {"config": asdict(cfg), "version": VERSION,
                                           "clips": [{"file": n, **asdict(c)} for n, c in rows]})
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    return folder


def load_manifest(folder: Path) -> dict:
    return read_json(Path(folder) / "manifest.json")


HELD_OUT = 64  # SyntheticAV's default val_clips


def world_size(n_clips: int, val_clips: int | None) -> int:
    """Clips to generate: ``n_clips``, plus the held-out clips asked for beyond :data:`HELD_OUT`."""
    return n_clips + max(0, (val_clips or 0) - HELD_OUT)


@documented
class SyntheticAV(VideoFolderDataModule):
    """The embedded default: the synthetic world, generated on first use and indexed like any folder.

    The world is drawn at ``frame_size`` pixels with sound at ``sample_rate``; every clip has
    sound, so ``no_audio`` is left at its default.

    Args:
        n_clips: clips in the world.
        world_seed: seed of the world (what each clip shows and sounds like).
        duration: seconds per clip.
        val_clips: clips held out for evaluation (the last ones by file name). Beyond the default
            64, each further held-out clip is added to the world (``n_clips`` grows by
            ``val_clips - 64``), so a bigger held-out set for a study (``--data.val_clips 256``)
            leaves training its ``n_clips - 64`` clips. Clip ``i`` is the same in a world of any size.
        clips_per_video: training samples drawn from each clip per epoch.
        batch_size: samples per batch.
        num_workers: DataLoader worker processes.
        seed: seed of the sample positions and of the training order.
    """

    def __init__(self, n_clips: int = 384, world_seed: int = 0, duration: float = 3.0,
                 val_clips: int = HELD_OUT, frame_size: int = 64, sample_rate: int = 16000,
                 audio_seconds: float = 1.0, clips_per_video: int = 4, batch_size: int = 64,
                 num_workers: int = 2, seed: int = 0, frames: int = 1, fps: float | None = None):
        super().__init__("", frames=frames, fps=fps, frame_size=frame_size, sample_rate=sample_rate,
                         audio_seconds=audio_seconds, clips_per_video=clips_per_video, val_clips=val_clips,
                         batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.world = WorldConfig(n_clips=world_size(n_clips, val_clips), seed=world_seed, duration=duration,
                                 size=self.spec.frame_size, sample_rate=self.spec.sample_rate)

    def prepare_data(self) -> None:
        self.index = str(generate(self.world))
        super().prepare_data()

    def setup(self, stage: str | None = None) -> None:
        self.index = str(generate(self.world))  # reuses the cached corpus after the first call
        super().setup(stage)
