"""Autoencoder and denoising autoencoder: corruption, the loss, the bottleneck, learning on CIFAR."""

import pytest
import torch
import torch.nn.functional as F

from multiview.core.errors import UserError
from multiview.methods.autoencoder import Autoencoder
from multiview.methods.examples import write_examples
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
    code = model.code(model.encoder.features(x)[model.layer])
    assert code[0].numel() == 4 * 2 * 2 < x[0].numel()
    out = model(x)
    assert out.shape == x.shape
    figures = model.losses({"frame": x, "index": torch.arange(3)}, 0)
    assert set(figures) == {"loss", "mse"} and torch.allclose(figures["loss"], F.mse_loss(out, x), atol=1e-6)
    assert set(model.encoders()) == {"frame"}
    with pytest.raises(UserError, match="noise"):
        Autoencoder(encoder=W8, noise="pepper")
    with pytest.raises(UserError, match="layer"):
        Autoencoder(encoder=W8, layer="pool")


@pytest.mark.xfail(reason="open: at this test's scale the held-out reconstruction loss has not yet beaten "
                          "random init's", strict=False,
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
    png = write_examples(model, model.example_rows, images, tmp_path / "reconstructions.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_zca_kernel_decorrelates_neighbouring_pixels_of_real_images(shared_data):
    from multiview.objectives.autoencoder import zca_kernel

    x = next(iter(cifar(shared_data, train=256, test=64, batch_size=256).train_dataloader()))["image"]
    k = zca_kernel(x, size=5, eps=0.01)
    white = F.conv2d(x - x.mean((0, 2, 3), keepdim=True), k, padding=2)[..., 2:-2, 2:-2]

    def neighbour_correlation(m):
        a, b = m[..., :, :-1].flatten(), m[..., :, 1:].flatten()
        return float(torch.corrcoef(torch.stack([a, b]))[0, 1])

    assert neighbour_correlation(x) > 0.8 and abs(neighbour_correlation(white)) < 0.25


def test_whitened_loss_against_a_loop():
    from multiview.objectives.autoencoder import whitened_loss

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 3, 6, 5, generator=g), torch.rand(2, 3, 6, 5, generator=g)
    k = torch.randn(3, 3, 3, 3, generator=g)
    total = 0.0
    for i in range(2):
        for o in range(3):
            for h in range(6):
                for w in range(5):
                    s = 0.0
                    for c in range(3):
                        for dh in range(3):
                            for dw in range(3):
                                hh, ww = h + dh - 1, w + dw - 1
                                if 0 <= hh < 6 and 0 <= ww < 5:
                                    s += float(k[o, c, dh, dw]) * (float(x[i, c, hh, ww]) - float(y[i, c, hh, ww]))
                    total += s * s
    assert whitened_loss(x, y, k).item() == pytest.approx(total / (2 * 3 * 6 * 5), rel=1e-4)


def test_whitened_target_fits_its_filter_once_and_keeps_it_in_the_state():
    model = Autoencoder(encoder=W8, target="whitened")
    assert not model.whitening.any()
    x = torch.rand(16, 3, 32, 32)
    model.losses({"image": x, "index": torch.arange(16)}, 0)
    k = model.whitening.clone()
    assert k.any() and "whitening" in model.state_dict()
    model.losses({"image": torch.rand(16, 3, 32, 32), "index": torch.arange(16)}, 1)
    assert torch.equal(model.whitening, k)
    with pytest.raises(UserError, match="target"):
        Autoencoder(encoder=W8, target="edges")
