"""Autoencoder and denoising autoencoder: corruption, the loss, the bottleneck, learning on CIFAR."""

import pytest
import torch
import torch.nn.functional as F

from multiview.errors import UserError
from multiview.methods.autoencoder import Autoencoder
from multiview.objectives.autoencoder import corrupt, reconstruction_loss

from tests.pretext_training import cifar, held_out_loss_before_and_after

W8 = {"width": 8}


def test_reconstruction_loss_against_a_loop():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 3, 5, 4, generator=g), torch.rand(2, 3, 5, 4, generator=g)
    total, n = 0.0, 0
    for i in range(2):
        for c in range(3):
            for h in range(5):
                for w in range(4):
                    total += (float(x[i, c, h, w]) - float(y[i, c, h, w])) ** 2
                    n += 1
    assert reconstruction_loss(x, y).item() == pytest.approx(total / n, rel=1e-5)


def test_masking_noise_zeroes_about_the_asked_fraction_and_gaussian_noise_stays_in_range():
    x = torch.rand(8, 3, 32, 32) * 0.9 + 0.1
    g = torch.Generator().manual_seed(0)
    masked = corrupt(x, "mask", 0.3, g)
    zeroed = (masked == 0).float().mean().item()
    assert 0.27 < zeroed < 0.33
    kept = masked != 0
    assert torch.equal(masked[kept], x[kept])
    noisy = corrupt(x, "gaussian", 0.2, g)
    assert noisy.min() >= 0 and noisy.max() <= 1 and 0.1 < (noisy - x).abs().mean() < 0.2
    assert corrupt(x, "none", 0.5) is x
    with pytest.raises(ValueError, match="noise"):
        corrupt(x, "salt", 0.1)


def test_code_is_a_bottleneck_and_the_loss_is_the_clean_reconstruction_error():
    model = Autoencoder(encoder=W8, code_channels=4, noise="gaussian", noise_level=0.1).eval()
    x = torch.rand(3, 3, 32, 32)
    code = model.code(model.feature_map(x))
    assert code[0].numel() == 4 * 2 * 2 < x[0].numel()
    out = model(x)
    assert out.shape == x.shape
    assert torch.allclose(model.loss({"frame": x, "index": torch.arange(3)}), F.mse_loss(out, x), atol=1e-6)
    assert set(model.encoders()) == {"frame"}
    with pytest.raises(UserError, match="noise"):
        Autoencoder(encoder=W8, noise="pepper")
    with pytest.raises(UserError, match="layer"):
        Autoencoder(encoder=W8, layer="pool")


@pytest.mark.xfail(reason="open: at this test's scale the held-out reconstruction loss has not yet beaten random init's", strict=False,
                   run=False)  # two minutes of CPU for a known failure: listed, not run, until fixed
@pytest.mark.slow
def test_training_beats_random_init_on_held_out_cifar(shared_data, tmp_path):
    """Baseline: the same network at random init (BatchNorm statistics taken on the data): a
    short denoising run reconstructs held-out CIFAR images with a smaller error."""
    dm = cifar(shared_data)
    torch.manual_seed(0)
    model = Autoencoder(encoder=W8, noise="mask", noise_level=0.25)
    before, after = held_out_loss_before_and_after(model, dm)
    assert after < 0.7 * before, (before, after)
    images = next(iter(dm.val_dataloader()))["image"][:4]
    png = model.write_examples(tmp_path / "reconstructions.png", images)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
