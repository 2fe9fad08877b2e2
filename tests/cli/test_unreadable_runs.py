"""One bad run folder: listed as unreadable among the others; resuming it is one line naming the file."""

from __future__ import annotations

from multiview.cli.main import main

CONFIG = "model: {class_path: multiview.methods.cmc.CMC}\ndata: {class_path: multiview.data.Foo}\n"


def run_folder(path, config: bytes | None = CONFIG.encode()):
    path.mkdir(parents=True)
    if config is not None:
        (path / "config.yaml").write_bytes(config)
    (path / "checkpoints").mkdir()
    (path / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    return path


def test_a_non_utf8_config_is_listed_unreadable_and_the_others_still_are(tmp_path, capsys):
    good = run_folder(tmp_path / "good")
    bad = run_folder(tmp_path / "bad", b"model: \xff\xfe\x81 broken\n")
    odd = run_folder(tmp_path / "odd", b"- just\n- a list\n")
    assert main(["runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[-1]: line for line in out.splitlines() if line.split() and line.split()[-1] in
            ("good", "bad", "odd")}
    assert "resumable" in rows["good"] and "CMC" in rows["good"]
    assert "unreadable" in rows["bad"] and "unreadable" in rows["odd"]
    assert any(str(bad / "config.yaml") in line and "UnicodeDecodeError" in line for line in out.splitlines())
    assert any(str(odd / "config.yaml") in line for line in out.splitlines() if line.startswith("unreadable:"))
    assert str(good) not in "".join(line for line in out.splitlines() if line.startswith("unreadable:"))


def test_resuming_a_run_with_a_non_utf8_config_is_one_line_naming_it(tmp_path, capsys):
    bad = run_folder(tmp_path / "bad", b"model: \xff\xfe\x81 broken\n")
    assert main(["fit", "--trainer.default_root_dir", str(bad), "--ckpt_path", "last"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad / "config.yaml") in err, err


def test_resuming_a_run_without_config_says_so_and_asks_for_the_recipe(tmp_path, capsys):
    run = run_folder(tmp_path / "R1", config=None)
    assert main(["fit", "--trainer.default_root_dir", str(run), "--ckpt_path", "last"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"{run / 'config.yaml'} is missing" in err and "--config RECIPE" in err, err
    assert "required" not in err
