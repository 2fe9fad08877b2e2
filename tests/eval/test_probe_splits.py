"""The probe's train / val split of a run's training videos has samples on both sides, and an empty
split is refused in one line naming it (never a torch traceback)."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from multiview.core.errors import UserError
from multiview.data.splits import split_records
from multiview.eval.core.frozen import frozen_figures
from multiview.eval.core.subsets import split_off


def test_a_stratified_small_folder_leaves_the_probe_a_validation_split():
    # the layout of shared/data/av/vas_vggsound: 22 videos, 4 classes of two, 14 of one. The held-out
    # set takes one of every pair, so every class left for training has a single video.
    labels = ["dog", "dog", "drum", "drum", "fireworks", "fireworks", "bass", "bass"] + [f"c{i}" for i in range(14)]
    records = [{"path": f"/v/{i:02d}.mp4", "relpath": f"{i:02d}.mp4", "label": y} for i, y in enumerate(labels)]
    train, held = split_records(records, 0.2)
    ids = {y: k for k, y in enumerate(sorted(set(labels)))}
    train_y = np.array([ids[r["label"]] for r in train])
    assert len(held) == 4 and len(np.unique(train_y)) == len(train_y)  # the case that left val empty
    fit, val = split_off(train_y, 0.2, seed=0)
    assert len(fit) and len(val) and sorted(fit.tolist() + val.tolist()) == list(range(len(train_y)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=2, max_size=40), st.floats(0, 0.9), st.integers(0, 5))
def test_split_off_has_both_sides_and_keeps_every_class_of_two_on_both(labels, fraction, seed):
    labels = np.array(labels)
    fit, val = split_off(labels, fraction, seed)
    assert len(fit) and len(val)
    assert sorted(fit.tolist() + val.tolist()) == list(range(len(labels)))
    for c, n in zip(*np.unique(labels, return_counts=True)):
        if n > 1:
            assert c in labels[fit] and c in labels[val]


class Flat(nn.Module):
    def features(self, x):
        return {"pool": x}

    def forward(self, x):
        return x


def samples(n: int) -> list[dict]:
    return [{"input": torch.randn(4), "label": i % 2} for i in range(n)]


@pytest.mark.parametrize("empty", [0, 1, 2])
def test_an_empty_split_is_one_line_naming_it(empty):
    splits = [samples(6), samples(4), samples(4)]
    splits[empty] = []
    name = ("train", "val", "test")[empty]
    with pytest.raises(UserError, match=f"the {name} split has no samples"):
        frozen_figures(["probe", "knn"], Flat(), splits, 2, random_init=False)
