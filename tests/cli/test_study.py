"""`multiview study`: recipes x overrides x seeds, run sequentially, N at a time, through submitit's
LocalExecutor; a restarted study runs only what is missing; the table over seeds and the
seed-matched per-query pairing. Most tests replace the fit by a fake one: a script that writes a
run's metrics.json and per-query file (the columns of multiview.eval.core.queries) in
milliseconds. One runs the real quickstart, shrunk."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from multiview.cli import study
from multiview.cli.main import main

REPO = Path(__file__).resolve().parents[2]
FAKE_FIT = '''
import json, sys, pathlib
import numpy as np
argv = sys.argv[1:]
get = lambda key: argv[argv.index(key) + 1]
run, seed = pathlib.Path(get("--trainer.default_root_dir")), int(get("--seed_everything"))
lr = float(get("--model.lr")) if "--model.lr" in argv else 0.002
with open(pathlib.Path(sys.argv[0]).with_name("calls.txt"), "a") as f:
    f.write(run.name + "\\n")
rng = np.random.default_rng([seed, int(lr * 1e4)])
ranks = rng.integers(1, 40, size=40) if lr > 0.002 else rng.integers(1, 4, size=40)
rows = [f"trained,frame_to_audio,clip{i:03d}.mp4,{r},0," for i, r in enumerate(ranks)]
(run / "retrieval_queries.csv").write_text("\\n".join(["model,direction,query,rank,tied,ap", *rows]) + "\\n")
(run / "metrics.json").write_text(json.dumps({"retrieval/frame_to_audio/R@1": float(np.mean(ranks == 1)),
                                              "retrieval/frame_to_audio/mean_rank": float(np.mean(ranks)),
                                              "max_epochs": int(get("--trainer.max_epochs"))}))
'''


def fake_spec(tmp_path: Path, monkeypatch, extra: str = "seeds: [0]\n") -> Path:
    """A quickstart study spec (``extra``: seeds, grid) whose runs are the fake fit."""
    script = tmp_path / "fake_fit.py"
    script.write_text(FAKE_FIT)
    real = study.Run.command
    monkeypatch.setattr(study.Run, "command", lambda self: [sys.executable, str(script), *real(self)[3:]])
    spec = tmp_path / "study.yaml"
    spec.write_text(f"recipes: [{REPO / 'recipes' / 'quickstart.yaml'}]\n{extra}overrides: {{trainer.max_epochs: 1}}\n")
    return spec


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A spec of 2 variants (a grid over model.lr) x 3 seeds whose runs are the fake fit."""
    spec = fake_spec(tmp_path, monkeypatch, "seeds: [0, 1, 2]\ngrid: {model.lr: [0.002, 0.004]}\n")
    return spec, tmp_path / "out", tmp_path / "calls.txt"


def _calls(path: Path) -> list[str]:
    return sorted(path.read_text().split()) if path.exists() else []


@pytest.mark.parametrize("options", [[], ["--jobs", "3"], ["--executor", "local", "--jobs", "2"]])
def test_study_runs_every_seed_and_variant_and_summarises(fake, options, capsys):
    spec, out, calls = fake
    assert main(["study", str(spec), "--out", str(out), *options]) == 0
    names = [f"quickstart-model.lr={lr}-seed{s}" for lr in ("0.002", "0.004") for s in range(3)]
    assert _calls(calls) == sorted(names)
    rows = {(r["variant"], r["metric"]): r for r in json.loads((out / "summary.json").read_text())["rows"]}
    for lr in ("0.002", "0.004"):
        values = [json.loads((out / "runs" / f"quickstart-model.lr={lr}-seed{s}" / "metrics.json").read_text())
                  ["retrieval/frame_to_audio/mean_rank"] for s in range(3)]
        row = rows[(f"quickstart-model.lr={lr}", "retrieval/frame_to_audio/mean_rank")]
        half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / math.sqrt(3)  # the t-interval, by hand
        assert row["n"] == 3 and row["mean"] == pytest.approx(np.mean(values))
        assert (row["lo"], row["hi"]) == pytest.approx((np.mean(values) - half, np.mean(values) + half))
        assert rows[(f"quickstart-model.lr={lr}", "max_epochs")]["mean"] == 1  # the override reached every run
    assert "± " in (out / "summary.md").read_text() and (out / "summary.png").stat().st_size > 5000
    paired = (out / "paired.csv").read_text().splitlines()
    assert len(paired) == 1 + 3 * 5  # 3 seeds x (R@1, R@5, R@10, median and mean rank)
    mean_rank = [line.split(",") for line in paired if ",mean_rank," in line]
    for row in mean_rank:  # ranks 1..3 against 1..39 on 40 queries: a difference the paired test sees
        assert float(row[6]) > 0 and float(row[7]) > 0 and float(row[9]) < 0.01


def test_restarted_study_runs_only_what_is_missing(fake, capsys):
    spec, out, calls = fake
    assert main(["study", str(spec), "--out", str(out)]) == 0
    done = out / "runs" / "quickstart-model.lr=0.002-seed0" / "metrics.json"
    kept = done.stat().st_mtime_ns
    (out / "runs" / "quickstart-model.lr=0.004-seed1" / "metrics.json").unlink()  # killed before it ended
    half = out / "runs" / "quickstart-model.lr=0.002-seed2"  # killed half-way: a folder without metrics
    (half / "metrics.json").unlink()
    (half / "checkpoints").mkdir()
    calls.unlink()
    assert main(["study", str(spec), "--out", str(out)]) == 0
    assert "study " in capsys.readouterr().out
    assert _calls(calls) == ["quickstart-model.lr=0.002-seed2", "quickstart-model.lr=0.004-seed1"]
    assert done.stat().st_mtime_ns == kept and not (half / "checkpoints").exists()
    calls.unlink()
    assert main(["study", str(spec), "--out", str(out)]) == 0
    assert not calls.exists()


@pytest.mark.parametrize("text, message", [
    ("recipes: [recipes/quickstart.yaml]\nseed: [0]\n", "unknown key 'seed'; expected recipes, seeds, overrides"),
    ("recipes: [recipes/nope.yaml]\n", "recipes: recipes/nope.yaml does not exist"),
    ("recipes: [recipes/quickstart.yaml]\nseeds: [0, x]\n", "seeds: expected a list of non-negative integers"),
    ("recipes: [recipes/quickstart.yaml]\noverrides: {seed_everything: 3}\n",
     "overrides: seed_everything is set by the study"),
    ("recipes: [recipes/quickstart.yaml]\ngrid: {model.lr: 0.1}\n", "grid: expected a non-empty list"),
    ("- a\n- b\n", "expected a mapping with keys recipes"),
    ("recipes: [a\n", "cannot read the study spec"),
])
def test_bad_spec_is_one_line(tmp_path, capsys, monkeypatch, text, message):
    monkeypatch.chdir(REPO)
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    assert main(["study", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("multiview: error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_real_tiny_study_of_the_quickstart(tmp_path, capsys):
    """Two seeds of the shrunk quickstart through the real CLI: one table row over both."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(f"recipes: [{REPO / 'recipes' / 'quickstart.yaml'}]\nseeds: [0, 1]\n"
                    "overrides: {trainer.max_epochs: 1, trainer.enable_progress_bar: false, data.n_clips: 24,\n"
                    "  data.val_clips: 8, data.clips_per_video: 2, data.batch_size: 8, data.num_workers: 0}\n"
                    "metrics: ['retrieval/*_to_*/R@*']\n")
    assert main(["study", str(spec), "--out", str(tmp_path / "out")]) == 0
    rows = json.loads((tmp_path / "out" / "summary.json").read_text())["rows"]
    assert {r["metric"] for r in rows} >= {"retrieval/frame_to_audio/R@1", "retrieval/audio_to_frame/R@5"}
    assert all(r["n"] == 2 and r["variant"] == "quickstart" for r in rows)
    config = (tmp_path / "out" / "runs" / "quickstart-seed1" / "config.yaml").read_text()
    assert "seed_everything: 1" in config and "n_clips: 24" in config


def test_the_documented_study_plans_nine_runs_on_one_held_out_set():
    spec = study.load_spec(REPO / "recipes" / "studies" / "embedded_av.yaml")
    runs = study.plan(spec, Path("/tmp/study"))
    assert len(runs) == 9 and {r.variant for r in runs} == {"quickstart", "byol_av", "simclr_moments_av"}
    assert all({"--data.n_clips", "768", "--data.val_clips", "256"} <= set(r.command()) for r in runs)


@pytest.mark.parametrize("text, message", [
    ("seeds: [0, 0]\n", "seeds: 0 appears twice; expected distinct seeds"),
    ("grid: {model.name: ['a b', 'a/b']}\n", "grid: model.name: values 'a b' and 'a/b' give the same run"),
    ("grid: {model.lr: [0.001, '0.001']}\n", "grid: model.lr: values 0.001 and '0.001' give the same run"),
    ("grid: {model.lr: [0.1, 0.1]}\n", "grid: model.lr: values 0.1 and 0.1 give the same run"),
])
def test_runs_that_would_share_a_folder_are_refused(fake, capsys, text, message):
    """Two runs in one folder (at once with --jobs 2) and one table row counting a run twice."""
    spec, out, calls = fake
    spec.write_text(f"recipes: [{REPO / 'recipes' / 'quickstart.yaml'}]\n{text}")
    assert main(["study", str(spec), "--out", str(out), "--jobs", "2"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not calls.exists() and not (out / "runs").exists()


def test_a_study_whose_runs_all_fail_says_so_and_where_the_logs_are(fake, capsys):
    spec, out, calls = fake
    spec.write_text(f"recipes: [{REPO / 'recipes' / 'quickstart.yaml'}]\nseeds: [0, 1]\n"
                    "overrides: {data.nonexistent: 3}\n")  # the fake fit fails: no --trainer.max_epochs
    assert main(["study", str(spec), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    line = next(x for x in captured.out.splitlines() if x.startswith("summary:"))
    assert line == f"summary: none written: 2 of 2 runs failed and no run wrote a metric of *; their logs: " \
                   f"{out.resolve() / 'runs'}/*/study.log"
    assert "ValueError" in (out / "runs" / "quickstart-seed0" / "study.log").read_text()
    assert "2 of 2 runs did not finish" in captured.err


def test_a_runs_own_bootstrap_bounds_are_not_averaged_as_figures(tmp_path):
    from types import SimpleNamespace

    from multiview.cli.study_table import table

    runs = []
    for seed, r1 in enumerate((0.5, 0.7)):
        folder = tmp_path / f"run{seed}"
        folder.mkdir()
        (folder / "metrics.json").write_text(json.dumps({"retrieval/frame_to_audio/R@1": r1,
                                                         "retrieval/frame_to_audio/R@1_lo": r1 - 0.1,
                                                         "retrieval/frame_to_audio/R@1_hi": r1 + 0.1}))
        runs.append(SimpleNamespace(folder=folder, variant="quickstart"))
    rows = table(runs, ["retrieval/*_to_*/R@*"])
    assert [row["metric"] for row in rows] == ["retrieval/frame_to_audio/R@1"]
    assert rows[0]["mean"] == pytest.approx(0.6)
