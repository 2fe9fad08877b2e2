"""Load a trained model or encoder for evaluation, whatever method trained it.

``--checkpoint`` may be a run folder (``RUN/config.yaml`` + ``RUN/checkpoints/last.ckpt``), a
``.ckpt`` inside a run folder, or a plain encoder ``state_dict`` file (``torch.save``). The
method class is found from ``model.class_path`` in the run's ``config.yaml`` and imported by
name, so evaluation never depends on which methods exist. A method names its encoders through
``encoders()`` (:mod:`multiview.core.contracts`), each with its ``modality``. Files written by
``multiview export`` load too
(:mod:`multiview.eval.core.exported`). A word2vec run, or a word2vec ``.bin``/``.txt`` file (ours or
anyone's), gives a text encoder over its vectors (:class:`multiview.encoders.text.TextEncoder`).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import yaml

from multiview.core import paths
from multiview.core.errors import UserError


def find_run(path: Path) -> tuple[Path, Path]:
    """``(run folder, checkpoint file)`` for a run folder or a ``.ckpt`` inside one."""
    if path.is_dir():
        ckpt = path / "checkpoints" / "last.ckpt"
        if not ckpt.exists():
            found = sorted((path / "checkpoints").glob("*.ckpt")) if (path / "checkpoints").is_dir() else []
            if not found:
                raise UserError(f"--checkpoint {path}: no checkpoints/last.ckpt (or any .ckpt) in the run folder")
            ckpt = found[-1]
        return path, ckpt
    for parent in path.parents:
        if (parent / "config.yaml").exists():
            return parent, path
    raise UserError(f"--checkpoint {path}: no config.yaml in any folder above it; expected a run folder")


def read_config(run: Path) -> dict:
    try:
        cfg = yaml.safe_load((run / "config.yaml").read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"{run / 'config.yaml'}: cannot read ({e})") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model"), dict) or "class_path" not in cfg["model"]:
        raise UserError(f"{run / 'config.yaml'}: expected a 'model' section with 'class_path'")
    return cfg


def instantiate(spec: dict, where: str, linked: dict | None = None):
    """Build ``class_path(**init_args)`` from a config section, if the class is trusted
    (:func:`multiview.eval.core.trust.trusted_class`). ``linked``: arguments the CLI links into this section
    (``multiview.cli.trainer``), which the saved config leaves out; each is passed where the
    class takes it and the section does not set it."""
    import inspect

    from multiview.eval.core.trust import trusted_class

    cls = trusted_class(spec["class_path"], where)
    args = dict(spec.get("init_args") or {})
    for name, value in (linked or {}).items():
        takes = any(name in inspect.signature(c.__init__).parameters for c in cls.__mro__ if "__init__" in vars(c))
        if takes and name not in args:
            args[name] = value
    return cls(**args)


def linked_from_data(cfg: dict) -> dict:
    """The data section's arguments that the CLI links into the model's (the audio's sample rate)."""
    data = cfg.get("data")
    init = (data.get("init_args") or {}) if isinstance(data, dict) else {}
    return {k: init[k] for k in ("sample_rate",) if k in init}


def read_state(path: Path) -> dict:
    """The ``state_dict`` of a weights-only checkpoint or state_dict file."""
    return read_checkpoint(path)[0]


def read_checkpoint(path: Path) -> tuple[dict, dict]:
    """``(state_dict, views)``: a weights-only checkpoint's weights and the views its method
    resolved while training (``Method.resolved_views``; empty for a plain state_dict)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for unreadable or unsafe files
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise UserError(f"{path}: not a readable weights-only checkpoint ({type(e).__name__}: {first})") from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise UserError(f"{path}: expected a state_dict (name -> tensor) or a Lightning checkpoint")
    views = obj.get("views") if "state_dict" in obj else None
    views = {str(k): str(v) for k, v in views.items()} if isinstance(views, dict) else {}
    return state, views


def load_model(path: str | Path) -> nn.Module:
    """The trained method (a LightningModule) of a run folder or run checkpoint, in eval mode."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"--checkpoint: {path} does not exist")
    run, ckpt = find_run(path)
    cfg = read_config(run)
    model = instantiate(cfg["model"], f"{run / 'config.yaml'} model", linked_from_data(cfg))
    state, views = read_checkpoint(ckpt)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if hasattr(model, "resolved_views"):
        model.resolved_views.update(views)
    if missing or unexpected:
        raise UserError(f"{ckpt}: does not match {type(model).__name__} "
                        f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval()


class ViewAdapter(nn.Module):
    """An encoder of a derived image view (``L``, ``ab``, ...) that takes RGB images in [0, 1]:
    the view is computed from the image (:func:`multiview.views.select.get_view`) before encoding."""

    modality = "frame"

    def __init__(self, encoder: nn.Module, view: str):
        super().__init__()
        self.encoder, self.view = encoder, view
        self.out_dim = encoder.out_dim

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        from multiview.views.select import get_view

        return self.encoder.features(get_view({"image": x}, self.view))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)["pool"]


def encoders_of(model: nn.Module) -> dict[str, nn.Module]:
    """``{view name: encoder}`` that the method names (``Method.encoders()``)."""
    encoders = getattr(model, "encoders", None)
    return dict(encoders()) if callable(encoders) else {}


def modality_of(encoder: nn.Module) -> str:
    """The encoder's ``modality``; for state_dicts of older encoders, "audio" when it has a log-mel front end."""
    return getattr(encoder, "modality", "audio" if hasattr(encoder, "logmel") else "frame")


def encoder_from_state(state: dict) -> nn.Module:
    """Rebuild a known encoder architecture from its parameter names and shapes."""
    from multiview.encoders.alexnet import AlexNetEncoder
    from multiview.encoders.audio import AudioEncoder
    from multiview.encoders.vision import FrameEncoder

    if "input_norm.weight" in state:
        n_fft = 2 * (state["logmel.mel.mel_scale.fb"].shape[0] - 1)
        return AudioEncoder(sample_rate=round(n_fft / 0.025), n_mels=state["logmel.mel.mel_scale.fb"].shape[1],
                            width=state["net.stem.0.weight"].shape[0])
    if "net.stem.0.weight" in state:
        w = state["net.stem.0.weight"]
        return FrameEncoder("small", w.shape[0], in_channels=w.shape[1], normalize=state["mean"].numel() == 3)
    if "net.conv1.weight" in state:
        blocks = tuple(1 + max(int(k.split(".")[2]) for k in state if k.startswith(f"net.layer{i}."))
                       for i in range(1, 5))
        bottleneck = any(k.endswith("conv3.weight") for k in state)
        names = {(2, 2, 2, 2): "resnet18", (3, 4, 6, 3): "resnet50" if bottleneck else "resnet34",
                 (3, 4, 23, 3): "resnet101", (3, 8, 36, 3): "resnet152"}
        if blocks not in names:
            raise UserError(f"unrecognised ResNet with blocks {blocks}")
        return FrameEncoder(names[blocks], in_channels=state["net.conv1.weight"].shape[1])
    if "conv1.0.0.weight" in state:
        w = state["conv1.0.0.weight"]
        return AlexNetEncoder(w.shape[0], in_channels=w.shape[1], normalize=state["mean"].numel() == 3)
    raise UserError("state_dict does not match a known encoder (FrameEncoder, AudioEncoder, AlexNetEncoder)")


def run_folder(path: Path) -> Path | None:
    """The run folder (the one holding ``config.yaml``) that is or contains ``path``."""
    return next((p for p in (path, *path.parents) if (p / "config.yaml").is_file()), None)


def word_vectors_file(path: Path) -> Path | None:
    """The vectors of a word2vec run (folder or checkpoint) or a vectors file itself, else None."""
    if path.is_file() and path.suffix in (".bin", ".txt"):
        return path
    run = run_folder(path)
    if run is None:
        return None
    if not str(read_config(run)["model"]["class_path"]).endswith(".Word2Vec"):
        return None
    if not (run / "vectors.bin").is_file():
        raise UserError(f"--checkpoint {path}: the word2vec run has no vectors.bin (did it finish?)")
    return run / "vectors.bin"


def corpus_of(path: str | Path) -> dict | None:
    """``{corpus, tokenizer, min_count}`` of the run that trained ``path``'s word vectors, if known."""
    run = run_folder(Path(path).expanduser())
    if run is None:
        return None
    data = read_config(run).get("data")
    args = data.get("init_args") if isinstance(data, dict) else None
    if not isinstance(args, dict) or "corpus" not in args:
        return None
    return {"corpus": str(args["corpus"]), "tokenizer": str(args.get("tokenizer", "simple")),
            "min_count": int(args.get("min_count", 5))}


def load_encoder(path: str | Path, which: str | None = None) -> tuple[nn.Module, str]:
    """``(encoder in eval mode, modality)`` from a run, a run checkpoint, an encoder state_dict or
    a word2vec vectors file.

    ``which`` names the view ("frame", "audio", ...) when the model has several encoders.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"--checkpoint: {path} does not exist")
    vectors = word_vectors_file(path)
    if vectors is not None:
        from multiview.encoders.text import TextEncoder

        return TextEncoder(vectors=str(vectors)).eval(), "text"
    if path.is_file() and not any((p / "config.yaml").exists() for p in path.parents):
        from multiview.eval.core.exported import as_encoder_state

        state = as_encoder_state(path, read_state(path))
        prefixes = {k.split(".", 1)[0] for k in state}
        if len(prefixes) == 1 and prefixes <= {"frame_encoder", "audio_encoder", "text_encoder"}:
            state = {k.split(".", 1)[1]: v for k, v in state.items()}
        encoder = encoder_from_state(state)
        encoder.load_state_dict(state)
        return encoder.eval(), modality_of(encoder)
    found = encoders_of(load_model(path))
    if not found:
        raise UserError(f"--checkpoint {path}: the method names no encoders (Method.encoders())")
    return pick_encoder(found, which, f"--checkpoint {path}")


def pick_encoder(found: dict[str, nn.Module], which: str | None, where: str = "the run") -> tuple[nn.Module, str]:
    """``(encoder in eval mode, modality)`` of the views ``which`` names among ``found`` (comma-separated
    views are concatenated). ``auto``: the only encoder, else every encoder when they all read the
    image (``L`` and ``ab`` of CMC), concatenated. The ``--encoder`` option and the end-of-fit
    reports' ``encoder`` argument both resolve through here."""
    if which in (None, "", "auto"):
        views = list(found)
        if len(views) > 1 and not all(modality_of(found[v]) == "frame" for v in views):
            raise UserError(f"{where} has encoders {sorted(found)}; choose one with --encoder")
    else:
        views = [v.strip() for v in which.split(",") if v.strip()]
    missing = [v for v in views if v not in found]
    if missing or not views:
        raise UserError(f"--encoder {which!r}: expected one of {sorted(found)}, or several joined by commas")
    adapted = [ViewAdapter(found[v], v) if v in ("L", "ab") else found[v] for v in views]
    if len(adapted) == 1:
        return adapted[0].eval(), modality_of(adapted[0])
    if len({modality_of(e) for e in adapted}) > 1:
        raise UserError(f"--encoder {which!r}: cannot concatenate encoders of different inputs")
    return Concatenated(adapted).eval(), modality_of(adapted[0])


class Concatenated(nn.Module):
    """Several encoders of one input, their layers' globally pooled features side by side."""

    def __init__(self, encoders: list[nn.Module]):
        super().__init__()
        self.parts = nn.ModuleList(encoders)
        self.modality = modality_of(encoders[0])
        self.out_dim = sum(e.out_dim for e in encoders)

    def features(self, x) -> dict[str, torch.Tensor]:
        from multiview.eval.core.features import flatten_layer

        outs = [e.features(x) for e in self.parts]
        common = [k for k in outs[0] if all(k in o for o in outs[1:])]
        return {k: torch.cat([flatten_layer(o[k].float()) for o in outs], 1) for k in common}

    def forward(self, x) -> torch.Tensor:
        return self.features(x)["pool"]


def run_datamodule(checkpoint: str | Path, stage: str = "fit"):
    """The data module of the run that ``checkpoint`` belongs to, prepared and set up."""
    run, _ = find_run(Path(checkpoint).expanduser())
    cfg = read_config(run)
    if not isinstance(cfg.get("data"), dict):
        raise UserError(f"{run / 'config.yaml'}: no 'data' section")
    dm = instantiate(cfg["data"], f"{run / 'config.yaml'} data")
    if hasattr(dm, "prepare_data"):
        dm.prepare_data()
    dm.setup(stage)
    return dm


def eval_dir(checkpoint: str | Path, kind: str, tag: str = "") -> Path:
    """``RUN/eval/<kind>[/<tag>]`` for a run; ``$MULTIVIEW_HOME/runs/eval/<file stem>/<kind>[/<tag>]``
    otherwise. ``tag`` (e.g. ``frame-cifar10``) keeps evaluations on different data apart."""
    path = Path(checkpoint).expanduser()
    try:
        out = find_run(path)[0] / "eval" / kind
    except UserError:
        out = paths.runs_dir() / "eval" / path.stem / kind
    if tag:
        out = out / tag
    out.mkdir(parents=True, exist_ok=True)
    return out
