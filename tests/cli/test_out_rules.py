"""Every command that takes an ``--out`` writes only what the suite wrote: a folder or file holding
the user's own files is refused in one line and left byte for byte as it was; the command's own
previous output is accepted (a re-run, a restarted study, an export over its own export).

Real end-to-end runs: ``runs compare`` and ``export`` (files), ``study`` (a folder, with the fake
fit of tests/cli/test_study.py). The eval commands claim their ``--out`` right after parsing,
before any work, so they are checked with a checkpoint that does not exist: a refusal names the
folder; an accepted folder gets as far as the checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from multiview.cli.main import main
from multiview.core.outputs import MARKER, claim_file, claim_output, file_marker
from multiview.data.text.word_vectors import save_word2vec
from tests.av_media import write_video
from tests.cli.test_runs_compare_paired import fake_run, ranks
from tests.cli.test_study import fake_spec

EVAL_FOLDERS = ["probe", "knn", "finetune", "retrieval", "rsa", "dissect", "tsne"]


def snapshot(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def users_folder(path):
    (path / "train").mkdir(parents=True)
    (path / "train" / "a.mp4").write_bytes(b"my video")
    (path / "notes.txt").write_text("my notes")
    return path


def refused(code, capsys, *expected):
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    for text in expected:
        assert text in err, err
    return err


# --- folders ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", EVAL_FOLDERS + ["layers"])
def test_eval_out_folder_of_the_users_files_is_refused_before_any_work(kind, tmp_path, capsys):
    out = users_folder(tmp_path / "mine")
    before = snapshot(out)
    target = [str(tmp_path / "no-run")] if kind == "layers" else ["--checkpoint", str(tmp_path / "no-run")]
    refused(main(["eval", kind, *target, "--out", str(out)]), capsys, f"--out {out}: holds files multiview did not")
    assert snapshot(out) == before


@pytest.mark.parametrize("kind", EVAL_FOLDERS)
def test_eval_out_folder_of_an_earlier_eval_is_accepted(kind, tmp_path, capsys):
    out = claim_output(tmp_path / "evals", "eval")  # as an earlier `multiview eval ... --out` left it
    (out / "probe.json").write_text("{}")
    code = main(["eval", kind, "--checkpoint", str(tmp_path / "no-run"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "--out" not in err and "no-run" in err, err  # past the --out check, at the checkpoint
    shard = claim_output(tmp_path / "shards", "data shard")
    (shard / "train").mkdir()
    refused(main(["eval", kind, "--checkpoint", str(tmp_path / "no-run"), "--out", str(shard)]), capsys,
            "was written by `multiview data shard`, not `multiview eval`")


@pytest.fixture
def fake_study(tmp_path, monkeypatch):
    return fake_spec(tmp_path, monkeypatch)


def test_study_refuses_the_users_folder_and_reuses_its_own(fake_study, tmp_path, capsys):
    mine = users_folder(tmp_path / "mine")
    before = snapshot(mine)
    for dry in ([], ["--dry-run"]):
        refused(main(["study", str(fake_study), "--out", str(mine), *dry]), capsys,
                f"--out {mine}: holds files multiview did not write")
        assert snapshot(mine) == before
    assert main(["study", str(fake_study), "--out", str(tmp_path / "new"), "--dry-run"]) == 0
    assert not (tmp_path / "new").exists()  # a dry run creates nothing
    out = tmp_path / "study"
    assert main(["study", str(fake_study), "--out", str(out)]) == 0
    assert (out / MARKER).is_file() and (out / "runs" / "quickstart-seed0" / "metrics.json").is_file()
    assert main(["study", str(fake_study), "--out", str(out)]) == 0  # restarted: its own folder
    assert "1 runs, 1 complete, 0 to run" in capsys.readouterr().out


# --- files -----------------------------------------------------------------------------------------

def test_runs_compare_overwrites_its_own_chart_never_the_users_file(tmp_path, capsys):
    ids = [f"clip{i:03d}.mp4" for i in range(40)]
    a, b = fake_run(tmp_path / "a", ranks(1, 40, 0.0), ids), fake_run(tmp_path / "b", ranks(2, 40, 0.5), ids)
    notes = tmp_path / "notes.png"
    notes.write_bytes(b"my figure")
    refused(main(["runs", "compare", str(a), str(b), "--out", str(notes), "--bootstrap", "50"]), capsys,
            f"--out {notes}: notes.png exists and multiview did not write it")
    assert notes.read_bytes() == b"my figure" and not file_marker(notes).exists()
    chart = tmp_path / "chart.png"
    for _ in range(2):  # the second run replaces its own chart
        assert main(["runs", "compare", str(a), str(b), "--out", str(chart), "--bootstrap", "50"]) == 0
        assert chart.read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob(".*.tmp"))


def word_run(tmp_path):
    run = tmp_path / "w2v"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"model": {"class_path": "multiview.methods.word2vec.Word2Vec"}}))
    vectors = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    save_word2vec(run / "vectors.bin", ["the", "cat", "sat", "mat"], vectors)
    return run


def test_export_replaces_its_own_export_never_the_users_files(tmp_path, capsys):
    run = word_run(tmp_path)
    out = tmp_path / "words.txt"
    for _ in range(2):  # over its own previous export (file and card)
        assert main(["export", str(run), "--out", str(out)]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["format"] == "word2vec text"
    assert main(["export", str(run), "--out", str(tmp_path / "words.bin")]) == 0  # the same card, both formats
    mine = tmp_path / "mine.txt"
    mine.write_text("my notes")
    refused(main(["export", str(run), "--out", str(mine)]), capsys, f"--out {mine}: mine.txt exists")
    card = tmp_path / "vecs.json"  # the card export would write beside vecs.txt
    card.write_text('{"mine": 1}')
    refused(main(["export", str(run), "--out", str(tmp_path / "vecs.txt")]), capsys,
            "vecs.json exists and multiview did not write it", "(written beside it:")
    assert mine.read_text() == "my notes" and card.read_text() == '{"mine": 1}'
    assert not (tmp_path / "vecs.txt").exists()


def test_a_file_written_by_another_command_or_a_folder_is_refused(tmp_path, capsys):
    out = claim_file(tmp_path / "frame.pt", "export")
    out.write_bytes(b"weights")
    refused(main(["data", "ambient_targets", str(tmp_path), "--out", str(out)]), capsys,
            "frame.pt was written by `multiview export`, not `multiview data ambient_targets`")
    refused(main(["export", str(tmp_path), "--out", str(tmp_path)]), capsys, "is a folder; expected a file")
    assert out.read_bytes() == b"weights"


def _fail(*args, **kwargs):
    raise AssertionError("the command did its work although its --out was refused")


@pytest.mark.parametrize("argv, option", [
    (["data", "index", "{videos}", "--out", "{mine}"], "--out"),
    (["data", "ambient_targets", "{videos}", "--out", "{mine}"], "--out"),
    (["data", "ambient_targets", "{videos}", "--out", "{tmp}/t.pt", "--report", "{mine}"], "--report"),
    (["eval", "words", "--vectors", "{tmp}/v.bin", "--out", "{mine}"], "--out"),
    (["bench", "--out", "{mine}"], "--out"),
])
def test_file_outputs_refuse_the_users_file_before_any_work(argv, option, tmp_path, capsys, monkeypatch):
    import multiview.cli.data.ambient_targets
    import multiview.cli.data.index
    import multiview.cli.trainer

    for module, name in [(multiview.cli.data.index, "build_index"), (multiview.cli.trainer, "build_cli"),
                         (multiview.cli.data.ambient_targets, "fit_folder")]:
        monkeypatch.setattr(module, name, _fail)
    (tmp_path / "videos").mkdir()
    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"my": "records"}\n')
    values = {"videos": tmp_path / "videos", "mine": mine, "tmp": tmp_path}
    refused(main([a.format(**values) for a in argv]), capsys, f"{option} {mine}: mine.jsonl exists and multiview did")
    assert mine.read_text() == '{"my": "records"}\n' and not file_marker(mine).exists()


def test_data_index_continues_its_own_index_and_refuses_a_users_report(tmp_path, capsys):
    (tmp_path / "videos").mkdir()
    write_video(tmp_path / "videos" / "a.mp4", n_frames=5, click_frame=None)
    (tmp_path / "videos" / "broken.mp4").write_bytes(b"not a video")
    index = tmp_path / "index.jsonl"
    for _ in range(2):  # the second run reads and rewrites its own index and report
        assert main(["data", "index", str(tmp_path / "videos"), "--out", str(index), "--quiet"]) == 0
    assert "0 probed, 2 unchanged since the last index" in capsys.readouterr().out
    assert file_marker(index).is_file() and len(index.read_text().splitlines()) == 1
    assert "broken.mp4" in (tmp_path / "index.rejected.jsonl").read_text()
    (tmp_path / "other.rejected.jsonl").write_text("mine")
    refused(main(["data", "index", str(tmp_path / "videos"), "--out", str(tmp_path / "other.jsonl")]), capsys,
            "other.rejected.jsonl exists and multiview did not write it")
    assert (tmp_path / "other.rejected.jsonl").read_text() == "mine" and not (tmp_path / "other.jsonl").exists()
