"""One path per figure: a tiny real fit's end-of-fit reports and ``multiview eval <kind> --checkpoint
RUN --data run`` with the defaults give the same figures, to 1e-6.

Two fits through ``multiview fit``, each a few steps: SimCLR on a 200-image subset of the shared
CIFAR-10 tar (``ProbeReport``, ``KNNReport``, ``TSNEReport``), and CMC on the
embedded synthetic audio-visual world (``RetrievalReport``, and ``ProbeReport`` on its clips).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

from multiview.cli.main import main as cli_main
from multiview.core.io import read_json

TOL = 1e-6
TRAINER = {"max_steps": 3, "accelerator": "cpu", "devices": 1, "logger": False, "num_sanity_val_steps": 0,
           "limit_val_batches": 0, "enable_progress_bar": False, "enable_model_summary": False}


def fit(tmp_path, name: str, config: dict) -> dict:
    """Run ``multiview fit`` on ``config`` into ``tmp_path/name``; the run's ``metrics.json``."""
    run = tmp_path / name
    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text(yaml.safe_dump({"seed_everything": 0, **config}))
    assert cli_main(["fit", "--config", str(recipe), "--trainer.default_root_dir", str(run)]) in (0, None)
    return {"run": run, "metrics": json.loads((run / "metrics.json").read_text())}


@pytest.fixture(scope="module")
def image_run(shared_data, tmp_path_factory):
    reports = [{"class_path": "multiview.eval.reports.ProbeReport", "init_args": {"kinds": ["probe"]}},
               {"class_path": "multiview.eval.reports.KNNReport"},
               {"class_path": "multiview.eval.reports.TSNEReport"}]
    return fit(tmp_path_factory.mktemp("image"), "simclr", {
        "trainer": {**TRAINER, "callbacks": reports},
        "model": {"class_path": "multiview.methods.simclr.SimCLR",
                  "init_args": {"encoder": {"name": "small_resnet", "width": 4}, "proj_dim": 16}},
        "data": {"class_path": "multiview.data.image.images.ImageFolderData",
                 "init_args": {"path": str(shared_data / "images" / "cifar10-jpg.tar"), "batch_size": 32,
                               "train_limit": 200, "test_limit": 100}}})


@pytest.fixture(scope="module")
def av_run(tmp_path_factory):
    reports = [{"class_path": "multiview.eval.reports.RetrievalReport"},
               {"class_path": "multiview.eval.reports.ProbeReport",
                "init_args": {"encoder": "frame", "kinds": ["probe"]}}]
    return fit(tmp_path_factory.mktemp("av"), "cmc", {
        "trainer": {**TRAINER, "callbacks": reports},
        "model": {"class_path": "multiview.methods.cmc.CMC",
                  "init_args": {"encoders": {"frame": {"width": 4}, "audio": {"width": 4}}, "proj_dim": 8}},
        "data": {"class_path": "multiview.data.video.synthetic.SyntheticAV",
                 "init_args": {"n_clips": 24, "val_clips": 8, "duration": 2.0, "clips_per_video": 2,
                               "batch_size": 8, "num_workers": 0}}})


def command(kind: str, run, out, *extra: str) -> dict:
    assert cli_main(["eval", kind, "--checkpoint", str(run), "--data", "run", "--out", str(out), *extra]) == 0
    return read_json(out / f"{kind}.json")


def assert_agree(report: dict, cmd: dict, prefix: str, at_least: int) -> None:
    keys = [k for k in report if k.startswith(prefix)]
    assert len(keys) >= at_least, sorted(report)
    for key in keys:
        assert cmd[key] == pytest.approx(report[key], abs=TOL, rel=0), key


def test_probe_report_equals_eval_probe(image_run, tmp_path):
    report = image_run["metrics"]
    assert report["probe/n_train"] + report["probe/n_val"] == 200 and report["probe/n_test"] == 100
    cmd = command("probe", image_run["run"], tmp_path, "--baselines", "random_init")
    assert_agree(report, cmd, "probe/", at_least=12)


def test_knn_report_equals_eval_knn(image_run, tmp_path):
    report = image_run["metrics"]
    cmd = command("knn", image_run["run"], tmp_path, "--baselines", "random_init")
    assert_agree(report, cmd, "knn/", at_least=12)


def test_tsne_report_equals_eval_tsne(image_run, tmp_path):
    report = image_run["metrics"]
    cmd = command("tsne", image_run["run"], tmp_path)
    assert_agree(report, cmd, "tsne/", at_least=2)
    assert (image_run["run"] / "tsne.png").is_file() and (tmp_path / "tsne.png").is_file()


def test_retrieval_report_equals_eval_retrieval(av_run, tmp_path):
    report = av_run["metrics"]
    cmd = command("retrieval", av_run["run"], tmp_path)
    assert_agree(report, cmd, "retrieval/", at_least=20)
    assert report["retrieval/n_queries"] == 8


def test_probe_report_on_clips_equals_eval_probe(av_run, tmp_path):
    report = av_run["metrics"]
    cmd = command("probe", av_run["run"], tmp_path, "--encoder", "frame", "--baselines", "random_init")
    assert_agree(report, cmd, "probe/", at_least=12)


def test_retrieval_per_query_results_agree_and_explain_the_figures(av_run, tmp_path):
    from multiview.eval.core.queries import QUERY_FILE, query_metrics, read_queries

    command("retrieval", av_run["run"], tmp_path, "--bootstrap", "200")
    report, cmd = read_queries(av_run["run"] / QUERY_FILE), read_queries(tmp_path / QUERY_FILE)
    assert set(report) == {(m, d) for m in ("trained", "random_init") for d in ("frame_to_audio", "audio_to_frame")}
    metrics = av_run["metrics"]
    for (model, direction), q in report.items():
        names = list(q["query"])  # the held-out clips, by file name
        assert len(set(names)) == 8 and all(re.fullmatch(r"clip\d{5}\.mp4", n) for n in names), names
        assert list(cmd[(model, direction)]["query"]) == list(q["query"])
        assert cmd[(model, direction)]["rank"] == pytest.approx(q["rank"], abs=1e-5)
        prefix = f"retrieval/{'' if model == 'trained' else 'random_init/'}{direction}/"
        for name, values in query_metrics(q).items():
            statistic = np.median(values) if name == "median_rank" else np.nanmean(values)
            assert statistic == pytest.approx(metrics[prefix + name], abs=1e-5)
            lo, hi = metrics[prefix + name + "_lo"], metrics[prefix + name + "_hi"]
            assert np.nanmin(values) <= lo <= hi <= np.nanmax(values)
    assert metrics["retrieval/chance/mean_rank"] == 4.5
