"""Relative patch position (Doersch et al. 2015): neighbour cells, pairs, colour guards and loss
against loops, and the nearest-neighbour patch retrieval PNG after a short real run."""

import math

import pytest
import torch
from PIL import Image

from multiview.methods.relative_position import RelativePosition
from multiview.objectives.relative_position import (
    NEIGHBOURS,
    guard_colour,
    neighbour_cells,
    pick_pairs,
    relative_position_loss,
)
from multiview.objectives.tiles import cell_tiles
from tests.pretext_training import cifar, train_steps


def test_neighbours_and_pairs_match_a_loop():
    cells = []
    for r in range(3):
        for c in range(3):
            if (r, c) != (1, 1):
                cells.append(r * 3 + c)
    assert neighbour_cells().tolist() == cells and len(NEIGHBOURS) == 8
    tiles = torch.rand(8, 9, 3, 2, 2)
    positions = torch.arange(8)
    centre, other = pick_pairs(tiles, positions)
    for b in range(8):
        r, c = NEIGHBOURS[b]
        assert torch.equal(centre[b], tiles[b, 4]) and torch.equal(other[b], tiles[b, (1 + r) * 3 + 1 + c])


def test_colour_guards_remove_colour():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 8, 8)
    dropped = guard_colour(x, "drop")
    for n in range(16):
        same = [torch.equal(dropped[n, c], x[n, c]) for c in range(3)]
        assert sum(same) == 1
        kept = x[n, same.index(True)]
        for c in range(3):
            if not same[c]:
                assert dropped[n, c].std() < 0.05 * kept.std()
                assert dropped[n, c].mean() == pytest.approx(kept.mean().item(), abs=0.02)
    projected = guard_colour(x, "project")
    for n, i, j in [(0, 0, 0), (5, 3, 7)]:
        r, g, b = x[n, :, i, j].tolist()
        t = (-r + 2 * g - b) / 6  # component along (-1, 2, -1), divided by its squared norm
        assert projected[n, :, i, j].tolist() == pytest.approx([r + t, g - 2 * t, b + t], abs=1e-6)
    grey = guard_colour(x, "grey")
    assert torch.allclose(grey[:, 0], x.mean(1)) and torch.equal(grey[:, 0], grey[:, 2])
    assert torch.equal(guard_colour(x, "none"), x)
    with pytest.raises(ValueError, match="colour"):
        RelativePosition(colour="sepia")


def test_loss_matches_a_loop():
    logits, y = torch.randn(6, 8), torch.randint(8, (6,))
    ref = -sum(r[k] - math.log(sum(math.exp(v) for v in r)) for r, k in zip(logits.tolist(), y.tolist())) / 6
    assert float(relative_position_loss(logits, y)) == pytest.approx(ref, rel=1e-5)


def test_short_run_writes_patch_retrieval(shared_data, tmp_path):
    dm = cifar(shared_data, train=1024, test=256)
    model = RelativePosition(encoder={"width": 16}, size=48, patch=12, jitter=1, hidden=64,
                             retrieval_queries=5, retrieval_images=40)
    before, after = train_steps(model, dm, epochs=1)
    assert 0.0 <= before <= 1.0 and 0.0 <= after <= 1.0
    path = model.write_neighbours(dm.val_dataloader(), tmp_path / "patch_neighbours.png", k=4)
    with Image.open(path) as image:  # 5 rows of (query + 4 neighbours), 12 px patches, 2 px padding, x2
        assert image.size == (2 * (5 * 14 + 2), 2 * (5 * 14 + 2))
    patches, feats, ids = model.held_out_patches(dm.val_dataloader())
    assert patches.shape == (40 * 9, 3, 12, 12) and feats.shape == (360, model.encoder.out_dim)
    assert torch.equal(patches[9 * 3 + 4], cell_tiles(dm.test_set[3]["image"][None], 48, 12, 0)[0, 4])
