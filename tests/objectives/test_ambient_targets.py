"""PCA + mini-batch k-means / sign-of-PCA targets over sound-texture statistics."""

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from multiview.core.errors import UserError
from multiview.objectives.ambient_targets import AmbientTargets, minibatch_kmeans


def _blobs(n_per: int, k: int, d: int, seed: int = 0, spread: float = 8.0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, d, generator=g, dtype=torch.float64) * spread
    labels = torch.arange(k).repeat_interleave(n_per)
    x = centres[labels] + torch.randn(k * n_per, d, generator=g, dtype=torch.float64)
    return x, labels


def test_minibatch_kmeans_recovers_separated_blobs_with_minibatches():
    x, labels = _blobs(600, 12, 16)  # 7,200 points, batches of 512: the mini-batch path runs
    centres = minibatch_kmeans(x, 12, batch_size=512, steps=100, lloyd_steps=0, seed=1)
    pred = torch.cdist(x, centres).argmin(1)
    assert adjusted_rand_score(labels, pred) > 0.99


def test_kmeans_inertia_is_close_to_sklearn_on_overlapping_data():
    x, _ = _blobs(150, 20, 8, seed=2, spread=1.5)  # overlapping: a real optimisation problem
    ours = minibatch_kmeans(x, 20, batch_size=256, steps=150, seed=0)
    inertia = float(torch.cdist(x, ours).min(1).values.pow(2).mean())
    ref = KMeans(20, n_init=4, random_state=0).fit(x.numpy())
    assert inertia < 1.05 * ref.inertia_ / len(x)


def test_pca_matches_numpy_svd_and_clusters_round_trip(tmp_path):
    x, labels = _blobs(40, 5, 30, seed=3)
    x[:, 7] = 3.0  # a constant statistic must not produce NaNs
    t = AmbientTargets.fit(x, k=5, n_components=6, seed=0)
    z = (x.numpy() - x.numpy().mean(0)) / np.maximum(x.numpy().std(0, ddof=1), 1e-9)
    z[:, 7] = 0
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    ours = t.state["components"].double().numpy()
    assert np.allclose(np.abs(ours @ vt[:6].T), np.eye(6), atol=1e-4)
    ratio = s**2 / (s**2).sum()
    assert np.allclose(t.state["explained_variance_ratio"].numpy(), ratio[:6], atol=1e-5)
    pred = t.assign(x)
    assert adjusted_rand_score(labels, pred) > 0.99
    t.save(tmp_path / "targets.pt")
    loaded = AmbientTargets.load(tmp_path / "targets.pt")
    assert loaded.mode == "clusters" and loaded.n_classes == 5
    assert torch.equal(loaded.assign(x), pred)


def test_binary_codes_are_signs_of_the_pca_projections(tmp_path):
    x, _ = _blobs(30, 4, 12, seed=4, spread=2.0)
    t = AmbientTargets.fit(x, mode="binary", n_bits=5)
    bits = t.assign(x)
    assert bits.shape == (120, 5) and set(bits.unique().tolist()) <= {0.0, 1.0}
    z = (x - x.mean(0)) / x.std(0)
    by_hand = (z.float() @ t.state["components"].T > 0).float()
    assert torch.equal(bits, by_hand)
    # each leading bit splits the corpus roughly in two (projections are centred)
    assert float((bits.mean(0) - 0.5).abs().max()) < 0.35
    t.save(tmp_path / "bits.pt")
    loaded = AmbientTargets.load(tmp_path / "bits.pt")
    assert loaded.mode == "binary" and loaded.n_classes == 5 and torch.equal(loaded.assign(x), bits)


def test_bad_input_names_the_problem(tmp_path):
    x = torch.randn(10, 4)
    with pytest.raises(UserError, match="k: expected"):
        AmbientTargets.fit(x, k=30)
    with pytest.raises(UserError, match="mode"):
        AmbientTargets.fit(x, mode="bits")
    with pytest.raises(UserError, match="expected 4 values"):
        AmbientTargets.fit(x, k=3).assign(torch.randn(2, 5))
    with pytest.raises(UserError, match="no such targets file"):
        AmbientTargets.load(tmp_path / "missing.pt")
