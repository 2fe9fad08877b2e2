"""Colorization: the gamut bins, soft encoding, prior, rebalancing, Eq. 2 and Eq. 5 against loops,
learning on CIFAR, and the end-of-fit probe report with the method's PNG."""

import json
import math

import lightning as L
import pytest
import torch

from multiview.eval.reports import ProbeReport
from multiview.methods.colorization import Colorization
from multiview.objectives.colorization import (
    ab_bins,
    ab_prior,
    annealed_mean,
    bin_counts,
    colorization_loss,
    lab_to_rgb,
    rebalance_weights,
    soft_encode,
)
from multiview.views.channels import rgb_to_lab
from tests.pretext_training import cifar, held_out_loss_before_and_after

W8 = {"width": 8}


def test_bins_cover_the_srgb_gamut_and_lab_round_trips():
    bins = ab_bins()
    assert 240 <= len(bins) <= 320 and torch.all(bins % 10 == 0)
    rgb = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    lab = rgb_to_lab(rgb)
    nearest = torch.cdist(lab[0, 1:].reshape(2, -1).T, bins).min(1).values
    assert nearest.max() <= 5 * math.sqrt(2) + 1e-4  # every colour lies in a kept bin
    assert torch.allclose(lab_to_rgb(lab), rgb, atol=1e-4)


def test_soft_encoding_against_a_loop():
    bins = ab_bins()
    ab = torch.randn(1, 2, 2, 3, generator=torch.Generator().manual_seed(1)) * 30
    z = soft_encode(ab, bins, k=5, sigma=5.0)
    for h in range(2):
        for w in range(3):
            a, b = float(ab[0, 0, h, w]), float(ab[0, 1, h, w])
            d2 = [(a - float(p)) ** 2 + (b - float(q)) ** 2 for p, q in bins]
            near = sorted(range(len(bins)), key=lambda i: d2[i])[:5]
            g = [math.exp(-d2[i] / 50) for i in near]
            want = torch.zeros(len(bins))
            for i, gi in zip(near, g):
                want[i] = gi / sum(g)
            assert torch.allclose(z[0, :, h, w], want, atol=1e-5)


def test_prior_and_rebalancing_weights_against_loops():
    bins = ab_bins()
    ab = torch.randn(2, 2, 4, 4, generator=torch.Generator().manual_seed(2)) * 20
    counts = bin_counts(ab, bins)
    assert counts.sum() == 32
    prior = ab_prior(counts, bins, sigma=5.0)
    smooth = [sum(math.exp(-((float(bins[q, 0] - bins[r, 0])) ** 2 + float(bins[q, 1] - bins[r, 1]) ** 2) / 50)
                  * float(counts[r]) for r in range(len(bins)) if counts[r]) for q in range(len(bins))]
    want = torch.tensor(smooth) / sum(smooth)
    assert torch.allclose(prior, want, atol=1e-6)
    w = rebalance_weights(prior, 0.5)
    raw = [1 / (0.5 * float(p) + 0.5 / len(bins)) for p in prior]
    scale = sum(float(p) * r for p, r in zip(prior, raw))
    assert torch.allclose(w, torch.tensor(raw) / scale, rtol=1e-4)
    assert float((prior * w).sum()) == pytest.approx(1.0, rel=1e-5)
    assert w[prior.argmax()] < 1 < w[prior.argmin()]  # rare colours weigh more


def test_loss_and_annealed_mean_against_loops():
    g = torch.Generator().manual_seed(3)
    q = 6
    bins = torch.randn(q, 2, generator=g) * 40
    logits = torch.randn(2, q, 2, 2, generator=g)
    target = torch.softmax(torch.randn(2, q, 2, 2, generator=g) * 3, 1)
    weights = torch.rand(q, generator=g) + 0.5
    total = 0.0
    for i in range(2):
        for h in range(2):
            for w in range(2):
                z = [math.exp(float(logits[i, k, h, w])) for k in range(q)]
                logp = [math.log(v / sum(z)) for v in z]
                star = max(range(q), key=lambda k: float(target[i, k, h, w]))
                total -= float(weights[star]) * sum(float(target[i, k, h, w]) * logp[k] for k in range(q))
    assert colorization_loss(logits, target, weights).item() == pytest.approx(total / 8, rel=1e-5)
    t = 0.38
    ab = annealed_mean(logits, bins, t)
    for i in range(2):
        for h in range(2):
            for w in range(2):
                z = torch.softmax(logits[i, :, h, w], 0)
                f = [math.exp(math.log(float(v)) / t) for v in z]
                want = [sum(f[k] / sum(f) * float(bins[k, c]) for k in range(q)) for c in range(2)]
                assert ab[i, :, h, w].tolist() == pytest.approx(want, rel=1e-4, abs=1e-4)
    assert torch.allclose(annealed_mean(logits, bins, 1e-3)[0, :, 0, 0], bins[logits[0, :, 0, 0].argmax()])


@pytest.mark.slow
def test_training_beats_random_init_on_held_out_cifar(shared_data):
    """Baseline: the same network at random init (BatchNorm statistics taken on the data): after a
    short run the held-out colorization loss is lower."""
    dm = cifar(shared_data, train=256)
    torch.manual_seed(0)
    model = Colorization(encoder=W8)
    model.fit_prior(dm.train_dataloader())
    before, after = held_out_loss_before_and_after(model, dm, epochs=2)
    assert after < 0.9 * before, (before, after)


def test_regression_is_l2_on_scaled_ab():
    model = Colorization(encoder=W8, loss="regression").eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        out = model(x)
        ab = torch.nn.functional.avg_pool2d(rgb_to_lab(x)[:, 1:], 4) / 110
        assert out.shape == (2, 2, 8, 8)
        assert model.losses({"image": x}, 0)["loss"].item() == pytest.approx(float(((out - ab) ** 2).mean()), rel=1e-5)
        assert model.colorize(x).shape == x.shape


def test_frames_of_video_batches_train_and_embed_like_images():
    model = Colorization(encoder=W8)
    x = torch.rand(4, 3, 24, 24)
    model.fit_prior([{"frame": x}])
    assert bool(model.prior_fitted) and float(model.prior.sum()) == pytest.approx(1.0)
    loss = model.losses({"frame": x, "index": torch.arange(4)}, 0)["loss"]
    loss.backward()
    assert set(model.encoders()) == {"frame"}
    assert model.embed({"frame": x})["frame"].shape == (4, model.encoder.out_dim)
    ckpt = {}
    model.on_save_checkpoint(ckpt)
    other = Colorization(encoder=W8)
    other.load_state_dict(model.state_dict())
    other.on_load_checkpoint(ckpt)
    assert set(other.encoders()) == {"frame"} and torch.equal(other.prior, model.prior)


@pytest.mark.slow
def test_fit_writes_probe_report_and_colorized_png(shared_data, tmp_path):
    """End to end on a tiny CIFAR subset: the prior is fitted at fit start, ProbeReport writes the
    trained and random-init probes, and the method writes colorized.png."""
    dm = cifar(shared_data, train=256, test=128)
    model = Colorization(encoder=W8, prior_batches=2)
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, callbacks=[ProbeReport()], logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, limit_val_batches=1,
                        num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    assert bool(model.prior_fitted)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("probe/top1", "probe/random_init/top1", "probe/chance/top1"):
        assert 0 <= metrics[key] <= 1, key
    assert metrics["probe/n_train"] + metrics["probe/n_val"] == 256 and metrics["probe/n_test"] == 128
    png = tmp_path / "colorized.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    from PIL import Image
    w, h = Image.open(png).size
    assert h == 3 * 33 + 1 and w == 8 * 33 + 1  # rows L, prediction, truth; 8 held-out images
