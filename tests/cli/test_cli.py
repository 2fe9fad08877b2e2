import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = str(REPO / "recipes" / "quickstart.yaml")


def multiview_inprocess(capsys, *args):
    """Run ``multiview ARGS`` in this process; returns (exit code, stdout, stderr)."""
    from multiview.cli.main import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def multiview(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "multiview.cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env=os.environ.copy(), stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args,names", [
    (["--model.no_such_knob", "3"], ["model.no_such_knob", "unknown key", "temperature"]),
    (["--model.temperature", "warm"], ["model.temperature", "expected float", "warm"]),
    (["--trainer.max_epochs", "x"], ["trainer.max_epochs", "expected int"]),
    (["--data.batch_size", "many"], ["data.batch_size", "expected int"]),
])
def test_bad_recipe_key_is_one_line(capsys, args, names):
    code, _, err = multiview_inprocess(capsys, "fit", "--config", QUICKSTART, *args, "--print_config")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("multiview: error: "), err
    for name in names:
        assert name in lines[0]


def test_bad_key_from_the_console_script_has_no_traceback():
    r = multiview("fit", "--config", QUICKSTART, "--model.no_such_knob", "3")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "model.no_such_knob" in r.stderr


def test_missing_recipe_file_is_one_line(capsys, tmp_path):
    code, _, err = multiview_inprocess(capsys, "fit", "--config", str(tmp_path / "nope.yaml"))
    assert code == 2 and err.strip().count("\n") == 0
    assert "nope.yaml" in err and "does not exist" in err


def test_missing_video_folder_is_one_line(tmp_path):
    r = multiview("fit", "--config", QUICKSTART, "--data", "multiview.data.video.datamodule.VideoFolderDataModule",
                  "--data.index", str(tmp_path / "videos"), "--trainer.max_epochs", "1")
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1] == (f"multiview: error: data.index: expected an index file or a folder "
                                                   f"of videos, got '{tmp_path / 'videos'}'")
    assert "Traceback" not in r.stderr


def test_print_config_resolves_overrides(capsys):
    code, out, err = multiview_inprocess(capsys, "fit", "--config", QUICKSTART, "--model.temperature", "0.2",
                                         "--print_config")
    assert code == 0, err
    assert "class_path: multiview.methods.cmc.CMC" in out and "temperature: 0.2" in out


def test_unknown_tool_command(capsys):
    code, _, err = multiview_inprocess(capsys, "eval", "no_such_thing")
    assert code == 2 and "unknown eval command 'no_such_thing'" in err


@pytest.mark.slow
def test_short_run_beats_random_init(tmp_path):
    """Baseline: the same architecture at random init, on the same held-out clips."""
    run = tmp_path / "run"
    r = multiview("fit", "--config", QUICKSTART, "--trainer.default_root_dir", str(run),
                  "--trainer.max_epochs", "4", "--trainer.enable_progress_bar", "false",
                  "--data.n_clips", "192", "--data.val_clips", "32", "--data.clips_per_video", "4",
                  timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"run folder: {run}" in r.stdout
    m = json.loads((run / "metrics.json").read_text())
    for d in ("frame_to_audio", "audio_to_frame"):
        assert m[f"retrieval/{d}/R@5"] > 2 * m["retrieval/chance/R@5"], m
        assert m[f"retrieval/{d}/R@5"] > m[f"retrieval/random_init/{d}/R@5"] + 0.1, m
        assert m[f"retrieval/{d}/median_rank"] < m[f"retrieval/random_init/{d}/median_rank"], m
    assert (run / "retrieval.png").stat().st_size > 10_000
    assert (run / "config.yaml").exists() and (run / "checkpoints" / "last.ckpt").exists()


@pytest.mark.parametrize("override, expected", [
    (("--model.temperature", "-1"), "model.temperature: expected a positive number, got -1.0"),
    (("--model.encoders", "{frame: {name: banana}}"), "model.encoders: encoder 'banana': expected one of"),
    (("--data.frames", "0"), "data.frames: expected a positive integer, got 0"),
])
def test_a_bad_value_inside_a_union_is_our_one_line(capsys, tmp_path, override, expected):
    """jsonargparse tries each type of a Union and lists every failure; the user sees only ours."""
    code, _, err = multiview_inprocess(capsys, "fit", "--config", QUICKSTART, *override,
                                       "--trainer.default_root_dir", str(tmp_path / "run"))
    line = err.strip().splitlines()[-1]
    assert code == 2 and line.startswith(f"multiview: error: {expected}"), err[-600:]
    assert "Union" not in line and len(line) < 400
