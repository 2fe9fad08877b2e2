"""Export a trained encoder for use outside the suite.

``multiview export RUN --encoder frame|audio|text|VIEW --out FILE`` writes:

* a frame encoder that is a torchvision ResNet as torchvision's own ``state_dict`` (no ``fc``)::

      m = torchvision.models.resnet18(); m.fc = torch.nn.Identity()
      m.load_state_dict(torch.load(FILE, weights_only=True))
      features = m((images - mean) / std)     # images RGB in [0, 1]; mean/std in the card

  other frame encoders (the small ResNet, AlexNet) as the suite's ``FrameEncoder`` state;
* an audio encoder as its ``state_dict`` (log-mel front end included), with the log-mel
  settings in the card;
* word vectors in the word2vec format, binary for ``.bin``, text for ``.txt``; gensim's
  ``KeyedVectors.load_word2vec_format(FILE, binary=...)`` reads both. (gensim's native ``.kv``
  is not written: loading it unpickles, which the suite never does with a file it is handed.)

Beside ``FILE`` goes the card ``FILE.json`` (method, recipe, data, metrics, input format).
``multiview eval ... --checkpoint FILE`` accepts every exported file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch.nn as nn

from multiview.core.errors import UserError
from multiview.core.io import save_tensors, write_json


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


def export_frame(encoder: nn.Module, out: Path) -> dict:
    """Write the weights; return the card's ``format`` and ``input`` entries."""
    from multiview.encoders.vision import FrameEncoder

    arch = getattr(encoder, "arch", type(encoder).__name__)
    mean, std = encoder.mean.flatten().tolist(), encoder.std.flatten().tolist()
    normalize = {"mean": mean, "std": std} if len(mean) == 3 else None
    if isinstance(encoder, FrameEncoder) and arch != "small":
        save_tensors(out, {k: v.detach().cpu() for k, v in encoder.net.state_dict().items()})
        load = (f"m = torchvision.models.{arch}(); m.fc = torch.nn.Identity(); "
                f"m.load_state_dict(torch.load(FILE, weights_only=True))")
        return {"format": f"torchvision.models.{arch} state_dict without fc", "load": load,
                "input": {"images": "RGB in [0, 1], [B, C, H, W]", "normalize": normalize,
                          "in_channels": encoder.net.conv1.in_channels}, "out_dim": encoder.out_dim}
    save_tensors(out, {k: v.detach().cpu() for k, v in encoder.state_dict().items()})
    return {"format": f"multiview {type(encoder).__name__} state_dict (arch {arch})",
            "input": {"images": "RGB in [0, 1], [B, C, H, W]; normalised inside", "normalize": normalize},
            "out_dim": encoder.out_dim}


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
            save_tensors(out, {k: v.detach().cpu() for k, v in encoder.state_dict().items()})
            card.update(format=f"multiview {type(encoder).__name__} state_dict", out_dim=encoder.out_dim,
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
    out = export(args.run, args.encoder, args.out)
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0
