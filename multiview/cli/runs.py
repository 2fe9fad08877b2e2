"""List and compare run folders.

``multiview runs [DIR]`` lists every run under ``DIR`` (default ``$MULTIVIEW_HOME/runs``): its
recipe, method, data, date, status and headline metric: the figure its end-of-fit report declared
(``metrics.json["headline"]``, :attr:`multiview.eval.reports.base.Report.headline`), never a
baseline's (for older runs, the headline its config's report callbacks declare); ``-`` where no
report gave one. A run folder is one holding ``config.yaml``; its status
is read from its files:

* ``finished``: the end-of-fit reports ran (``metrics.json``, with their figures or, under
  ``not_computed``, why they have none);
* ``resumable``: stopped before the end (Ctrl-C, SIGTERM, a crash) with ``checkpoints/last.ckpt``:
  ``multiview fit --config RECIPE --trainer.default_root_dir RUN --ckpt_path last`` continues it;
* ``interrupted``: stopped before its first checkpoint; nothing to resume;
* ``unreadable``: its ``config.yaml`` or ``metrics.json`` cannot be read (the row says which and why).

(A run still training shows as ``resumable`` or ``interrupted`` too.)

``multiview runs compare RUN RUN ... [--out FILE.png]`` prints the metrics the runs share as a
table (with their 95% intervals) and writes them as a grouped bar chart with error bars (default
``$MULTIVIEW_HOME/runs/compare/<time>.png``). Runs with per-query retrieval results are paired on
their shared queries: each figure's difference to the first run, its paired-bootstrap interval
and p-value (:mod:`multiview.eval.core.run_pairs`); runs scored on different queries are refused.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from multiview.core import paths
from multiview.core.errors import UserError
from multiview.core.outputs import claim_file

TIMESTAMP = re.compile(r"^\d{8}-\d{6}$")


@dataclass
class Run:
    path: Path
    recipe: str
    method: str
    data: str
    date: str
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    headline_key: str | None = None
    not_computed: dict[str, str] = field(default_factory=dict)

    @property
    def headline(self) -> tuple[str, float] | None:
        """The figure the run's report declared as its headline, if it has one."""
        k = self.headline_key
        return (k, self.metrics[k]) if k in self.metrics else None


def short_class(section) -> str:
    return str(section.get("class_path", "?")).rpartition(".")[2] if isinstance(section, dict) else "-"


def read_run(path: Path) -> Run:
    """The facts of one run folder, from its files only (nothing is unpickled)."""
    try:
        cfg = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, ValueError, yaml.YAMLError) as e:  # a UnicodeDecodeError is a ValueError
        raise UserError(f"{path / 'config.yaml'}: cannot read ({type(e).__name__}: {e})".replace("\n", " ")) from None
    if not isinstance(cfg, dict):
        raise UserError(f"{path / 'config.yaml'}: expected a mapping of settings, found a {type(cfg).__name__}")
    raw = {}
    if (path / "metrics.json").is_file():
        try:
            raw = dict(json.loads((path / "metrics.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as e:
            raise UserError(f"{path / 'metrics.json'}: not a JSON object of metrics ({e})") from None
    metrics = {k: float(v) for k, v in raw.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    notes = raw.get("not_computed")
    if TIMESTAMP.match(path.name):
        recipe, date = path.parent.name, time.strftime("%Y-%m-%d %H:%M", time.strptime(path.name, "%Y%m%d-%H%M%S"))
    else:
        recipe = path.name
        date = time.strftime("%Y-%m-%d %H:%M", time.localtime((path / "config.yaml").stat().st_mtime))
    status = ("finished" if (path / "metrics.json").is_file() else
              "resumable" if (path / "checkpoints" / "last.ckpt").is_file() else "interrupted")
    declared = raw.get("headline") if isinstance(raw.get("headline"), str) else None
    return Run(path, recipe, short_class(cfg.get("model")), short_class(cfg.get("data")), date, status, metrics,
               declared or reports_headline(cfg, metrics),
               {str(k): str(v) for k, v in notes.items()} if isinstance(notes, dict) else {})


def reports_headline(cfg: dict, metrics: dict[str, float]) -> str | None:
    """For a run written before reports stored their headline: the first headline that the report
    callbacks its ``config.yaml`` names (ours only, :mod:`multiview.eval.reports`) declare."""
    trainer = cfg.get("trainer") if isinstance(cfg.get("trainer"), dict) else {}
    callbacks = trainer.get("callbacks") if isinstance(trainer.get("callbacks"), list) else []
    names = [str(c.get("class_path", "")).rpartition(".")[2] for c in callbacks if isinstance(c, dict)
             and str(c.get("class_path", "")).startswith("multiview.eval.reports.")]
    if not metrics or not names:
        return None
    from multiview.eval import reports
    from multiview.eval.reports.base import pick_headline

    for name in names:
        key = pick_headline(getattr(getattr(reports, name, None), "headline", ()), metrics)
        if key:
            return key
    return None


def find_runs(root: Path) -> list[Run]:
    """Every run folder under ``root`` (``root`` itself included), oldest first."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"runs: {root} is not a folder")
    folders = sorted({p.parent for p in root.rglob("config.yaml")})
    return sorted((listed_run(f) for f in folders), key=lambda r: (r.date, str(r.path)))


def listed_run(path: Path) -> Run:
    """:func:`read_run`, or a row with status ``unreadable`` saying which file could not be read
    and why: one bad folder does not hide the others."""
    try:
        return read_run(path)
    except UserError as e:
        try:
            date = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
        except OSError:
            date = "-"
        return Run(path, path.parent.name if TIMESTAMP.match(path.name) else path.name, "-", "-", date,
                   "unreadable", not_computed={"unreadable": str(e)})


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in lines)


def list_table(runs: list[Run], root: Path) -> str:
    rows = []
    for r in runs:
        h = r.headline
        where = r.path.relative_to(root) if r.path != root and root in r.path.parents else r.path
        shown = f"{h[0]} {h[1]:.4f}" if h else "-"
        if not h and r.not_computed and r.status != "unreadable":
            shown = "- (" + ", ".join(f"{k}: {v}" if v.startswith("skipped") else f"{k}: not computed"
                                      for k, v in r.not_computed.items()) + ")"
        rows.append([r.recipe, r.method, r.data, r.date, r.status, shown, str(where)])
    bad = [f"unreadable: {r.not_computed['unreadable']}" for r in runs if r.status == "unreadable"]
    return "\n".join([format_table(["recipe", "method", "data", "date", "status", "headline", "run"], rows), *bad])


def shared_metrics(runs: list[Run]) -> list[str]:
    keys = set.intersection(*(set(r.metrics) for r in runs)) if runs else set()
    return sorted(keys)


def compare(runs: list[Run], out: Path, n_boot: int = 1000, seed: int = 0) -> str:
    """The table of shared metrics (one column per run, each with its 95% interval where it has
    one) and, for runs with per-query results, the paired differences
    (:func:`multiview.eval.core.run_pairs.compare_paired`); writes the chart to ``out``."""
    from multiview.eval.core.bootstrap import format_interval
    from multiview.eval.core.plots import plot_compare
    from multiview.eval.core.run_pairs import compare_paired

    keys = [k for k in shared_metrics(runs) if not k.endswith(("_lo", "_hi"))]
    if not keys:
        raise UserError("runs compare: the runs share no metric (finished runs of the same kind of report?)")
    names = [f"{r.recipe}/{r.path.name}" if r.recipe != r.path.name else r.path.name for r in runs]
    bounds = [[(r.metrics.get(f"{k}_lo", float("nan")), r.metrics.get(f"{k}_hi", float("nan"))) for k in keys]
              for r in runs]
    table = format_table(["metric", *names], [[k, *(format_interval(r.metrics[k], *b[i]) for r, b in zip(runs, bounds))]
                                              for i, k in enumerate(keys)])
    paired, diffs = compare_paired([r.path for r in runs], names, n_boot, seed)
    plot_compare(keys, names, [[r.metrics[k] for k in keys] for r in runs], bounds, diffs, out)
    return table + (f"\n\n{paired}" if paired else "")


def main(argv: list[str]) -> int:
    if argv[:1] == ["compare"]:
        parser = argparse.ArgumentParser(prog="multiview runs compare", description="Compare runs' metrics.")
        parser.add_argument("runs", nargs="+", help="run folders")
        parser.add_argument("--out", default="",
                            help="bar chart PNG (default: $MULTIVIEW_HOME/runs/compare/<time>.png)")
        parser.add_argument("--bootstrap", type=int, default=1000, help="paired bootstrap resamples (default 1000)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the resamples (default 0)")
        args = parser.parse_args(argv[1:])
        runs = []
        for p in args.runs:
            path = Path(p).expanduser()
            if not (path / "config.yaml").is_file():
                raise UserError(f"runs compare: {path} is not a run folder (no config.yaml)")
            runs.append(read_run(path))
        out = Path(args.out) if args.out else paths.runs_dir() / "compare" / f"{time.strftime('%Y%m%d-%H%M%S')}.png"
        claim_file(out, "runs compare")
        print(compare(runs, out, args.bootstrap, args.seed))
        print(f"wrote {out}")
        return 0
    parser = argparse.ArgumentParser(prog="multiview runs", description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", default="", help="folder of runs (default: $MULTIVIEW_HOME/runs)")
    args = parser.parse_args(argv)
    root = Path(args.dir).expanduser() if args.dir else paths.runs_dir()
    runs = find_runs(root)
    print(list_table(runs, root) if runs else f"no runs under {root}")
    return 0
