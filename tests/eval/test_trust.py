"""A run folder cannot make ``multiview eval`` import or build a class it should not."""

import sys

import pytest
import torch
import yaml

from multiview.cli.main import main as cli_main
from multiview.core.errors import UserError
from multiview.core.io import save_tensors
from multiview.eval.core import trust
from multiview.eval.core.checkpoint import load_model


def make_run(root, class_path, init_args=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(
        yaml.safe_dump({"model": {"class_path": class_path, "init_args": init_args or {}}}))
    save_tensors(root / "checkpoints" / "last.ckpt",
                 {"state_dict": {"weight": torch.zeros(2, 2), "bias": torch.zeros(2)}})
    return root


@pytest.fixture
def payload(tmp_path, monkeypatch):
    """A package that records its import in a file: a foreign run folder's code."""
    pkg = tmp_path / "lib" / "foreignpkg"
    pkg.mkdir(parents=True)
    marker = tmp_path / "imported"
    (pkg / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nimport torch\n"
        "class Net(torch.nn.Linear):\n    def __init__(self):\n        super().__init__(2, 2)\n")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    monkeypatch.delenv(trust.ENV, raising=False)
    monkeypatch.setattr(trust, "_allowed_by_option", set())
    yield marker
    sys.modules.pop("foreignpkg", None)


def test_foreign_class_is_refused_before_import(tmp_path, payload, capsys):
    run = make_run(tmp_path / "run", "foreignpkg.Net")
    code = cli_main(["eval", "probe", "--checkpoint", str(run), "--data", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "refusing class_path 'foreignpkg.Net'" in err and "--allow-class" in err
    assert not payload.exists()  # the module was never imported


@pytest.mark.parametrize("class_path", [
    "multiview.core.io.Path",  # inside multiview, but not a method or data module package
    "multiview.methods.base.nn",  # a method module, but the attribute is not a Method
    "multiview.data.loader.EpochSampler",  # a data module package, not a LightningDataModule
    "os.system",
    "builtins.eval",
    "foo; rm -rf",
])
def test_only_methods_and_data_modules_are_built(tmp_path, class_path):
    with pytest.raises(UserError, match="refusing|not a dotted"):
        load_model(make_run(tmp_path / "run", class_path))


def test_allowed_class_is_built(tmp_path, payload, monkeypatch):
    run = make_run(tmp_path / "run", "foreignpkg.Net")
    monkeypatch.setenv(trust.ENV, "other.Thing, foreignpkg.Net")
    model = load_model(run)
    assert payload.exists() and type(model).__name__ == "Net"


def test_allow_option_is_taken_from_the_command_line(payload):
    rest = trust.take_allow_options(["probe", "--allow-class", "foreignpkg.Net", "--allow-class=a.B", "--data", "x"])
    assert rest == ["probe", "--data", "x"] and {"foreignpkg.Net", "a.B"} <= trust.allowed()
    with pytest.raises(UserError, match="--allow-class"):
        trust.take_allow_options(["probe", "--allow-class"])


def test_multiview_method_is_built(tmp_path):
    init = {"views": ["frame", "audio"], "encoders": {"frame": {"width": 4}, "audio": {"width": 4}}, "proj_dim": 8}
    from multiview.methods.cmc import CMC

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(
        yaml.safe_dump({"model": {"class_path": "multiview.methods.cmc.CMC", "init_args": init}}))
    save_tensors(run / "checkpoints" / "last.ckpt", {"state_dict": CMC(**init).state_dict()})
    assert isinstance(load_model(run), CMC)
