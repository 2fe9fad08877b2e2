"""Sound clusters on real clips (VAS / VGGSound) agree with their labels far above random assignment."""

from pathlib import Path

import numpy as np
import pytest
import torch

from multiview.cli.data.ambient_targets import main
from multiview.core.errors import UserError
from multiview.core.io import read_json
from multiview.objectives.ambient_corpus import cluster_label_agreement, window_starts
from multiview.objectives.ambient_targets import AmbientTargets

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_windows_cover_the_clip():
    assert window_starts(100, 40, 20) == [0, 20, 40, 60]
    assert window_starts(30, 40, 20) == [0]


def test_agreement_scores_against_both_nulls():
    owners = np.repeat(np.arange(12), 3)
    labels = owners // 2  # six labels, two clips each
    perfect = cluster_label_agreement(labels, labels, owners, draws=50)
    assert perfect["ami"] > 0.99 and perfect["ami_random_p"] < 0.05
    assert abs(perfect["ami_random_mean"]) < 0.1
    # clusters that only recognise clips score no better than the clip-level null
    by_clip = cluster_label_agreement(owners, labels, owners, draws=50)
    assert by_clip["ami"] < perfect["ami"] and by_clip["ami_clip_null_p"] > 0.05


def test_vas_vggsound_clusters_beat_random_assignment(tmp_path):
    root = DATA / "av" / "vas_vggsound"
    if not root.exists():
        pytest.skip(f"real data missing: {root}")
    out, report = tmp_path / "targets.pt", tmp_path / "report.json"
    assert main([str(root), "--out", str(out), "--k", "8", "--hop", "3.75", "--report", str(report)]) == 0
    r = read_json(report)
    assert r["clips"] == 22 and r["labels"] == 18 and r["k"] == 8
    assert r["ami"] > r["ami_random_mean"] + 4 * r["ami_random_std"], r
    targets = AmbientTargets.load(out)
    assert targets.n_classes == 8 and targets.state["centres"].dtype == torch.float32


def test_bad_folder_names_the_problem(tmp_path):
    with pytest.raises(UserError, match="expected a folder of videos"):
        main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "t.pt")])
    with pytest.raises(UserError, match="no video with decodable sound"):
        main([str(tmp_path), "--out", str(tmp_path / "t.pt")])
