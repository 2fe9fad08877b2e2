"""Standard data sets by name from their published layouts, written here in miniature; a missing
set without network is one clear line."""

import argparse
import csv
import struct
import wave

import numpy as np
import pytest

from multiview.core import paths
from multiview.core.errors import UserError
from multiview.eval.core.datasets import add_data_args, eval_splits, shared_data_dir


def eval_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default="")
    add_data_args(parser)
    return parser.parse_args(list(argv))


def write_idx(path, array: np.ndarray) -> None:
    """MNIST's idx format: big-endian magic (0x08 = uint8, number of dimensions), sizes, bytes."""
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """Digits 0 and 1 drawn as a ring and a bar, in torchvision's MNIST layout."""
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:28, :28]
    ring = (np.abs(np.hypot(yy - 14, xx - 14) - 8) < 2) * 255
    bar = (np.abs(xx - 14) < 2) * 255
    for prefix, n in (("train", 40), ("t10k", 20)):
        labels = np.arange(n) % 2
        images = np.stack([np.where(rng.random((28, 28)) < 0.05, 128, (ring, bar)[y]) for y in labels])
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root, images, labels


def test_mnist_from_torchvision_layout(mnist_root):
    root, test_images, test_labels = mnist_root
    args = eval_args("--data", "mnist", "--data-root", str(root), "--size", "28", "--test-limit", "0")
    train, val, test, classes = eval_splits(args, "frame")
    assert classes[:2] == ["0 - zero", "1 - one"] and len(train) + len(val) == 40 and len(test) == 20
    assert sorted(s["label"] for s in val) == [0, 0, 0, 0, 1, 1, 1, 1]  # stratified 20%
    first = test[0]
    assert first["input"].shape == (3, 28, 28) and first["label"] == int(test_labels[0])
    assert np.allclose(first["input"][1].numpy() * 255, test_images[0], atol=1e-3)  # grey on every channel
    resized = eval_splits(eval_args("--data", "mnist", "--data-root", str(root)), "frame")[2][0]["input"]
    assert resized.shape == (3, 32, 32) and 0 <= resized.min() and resized.max() <= 1


@pytest.mark.parametrize("name,layout", [("cifar10", "cifar-10-batches-py"), ("stl10", "stl10_binary"),
                                         ("cifar100", "cifar-100-python")])
def test_missing_set_without_network_is_one_line(tmp_path, monkeypatch, name, layout):
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):  # never really download
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    with pytest.raises(UserError) as err:
        eval_splits(eval_args("--data", name, "--data-root", str(tmp_path)), "frame")
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"--data {name}: not found under {tmp_path}")
    assert layout in message and "downloading it failed" in message and "MULTIVIEW_DATA" in message


def write_tone(path, freq: float, rate: int = 8000, seconds: float = 0.5) -> None:
    t = np.arange(int(rate * seconds)) / rate
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2").tobytes())


def test_speech_commands_published_layout_and_split_lists(tmp_path):
    base = tmp_path / "SpeechCommands" / "speech_commands_v0.02"
    for word, freq in (("yes", 300), ("no", 600), ("up", 900), ("_background_noise_", 50)):
        (base / word).mkdir(parents=True)
        for i in range(5):
            write_tone(base / word / f"spk{i}_nohash_0.wav", freq)
    (base / "validation_list.txt").write_text("yes/spk3_nohash_0.wav\nno/spk3_nohash_0.wav\n")
    (base / "testing_list.txt").write_text("yes/spk4_nohash_0.wav\nno/spk4_nohash_0.wav\nup/spk4_nohash_0.wav\n")
    args = eval_args("--data", "speechcommands", "--data-root", str(tmp_path), "--test-limit", "0")
    train, val, test, classes = eval_splits(args, "audio")
    assert classes == ["no", "up", "yes"] and (len(train), len(val), len(test)) == (10, 2, 3)
    clip = test[2]
    assert clip["input"].shape == (16000,) and clip["label"] == classes.index("yes")  # 8 kHz -> 16 kHz, 1 s
    spectrum = np.abs(np.fft.rfft(clip["input"].numpy()))
    assert abs(int(spectrum.argmax()) - 300) <= 1  # the 300 Hz tone, at 1 Hz per bin


def test_esc50_folds(tmp_path):
    base = tmp_path / "ESC-50-master"
    (base / "audio").mkdir(parents=True)
    (base / "meta").mkdir()
    with open(base / "meta" / "esc50.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        for fold in range(1, 6):
            for target, category in ((0, "dog"), (1, "rain")):
                name = f"{fold}-{100 + target}-A-{target}.wav"
                write_tone(base / "audio" / name, 200 + 400 * target, rate=16000, seconds=1.0)
                w.writerow([name, fold, target, category, "True", 100, "A"])
    train, val, test, classes = eval_splits(eval_args("--data", "esc50", "--data-root", str(tmp_path)), "audio")
    assert classes == ["dog", "rain"] and (len(train), len(val), len(test)) == (6, 2, 2)
    assert test[1]["input"].shape == (80000,) and test[1]["label"] == 1  # 5 s at 16 kHz


def test_data_folder_comes_from_option_or_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MULTIVIEW_DATA", str(tmp_path / "env"))
    assert shared_data_dir() == tmp_path / "env" and shared_data_dir(str(tmp_path / "opt")) == tmp_path / "opt"
    monkeypatch.delenv("MULTIVIEW_DATA")
    assert paths.data_dir() == paths.home() / "data"
