"""Every recipe in recipes/: a few training steps through the CLI and a checkpoint reload; for one
recipe of each kind (method family x data) also its end-of-fit report and the evaluation command
that suits it (solo-learn's shared base-config test, for us)."""

import json
from pathlib import Path

import pytest
import torch

from multiview.cli.main import main
from multiview.data.text.word_vectors import load_word2vec
from multiview.eval.core.checkpoint import find_run, load_model, read_state

RECIPES = sorted(Path(__file__).resolve().parents[1].joinpath("recipes").glob("*.yaml"))
SHORT = ["--trainer.max_epochs", "1", "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1",
         "--trainer.log_every_n_steps", "1"]
SYNTHETIC = ["--data.n_clips", "48", "--data.val_clips", "16", "--data.batch_size", "16", "--data.num_workers", "0"]


def small_data(name: str, shared: Path) -> list[str]:
    """Overrides that make a recipe's data small (the recipes' own defaults are full runs)."""
    if name in ("quickstart", "cmc_av", "cmc_avt", "ambient_sound_quickstart", "byol_av", "temporal_order_quickstart"):
        return SYNTHETIC
    if name.endswith("_cifar10"):
        return ["--data.path", str(shared / "images" / "cifar10-jpg.tar"), "--data.train_limit", "256",
                "--data.test_limit", "128", "--data.batch_size", "64"]
    if name == "ambient_sound_folder":  # a ResNet-18 at 128 px is a GPU recipe; the same method, smaller
        return ["--data.index", str(shared / "av" / "vas_vggsound"), "--data.val_clips", "6",
                "--data.batch_size", "8", "--data.num_workers", "0", "--data.clips_per_video", "1",
                "--data.frame_size", "64", "--model.encoder", '{"name": "small_resnet", "width": 8}',
                "--model.n_clusters", "4", "--model.n_components", "4", "--model.fit_batches", "2"]
    if name.endswith("_fsdd"):
        return ["--data.path", str(shared / "audio" / "fsdd.tar"), "--data.batch_size", "16"]
    if name == "cmc_av_folder":
        return ["--data.index", str(shared / "av" / "vas_vggsound"), "--data.val_clips", "6",
                "--data.batch_size", "8", "--data.num_workers", "0"]
    if name == "word2vec_enwiki":
        return ["--trainer.limit_train_batches", "2"]
    if name.endswith("_video"):  # one frame encoder on a video folder (pretext and contrastive methods)
        return ["--data.index", str(shared / "av" / "vas_vggsound"), "--data.clips_per_video", "1",
                "--data.batch_size", "8", "--data.num_workers", "0", "--data.frame_size", "32"]
    return []


def evaluation(name: str, run: Path) -> list[str]:
    if name == "cmc_lab_cifar10":
        return ["eval", "probe", "--checkpoint", str(run), "--encoder", "L", "--data", "cifar10",
                "--train-limit", "200", "--test-limit", "100", "--baselines", ""]
    if name.endswith("_cifar10"):
        return ["eval", "probe", "--checkpoint", str(run), "--data", "cifar10",
                "--train-limit", "200", "--test-limit", "100", "--baselines", ""]
    if name.startswith("word2vec"):
        return ["eval", "probe", "--checkpoint", str(run), "--data", "words", "--baselines", ""]
    if name.endswith("_fsdd"):
        return ["eval", "probe", "--checkpoint", str(run), "--data", "fsdd", "--train-limit", "200",
                "--test-limit", "100", "--baselines", ""]
    if name.startswith("ambient") or name.endswith("_video"):
        return ["eval", "probe", "--checkpoint", str(run), "--data", "run", "--baselines", "",
                "--train-limit", "64", "--test-limit", "32"]
    return ["eval", "retrieval", "--checkpoint", str(run)]


# one of each kind: every report callback, every data module, every evaluation command
REPORTED = {"quickstart", "cmc_av_folder", "cmc_lab_cifar10", "ambient_sound_quickstart", "word2vec_text",
            "rotation_video", "simclr_cifar10", "byol_av", "dino_video", "simclr_fsdd"}


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES, ids=[r.stem for r in RECIPES])
def test_recipe_fits_reloads_and_evaluates(recipe, shared_data, tmp_path, capsys):
    run = tmp_path / "run"
    reported = recipe.stem in REPORTED
    argv = ["fit", "--config", str(recipe), "--trainer.default_root_dir", str(run), *SHORT,
            *small_data(recipe.stem, shared_data), *([] if reported else ["--trainer.callbacks", "[]"])]
    assert main(argv) == 0, capsys.readouterr().err[-2000:]
    _, ckpt = find_run(run)
    saved = read_state(ckpt)
    if recipe.stem.startswith("word2vec"):
        _, vectors = load_word2vec(run / "vectors.bin")
        assert torch.allclose(vectors, saved["syn0"].float()), "vectors.bin differs from the checkpoint"
    else:
        model = load_model(run)
        assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items()), "reload changed weights"
    if not reported:
        return
    assert main(evaluation(recipe.stem, run)) == 0, capsys.readouterr().err[-2000:]
    out = list((run / "eval").rglob("*.json"))
    assert out and all(json.loads(p.read_text()) for p in out)
    if evaluation(recipe.stem, run)[1] == "retrieval":
        # the end-of-fit report and the command compute the same figures, random init included
        end_of_fit = json.loads((run / "metrics.json").read_text())
        command = json.loads((run / "eval" / "retrieval" / "retrieval.json").read_text())
        assert any(k.startswith("retrieval/random_init/") for k in command)
        shared = {k: v for k, v in end_of_fit.items() if k.startswith("retrieval/")}
        assert shared == pytest.approx(command, nan_ok=True)
