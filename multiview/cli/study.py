"""``multiview study STUDY.yaml --out DIR``: recipes x overrides x seeds, run and summarised.

A study spec (YAML, read with ``yaml.safe_load``)::

    recipes: [recipes/quickstart.yaml, recipes/byol_av.yaml]   # paths relative to the spec or the cwd
    seeds: [0, 1, 2]                                           # --seed_everything of each run
    overrides: {trainer.max_epochs: 1, data.val_clips: 256}    # dotted keys, applied to every run
    grid: {model.lr: [0.001, 0.002]}                           # optional: each combination a variant
    metrics: ["retrieval/*_to_*/*"]                            # optional: the table's metrics (fnmatch)

Each run is ``multiview fit --config RECIPE --seed_everything SEED --KEY VALUE ...`` in its own
folder ``DIR/runs/<recipe>[-key=value...]-seed<SEED>`` (its output in ``study.log`` there), as an
argument list, never a shell string. A run is complete when its ``metrics.json`` exists; started
again, a study runs only the runs that are not: one whose fit saved ``checkpoints/last.ckpt``
resumes from it, another starts afresh (same seed, same result), and one whose ``.fit.lock`` a live
fit holds is left alone. SIGTERM or SIGINT to the study is forwarded to its fits as SIGTERM (each
saves ``last.ckpt`` and stops); the study waits for them and exits with 128 + the signal.
Runs go one after another, ``--jobs N`` at a time as local processes, or through submitit
(https://github.com/facebookincubator/submitit): ``--executor slurm``
submits one Slurm job per run (``--partition``, ``--time``, ``--gpus``, ``--cpus``), ``--executor
local`` runs the same jobs with submitit's LocalExecutor. The summary (:mod:`multiview.cli.study_table`)
is written whenever runs are complete: ``summary.md|csv|json|png`` and ``paired.md|csv``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from multiview.core.errors import UserError
from multiview.core.outputs import claim_output
from multiview.run.lock import LOCK_NAME, live_holder

SPEC_KEYS = ("recipes", "seeds", "overrides", "grid", "metrics")
EXECUTORS = ("process", "local", "slurm")
LOCKED, NOT_STARTED = -1, -2  # run_one's codes of a run it did not start
RESERVED = ("seed_everything", "trainer.default_root_dir", "ckpt_path", "config")


@dataclass(frozen=True)
class Run:
    variant: str      # recipe stem plus the grid's key=value pairs: a row of the table
    seed: int
    recipe: Path
    overrides: tuple[tuple[str, object], ...]
    folder: Path

    def command(self) -> list[str]:
        argv = [sys.executable, "-m", "multiview.cli.main", "fit", "--config", str(self.recipe),
                "--trainer.default_root_dir", str(self.folder), "--seed_everything", str(self.seed)]
        for key, value in self.overrides:
            argv += [f"--{key}", _argument(value)]
        return argv

    @property
    def complete(self) -> bool:
        return (self.folder / "metrics.json").is_file()


def _argument(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", text)


def _mapping(spec: dict, key: str, where: str) -> dict:
    value = spec.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
        raise UserError(f"{where}: {key}: expected a mapping of dotted keys (trainer.max_epochs: 1), got {value!r}")
    bad = [k for k in value if k.lstrip("-") in RESERVED]
    if bad:
        raise UserError(f"{where}: {key}: {bad[0]} is set by the study; expected other keys")
    return {k.lstrip("-"): v for k, v in value.items()}


def load_spec(path: Path) -> dict:
    """The spec at ``path``, checked: recipes (files), seeds (integers), overrides, grid, metrics."""
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"{path}: cannot read the study spec ({' '.join(str(e).split())[:200]})") from None
    if not isinstance(spec, dict):
        raise UserError(f"{path}: expected a mapping with keys {', '.join(SPEC_KEYS)}")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise UserError(f"{path}: unknown key {unknown[0]!r}; expected {', '.join(SPEC_KEYS)}")
    recipes = spec.get("recipes")
    if not isinstance(recipes, list) or not recipes or not all(isinstance(r, str) for r in recipes):
        raise UserError(f"{path}: recipes: expected a list of recipe files, got {recipes!r}")
    found = []
    for r in recipes:
        here = [p for p in (path.parent / r, Path(r)) if p.is_file()]
        if not here:
            raise UserError(f"{path}: recipes: {r} does not exist (relative to the spec or the working folder)")
        found.append(here[0].resolve())
    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(type(s) is int and s >= 0 for s in seeds):
        raise UserError(f"{path}: seeds: expected a list of non-negative integers, got {seeds!r}")
    if len(set(seeds)) < len(seeds):
        raise UserError(f"{path}: seeds: {next(s for s in seeds if seeds.count(s) > 1)} appears twice; "
                        "expected distinct seeds")
    grid = _mapping(spec, "grid", str(path))
    if not all(isinstance(v, list) and v for v in grid.values()):
        raise UserError(f"{path}: grid: expected a non-empty list of values per key, got {grid!r}")
    metrics = spec.get("metrics", ["*"])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise UserError(f"{path}: metrics: expected a list of metric names or patterns, got {metrics!r}")
    return {"recipes": found, "seeds": seeds, "overrides": _mapping(spec, "overrides", str(path)),
            "grid": grid, "metrics": metrics}


def plan(spec: dict, out: Path) -> list[Run]:
    """Every run of the study: recipe x grid combination x seed, each with its folder."""
    stems = [r.stem for r in spec["recipes"]]
    if len(set(stems)) < len(stems):
        raise UserError(f"recipes: two recipes named {next(s for s in stems if stems.count(s) > 1)}; "
                        "expected distinct file names")
    keys = list(spec["grid"])
    runs, seen = [], {}
    for recipe in spec["recipes"]:
        for combo in itertools.product(*(spec["grid"][k] for k in keys)):
            chosen = tuple(zip(keys, combo))
            variant = "-".join([recipe.stem, *(_slug(f"{k}={json.dumps(v)}") for k, v in chosen)])
            # two values that are one folder name, or one command-line argument, would be one run
            for same in (variant, (recipe, tuple((k, _argument(v)) for k, v in chosen))):
                if same in seen:
                    pairs = [(x, y) for x, y in zip(seen[same], chosen) if x != y] or [(chosen[0], chosen[0])]
                    (key, a), (_, b) = pairs[0]
                    raise UserError(f"grid: {key}: values {a!r} and {b!r} give the same run ({variant}); "
                                    "expected values that differ in a folder name and on the command line")
                seen[same] = chosen
            for seed in spec["seeds"]:
                runs.append(Run(variant, seed, recipe, tuple(spec["overrides"].items()) + chosen,
                                out / "runs" / f"{variant}-seed{seed}"))
    return runs


class Fits:
    """The fits a study runs as local processes. A stop signal (SIGTERM, SIGINT) to the study is
    forwarded to each as SIGTERM: it saves ``last.ckpt`` and ends (:mod:`multiview.run.signals`);
    the study waits for them and starts no other."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen] = set()
        self.stopped_by: int | None = None

    def stop(self, signum: int, frame) -> None:
        with self.lock:
            self.stopped_by = signum
            for fit in self.running:
                fit.send_signal(signal.SIGTERM)

    def run(self, command: list[str], **options) -> int:
        with self.lock:
            if self.stopped_by is not None:
                return NOT_STARTED
            fit = subprocess.Popen(command, start_new_session=True, **options)  # only the study signals it
            self.running.add(fit)
        try:
            return fit.wait()
        finally:
            with self.lock:
                self.running.discard(fit)


def run_one(command: list[str], folder: str, fits: Fits | None = None) -> int:
    """Run one fit in ``folder``; its output goes to ``folder/study.log``. A folder whose fit saved
    ``checkpoints/last.ckpt`` resumes from it (``--ckpt_path last``); one without starts afresh; one
    that a live fit still holds is left alone (:data:`LOCKED`). Also what a submitit job calls (a
    module-level function, pickled by reference)."""
    folder = Path(folder)
    holder = live_holder(folder)
    if holder is not None:
        print(f"{folder.name}: skipped: a live fit (pid {holder}) holds {folder / LOCK_NAME}; run the study "
              "again once it ends", file=sys.stderr)
        return LOCKED
    resume = (folder / "checkpoints" / "last.ckpt").is_file()
    if resume:
        command = [*command, "--ckpt_path", "last"]
    else:
        shutil.rmtree(folder, ignore_errors=True)  # killed before its first checkpoint: start again
        folder.mkdir(parents=True)
    with open(folder / "study.log", "a" if resume else "w") as log:
        options = dict(stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return (fits or Fits()).run(command, **options)


def execute(todo: list[Run], out: Path, executor: str, jobs: int, slurm: dict,
            fits: Fits | None = None) -> dict[Run, int]:
    """Exit status of each run in ``todo``."""
    if executor == "process":
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            codes = pool.map(lambda r: run_one(r.command(), str(r.folder), fits), todo)
            return dict(zip(todo, codes))
    import submitit

    folder = out / "submitit" / "%j"
    ex = submitit.LocalExecutor(folder=folder) if executor == "local" else submitit.AutoExecutor(folder=folder,
                                                                                                 cluster="slurm")
    params = {"timeout_min": slurm["time"]}
    if executor == "slurm":
        params.update(slurm_partition=slurm["partition"], gpus_per_node=slurm["gpus"], cpus_per_task=slurm["cpus"],
                      slurm_array_parallelism=max(1, jobs), name="multiview-study")
    ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
    # Slurm: one job array, at most ``jobs`` running; locally: ``jobs`` processes at a time
    waves = [todo] if executor == "slurm" else [todo[k:k + max(1, jobs)] for k in range(0, len(todo), max(1, jobs))]
    codes = {}
    for wave in waves:
        with ex.batch():
            jobs_of = [(r, ex.submit(run_one, r.command(), str(r.folder))) for r in wave]
        for r, job in jobs_of:
            try:
                codes[r] = int(job.result())
            except Exception as e:  # the job itself failed (killed, out of time): its log says why
                print(f"{r.folder.name}: job failed ({' '.join(str(e).split())[:200]})", file=sys.stderr)
                codes[r] = 1
    return codes


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="multiview study", description=__doc__.split("\n\n")[0])
    p.add_argument("spec", type=Path, help="the study's YAML spec")
    p.add_argument("--out", type=Path, required=True, help="the study's folder (runs, summary, paired comparisons)")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (local processes; Slurm: array parallelism)")
    p.add_argument("--executor", choices=EXECUTORS, default="process",
                   help="process: local subprocesses; local: submitit's LocalExecutor; slurm: submitit on Slurm")
    p.add_argument("--partition", help="Slurm partition")
    p.add_argument("--time", type=int, default=240, help="minutes a run may take (submitit's timeout_min)")
    p.add_argument("--gpus", type=int, default=None, help="GPUs per Slurm job")
    p.add_argument("--cpus", type=int, default=None, help="CPUs per Slurm job")
    p.add_argument("--dry-run", action="store_true", help="print the runs still to do and their commands")
    return p


def main(argv: list[str] | None = None) -> int:
    from multiview.cli.study_table import write_summary

    args = parser().parse_args(argv)
    if args.jobs < 1:
        raise UserError(f"--jobs: expected a positive integer, got {args.jobs}")
    spec = load_spec(args.spec)
    args.out = claim_output(args.out.resolve(), "study", create=not args.dry_run)  # a restarted study: its own
    runs = plan(spec, args.out)
    todo = [r for r in runs if not r.complete]
    print(f"study {args.spec}: {len(runs)} runs, {len(runs) - len(todo)} complete, {len(todo)} to run")
    if args.dry_run:
        print("\n".join(" ".join(r.command()) for r in todo))
        return 0
    fits, before = Fits(), {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):  # also a SIGINT a shell's background job ignores
            before[signum] = signal.signal(signum, fits.stop)
    try:
        codes = execute(todo, args.out, args.executor, args.jobs,
                        {"partition": args.partition, "time": args.time, "gpus": args.gpus, "cpus": args.cpus}, fits)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    for r, code in codes.items():
        state = {0: "done" if r.complete else "failed (exit 0)", NOT_STARTED: "not started",
                 LOCKED: "skipped (a live fit holds it)"}
        print(f"  {r.folder.name}: {state.get(code, f'failed (exit {code})')}")
    if fits.stopped_by is not None:
        name = signal.Signals(fits.stopped_by).name
        print(f"multiview study: stopped by {name}; its running fits saved last.ckpt and stopped; run the study "
              "again to resume them", file=sys.stderr)
        return 128 + fits.stopped_by
    written = write_summary(runs, args.out, spec["metrics"])
    failed = [r for r in runs if not r.complete]
    if written:
        print(f"summary: {', '.join(str(p) for p in written)}")
    else:
        print(f"summary: none written: {len(failed)} of {len(runs)} runs failed and no run wrote a metric of "
              f"{', '.join(spec['metrics'])}; their logs: {args.out / 'runs'}/*/study.log")
    if failed:
        print(f"multiview study: {len(failed)} of {len(runs)} runs did not finish; see {failed[0].folder}/study.log; "
              "run the study again to run only those", file=sys.stderr)
        return 1
    return 0
