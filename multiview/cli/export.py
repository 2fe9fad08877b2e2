"""Export a trained encoder for use outside the suite.

``multiview export RUN --encoder frame|audio|text|VIEW --out FILE`` writes:

* a frame encoder that torchvision's ResNet loads (strictly, with the same features: checked
  while exporting) as torchvision's own ``state_dict`` (no ``fc``)::

      m = torchvision.models.resnet18(); m.fc = torch.nn.Identity()
      m.load_state_dict(torch.load(FILE, weights_only=True))
      features = m((images - mean) / std)     # images RGB in [0, 1]; mean/std in the card

* every other encoder (the small ResNet, AlexNet, a ResNet with a 3x3 stem, the audio encoders,
  log-mel front end included) as a ``torch.export`` program ``FILE`` with ``.pt2`` (graph and
  weights; ``torch.export.load(...).module()`` runs it without multiview), beside the suite's
  ``state_dict`` in ``FILE``;
* word vectors in the word2vec format, binary for ``.bin``, text for ``.txt``; gensim's
  ``KeyedVectors.load_word2vec_format(FILE, binary=...)`` reads both. (gensim's native ``.kv``
  is not written: loading it unpickles, which the suite never does with a file it is handed.)

Beside ``FILE`` goes the card ``FILE.json`` (method, recipe, data, metrics, input format, and under
``load`` the three lines that load the encoder without multiview).
``multiview eval ... --checkpoint FILE`` accepts every exported file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch.nn as nn

from multiview.core.errors import UserError
from multiview.core.io import atomic_write, save_tensors, write_json
from multiview.core.outputs import claim_file


def card_of(run: Path) -> dict:
    from multiview.cli.runs import read_run
    from multiview.eval.core.checkpoint import run_folder

    folder = run_folder(run)
    if folder is None:
        return {}
    info = read_run(folder)
    return {"run": str(folder), "recipe": info.recipe, "method": info.method, "data": info.data,
            "date": info.date, "metrics": info.metrics}


def logmel_settings(encoder: nn.Module) -> dict:
    mel = encoder.logmel.mel
    spec, scale = mel.spectrogram, mel.mel_scale
    return {"sample_rate": int(mel.sample_rate), "n_fft": int(mel.n_fft), "win_length": int(mel.win_length),
            "hop_length": int(mel.hop_length), "n_mels": int(mel.n_mels), "f_min": float(mel.f_min),
            "f_max": float(mel.f_max), "power": float(spec.power), "mel_scale": scale.mel_scale,
            "norm": scale.norm, "window": "hann", "center": bool(spec.center),
            "log": f"natural log of (mel power + {encoder.logmel.eps})"}


def _torchvision_twin(encoder: nn.Module, arch: str) -> dict | None:
    """The encoder's network as ``torchvision.models.<arch>`` state (no ``fc``), if that model loads
    it strictly and gives the encoder's features; None otherwise (a 3x3 stem, other input channels)."""
    import torch
    import torchvision

    state = {k: v.detach().cpu() for k, v in encoder.net.state_dict().items()}
    twin = getattr(torchvision.models, arch)()
    twin.fc = nn.Identity()
    try:
        twin.load_state_dict(state, strict=True)
    except RuntimeError:
        return None
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        same = torch.allclose(twin.eval()((x - encoder.mean) / encoder.std), encoder.eval()(x), atol=1e-5)
    return state if same else None


def export_program(encoder: nn.Module, example, out: Path) -> dict:
    """``out`` as the suite's state_dict and, beside it, ``out.pt2``: the encoder as a program
    (``torch.export``, graph and weights, batch and input sizes free) that ``torch.export.load``
    runs without multiview; the card's ``load`` gives the three lines."""
    import torch
    from torch.export import Dim

    save_tensors(out, {k: v.detach().cpu() for k, v in encoder.state_dict().items()})
    program = out.with_suffix(".pt2")
    encoder = encoder.cpu().eval()
    free = {i: Dim.AUTO for i in range(example.dim()) if i != 1 or example.dim() == 2}  # all but channels
    try:
        exported = torch.export.export(encoder, (example,), dynamic_shapes=(free,))
    except Exception as e:  # torch.export names the operation it cannot capture
        raise UserError(f"export: the {type(encoder).__name__} cannot be exported as a program "
                        f"({type(e).__name__}: {str(e)[:200]})") from None
    atomic_write(program, lambda f: torch.export.save(exported, f))
    return {"format": f"torch.export program {program.name} (graph and weights); {out.name}: the suite's "
            f"{type(encoder).__name__} state_dict",
            "program": program.name,
            "load": ["import torch", f"encoder = torch.export.load('{program.name}').module()",
                     "features = encoder(x)  # x as in 'input'"]}


def export_frame(encoder: nn.Module, out: Path) -> dict:
    """Write the weights; return the card's ``format``, ``load`` and ``input`` entries."""
    import torch

    from multiview.encoders.vision import RESNETS

    arch = getattr(encoder, "arch", type(encoder).__name__)
    mean, std = encoder.mean.flatten().tolist(), encoder.std.flatten().tolist()
    normalize = {"mean": mean, "std": std} if len(mean) == 3 else None
    state = _torchvision_twin(encoder, arch) if arch in RESNETS and normalize else None
    if state is not None:
        save_tensors(out, state)
        load = ["import torch, torchvision", f"m = torchvision.models.{arch}(); m.fc = torch.nn.Identity()",
                f"m.load_state_dict(torch.load('{out.name}', weights_only=True)); m.eval()"]
        return {"format": f"torchvision.models.{arch} state_dict without fc", "load": load,
                "input": {"images": "RGB in [0, 1], [B, C, H, W], then (x - mean) / std", "normalize": normalize,
                          "in_channels": encoder.net.conv1.in_channels}, "out_dim": encoder.out_dim}
    channels = next(m.in_channels for m in encoder.modules() if isinstance(m, nn.Conv2d))
    example = torch.rand(2, channels, 64, 64, generator=torch.Generator().manual_seed(0))
    return {**export_program(encoder, example, out), "out_dim": encoder.out_dim,
            "input": {"images": f"{channels}-channel images in [0, 1], [B, {channels}, H, W]; normalised inside",
                      "normalize": normalize, "arch": arch}}


def export_words(vectors: Path, out: Path) -> dict:
    from multiview.data.text.word_vectors import load_word2vec, save_word2vec

    if out.suffix not in (".bin", ".txt"):
        raise UserError(f"--out {out}: word vectors are written as word2vec .bin or .txt")
    words, table = load_word2vec(vectors)
    save_word2vec(out, words, table)
    return {"format": f"word2vec {'binary' if out.suffix == '.bin' else 'text'}",
            "load": f"gensim.models.KeyedVectors.load_word2vec_format(FILE, binary={out.suffix == '.bin'})",
            "words": len(words), "dim": int(table.shape[1])}


def export(run: str | Path, which: str, out: str | Path) -> Path:
    """Write ``run``'s ``which`` encoder to ``out`` and its card to ``out`` with ``.json``."""
    import torch

    from multiview.eval.core.checkpoint import ViewAdapter, load_encoder, word_vectors_file
    from multiview.eval.core.exported import card_path

    run, out = Path(run).expanduser(), Path(out).expanduser()
    if not run.exists():
        raise UserError(f"export: {run} does not exist")
    card = card_of(run)
    vectors = word_vectors_file(run)
    if vectors is not None:
        card.update(encoder="text", **export_words(vectors, out))
    else:
        encoder, modality = load_encoder(run, which)
        card["encoder"] = which
        if isinstance(encoder, ViewAdapter):
            encoder, card["view"] = encoder.encoder, encoder.view
        if modality == "audio":
            wave = torch.randn(2, int(encoder.logmel.mel.sample_rate), generator=torch.Generator().manual_seed(0))
            card.update(export_program(encoder, 0.1 * wave, out), out_dim=encoder.out_dim,
                        input={"waveform": "mono float in [-1, 1], [B, samples]"}, logmel=logmel_settings(encoder))
        elif modality == "frame":
            card.update(export_frame(encoder, out))
        else:
            raise UserError(f"export: the {modality} encoder of {run} has no vectors file to export")
    write_json(card_path(out), card)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview export", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run folder or checkpoint")
    parser.add_argument("--encoder", default="auto", help="frame | audio | text | a view name (default: the only one)")
    parser.add_argument("--out", required=True, help="output file (.pt for weights, .bin/.txt for word vectors)")
    args = parser.parse_args(argv)
    out = Path(args.out).expanduser()
    claim_file(out, "export", companions=[out.with_suffix(".json"), out.with_suffix(".pt2")])
    out = export(args.run, args.encoder, args.out)
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0
