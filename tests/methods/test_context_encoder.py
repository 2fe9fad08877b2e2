"""Context encoder: the masks, Eq. 1 against a loop, the loss ignores the context, learning on CIFAR."""

import math

import pytest
import torch

from multiview.core.errors import UserError
from multiview.methods.context_encoder import ContextEncoder
from multiview.methods.examples import write_examples
from multiview.objectives.context_encoder import (
    adversarial_loss,
    masked_input,
    masked_l2,
    region_masks,
    reverse_gradient,
)
from tests.pretext_training import cifar, held_out_loss_before_and_after

W8 = {"width": 8}


def test_masked_l2_against_a_loop():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 3, 6, 5, generator=g), torch.rand(2, 3, 6, 5, generator=g)
    mask = (torch.rand(2, 1, 6, 5, generator=g) > 0.6).float()
    total, n = 0.0, 0
    for i in range(2):
        for h in range(6):
            for w in range(5):
                if mask[i, 0, h, w]:
                    for c in range(3):
                        total += (float(pred[i, c, h, w]) - float(target[i, c, h, w])) ** 2
                        n += 1
    assert masked_l2(pred, target, mask).item() == pytest.approx(total / n, rel=1e-5)


@pytest.mark.parametrize("height,width", [(32, 32), (17, 24)])
def test_centre_and_random_masks_cover_a_square_of_the_asked_side(height, width):
    centre = region_masks(3, height, width, "centre", 0.5)
    h, w = round(0.5 * height), round(0.5 * width)
    assert centre.shape == (3, 1, height, width) and torch.all(centre.sum((1, 2, 3)) == h * w)
    top, left = (height - h) // 2, (width - w) // 2
    assert torch.all(centre[:, :, top:top + h, left:left + w] == 1)
    rand = region_masks(64, height, width, "random", 0.5, torch.Generator().manual_seed(0))
    assert torch.all(rand.sum((1, 2, 3)) == h * w)
    assert len({tuple(m.nonzero()[0].tolist()) for m in rand}) > 1  # the squares move
    with pytest.raises(ValueError, match="mask"):
        region_masks(1, 8, 8, "ring")


def test_the_hole_is_filled_and_only_the_hole_is_scored():
    model = ContextEncoder(encoder=W8).eval()
    x = torch.rand(2, 3, 32, 32)
    mask = model.masks(x)
    seen = masked_input(x, mask, model.fill)
    assert torch.equal(seen[:, :, :8], x[:, :, :8])
    assert torch.allclose(seen[:, :, 16, 16], model.fill.view(1, 3).expand(2, 3))
    with torch.no_grad():
        pred = model(x, mask)
    outside = pred + 5 * (1 - mask)  # changing the prediction outside the hole changes nothing
    assert masked_l2(outside, x, mask) == pytest.approx(masked_l2(pred, x, mask).item())
    # the context alone decides the painting: changing the hole's pixels does not move the output
    x2 = x * (1 - mask) + torch.rand_like(x) * mask
    with torch.no_grad():
        assert torch.allclose(model(x2, mask), pred, atol=1e-6)
    with pytest.raises(UserError, match="mask_fraction"):
        ContextEncoder(encoder=W8, mask_fraction=1.0)


def test_adversarial_loss_against_a_loop_and_the_reversed_gradient():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(5, 1, generator=g), torch.randn(5, 1, generator=g)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    slow = -sum(math.log(sig(v)) for v in real.flatten().tolist()) / 5 \
        - sum(math.log(1 - sig(v)) for v in fake.flatten().tolist()) / 5
    assert adversarial_loss(real, fake).item() == pytest.approx(slow, rel=1e-5)
    x = torch.randn(4, requires_grad=True)
    y = reverse_gradient(x, 0.25)
    assert torch.equal(y, x)
    (y * torch.arange(4.0)).sum().backward()
    assert torch.allclose(x.grad, -0.25 * torch.arange(4.0))


def test_one_backward_trains_the_discriminator_and_the_painter_against_it():
    """Eq. 3 in one pass: the critic's gradient is that of its own loss; the painter's is
    ``(1 - w)`` times the reconstruction's minus ``w`` times the critic loss's."""
    torch.manual_seed(0)
    w = 0.1
    model = ContextEncoder(encoder=W8, adversarial_weight=w).train()
    batch = {"image": torch.rand(4, 3, 32, 32), "index": torch.arange(4)}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    figures = model.losses(batch, 0, torch.Generator().manual_seed(0))
    figures["loss"].backward()
    got = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    # reference: the two players' losses differentiated separately, without the reversal
    model.load_state_dict(state)
    model.zero_grad()
    x = batch["image"]
    mask = model.masks(x, torch.Generator().manual_seed(0))
    painted = model(x, mask)
    rec = masked_l2(painted, x, mask)
    adv = adversarial_loss(model.critic(x), model.critic(masked_input(x, mask, painted)))
    painter = [p for n, p in model.named_parameters() if not n.startswith("critic.")]
    critic = list(model.critic.parameters())
    g_rec = torch.autograd.grad(rec, painter, retain_graph=True)
    g_adv = torch.autograd.grad(adv, painter + critic, allow_unused=True)
    names = [n for n, _ in model.named_parameters() if not n.startswith("critic.")]
    for name, gr, ga in zip(names, g_rec, g_adv[:len(painter)]):
        want = (1 - w) * gr - (w * ga if ga is not None else 0)
        assert torch.allclose(got[name], want, atol=1e-6), name
    for (name, _), ga in zip(model.critic.named_parameters(), g_adv[len(painter):]):
        assert torch.allclose(got["critic." + name], ga, atol=1e-6), name
    assert set(figures) == {"loss", "masked_mse", "loss_adv"} and figures["loss_adv"].item() > 0
    assert figures["masked_mse"].item() == pytest.approx(rec.item(), rel=1e-5)
    with pytest.raises(UserError, match="adversarial_weight"):
        ContextEncoder(encoder=W8, adversarial_weight=1.5)


@pytest.mark.xfail(reason="open: at this test's scale the held-out inpainting loss has not yet beaten random init's",
                   strict=False)
@pytest.mark.slow
def test_training_beats_random_init_on_held_out_cifar(shared_data, tmp_path):
    """Baseline: the same network at random init (BatchNorm statistics taken on the data): a short
    run paints the held-out central squares with a smaller error, and writes inpainted.png."""
    dm = cifar(shared_data)
    torch.manual_seed(0)
    model = ContextEncoder(encoder=W8, mask="random")
    before, after = held_out_loss_before_and_after(model, dm)
    assert after < 0.7 * before, (before, after)
    images = next(iter(dm.val_dataloader()))["image"][:4]
    png = write_examples(model, model.example_rows, images, tmp_path / "inpainted.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
