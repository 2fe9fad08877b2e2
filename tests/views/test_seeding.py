"""Views drawn per sample from (seed, step, place in the global batch, stream): the same sample at
the same step gets the same view whoever draws it, and nothing else moves it."""

import torch

from multiview.views.augment import AudioAugment, ImageAugment, augment_view, two_views
from multiview.views.seeding import VAL_STEP, global_index, mixed_seed, sample_draws, view_step


def test_draws_depend_on_the_tuple_alone():
    a = sample_draws(0, 5, torch.arange(4), 0, 3)
    assert a.shape == (4, 3) and 0 <= a.min() and a.max() < 1
    assert torch.equal(a[2:], sample_draws(0, 5, torch.tensor([2, 3]), 0, 3))
    for other in ((1, 5, 0), (0, 6, 0), (0, 5, 1)):
        seed, step, stream = other
        assert not torch.equal(a, sample_draws(seed, step, torch.arange(4), stream, 3))
    assert len({mixed_seed(s, k, i, j) for s in range(3) for k in range(3) for i in range(3) for j in range(3)}) == 81
    assert torch.equal(global_index(3, 2), torch.tensor([6, 7, 8]))


def test_a_view_is_the_same_in_a_batch_split_over_ranks():
    x = torch.rand(6, 3, 16, 16)
    aug = ImageAugment(blur_p=0.5)
    whole = augment_view(aug, x, seed=1, step=7, rank=0, stream=0)
    half = augment_view(aug, x[3:], seed=1, step=7, rank=1, stream=0)
    assert torch.allclose(whole[3:], half, atol=1e-6)
    assert whole.shape == x.shape and whole.min() >= 0 and whole.max() <= 1
    assert not torch.equal(whole, augment_view(aug, x, seed=1, step=8))


def test_two_views_differ_and_read_two_moments_of_a_clip():
    x = torch.rand(4, 3, 16, 16)
    a, b = two_views(ImageAugment(), x, 0, 3)
    assert not torch.equal(a, b)
    clip = torch.rand(4, 2, 3, 16, 16)
    still = ImageAugment(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=0.0, jitter_p=0.0, gray_p=0.0)
    first, last = two_views(still, clip, 0, 3)
    assert torch.allclose(first, clip[:, 0], atol=1e-5) and torch.allclose(last, clip[:, 1], atol=1e-5)
    wave = torch.randn(4, 100)
    s1, s2 = two_views(AudioAugment(crop=0.5), wave, 0, 0)
    assert s1.shape == s2.shape == (4, 50) and not torch.equal(s1, s2)


def test_the_step_of_a_module_is_its_global_step_or_a_held_out_one():
    m = torch.nn.Module()
    m.global_step, m.global_rank = 12, 1
    assert view_step(m, 3) == (12, 1)
    m.eval()
    assert view_step(m, 3) == (VAL_STEP + 3, 1)
