"""benchmarks/peer_ssl.py: lightly's side of each method trains a step on the shared backbone, reads the
recipe's knobs, and the benchmark says in one line how to get lightly when it is missing."""

import json
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import peer_ssl  # noqa: E402

from multiview.encoders.registry import build  # noqa: E402


def test_without_lightly_the_benchmark_says_how_to_get_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "peer_lightly", None)  # import fails as without lightly
    assert peer_ssl.main(["--out", str(tmp_path / "x.json"), "--methods", "simclr"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["peer_ssl: lightly is not installed; install it with pip install -e '.[peers]'"]


def test_the_recipes_knobs_reach_both_sides():
    hp, opt = peer_ssl.hyperparameters("moco")
    assert (hp["queue_size"], hp["temperature"], hp["bn_groups"]) == (4096, 0.2, 8)
    assert opt == {"lr": 0.003, "weight_decay": 1e-4, "warmup_fraction": 0.05}


@pytest.mark.parametrize("method", peer_ssl.METHODS)
def test_lightly_side_takes_a_step_on_our_backbone(method):
    peer_lightly = pytest.importorskip("peer_lightly", reason="lightly is not installed (pip install -e '.[peers]')")
    torch.manual_seed(0)
    hp, opt = peer_ssl.hyperparameters(method)
    hp = {**hp, "queue_size": 16, "proj_hidden": 32, "out_dim": 64}
    backbone = build({"name": "small_resnet", "width": 4})
    model = peer_lightly.MODULES[method](backbone, opt, hp)
    transform = peer_lightly.transform(method, 32, hp)
    images = [Image.fromarray((torch.rand(40, 40, 3) * 255).byte().numpy()) for _ in range(8)]
    views = [torch.stack(v) for v in zip(*(transform(im) for im in images))]
    assert all(v.min() >= 0 and v.max() <= 1 for v in views)  # [0, 1]: the backbone normalises itself
    assert len(views) == (2 + hp["local_crops"] if method == "dino" else 2)
    before = [p.clone() for p in backbone.parameters()]
    loss = model.training_step((views, torch.zeros(8), [""] * 8), 0)
    assert torch.isfinite(loss)
    loss.backward()
    torch.optim.SGD(backbone.parameters(), lr=0.1).step()
    assert any(not torch.equal(p, b) for p, b in zip(backbone.parameters(), before))


def test_merge_joins_the_two_sides_and_computes_the_ratios(tmp_path, capsys):
    def side(name, ips, probe, knn):
        row = {"steps": 10, "seconds": 1.0, "images_per_s": ips, "probe_top1": probe, "probe_se": 0.01,
               "probe_layer": "pool", "knn_top1": knn, "knn_se": 0.01, "n": 100}
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"settings": {"side": name}, "simclr": {name: row}}))
        return str(path)

    out = tmp_path / "peer.json"
    assert peer_ssl.main(["--merge", side("ours", 300.0, 0.5, 0.4), side("lightly", 200.0, 0.4, 0.5),
                          "--out", str(out)]) == 0
    merged = json.loads(out.read_text())
    assert set(merged["settings"]) == {"ours", "lightly"}
    assert merged["simclr"]["ratio"] == pytest.approx({"images_per_s": 1.5, "probe_top1": 1.25, "knn_top1": 0.8})


def test_merge_of_a_file_that_is_not_the_benchmarks_says_so_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    assert peer_ssl.main(["--merge", str(bad), str(tmp_path / "missing.json"), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"peer_ssl: --merge {bad}: not a peer_ssl.py JSON file")
    assert not (tmp_path / "x.json").exists()
