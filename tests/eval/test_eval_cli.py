"""Evaluation commands end to end on a small run folder and an image folder made here."""

import math

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from multiview.cli.main import main as cli_main
from multiview.core.errors import UserError
from multiview.core.io import read_json, save_tensors
from multiview.eval.commands.finetune import freeze_early, replace_first_conv
from multiview.eval.core.checkpoint import eval_dir, load_encoder
from multiview.eval.core.embed import random_like
from multiview.eval.core.training import train_classifier
from multiview.methods.cmc import CMC

INIT = {"views": ["frame", "audio"], "encoders": {"frame": {"width": 4}, "audio": {"width": 4}}, "proj_dim": 8}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    model = CMC(**INIT)
    (run / "config.yaml").write_text(
        yaml.safe_dump({"model": {"class_path": "multiview.methods.cmc.CMC", "init_args": INIT}}))
    save_tensors(run / "checkpoints" / "last.ckpt", {"state_dict": model.state_dict()})
    return run, model


@pytest.fixture(scope="module")
def gratings(tmp_path_factory):
    """Flat <class>/<file> folder: horizontal vs vertical gratings at random phases."""
    root = tmp_path_factory.mktemp("gratings")
    rng = np.random.default_rng(0)
    r = np.arange(32)
    yy, xx = np.meshgrid(r, r, indexing="ij")
    for label, name in enumerate(("horizontal", "vertical")):
        (root / name).mkdir()
        for i in range(30):
            coord = yy if label == 0 else xx
            g = 0.5 + 0.4 * np.cos(2 * math.pi * coord / 5 + rng.uniform(0, 2 * math.pi))
            img = np.clip(g[..., None] + 0.05 * rng.standard_normal((32, 32, 3)), 0, 1)
            Image.fromarray((255 * img).astype(np.uint8)).save(root / name / f"{i:03d}.png")
    return root


def test_load_encoder_from_run_and_from_state_dict(run_dir, tmp_path):
    run, model = run_dir
    enc, modality = load_encoder(run, "frame")
    assert modality == "frame"
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(enc(x), model.encoders()["frame"].eval()(x))
    with pytest.raises(UserError, match="choose one with --encoder"):
        load_encoder(run)
    with pytest.raises(UserError, match="expected one of"):
        load_encoder(run, "caption")
    for view, inp in (("frame", x), ("audio", torch.randn(2, 16000))):
        path = tmp_path / f"{view}.pt"
        save_tensors(path, model.encoders()[view].state_dict())
        rebuilt, m = load_encoder(path)
        assert m == view and torch.allclose(rebuilt(inp), model.encoders()[view].eval()(inp), atol=1e-6)
    fresh = random_like(enc)
    assert not torch.allclose(fresh(x), enc(x))
    assert eval_dir(run, "probe", "frame-cifar10") == run / "eval" / "probe" / "frame-cifar10"
    assert eval_dir(run / "checkpoints" / "last.ckpt", "knn") == run / "eval" / "knn"


def test_bad_checkpoint_is_one_line(tmp_path, capsys):
    assert cli_main(["eval", "probe", "--checkpoint", str(tmp_path / "nope"), "--data", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert cli_main(["eval", "knn", "--checkpoint", str(tmp_path / "junk.pt"), "--data", str(tmp_path)]) == 2
    assert "junk.pt" in capsys.readouterr().err


@pytest.mark.slow
def test_probe_knn_tsne_rsa_dissect_commands(run_dir, gratings, tmp_path):
    run, _ = run_dir
    common = ["--checkpoint", str(run), "--encoder", "frame", "--data", str(gratings)]
    for kind in ("probe", "knn"):
        assert cli_main(["eval", kind, *common, "--baselines", "random_init,hand_designed",
                         "--out", str(tmp_path / kind)]) == 0
        r = read_json(tmp_path / kind / f"{kind}.json")
        assert {f"{kind}/top1"} | {f"{kind}/{n}/top1" for n in ("random_init", "raw_pixels", "gabor")} <= set(r)
        assert r[f"{kind}/gabor/top1"] >= 0.9  # orientation is what a Gabor bank measures
        assert (tmp_path / kind / f"{kind}.png").stat().st_size > 0
    assert cli_main(["eval", "tsne", *common, "--n", "12", "--out", str(tmp_path / "tsne")]) == 0
    assert (tmp_path / "tsne" / "tsne.png").exists()
    assert cli_main(["eval", "rsa", *common, "--n", "12", "--out", str(tmp_path / "rsa")]) == 0
    r = read_json(tmp_path / "rsa" / "rsa.json")
    assert 0.0 <= r["cka/pool/pool"] <= 1.0 + 1e-9
    assert cli_main(["eval", "dissect", *common, "--layer", "stage1", "--units", "0,1", "--top", "4",
                     "--n", "12", "--stride", "4", "--out", str(tmp_path / "dissect")]) == 0
    assert {"dissect.png", "patches.png", "occlusion.png", "dissect.json"} <= {
        p.name for p in (tmp_path / "dissect").iterdir()}


def test_finetune_new_first_layer_partial_freeze_and_training(run_dir, gratings):
    _, model = run_dir
    enc = random_like(model.encoders()["frame"])
    replace_first_conv(enc, 1)
    assert enc(torch.rand(2, 1, 32, 32)).shape == (2, enc.out_dim)
    frozen = freeze_early(enc, 0.5)
    trainable = [n for n, p in enc.named_parameters() if p.requires_grad]
    assert frozen and trainable and "net.stem.0.weight" not in trainable
    assert all(n.startswith("net.stages.3") for n in trainable)  # the later half is the last stage
    data = [{"input": torch.rand(1, 16, 16) * (i % 2), "label": i % 2} for i in range(64)]
    losses = train_classifier(enc, torch.nn.Linear(enc.out_dim, 2), data, "frame", epochs=4, lr=1e-2,
                              batch_size=16, frozen_modules=frozen)
    assert losses[-1] < losses[0]
