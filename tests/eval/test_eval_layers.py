"""``multiview eval layers`` on real short runs: two methods fitted here for a few steps."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from multiview.cli.main import main as cli_main
from multiview.core.io import read_json, save_tensors
from multiview.eval.core.checkpoint import load_encoder
from multiview.eval.core.features import layer_names
from multiview.methods.cmc import CMC

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
SHORT = ["--trainer.max_epochs", "1", "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1",
         "--trainer.callbacks", "[]", "--trainer.logger", "false", "--model.encoder",
         '{"name": "small_resnet", "width": 8}', "--data.batch_size", "32"]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Flat ``<class>/<file>`` folder of 32 px images: gratings at three orientations, random
    phase, period and colour, with noise."""
    root = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(0)
    yy, xx = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    for _label, angle in enumerate((0.0, 45.0, 90.0)):
        (root / f"angle{int(angle)}").mkdir()
        u = xx * math.cos(math.radians(angle)) + yy * math.sin(math.radians(angle))
        for i in range(30):
            g = 0.5 + 0.4 * np.cos(2 * math.pi * u / rng.uniform(4, 8) + rng.uniform(0, 2 * math.pi))
            img = np.clip(g[..., None] * rng.uniform(0.5, 1.0, 3) + 0.05 * rng.standard_normal((32, 32, 3)), 0, 1)
            Image.fromarray((255 * img).astype(np.uint8)).save(root / f"angle{int(angle)}" / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def runs(shapes, tmp_path_factory):
    """A rotation run and an autoencoder run of the same small architecture, two steps each."""
    out = []
    for recipe in ("rotation_cifar10", "autoencoder_cifar10"):
        run = tmp_path_factory.mktemp(recipe)
        argv = ["fit", "--config", str(RECIPES / f"{recipe}.yaml"), "--trainer.default_root_dir", str(run),
                *SHORT, "--data.path", str(shapes)]
        assert cli_main(argv) == 0
        out.append(run)
    return out


@pytest.fixture(scope="module")
def cmc_run(tmp_path_factory):
    """A CMC run folder (frame and audio encoders of width 4) at its initial weights."""
    init = {"views": ["frame", "audio"], "encoders": {"frame": {"width": 4}, "audio": {"width": 4}}, "proj_dim": 8}
    run = tmp_path_factory.mktemp("cmc")
    (run / "config.yaml").write_text(
        yaml.safe_dump({"model": {"class_path": "multiview.methods.cmc.CMC", "init_args": init}}))
    save_tensors(run / "checkpoints" / "last.ckpt", {"state_dict": CMC(**init).state_dict()})
    return run


def test_every_layer_of_every_run_and_baseline(runs, shapes, tmp_path):
    out = tmp_path / "layers"
    common = ["--data", str(shapes), "--train-limit", "60", "--test-limit", "30"]
    assert cli_main(["eval", "layers", *map(str, runs), *common, "--supervised-epochs", "2", "--out", str(out)]) == 0
    r = read_json(out / "layers.json")
    encoder, _ = load_encoder(runs[0])
    exposed = layer_names(encoder, [{"input": torch.rand(3, 32, 32), "label": 0}] * 2)
    assert r["layers"] == exposed
    kinds = {"Rotation": "run", "Autoencoder": "run", "random_init": "random_init",
             "supervised": "supervised", "raw_pixels": "hand_designed", "gabor": "hand_designed"}
    assert r["kind"] == kinds
    for name in ("Rotation", "Autoencoder", "random_init", "supervised"):
        assert sorted(r["top1"][name]) == sorted(exposed), name  # the JSON's keys are sorted; "layers" keeps depth
    assert list(r["top1"]["raw_pixels"]) == ["pool"]
    assert all(0.0 <= v <= 1.0 for scores in r["top1"].values() for v in scores.values())
    assert r["settings"]["n_classes"] == 3 and r["settings"]["runs"]["Rotation"] == str(runs[0])
    table = (out / "layers.md").read_text().splitlines()
    assert table[0].split("|")[3:3 + len(exposed)] == [f" {layer} " for layer in exposed]
    assert [row.split("|")[1].strip() for row in table[2:]] == list(kinds)  # runs, then baselines
    with Image.open(out / "layers.png") as img:
        img.verify()
        assert img.format == "PNG" and min(img.size) > 100
    # the protocol is eval probe's: the same run, data and layer give eval probe's figure
    assert cli_main(["eval", "probe", "--checkpoint", str(runs[0]), *common, "--layer", "stage2",
                     "--baselines", "", "--out", str(tmp_path / "probe")]) == 0
    assert read_json(tmp_path / "probe" / "probe.json")["probe/top1"] == r["top1"]["Rotation"]["stage2"]


def test_random_init_once_per_architecture(runs, cmc_run, shapes, tmp_path):
    # --encoder frame picks CMC's frame encoder; the rotation run has one encoder, taken as it is
    out = tmp_path / "layers"
    assert cli_main(["eval", "layers", str(runs[0]), str(cmc_run), str(runs[1] / "checkpoints" / "last.ckpt"),
                     "--encoder", "frame", "--names", "rot,cmc,ae", "--baselines", "random_init",
                     "--data", str(shapes), "--train-limit", "30", "--test-limit", "15", "--out", str(out)]) == 0
    r = read_json(out / "layers.json")
    assert r["kind"] == {"rot": "run", "cmc": "run", "ae": "run", "random_init [rot]": "random_init",
                         "random_init [cmc]": "random_init"}  # rot and ae share an architecture
    assert r["dim"]["cmc"]["pool"] < r["dim"]["rot"]["pool"]  # width 4 against width 8


def test_bad_input_is_one_line(runs, cmc_run, shapes, tmp_path, capsys):
    missing = tmp_path / "no_such_run"
    assert cli_main(["eval", "layers", str(runs[0]), str(missing), "--data", str(shapes)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(missing) in err and "does not exist" in err and len(err.splitlines()) == 1
    # a run without an image encoder among the asked: CMC's audio encoder
    assert cli_main(["eval", "layers", str(cmc_run), "--encoder", "audio", "--data", str(shapes)]) == 2
    err = capsys.readouterr().err.strip()
    assert "audio encoder" in err and len(err.splitlines()) == 1
    assert cli_main(["eval", "layers", *map(str, runs), "--names", "only_one", "--data", str(shapes)]) == 2
    assert "--names" in capsys.readouterr().err


@pytest.mark.slow
def test_supervised_ceiling_beats_random_init_on_cifar(runs, shared_data, tmp_path):
    """On real CIFAR-10, labels teach the top layer what random weights do not (the bottom
    row of Zhang et al. 2017, Table 2, against its top row)."""
    out = tmp_path / "layers"
    assert cli_main(["eval", "layers", str(runs[0]), "--data", "cifar10", "--train-limit", "1000",
                     "--test-limit", "500", "--baselines", "random_init,supervised", "--supervised-epochs", "8",
                     "--out", str(out)]) == 0
    top1 = read_json(out / "layers.json")["top1"]
    assert top1["supervised"]["pool"] > top1["random_init"]["pool"] + 0.05
    assert max(top1["supervised"].values()) > 0.2  # 10 classes: well above chance
