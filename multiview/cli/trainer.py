"""Lightning's CLI, set up for multiview runs.

Every run gets one folder (``trainer.default_root_dir``; by default
``$MULTIVIEW_HOME/runs/<recipe>/<timestamp>``) holding the resolved ``config.yaml``, CSV logs and
TensorBoard event files, ``checkpoints/`` and the end-of-fit ``metrics.json`` and PNGs, written by
the report callbacks the recipe names (:mod:`multiview.eval.reports`). A run stopped by Ctrl-C or
SIGTERM saves ``checkpoints/last.ckpt``; ``--trainer.default_root_dir RUN --ckpt_path last`` resumes it
with the settings of ``RUN/config.yaml`` (:func:`with_run_config`). Data-loader workers are capped at
the CPUs this process may use, less one (:func:`worker_processes`).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import lightning as L
import torch
import yaml
from jsonargparse import Namespace
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from multiview.core import paths
from multiview.core.errors import UserError
from multiview.methods.base import Method
from multiview.run import defaults
from multiview.run.checkpoints import require_safe
from multiview.run.folders import config_name, logs_into, new_run_folder
from multiview.run.lock import RunFolderLock
from multiview.run.quiet import silence_inapplicable
from multiview.run.signals import SaveOnInterrupt  # noqa: F401  (kept importable from here)
from multiview.run.tensorboard import LearningRateLogger, log_report


class MultiviewCLI(LightningCLI):
    def _parse_ckpt_path(self) -> None:  # Lightning reads --ckpt_path's hyperparameters first
        subcommand = self.config.get("subcommand")
        require_safe(self.config[subcommand].get("ckpt_path") if subcommand else None)
        super()._parse_ckpt_path()

    def before_instantiate_classes(self) -> None:
        cfg = self.config[self.subcommand] if self.subcommand else self.config
        trainer = cfg.trainer
        if not trainer.default_root_dir:
            configs = cfg.get("config") or []
            stem = Path(str(configs[0])).stem if configs else "run"
            trainer.default_root_dir = str(new_run_folder(paths.runs_dir() / stem))
        if trainer.logger in (None, True):
            where = Namespace(save_dir=trainer.default_root_dir, name="", version="")
            trainer.logger = [Namespace(class_path="multiview.run.csv_logger.ResumableCSVLogger", init_args=where),
                              Namespace(class_path="lightning.pytorch.loggers.TensorBoardLogger",
                                        init_args=where.clone())]
        logs_into(trainer.logger, trainer.default_root_dir)  # a moved run's saved config names its old folder
        if "weights_only" in cfg and cfg.weights_only is None:
            cfg.weights_only = True  # checkpoints resume without unpickling arbitrary objects
        data = cfg.get("data")
        if isinstance(data, Namespace) and isinstance(data.get("init_args.num_workers"), int):
            data.init_args.num_workers = min(data.init_args.num_workers, worker_processes())
        if trainer.precision is None and torch.cuda.is_available():
            trainer.precision = "bf16-mixed"

    def add_arguments_to_parser(self, parser) -> None:
        # Sections that must agree: the audio's sample rate, where both the data and the method take one.
        parser.link_arguments("data.init_args.sample_rate", "model.init_args.sample_rate", apply_on="parse")

    def instantiate_trainer(self, **kwargs):
        cfg = self.config_init[self.subcommand] if self.subcommand else self.config_init
        kwargs.setdefault("plugins", defaults.with_atomic_checkpoints(cfg["trainer"].get("plugins")))
        self.save_config_kwargs["config_filename"] = config_name(Path(cfg["trainer"]["default_root_dir"]),
                                                                 resuming=bool(cfg.get("ckpt_path")))
        return super().instantiate_trainer(**kwargs)

    def before_fit(self) -> None:
        if self.trainer.is_global_zero:  # one fit per run folder (refused in one line), released when it ends
            self.trainer.callbacks.append(RunFolderLock(self.trainer.default_root_dir).acquire())
        cfg = self.config_init[self.subcommand]
        cfg["ckpt_path"] = defaults.resolve_ckpt_path(cfg.get("ckpt_path"), self.trainer)
        silence_inapplicable(self.model, self.datamodule, resuming=bool(cfg["ckpt_path"]))

    def after_fit(self) -> None:
        trainer = self.trainer
        if trainer.interrupted or not trainer.is_global_zero:
            return
        run_dir = Path(trainer.default_root_dir)
        metrics = read_metrics(run_dir / "metrics.json")
        if metrics:
            log_report(trainer, metrics, sorted(run_dir.glob("*.png")))
        print(f"\nrun folder: {run_dir}")


def worker_processes() -> int:
    """Data-loader workers this machine can run beside the training process: one per CPU it may use, less one."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, cpus - 1)


def read_metrics(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def run_lightning_cli(argv: list[str]) -> None:
    from multiview.run.time_budget import mark_fit_start

    mark_fit_start()  # --trainer.max_time counts from here, as the user's clock does
    build_cli(with_run_config(argv), run=True)


def _value(argv: list[str], key: str) -> str | None:
    """The last value of ``--key V`` or ``--key=V`` in ``argv``."""
    found = None
    for i, arg in enumerate(argv):
        if arg == key and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith(key + "="):
            found = arg.split("=", 1)[1]
    return found


def with_run_config(argv: list[str]) -> list[str]:
    """A resume (``--ckpt_path`` with ``--trainer.default_root_dir RUN``) reads ``RUN/config.yaml``
    right after the recipe: the run's settings win over the recipe's, and every option typed on the
    command line after ``--config`` wins over both. Without ``--config`` the run's config is the recipe."""
    run = _value(argv, "--trainer.default_root_dir")
    if not _value(argv, "--ckpt_path") or not run:
        return argv
    config = Path(run).expanduser() / "config.yaml"
    recipe = any(arg == "--config" or arg.startswith("--config=") for arg in argv)
    if not config.is_file():
        if recipe:
            return argv
        raise UserError(f"{config} is missing: resuming {run} needs its recipe; pass --config RECIPE "
                        f"(multiview fit --config RECIPE --trainer.default_root_dir {run} --ckpt_path ...)")
    readable_config(config)
    saved = ["--config", str(config)]
    ends = [i + 2 if arg == "--config" else i + 1 for i, arg in enumerate(argv) if arg == "--config"
            or arg.startswith("--config=")]
    at = max(ends) if ends else 1
    return argv[:at] + saved + argv[at:]


def readable_config(path: Path) -> None:
    """Refuse, in one line naming it, a run's ``config.yaml`` that is not UTF-8 YAML settings."""
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as e:  # a UnicodeDecodeError is a ValueError
        why = f"{type(e).__name__}: {e}".replace("\n", " ")
        raise UserError(f"{path}: cannot read the run's settings ({why})") from None
    if cfg is not None and not isinstance(cfg, dict):
        raise UserError(f"{path}: expected a mapping of settings, found a {type(cfg).__name__}")


def build_cli(argv: list[str], run: bool = False) -> MultiviewCLI:
    """The CLI over ``argv``; ``run=False`` only builds the trainer, model and data (``multiview bench``)."""
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    callbacks = [ModelCheckpoint(save_last=True), *defaults.default_callbacks(), LearningRateLogger()] if run else []
    return MultiviewCLI(
        model_class=Method,
        subclass_mode_model=True,
        datamodule_class=L.LightningDataModule,
        subclass_mode_data=True,
        args=argv,
        run=run,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={"callbacks": callbacks},
        parser_kwargs={"exit_on_error": False},
        auto_configure_optimizers=False,
    )
