"""Kill a fit at awkward moments (SIGKILL, SIGTERM to its process group, Ctrl-C, during validation,
halfway through a checkpoint write), resume it, and end where an uninterrupted run ends."""

import os
import signal

import pytest
import torch

from multiview.cli.main import main as cli_main
from multiview.run.checkpoints import check_loadable
from tests.faults import PAUSE, PAUSE_SAVE, cmc_recipe, finish, start_fit, wait_for, weights, word2vec_recipe

pytestmark = pytest.mark.slow


def fit(recipe, run, *extra):
    return cli_main(["fit", "--config", str(recipe), "--trainer.default_root_dir", str(run), *extra])


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name].float(), b[name].float(), atol=1e-5), name


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run every interrupted one must end as."""
    root = tmp_path_factory.mktemp("straight")
    recipe = cmc_recipe(root / "tiny.yaml")
    assert fit(recipe, root / "run") == 0
    return recipe, weights(root / "run" / "checkpoints" / "last.ckpt")


def resume_and_compare(recipe, run, expected):
    assert fit(recipe, run, "--ckpt_path", "last") == 0
    assert_same_weights(weights(run / "checkpoints" / "last.ckpt"), expected)


def test_sigkill_mid_checkpoint_write_never_uses_the_torn_file(straight, tmp_path):
    recipe, expected = straight
    run, marker = tmp_path / "run", tmp_path / "stalled"
    proc = start_fit(recipe, run, {PAUSE_SAVE: f"2:{marker}"})  # the 2nd last.ckpt: end of epoch 1
    wait_for(marker, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    finish(proc)
    ckpts = run / "checkpoints"
    torn = list(ckpts.glob(".last.ckpt.*.tmp"))
    assert len(torn) == 1 and check_loadable(torn[0]) is not None  # half a file, next to the good one
    assert check_loadable(ckpts / "last.ckpt") is None  # the end of epoch 0, intact
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 5
    resume_and_compare(recipe, run, expected)
    assert not list(ckpts.glob(".*.tmp"))  # the torn temporary file was swept


def test_sigkill_mid_epoch_continues_from_the_last_good_checkpoint(straight, tmp_path):
    recipe, expected = straight
    run, marker = tmp_path / "run", tmp_path / "paused"
    proc = start_fit(recipe, run, {PAUSE: f"step:7:{marker}"})
    wait_for(marker, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    finish(proc)
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 5
    resume_and_compare(recipe, run, expected)


def test_sigkill_twice_after_an_epoch_end_with_max_steps_still_trains_to_the_end(straight, tmp_path):
    """Bounded by max_steps, Lightning resumed an end-of-epoch checkpoint by running that epoch's end
    again: it rewrote the checkpoint with the epoch counted twice, and the next resume from it
    reached max_epochs with steps left and exited 0 (run.checkpoints.start_next_epoch)."""
    recipe, expected = straight
    run, steps = tmp_path / "run", ("--trainer.max_steps", "15")  # 3 epochs of 5 steps, as the recipe
    for resume, step in ((), 6), (("--ckpt_path", "last"), 8):  # killed early in epoch 1, after last.ckpt at 5
        marker = tmp_path / f"paused-{step}"
        proc = start_fit(recipe, run, {PAUSE: f"step:{step}:{marker}"}, *steps, *resume)
        wait_for(marker, proc)
        os.killpg(proc.pid, signal.SIGKILL)
        finish(proc)
        state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
        assert state["global_step"] == 5
        assert state["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"] == 1  # not rewritten, drifted
    assert fit(recipe, run, *steps, "--ckpt_path", "last") == 0
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 15
    assert_same_weights(weights(run / "checkpoints" / "last.ckpt"), expected)


@pytest.mark.parametrize("how, pause, code", [
    ("sigterm-group", "step:7", 143),  # with DataLoader workers, which get the SIGTERM too
    ("sigint", "step:7", 130),
    pytest.param("sigterm-group", "val:0", 143, marks=pytest.mark.xfail(  # during the first validation, inside fit
        strict=False, reason="open: on a loaded machine this run sometimes neither saves nor exits (its main "
        "process blocks waiting on a DataLoader worker); it passes when run alone")),
])
def test_stop_signal_saves_exits_and_resumes_exactly(straight, tmp_path, how, pause, code):
    recipe, expected = straight
    recipe = cmc_recipe(tmp_path / "tiny.yaml", workers=2) if how == "sigterm-group" else recipe
    run, marker = tmp_path / "run", tmp_path / "paused"
    proc = start_fit(recipe, run, {PAUSE: f"{pause}:{marker}"})
    wait_for(marker, proc)
    if how == "sigterm-group":
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        os.kill(proc.pid, signal.SIGINT)
    status, out = finish(proc, timeout=150)
    assert status == code, out
    assert "saved" in out and (run / "checkpoints" / "last.ckpt").exists(), out
    resume_and_compare(recipe, run, expected)
    assert (run / "config.yaml").exists() and (run / "config-resume-1.yaml").exists()


def test_sigusr1_saves_for_requeue(straight, tmp_path):
    recipe, _ = straight
    run, marker = tmp_path / "run", tmp_path / "paused"
    proc = start_fit(recipe, run, {PAUSE: f"step:3:{marker}"})
    wait_for(marker, proc)
    os.kill(proc.pid, signal.SIGUSR1)
    status, out = finish(proc)
    assert status == 128 + signal.SIGUSR1, out
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 3


def test_torn_last_checkpoint_falls_back_or_stops_in_one_line(straight, tmp_path, capsys):
    recipe, expected = straight
    run = tmp_path / "run"
    assert fit(recipe, run, "--trainer.max_epochs", "2") == 0
    ckpts = run / "checkpoints"
    good = next(p for p in ckpts.glob("epoch=*.ckpt"))
    data = (ckpts / "last.ckpt").read_bytes()
    (ckpts / "last.ckpt").write_bytes(data[: len(data) // 3])  # what a copy killed halfway leaves
    os.utime(good, (1, 1))  # older than the torn one
    capsys.readouterr()
    # the run's config.yaml says 2 epochs; an option on the resume's command line wins over it
    assert fit(recipe, run, "--ckpt_path", "last", "--trainer.max_epochs", "3") == 0  # one more from the good one
    assert f"resuming from {good}" in capsys.readouterr().err
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 15
    for p in ckpts.glob("*.ckpt"):
        p.write_bytes(b"PK\x03\x04 torn")
    assert fit(recipe, run, "--ckpt_path", "last") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("multiview:")]
    assert len(err) == 1 and "no usable checkpoint" in err[0] and "last.ckpt (" in err[0]


def words_in_first_chunks(n: int) -> int:
    from multiview.data.text.corpus import encode_corpus

    chunks = encode_corpus("lee", "simple", 5, 10000).chunks(4096)
    return sum(ids.size for _, (ids, _) in zip(range(n), chunks))


@pytest.mark.parametrize("workers", [1, 2])
def test_word2vec_stopped_by_sigterm_resumes(tmp_path, workers):
    recipe = word2vec_recipe(tmp_path / "w2v.yaml", workers=workers)
    assert fit(recipe, tmp_path / "straight") == 0
    straight = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=True)
    run, marker = tmp_path / "run", tmp_path / "paused"
    proc = start_fit(recipe, run, {PAUSE: f"step:4:{marker}"})  # after chunk 4 of epoch 0
    wait_for(marker, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    status, out = finish(proc)
    assert status == 143, out
    stopped = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert stopped["word2vec"]["words_done"] == words_in_first_chunks(4), out  # the 4 chunks, drained
    assert fit(recipe, run, "--ckpt_path", "last") == 0
    resumed = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["word2vec"]["words_done"] == straight["word2vec"]["words_done"]  # no chunk trained twice
    if workers == 1:  # one thread: bit-identical reruns, so the resumed vectors are the straight run's
        assert_same_weights(resumed["state_dict"], straight["state_dict"])
