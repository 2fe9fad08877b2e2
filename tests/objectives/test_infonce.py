import math

import pytest
import torch

from multiview.objectives.infonce import info_nce


def reference_info_nce(z1, z2, tau, symmetric=True):
    """Eq. 2-3 of Tian et al. 2020, one anchor at a time, in float64."""
    z1 = [v / v.norm() for v in z1.double()]
    z2 = [v / v.norm() for v in z2.double()]
    n = len(z1)

    def one_way(a, b):
        total = 0.0
        for i in range(n):
            scores = [math.exp(float(a[i] @ b[j]) / tau) for j in range(n)]
            total += -math.log(scores[i] / sum(scores))
        return total / n

    forward = one_way(z1, z2)
    return 0.5 * (forward + one_way(z2, z1)) if symmetric else forward


@pytest.mark.parametrize("n,d", [(2, 3), (7, 16), (32, 128)])
@pytest.mark.parametrize("tau", [0.05, 0.1, 1.0])
@pytest.mark.parametrize("symmetric", [True, False])
def test_matches_reference(n, d, tau, symmetric):
    g = torch.Generator().manual_seed(n * 1000 + d)
    z1, z2 = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    got = info_nce(z1, z2, tau, symmetric=symmetric).item()
    assert got == pytest.approx(reference_info_nce(z1, z2, tau, symmetric), rel=1e-4, abs=1e-5)


def test_perfect_pairs_beat_shuffled_pairs():
    z = torch.randn(16, 32)
    aligned = info_nce(z, z + 0.01 * torch.randn_like(z), 0.1)
    shuffled = info_nce(z, z[torch.randperm(16)], 0.1)
    assert aligned < 0.1 < shuffled


def test_gradient_pulls_pairs_together():
    z1 = torch.randn(8, 4, requires_grad=True)
    z2 = torch.randn(8, 4)
    before = torch.nn.functional.cosine_similarity(z1, z2).mean()
    loss = info_nce(z1, z2, 0.2)
    loss.backward()
    with torch.no_grad():
        after = torch.nn.functional.cosine_similarity(z1 - 0.5 * z1.grad, z2).mean()
    assert after > before


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        info_nce(torch.randn(4, 3), torch.randn(5, 3))
