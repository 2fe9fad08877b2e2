"""Labelled train / validation / test splits for evaluating an encoder, by name or path.

``--data`` is ``cifar10`` (the shared JPEG tar if the data folder has it, else torchvision's),
``cifar100``, ``stl10``, ``mnist``, ``speechcommands``, ``esc50`` (:mod:`multiview.data.standard`),
``fsdd`` (the Free Spoken Digit Dataset, test speakers held out), ``run`` (the labelled samples of
the run's own data module: its training samples for train/val, its held-out ones for test;
:mod:`multiview.eval.core.run_data`, as the end-of-fit reports), or a
path: an image folder/tar for a frame encoder, an audio folder/tar for an audio encoder. Names are
found under ``--data-root`` (else ``$MULTIVIEW_DATA``, else ``$MULTIVIEW_HOME/data``). Text encoders
take ``words`` or ``polarity`` or a
labelled text file (:mod:`multiview.data.text.text_labels`), split by stratified sampling. Every
split yields ``{"input": ..., "label": int}`` in the encoder's input format (images [3, H, W] in
[0, 1]; waveforms [n] at the encoder's rate; strings).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset, Subset

from multiview.core import paths
from multiview.core.errors import UserError
from multiview.data.standard import AUDIO_SETS, IMAGE_SETS
from multiview.eval.core.subsets import Renamed, balanced, split_off

# The defaults of every evaluation of frozen features, command or end-of-fit report.
DEFAULTS = {"layer": "pool", "spatial": 1, "train_limit": 5000, "test_limit": 2000, "val_fraction": 0.2,
            "seed": 0, "tsne_points": 1000, "perplexity": 30.0}
SHARED = {"cifar10": ("images", "cifar10-jpg.tar"), "fsdd": ("audio", "fsdd.tar")}


def shared_data_dir(option: str | None = None) -> Path:
    """``--data-root``, else ``$MULTIVIEW_DATA``, else ``$MULTIVIEW_HOME/data``."""

    return paths.data_dir(option)


def add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="run", help="cifar10 | cifar100 | stl10 | mnist | fsdd | speechcommands | "
                        "esc50 | words | polarity | run | PATH (default: run)")
    parser.add_argument("--data-root", default="", help="folder of the named data sets (default: $MULTIVIEW_DATA, "
                        "else $MULTIVIEW_HOME/data)")
    parser.add_argument("--encoder", default="auto", help="which encoder of the run: frame | audio | ...")
    parser.add_argument("--layer", default=DEFAULTS["layer"], help="layer of encoder.features (default: pool)")
    parser.add_argument("--spatial", type=int, default=DEFAULTS["spatial"],
                        help="pool spatial maps to SxS before flattening")
    parser.add_argument("--train-limit", type=int, default=DEFAULTS["train_limit"],
                        help="class-balanced training subset")
    parser.add_argument("--test-limit", type=int, default=DEFAULTS["test_limit"], help="class-balanced test subset")
    parser.add_argument("--val-fraction", type=float, default=DEFAULTS["val_fraction"],
                        help="of training, for model selection")
    parser.add_argument("--size", type=int, default=32, help="image side for image folders")
    parser.add_argument("--test-fraction", type=float, default=0.25, help="text data: held out for test")
    parser.add_argument("--corpus", default="", help="text: corpus for the PPMI-SVD baseline (default: the run's)")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    parser.add_argument("--out", default="", help="output folder (default: RUN/eval/<kind>)")


def data_tag(args, modality: str) -> str:
    """``<encoder>-<data name>``: where one evaluation's outputs go inside ``RUN/eval/<kind>``."""
    named = args.data in SHARED or args.data in IMAGE_SETS + AUDIO_SETS or args.data == "run"
    name = args.data if named else Path(args.data).name.split(".")[0]
    view = args.encoder if args.encoder not in ("", "auto") else modality
    return f"{view}-{name}"


def sample_rate_of(encoder) -> int:
    return int(encoder.logmel.mel.sample_rate) if hasattr(encoder, "logmel") else 16000


def eval_splits(args, modality: str, encoder=None, test_limit: int | None = None,
                checkpoint: str | None = None) -> tuple[Dataset, Dataset, Dataset, list[str]]:
    """``(train, val, test, class names)`` for ``args.data`` in ``modality``'s input format."""
    test_limit = test_limit or args.test_limit
    if modality == "text" and args.data != "run":
        return text_splits(args, encoder)
    data = args.data
    root = shared_data_dir(getattr(args, "data_root", ""))
    if data in SHARED:
        folder, name = SHARED[data]
        path = root / folder / name
        if data == "cifar10" and not path.exists():  # not the shared tar: torchvision's CIFAR-10
            return standard_splits(args, modality, encoder, test_limit, root)
        if not path.exists():
            raise UserError(f"--data {data}: {path} is missing; pass the tar or folder path, or set --data-root")
        data = str(path)
    if data in IMAGE_SETS + AUDIO_SETS:
        return standard_splits(args, modality, encoder, test_limit, root)
    if data == "run":
        return run_splits(checkpoint or args.checkpoint, modality, args, test_limit)
    if modality == "audio":
        from multiview.data.audio.audio_folder import AudioFolderDataset

        rate = sample_rate_of(encoder)
        parts = [AudioFolderDataset(data, s, sample_rate=rate) for s in ("train", "val", "test")]
        train, val, test = (Renamed(p, "audio") for p in parts)
        train = Subset(train, balanced(np.array(parts[0].labels), args.train_limit, args.seed).tolist())
        test = Subset(test, balanced(np.array(parts[2].labels), test_limit, args.seed).tolist())
        return train, val, test, parts[0].classes
    if modality != "frame":
        raise UserError(f"--data {args.data}: evaluating a {modality!r} encoder on it is not supported")
    from multiview.data.image.images import ImageFolderData

    dm = ImageFolderData(data, size=args.size, train_limit=args.train_limit,
                         test_limit=test_limit, seed=args.seed)
    dm.setup()
    train_all = Renamed(dm.train_plain, "image")
    tr, va = split_off(dm.train_plain.labels.numpy(), args.val_fraction, args.seed)
    return Subset(train_all, tr.tolist()), Subset(train_all, va.tolist()), Renamed(dm.test_set, "image"), dm.classes


def standard_splits(
    args, modality: str, encoder, test_limit: int, root: Path
) -> tuple[Dataset, Dataset, Dataset, list[str]]:
    """A named data set (:mod:`multiview.data.standard`), limited and split like a folder."""
    from multiview.data import standard

    if (modality == "frame") != (args.data in standard.IMAGE_SETS):
        raise UserError(f"--data {args.data}: evaluating a {modality!r} encoder on it is not supported")
    parts = standard.load(args.data, root, size=args.size, sample_rate=sample_rate_of(encoder))
    train, val, test = parts["train"], parts["val"], parts["test"]
    classes = train.classes
    keep = balanced(np.array(train.labels), args.train_limit, args.seed)
    if val is None:
        tr, va = split_off(np.array(train.labels)[keep], args.val_fraction, args.seed)
        train, val = Subset(train, keep[tr].tolist()), Subset(train, keep[va].tolist())
    else:
        train = Subset(train, keep.tolist())
    test = Subset(test, balanced(np.array(test.labels), test_limit, args.seed).tolist())
    return train, val, test, classes


def run_splits(checkpoint: str, modality: str, args, test_limit: int) -> tuple[Dataset, Dataset, Dataset, list[str]]:
    """``--data run``: :func:`multiview.eval.core.run_data.run_splits` of the run's data module."""
    from multiview.eval.core.checkpoint import run_datamodule
    from multiview.eval.core.run_data import run_splits as splits_of

    return splits_of(run_datamodule(checkpoint), modality, args.val_fraction, args.seed, args.train_limit, test_limit)


def text_splits(args, encoder=None) -> tuple[Dataset, Dataset, Dataset, list[str]]:
    """Stratified train / val / test of labelled text; with a vocabulary-bound encoder (word
    vectors), only texts with at least one known word are kept."""
    from multiview.data.text.corpus import tokenize
    from multiview.data.text.text_labels import load_labelled_text

    data = load_labelled_text(args.data)
    vocab = getattr(encoder, "vocab", None)
    if vocab is not None:
        known = [i for i, t in enumerate(data.texts) if any(w in vocab for w in tokenize(t, encoder.tokenizer))]
        if len(known) < len(data) and not getattr(args, "quiet", False):
            print(f"  {len(data) - len(known)} of {len(data)} texts have no word in the encoder's "
                  f"vocabulary and are left out", flush=True)
        data = data.subset(known)
    labels = np.array(data.labels)
    rest, test = split_off(labels, args.test_fraction, args.seed + 100)
    train, val = split_off(labels[rest], args.val_fraction, args.seed)
    train, val = rest[train], rest[val]
    return (data.subset(train.tolist()), data.subset(val.tolist()), data.subset(test.tolist()), data.classes)
