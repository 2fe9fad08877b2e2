"""Temporal order verification: tuples, window sampling and loss against slow references; the
method learns the task on clips of moving squares and its recipe runs on the embedded world."""

from __future__ import annotations

import math

import pytest
import torch

from multiview.methods.parts import PairwiseHead
from multiview.methods.temporal_order import TemporalOrder
from multiview.objectives.temporal_order import WINDOW, order_loss, order_picks, order_tuples, window_starts


def numbered_clips(b: int, t: int) -> torch.Tensor:
    """Clip ``i``'s frame ``k`` is filled with ``100 i + k``: a tuple's values name its frames."""
    value = 100 * torch.arange(b)[:, None] + torch.arange(t)[None]
    return value[..., None, None, None].float().expand(b, t, 3, 4, 4).clone()


def test_tuples_hold_the_papers_positives_and_negatives():
    b, t = 400, 9
    clips = numbered_clips(b, t)
    tuples, in_order = order_tuples(clips, generator=torch.Generator().manual_seed(0))
    assert tuples.shape == (b, 3, 3, 4, 4) and in_order.shape == (b,)
    seen = set()
    for i in range(b):
        frames = [int(tuples[i, j, 0, 0, 0].item()) - 100 * i for j in range(3)]
        first, middle, last = frames
        start = min(first, last) - 1  # the window (a, b, c, d, e) starts one before b
        assert 0 <= start <= t - WINDOW
        assert {first, last} == {start + 1, start + 3}, frames
        if in_order[i]:
            assert middle == start + 2
            seen.add(("positive", first < last))
        else:
            assert middle in (start, start + 4)
            seen.add(("negative", first < last, middle == start))
    # every kind of tuple occurs: positives and negatives, both directions, a and e as the middle
    assert len(seen) == 6


def test_several_tuples_per_clip_each_from_its_own_window():
    b, t, k = 50, 9, 4
    clip, picks, in_order = order_picks(numbered_clips(b, t), per_clip=k, generator=torch.Generator().manual_seed(6))
    assert clip.tolist() == [i for i in range(b) for _ in range(k)] and picks.shape == (b * k, 3)
    starts = set()
    for (first, middle, last), positive, i in zip(picks.tolist(), in_order.tolist(), clip.tolist()):
        start = min(first, last) - 1
        assert {first, last} == {start + 1, start + 3} and 0 <= start <= t - WINDOW
        assert middle == start + 2 if positive else middle in (start, start + 4)
        starts.add((i, start))
    assert len(starts) > 2 * b  # the windows of one clip differ


def test_class_ratio_follows_positive_fraction():
    clips = numbered_clips(4000, 5)
    _, in_order = order_tuples(clips, positive_fraction=0.25, generator=torch.Generator().manual_seed(1))
    assert abs(in_order.float().mean().item() - 0.25) < 0.03


def test_windows_are_drawn_where_the_clip_moves():
    b, t = 300, 12
    clips = torch.zeros(b, t, 3, 8, 8)
    clips[:, 8:, :, :4] = torch.rand(b, t - 8, 3, 4, 8)  # only frames 8..11 change
    starts = window_starts(clips, torch.Generator().manual_seed(2))
    # a window [s, s + 4] sees motion when it holds a pair (k, k + 1) with k + 1 >= 8
    assert bool((starts + WINDOW - 1 >= 8).all())
    still = window_starts(torch.zeros(b, t, 3, 8, 8), torch.Generator().manual_seed(3))
    assert still.unique().numel() == t - WINDOW + 1  # no motion anywhere: every window can be drawn


def test_loss_matches_a_loop_cross_entropy():
    g = torch.Generator().manual_seed(4)
    logits, target = torch.randn(16, 2, generator=g), torch.randint(0, 2, (16,), generator=g)
    slow = 0.0
    for row, y in zip(logits.tolist(), target.tolist()):
        slow -= row[y] - math.log(sum(math.exp(v) for v in row))
    assert order_loss(logits, target).item() == pytest.approx(slow / 16, rel=1e-5)


def test_pairwise_head_against_a_loop():
    """Each pair (1, 2), (2, 3), (1, 3) of a tuple's codes through the shared layer, then the classifier."""
    torch.manual_seed(0)
    h = PairwiseHead(code_dim=3, hidden=4, n_classes=2)
    codes = torch.randn(2, 3, 3)
    w1, b1 = h.pair[0].weight.tolist(), h.pair[0].bias.tolist()
    w2, b2 = h.out.weight.tolist(), h.out.bias.tolist()
    with torch.no_grad():
        got = h(codes)
    for n in range(2):
        z = []
        for i, j in ((0, 1), (1, 2), (0, 2)):
            x = codes[n, i].tolist() + codes[n, j].tolist()
            z += [max(0.0, sum(w * v for w, v in zip(row, x)) + b) for row, b in zip(w1, b1)]
        want = [sum(w * v for w, v in zip(row, z)) + b for row, b in zip(w2, b2)]
        assert got[n].tolist() == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_concatenated_head_is_the_papers_option():
    paper = TemporalOrder(encoder={"name": "small_resnet", "width": 8}, pairwise=False, hidden=0, grid=1)
    assert len(paper.head) == 1 and paper.head[0].in_features == 3 * 64
    logits, _ = paper.task({"frames": torch.rand(4, 6, 3, 32, 32)})
    figures = paper.losses({"frames": torch.rand(4, 6, 3, 32, 32)}, 0)
    assert logits.shape == (4 * paper.tuples_per_clip, 2) and figures["loss"].isfinite()
    assert set(figures) == {"loss", "acc"} and list(paper.encoders()) == ["frame"]
    with pytest.raises(ValueError, match="model.hidden"):
        TemporalOrder(encoder={"name": "small_resnet", "width": 8}, hidden=0)


def test_only_the_frames_a_tuple_reads_are_encoded():
    model = TemporalOrder(encoder={"name": "small_resnet", "width": 8}, tuples_per_clip=1)
    seen, codes = [], model.codes
    model.codes = lambda images: (seen.append(len(images)), codes(images))[1]
    logits, _ = model.task({"frames": torch.rand(5, 9, 3, 32, 32)})
    assert seen == [15] and logits.shape == (5, 2)  # three distinct frames per clip, not nine


def test_short_clips_are_refused_in_one_line():
    model = TemporalOrder(encoder={"name": "small_resnet", "width": 8})
    with pytest.raises(ValueError, match="data.frames"):
        model.task({"frame": torch.rand(2, 3, 32, 32)})
    with pytest.raises(ValueError, match="at least 5 frames"):
        model.task({"frames": torch.rand(2, 3, 3, 32, 32)})


def moving_squares(n: int, g: torch.Generator, t: int = 6, size: int = 32) -> torch.Tensor:
    """``[n, t, 3, size, size]``: a 5-pixel white square on black, moving in a straight line."""
    start = torch.rand(n, 2, generator=g) * 8 + 4
    velocity = (torch.rand(n, 2, generator=g) - 0.5) * 4
    corner = (start[:, None] + velocity[:, None] * torch.arange(t)[None, :, None]).clamp(2, size - 7).long()
    ar = torch.arange(size)
    rows = (ar >= corner[..., 0:1]) & (ar < corner[..., 0:1] + 5)  # [n, t, size]
    cols = (ar >= corner[..., 1:2]) & (ar < corner[..., 1:2] + 5)
    square = (rows[..., :, None] & cols[..., None, :]).float()
    return square[:, :, None].expand(n, t, 3, size, size).contiguous()


def test_learns_to_tell_ordered_tuples_of_a_moving_square():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(5)
    train, held_out = moving_squares(2000, g), moving_squares(256, g)
    model = TemporalOrder(encoder={"name": "small_resnet", "width": 8}, grid=4, hidden=128)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)

    def accuracy() -> float:
        model.eval()
        with torch.no_grad():
            logits, target = model.task({"frames": held_out})
        model.train()
        return (logits.argmax(1) == target).float().mean().item()

    before = accuracy()
    for _ in range(200):
        loss = model.losses({"frames": train[torch.randint(0, len(train), (32,))]}, 0)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = accuracy()
    assert after > 0.75 and after > before + 0.15, (before, after)
