"""Split-brain autoencoder: the L bins and the two-way loss against loops, each half blind to the
other's channels, learning on CIFAR, and the end-of-fit probe report with the method's PNG."""

import json
import math

import lightning as L
import pytest
import torch

from multiview.core.errors import UserError
from multiview.eval.reports import ProbeReport
from multiview.methods.split_brain import SplitBrain
from multiview.objectives.colorization import lab_to_rgb
from multiview.objectives.split_brain import l_bin_centres, l_bin_index, split_brain_loss
from multiview.views.channels import rgb_to_lab
from tests.pretext_training import cifar, held_out_loss_before_and_after

W8 = {"width": 8}


def test_l_bins_against_a_loop():
    lightness = torch.tensor([0.0, 1.99, 2.0, 49.9, 50.0, 99.99, 100.0, 100.5, -0.3]).view(1, 1, 1, -1)
    idx = l_bin_index(lightness, 50)
    want = [min(49, max(0, int(v // 2))) for v in lightness.flatten().tolist()]
    assert idx.flatten().tolist() == want
    centres = l_bin_centres(50)
    assert centres[0] == 1.0 and centres[-1] == 99.0 and len(centres) == 50


def test_loss_against_loops():
    g = torch.Generator().manual_seed(0)
    q, k = 5, 4
    ab_logits, l_logits = torch.randn(2, q, 2, 3, generator=g), torch.randn(2, k, 2, 3, generator=g)
    ab_target = torch.softmax(torch.randn(2, q, 2, 3, generator=g) * 2, 1)
    l_target = torch.randint(k, (2, 2, 3), generator=g)
    to_ab, to_l = split_brain_loss(ab_logits, ab_target, l_logits, l_target)
    want_ab = want_l = 0.0
    for i in range(2):
        for h in range(2):
            for w in range(3):
                za = [math.exp(float(ab_logits[i, c, h, w])) for c in range(q)]
                want_ab -= sum(float(ab_target[i, c, h, w]) * math.log(za[c] / sum(za)) for c in range(q))
                zl = [math.exp(float(l_logits[i, c, h, w])) for c in range(k)]
                want_l -= math.log(zl[int(l_target[i, h, w])] / sum(zl))
    assert to_ab.item() == pytest.approx(want_ab / 12, rel=1e-5)
    assert to_l.item() == pytest.approx(want_l / 12, rel=1e-5)


def test_each_half_sees_only_its_channels():
    """A colour image and its grey version (same L, ab zero) give the same L-half maps and
    different ab-half maps; the whole's maps are the two concatenated, at half width each."""
    torch.manual_seed(0)
    model = SplitBrain(encoder=W8).eval()
    x = torch.rand(4, 3, 32, 32)
    lab = rgb_to_lab(x)
    grey = lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1))
    with torch.no_grad():
        (l_x, ab_x), (l_g, ab_g) = model.encoder.halves(x), model.encoder.halves(grey)
        whole = model.encoder.features(x)
    for name in ("stem", "stage2", "stage4"):
        assert torch.allclose(l_x[name], l_g[name], atol=1e-3), name
        assert not torch.allclose(ab_x[name], ab_g[name], atol=1e-2), name
        assert torch.equal(whole[name], torch.cat([l_x[name], ab_x[name]], 1))
    assert whole["stem"].shape[1] == 8 and model.encoder.out_dim == whole["pool"].shape[1]


def test_too_narrow_an_encoder_is_refused_in_one_line():
    with pytest.raises(UserError, match="model.encoder.width: expected at least 2"):
        SplitBrain(encoder={"width": 1})


def test_frames_of_video_batches_train_and_embed_like_images():
    model = SplitBrain(encoder=W8)
    x = torch.rand(4, 3, 24, 24)
    figures = model.losses({"frame": x, "index": torch.arange(4)}, 0)
    assert set(figures) == {"loss", "loss_l_to_ab", "loss_ab_to_l"}
    assert figures["loss"].item() == pytest.approx((figures["loss_l_to_ab"] + figures["loss_ab_to_l"]).item())
    figures["loss"].backward()
    assert set(model.encoders()) == {"frame"}
    assert model.embed({"frame": x})["frame"].shape == (4, model.encoder.out_dim)
    assert all(p.grad is not None for p in model.encoder.ab_half.parameters() if p.requires_grad)


@pytest.mark.slow
def test_training_beats_random_init_on_held_out_cifar(shared_data):
    """Baseline: the same network at random init (BatchNorm statistics taken on the data): after a
    short run the held-out two-way loss is lower."""
    dm = cifar(shared_data, train=256)
    torch.manual_seed(0)
    before, after = held_out_loss_before_and_after(SplitBrain(encoder=W8), dm, epochs=2)
    assert after < 0.9 * before, (before, after)


@pytest.mark.slow
def test_fit_writes_probe_report_and_png(shared_data, tmp_path):
    dm = cifar(shared_data, train=256, test=128)
    model = SplitBrain(encoder=W8)
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, callbacks=[ProbeReport()], logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, limit_val_batches=1,
                        num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("probe/top1", "probe/random_init/top1", "probe/chance/top1"):
        assert 0 <= metrics[key] <= 1, key
    png = tmp_path / "split_brain.png"
    from PIL import Image
    w, h = Image.open(png).size
    assert h == 5 * 33 + 1 and w == 8 * 33 + 1  # rows L, colours from L, truth, ab, L from ab
