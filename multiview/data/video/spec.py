"""The clip spec: what one audio-visual sample is, written once for every reader and writer of clips.

A :class:`ClipSpec` says how many frames a sample holds, at what rate and size, and how much
sound at what sample rate goes with them. The folder reader
(:class:`multiview.data.video.clips.ClipDataset`), the synthetic corpus
(:class:`multiview.data.video.synthetic.SyntheticAV`), the shard writer
(:mod:`multiview.data.video.shards`) and the shard reader
(:class:`multiview.data.video.shard_stream.ShardDataModule`) all take one; the shard reader checks
its spec against the one the shards were cut with.

Data modules keep the recipe surface flat (``--data.frames 2``, ``--data.fps 4``): their
``__init__`` takes the fields by name, documented once here (:data:`CLIP_ARGS`, appended to each
module's docstring by :func:`documented`, which is what ``multiview fit --help`` shows).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from multiview.core.errors import UserError

NO_AUDIO = ("skip", "silence")

CLIP_ARGS = {
    "frames": "frames per sample (more than one gives ``frames``, ``[T, 3, H, W]``, instead of ``frame``).",
    "fps": "frame rate of a sample's frames, per second (None: the video's own rate).",
    "frame_size": "side of the square frames, in pixels.",
    "sample_rate": "audio samples per second of the mono sound.",
    "audio_seconds": "seconds of sound per sample, centred on its frames.",
    "no_audio": 'videos without usable sound: "skip" them, or give them "silence".',
}


@dataclass(frozen=True)
class ClipSpec:
    """One sample: ``frames`` frames of ``frame_size`` pixels at ``fps`` and ``audio_seconds`` of
    sound at ``sample_rate``, centred on them (see :data:`CLIP_ARGS`)."""

    frames: int = 1
    fps: float | None = None
    frame_size: int = 64
    sample_rate: int = 16000
    audio_seconds: float = 1.0
    no_audio: str = "skip"

    def __post_init__(self) -> None:
        for name in ("frames", "frame_size", "sample_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"data.{name}: expected a positive integer, got {value!r}")
        if not self.audio_seconds > 0:
            raise UserError(f"data.audio_seconds: expected a positive number of seconds, got {self.audio_seconds!r}")
        if self.fps is not None and not self.fps > 0:
            raise UserError(f"data.fps: expected a positive frame rate or None (the video's own), got {self.fps!r}")
        if self.no_audio not in NO_AUDIO:
            raise UserError(f"data.no_audio: expected one of {', '.join(NO_AUDIO)}, got {self.no_audio!r}")

    @property
    def audio_samples(self) -> int:
        """Samples of sound in one clip."""
        return int(round(self.audio_seconds * self.sample_rate))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: dict) -> ClipSpec:
        """The spec among ``settings`` (other keys, such as a shard writer's, are ignored)."""
        return cls(**{f.name: settings[f.name] for f in fields(cls) if f.name in settings})

    def first_difference(self, other: ClipSpec) -> str | None:
        """The first field where ``other`` differs, or None."""
        return next((f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)), None)


def documented(cls: type) -> type:
    """Class decorator: append the clip fields' documentation to the class's ``Args:`` section."""
    lines = [f"        {name}: {text}" for name, text in CLIP_ARGS.items()]
    doc = cls.__doc__ or ""
    if "Args:" not in doc:
        doc = doc.rstrip() + "\n\n    Args:\n"
    cls.__doc__ = doc.rstrip() + "\n" + "\n".join(lines) + "\n"
    return cls


__all__ = ["CLIP_ARGS", "NO_AUDIO", "ClipSpec", "documented"]
