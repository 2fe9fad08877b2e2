"""`multiview runs` shows each run's own headline, the figure its end-of-fit report declared.

Five tiny real fits of five methods (SimCLR and rotation with the probe report, CMC with
retrieval, ambient sound with its cluster report first, word2vec with the words report) in one
folder: every row shows its method's own figure (never ``.../majority/...``, ``random_init`` or
``chance``), with the value the report wrote to ``metrics.json``.
"""

from __future__ import annotations

import json

import pytest
import yaml

from multiview.cli.main import main as cli_main

TRAINER = {"max_steps": 2, "accelerator": "cpu", "devices": 1, "logger": False, "num_sanity_val_steps": 0,
           "limit_val_batches": 0, "enable_progress_bar": False, "enable_model_summary": False}
PROBE = [{"class_path": "multiview.eval.reports.ProbeReport", "init_args": {"kinds": ["probe"]}}]
SYNTHETIC = {"class_path": "multiview.data.video.synthetic.SyntheticAV",
             "init_args": {"n_clips": 24, "val_clips": 8, "duration": 2.0, "clips_per_video": 2,
                           "batch_size": 8, "num_workers": 0}}


def recipes(cifar: str) -> dict[str, tuple[dict, str]]:
    """``{recipe: (config, expected headline)}``."""
    images = {"class_path": "multiview.data.image.images.ImageFolderData",
              "init_args": {"path": cifar, "batch_size": 32, "train_limit": 100, "test_limit": 60}}
    small = {"name": "small_resnet", "width": 4}
    return {
        "simclr": ({"trainer": {**TRAINER, "callbacks": PROBE}, "data": images,
                    "model": {"class_path": "multiview.methods.simclr.SimCLR",
                              "init_args": {"encoder": small, "proj_dim": 8}}}, "probe/top1"),
        "rotation": ({"trainer": {**TRAINER, "callbacks": PROBE}, "data": images,
                      "model": {"class_path": "multiview.methods.rotation.Rotation",
                                "init_args": {"encoder": small}}}, "probe/top1"),
        "cmc": ({"trainer": {**TRAINER, "callbacks": [{"class_path": "multiview.eval.reports.RetrievalReport"}]},
                 "data": SYNTHETIC,
                 "model": {"class_path": "multiview.methods.cmc.CMC",
                           "init_args": {"encoders": {"frame": {"width": 4}, "audio": {"width": 4}}, "proj_dim": 8}}},
                "retrieval/frame_to_audio/R@1"),
        "ambient": ({"trainer": {**TRAINER, "callbacks": [{"class_path": "multiview.eval.reports.ClusterReport"},
                                                          *PROBE]},
                     "data": SYNTHETIC,
                     "model": {"class_path": "multiview.methods.ambient_sound.AmbientSound",
                               "init_args": {"encoder": small, "n_clusters": 4, "n_components": 4}}},
                    "ambient/val_acc"),
        "word2vec": ({"trainer": {**TRAINER, "max_steps": -1, "max_epochs": 1,
                                  "callbacks": [{"class_path": "multiview.eval.reports.WordsReport"}]},
                      "data": {"class_path": "multiview.data.text.corpus.TextCorpusDataModule",
                               "init_args": {"corpus": "lee", "min_count": 5}},
                      "model": {"class_path": "multiview.methods.word2vec.Word2Vec", "init_args": {"dim": 16}}},
                     "sim/ws353/spearman"),
    }


@pytest.mark.slow
def test_runs_shows_each_methods_own_headline(shared_data, tmp_path, capsys):
    root = tmp_path / "runs"
    expected = {}
    for name, (config, headline) in recipes(str(shared_data / "images" / "cifar10-jpg.tar")).items():
        recipe = tmp_path / f"{name}.yaml"
        recipe.write_text(yaml.safe_dump({"seed_everything": 0, **config}))
        run = root / name / "20260101-120000"
        assert cli_main(["fit", "--config", str(recipe), "--trainer.default_root_dir", str(run)]) == 0
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["headline"] == headline, name  # declared by the report, stored at the end of fit
        expected[name] = (headline, f"{metrics[headline]:.4f}")
    capsys.readouterr()
    assert cli_main(["runs", str(root)]) == 0
    out = capsys.readouterr().out
    print(out)
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert set(rows) == set(expected)
    for name, (key, value) in expected.items():
        assert rows[name][5:8] == ["finished", key, value], (name, rows[name])  # date and time are two words
    assert not any(w in out for w in ("majority", "random_init", "chance"))


def test_a_finished_run_without_figures_is_not_resumable_and_no_baseline_is_a_headline(tmp_path, capsys):
    from multiview.eval.reports import RetrievalReport
    from multiview.eval.reports.base import record

    root = tmp_path / "runs"
    for name in ("small", "old"):
        run = root / name / "20260101-120000"
        (run / "checkpoints").mkdir(parents=True)
        (run / "config.yaml").write_text("model: {class_path: multiview.methods.cmc.CMC}\n")
        (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    # the 11-video case: the fit ended, its report could not score
    RetrievalReport()._not_computed(root / "small" / "20260101-120000", "not computed: retrieval needs at least 2")
    record(root / "old" / "20260101-120000", {"probe/majority/top1": 0.129, "probe/random_init/top1": 0.2})
    legacy = root / "legacy" / "20260101-120000"  # written before reports stored their headline
    legacy.mkdir(parents=True)
    (legacy / "config.yaml").write_text("trainer: {callbacks: [{class_path: multiview.eval.reports.ProbeReport}]}\n")
    record(legacy, {"probe/majority/top1": 0.129, "probe/top1": 0.877, "probe/random_init/top1": 0.2})
    capsys.readouterr()
    assert cli_main(["runs", str(root)]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["small"][5:] == ["finished", "-", "(retrieval:", "not", "computed)", "small/20260101-120000"]
    assert rows["old"][5:] == ["finished", "-", "old/20260101-120000"]  # no declared headline: no baseline shown
    assert rows["legacy"][5:8] == ["finished", "probe/top1", "0.8770"]  # what its config's report declares
