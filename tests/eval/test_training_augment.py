"""Fine-tuning and the supervised baseline augment images with the project's pipeline
(views.augment.ImageAugment, crop and flip only), seeded from (seed, step)."""

import torch

from multiview.eval.core.training import CROP_FLIP, augment
from multiview.views.augment import ImageAugment, generator


def test_images_take_the_crop_and_flip_pipeline_seeded_by_seed_and_step():
    x = torch.rand(6, 3, 32, 32)
    y = augment(x, "frame", seed=3, step=7)
    assert isinstance(CROP_FLIP, ImageAugment) and CROP_FLIP.jitter_p == CROP_FLIP.gray_p == CROP_FLIP.blur_p == 0
    assert torch.equal(y, CROP_FLIP(x, generator(3, 7)))
    assert torch.equal(y, augment(x, "frame", seed=3, step=7))
    assert not torch.equal(y, augment(x, "frame", seed=3, step=8)) and not torch.equal(y, x)


def test_crop_and_flip_keep_colours_and_one_channel_inputs():
    flat = torch.rand(4, 3, 1, 1).expand(4, 3, 32, 32)  # one colour per image: a crop or flip cannot change it
    assert torch.allclose(augment(flat, "frame", 0, 0), flat, atol=1e-6)
    gray = torch.rand(4, 1, 32, 32)
    assert augment(gray, "frame", 0, 1).shape == gray.shape
    text = ["a b", "c"]
    assert augment(text, "text", 0, 0) is text


def test_a_retrained_head_starts_from_the_same_weights_and_leaves_the_global_generator_alone():
    from multiview.eval.core.training import new_head

    torch.manual_seed(1)
    before = torch.get_rng_state()
    a, b = new_head(8, 3, seed=5), new_head(8, 3, seed=5)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not torch.equal(a.weight, new_head(8, 3, seed=6).weight)
    assert torch.equal(torch.get_rng_state(), before)
