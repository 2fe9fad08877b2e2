"""Jigsaw puzzles (Noroozi & Favaro 2016): the maximal-Hamming permutation set against random
sets, tiles, shuffles, normalisation and loss against loops, and a short real run that learns to
solve puzzles of held-out CIFAR-10 images (baseline: the same network before training)."""

import math

import pytest
import torch

from multiview.methods.jigsaw import Jigsaw
from multiview.objectives.jigsaw import hamming_permutations, jigsaw_loss, min_hamming, normalize_tiles, shuffle_tiles
from multiview.objectives.tiles import cell_tiles
from tests.pretext_training import cifar, train_steps


def slow_min_hamming(perms):
    rows = perms.tolist()
    return min(sum(a != b for a, b in zip(p, q)) for i, p in enumerate(rows) for q in rows[i + 1:])


def test_permutation_set_is_deterministic_and_farther_apart_than_random_sets():
    perms = hamming_permutations(100, seed=0)
    assert perms.shape == (100, 9) and len({tuple(p) for p in perms.tolist()}) == 100
    assert all(sorted(p) == list(range(9)) for p in perms.tolist())
    assert torch.equal(perms, hamming_permutations(100, seed=0))
    assert not torch.equal(perms, hamming_permutations(100, seed=1))
    g = torch.Generator().manual_seed(0)
    random_sets = [torch.stack([torch.randperm(9, generator=g) for _ in range(100)]) for _ in range(20)]
    best_random = max(slow_min_hamming(r) for r in random_sets)
    assert min_hamming(perms) == slow_min_hamming(perms) > best_random
    with pytest.raises(ValueError, match="permutations"):
        hamming_permutations(0)


def test_tiles_come_from_their_cells_with_a_gap():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 12, 12)
    still = cell_tiles(x, 12, 2, 0)
    for b in range(2):
        for cell in range(9):
            r, c = divmod(cell, 3)
            assert torch.equal(still[b, cell], x[b, :, 4 * r + 1:4 * r + 3, 4 * c + 1:4 * c + 3])
    moved = cell_tiles(x, 12, 2, 1)
    for b in range(2):
        for cell in range(9):
            r, c = divmod(cell, 3)
            windows = [x[b, :, 4 * r + i:4 * r + i + 2, 4 * c + j:4 * c + j + 2] for i in range(3) for j in range(3)]
            assert any(torch.equal(moved[b, cell], w) for w in windows)
    with pytest.raises(ValueError, match="exceeds"):
        cell_tiles(x, 12, 3, 1)


def test_shuffle_normalise_and_loss_match_loops():
    torch.manual_seed(0)
    perms = hamming_permutations(10, seed=0)
    tiles = torch.rand(3, 9, 2, 4, 4)
    index = torch.tensor([0, 7, 3])
    shuffled = shuffle_tiles(tiles, perms, index)
    for b in range(3):
        for j in range(9):
            assert torch.equal(shuffled[b, j], tiles[b, perms[index[b], j]])
    norm = normalize_tiles(tiles)
    for b, t, c in [(0, 0, 0), (2, 8, 1)]:
        vals = tiles[b, t, c].flatten().tolist()
        mean = sum(vals) / len(vals)
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
        assert norm[b, t, c, 1, 2].item() == pytest.approx((tiles[b, t, c, 1, 2].item() - mean) / std, rel=1e-3)
    logits, y = torch.randn(5, 10), torch.randint(10, (5,))
    ref = -sum(r[k] - math.log(sum(math.exp(v) for v in r)) for r, k in zip(logits.tolist(), y.tolist())) / 5
    assert float(jigsaw_loss(logits, y)) == pytest.approx(ref, rel=1e-5)


def test_short_run_learns_to_solve_puzzles_on_cifar(shared_data):
    dm = cifar(shared_data, train=512, test=256)
    model = Jigsaw(encoder={"width": 8}, n_permutations=10, size=48, tile=14, hidden=64)
    assert model.permutations.shape == (10, 9) and "permutations" in model.state_dict()
    before, after = train_steps(model, dm, epochs=3)
    assert after > max(0.25, before + 0.1), (before, after)
