import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from multiview.eval.metrics.rsa import cka_matrix, linear_cka, rdm, rdm_similarity, upper


def test_rdm_matches_direct_formula():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 12, generator=g)
    expected = 1.0 - np.corrcoef(x.numpy())  # Pearson between rows (stimuli)
    np.fill_diagonal(expected, 0.0)
    assert torch.allclose(rdm(x), torch.from_numpy(expected), atol=1e-10)
    # spatial maps flatten per stimulus
    assert torch.allclose(rdm(x.view(7, 3, 2, 2)), rdm(x))


def test_rdm_spearman_direct_and_monotone_invariant():
    g = torch.Generator().manual_seed(1)
    a, b = rdm(torch.randn(10, 5, generator=g)), rdm(torch.randn(10, 5, generator=g))
    assert rdm_similarity(a, b) == pytest.approx(spearmanr(upper(a).numpy(), upper(b).numpy()).statistic)
    assert rdm_similarity(a, a ** 3 + 2) == pytest.approx(1.0)  # ranks unchanged
    with pytest.raises(ValueError, match="same stimuli"):
        rdm_similarity(a, a[:5, :5])


def direct_cka(x, y):
    """Kornblith et al. 2019 via HSIC with the centring matrix H (Eq. 3-4, linear kernels)."""
    n = len(x)
    h = torch.eye(n, dtype=torch.float64) - 1.0 / n
    k, m = x.double() @ x.double().T, y.double() @ y.double().T
    hsic = lambda a, b: torch.trace(a @ h @ b @ h)
    return float(hsic(k, m) / torch.sqrt(hsic(k, k) * hsic(m, m)))


def test_cka_matches_hsic_formula():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(30, 8, generator=g), torch.randn(30, 5, generator=g)
    y = y + 0.5 * x[:, :5]
    assert linear_cka(x, y) == pytest.approx(direct_cka(x, y), rel=1e-9)


def test_cka_invariances():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(50, 10, generator=g, dtype=torch.float64)
    y = torch.tanh(x @ torch.randn(10, 6, generator=g, dtype=torch.float64))
    q, _ = torch.linalg.qr(torch.randn(10, 10, generator=g, dtype=torch.float64))
    base = linear_cka(x, y)
    assert linear_cka(x @ q, y) == pytest.approx(base, rel=1e-9)        # orthogonal transform
    assert linear_cka(7.5 * x, y) == pytest.approx(base, rel=1e-9)      # isotropic scaling
    assert linear_cka(x + 3.0, y) == pytest.approx(base, rel=1e-9)      # translation
    assert linear_cka(x, x) == pytest.approx(1.0)
    # not invariant to an anisotropic scaling of the axes
    s = torch.diag(torch.logspace(-2, 2, 10, dtype=x.dtype))
    assert abs(linear_cka(x @ s, y) - base) > 1e-3


def test_cka_independent_is_small_and_matrix_shape():
    g = torch.Generator().manual_seed(4)
    a = {"l1": torch.randn(400, 8, generator=g), "l2": torch.randn(400, 8, generator=g)}
    m = cka_matrix(a, a)
    assert m.shape == (2, 2)
    assert m[0, 0] == pytest.approx(1.0) and m[0, 1] < 0.1
