"""`multiview export`: torchvision loads an exported ResNet frame encoder and gives the same
features; audio encoders and word vectors round-trip; `multiview eval` accepts every file."""

import json

import numpy as np
import pytest
import torch
import torchvision
import yaml

from multiview.cli.main import main
from multiview.data.text.word_vectors import save_word2vec
from multiview.eval.core.checkpoint import load_encoder


def perturb_batch_norms(module: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial running statistics, so eval-mode batch norm is part of what is compared."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))


@pytest.fixture(scope="module")
def cmc_run(tmp_path_factory):
    """A run folder as `multiview fit` leaves it: config.yaml, checkpoints/last.ckpt, metrics.json."""
    from multiview.methods.cmc import CMC

    run = tmp_path_factory.mktemp("runs") / "cmc_resnet" / "20260102-090000"
    args = {"views": ["frame", "audio"], "encoders": {"frame": {"name": "resnet18"}, "audio": {"width": 8}},
            "proj_dim": 16}
    torch.manual_seed(0)
    model = CMC(**args).eval()
    perturb_batch_norms(model)
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({
        "model": {"class_path": "multiview.methods.cmc.CMC", "init_args": args},
        "data": {"class_path": "multiview.data.video.synthetic.SyntheticAV", "init_args": {}}}))
    torch.save({"state_dict": model.state_dict()}, run / "checkpoints" / "last.ckpt")
    (run / "metrics.json").write_text(json.dumps({"retrieval/frame_to_audio/R@1": 0.5}))
    return run, model


def test_frame_encoder_loads_into_torchvision_with_the_same_features(cmc_run, tmp_path, capsys):
    run, model = cmc_run
    out = tmp_path / "frame.pt"
    assert main(["export", str(run), "--encoder", "frame", "--out", str(out)]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["method"] == "CMC" and card["recipe"] == "cmc_resnet" and card["data"] == "SyntheticAV"
    assert card["metrics"] == {"retrieval/frame_to_audio/R@1": 0.5} and card["out_dim"] == 512

    tv = torchvision.models.resnet18()
    tv.fc = torch.nn.Identity()
    tv.load_state_dict(torch.load(out, weights_only=True))  # strict: every key matches
    tv.eval()
    x = torch.rand(3, 3, 64, 48, generator=torch.Generator().manual_seed(1))
    mean = torch.tensor(card["input"]["normalize"]["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(card["input"]["normalize"]["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        ours = model.encoders()["frame"](x)
        theirs = tv((x - mean) / std)
        again, modality = load_encoder(out)  # `multiview eval --checkpoint frame.pt`
        back = again(x)
    assert modality == "frame" and ours.shape == (3, 512)
    assert torch.allclose(ours, theirs, atol=1e-5) and torch.allclose(ours, back, atol=1e-5)
    assert ours.std() > 0.01  # features that differ between images, not a constant


def test_audio_encoder_round_trips_with_logmel_card(cmc_run, tmp_path):
    run, model = cmc_run
    out = tmp_path / "audio.pt"
    assert main(["export", str(run), "--encoder", "audio", "--out", str(out)]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["logmel"]["sample_rate"] == 16000 and card["logmel"]["n_mels"] == 64
    assert card["logmel"]["n_fft"] == 400 and card["logmel"]["hop_length"] == 160
    wave = torch.randn(2, 16000, generator=torch.Generator().manual_seed(2)) * 0.1
    encoder, modality = load_encoder(out)
    with torch.no_grad():
        assert modality == "audio" and torch.allclose(encoder(wave), model.encoders()["audio"](wave), atol=1e-5)


def test_word_vectors_export_as_word2vec_and_keyed_vectors(tmp_path):
    from gensim.models import KeyedVectors

    run = tmp_path / "w2v"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"model": {"class_path": "multiview.methods.word2vec.Word2Vec"}}))
    words = ["the", "cat", "sat", "on", "mat", "naïve"]
    vectors = np.random.default_rng(3).normal(size=(len(words), 7)).astype(np.float32)
    save_word2vec(run / "vectors.bin", words, vectors)
    for name in ("words.bin", "words.txt"):
        out = tmp_path / name
        assert main(["export", str(run), "--out", str(out)]) == 0
        kv = KeyedVectors.load_word2vec_format(str(out), binary=name.endswith(".bin"))
        assert list(kv.index_to_key) == words and np.array_equal(kv.vectors, vectors)
        assert json.loads(out.with_suffix(".json").read_text())["format"].startswith("word2vec")
        encoder, modality = load_encoder(out)
        assert modality == "text" and encoder.vocab is not None and "naïve" in encoder.vocab


def test_export_of_missing_run_is_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "x.pt")]) == 2
    assert capsys.readouterr().err.strip() == f"multiview: error: export: {tmp_path / 'nope'} does not exist"


LOAD_WITHOUT_MULTIVIEW = """
import json, sys
sys.modules["multiview"] = None  # `import multiview` fails in this process
card, x_path, out_path = sys.argv[1:4]
import torch
scope = {"x": torch.load(x_path, weights_only=True)}
with torch.no_grad():
    exec("\\n".join(json.load(open(card))["load"]), scope)  # the card's three lines
torch.save(scope["features"], out_path)
"""


@pytest.mark.parametrize("which", ["frame", "audio"])
def test_small_resnet_and_audio_encoders_load_without_multiview(tmp_path, which):
    """The card's three lines, run where multiview cannot be imported, give the suite's features."""
    import subprocess
    import sys

    from multiview.methods.cmc import CMC

    run = tmp_path / "cmc_small" / "20260102-090000"
    args = {"views": ["frame", "audio"], "encoders": {"frame": {"name": "small_resnet", "width": 8},
                                                      "audio": {"width": 8}}, "proj_dim": 16}
    torch.manual_seed(0)
    model = CMC(**args).eval()
    perturb_batch_norms(model)
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"model": {"class_path": "multiview.methods.cmc.CMC",
                                                               "init_args": args}}))
    torch.save({"state_dict": model.state_dict()}, run / "checkpoints" / "last.ckpt")
    out = tmp_path / "export" / f"{which}.pt"
    out.parent.mkdir()
    assert main(["export", str(run), "--encoder", which, "--out", str(out)]) == 0
    g = torch.Generator().manual_seed(4)
    x = torch.rand(3, 3, 40, 56, generator=g) if which == "frame" else 0.1 * torch.randn(3, 24000, generator=g)
    torch.save(x, tmp_path / "x.pt")
    script = tmp_path / "load.py"
    script.write_text(LOAD_WITHOUT_MULTIVIEW)
    # -I: no PYTHONPATH, no user site, not the current folder; run from the export folder (the card's paths)
    done = subprocess.run([sys.executable, "-I", str(script), out.with_suffix(".json").name, str(tmp_path / "x.pt"),
                           str(tmp_path / "y.pt")], cwd=out.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with torch.no_grad():
        ours = model.encoders()[which](x)
    theirs = torch.load(tmp_path / "y.pt", weights_only=True)
    assert ours.std() > 0.01 and (ours - theirs).abs().max() < 1e-6
    card = json.loads(out.with_suffix(".json").read_text())
    assert len(card["load"]) == 3 and card["program"] == f"{which}.pt2"
