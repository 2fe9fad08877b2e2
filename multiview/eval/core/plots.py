"""Figures and tables shared by the evaluation commands and reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from multiview.core.io import save_figure


def plot_bars(scores: dict[str, float], chance: float, title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(scores), 3))
    bars = ax.bar(list(scores), list(scores.values()), color="tab:blue")
    for b, v in zip(bars, scores.values()):
        ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    ax.axhline(chance, color="gray", ls="--", label=f"chance {chance:.3f}")
    ax.set_ylim(0, 1)
    ax.set_ylabel("test top-1")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    return save_figure(path, fig)


def format_figures(metrics: dict[str, float]) -> str:
    """One line per figure, sorted; a figure with ``<key>_lo`` / ``<key>_hi`` beside it is shown
    with its interval, ``0.594 [0.47, 0.71]``."""
    from multiview.eval.core.bootstrap import format_interval

    bounds = {k[:-3] for k in metrics if k.endswith(("_lo", "_hi"))}
    bounds = {k for k in bounds if {k, f"{k}_lo", f"{k}_hi"} <= set(metrics)}
    hidden = {f"{k}{end}" for k in bounds for end in ("_lo", "_hi")}
    shown = {k: v for k, v in metrics.items() if k not in hidden}
    width = max((len(k) for k in shown), default=0)
    lines = []
    for k, v in sorted(shown.items()):
        if k in bounds:
            text = format_interval(v, metrics[f"{k}_lo"], metrics[f"{k}_hi"])
        else:
            text = f"{v:.4f}" if isinstance(v, (int, float)) and np.isfinite(v) else str(v)
        lines.append(f"  {k:<{width}}  {text}")
    return "\n".join(lines)


def print_table(metrics: dict[str, float]) -> None:
    print(format_figures(metrics))


def plot_maps(maps: dict[str, np.ndarray], labels: np.ndarray, classes: list[str], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 4.2), squeeze=False)
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for ax, (name, pts) in zip(axes[0], maps.items()):
        for c in np.unique(labels):
            m = labels == c
            ax.scatter(pts[m, 0], pts[m, 1], s=5, color=cmap(int(c) % cmap.N),
                       label=classes[int(c)] if int(c) < len(classes) else str(c))
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(fontsize=7, markerscale=2.5, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title, fontsize=10)
    return save_figure(path, fig)


def plot_layers(curves: dict[str, dict[str, float]], layers: list[str], flat: dict[str, float], chance: float,
                title: str, path: Path, dashed: tuple[str, ...] = ()) -> Path:
    """Accuracy against depth: one line per method in ``curves`` (``{method: {layer: top1}}``,
    ``layers`` in depth order; the ``dashed`` ones, baselines, drawn dashed), one horizontal line
    per single-figure representation in ``flat``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2.5 + 0.9 * len(layers), 4))
    colours = plt.get_cmap("tab20").colors  # ten methods and their baselines: no colour twice
    for k, (name, scores) in enumerate(curves.items()):
        xs = [i for i, layer in enumerate(layers) if layer in scores]
        ax.plot(xs, [scores[layers[i]] for i in xs], marker="o", ls="--" if name in dashed else "-", label=name,
                color=colours[(2 * k + k // 10) % len(colours)])
    styles = iter(("-.", ":", (0, (5, 2)), (0, (1, 3))) * (1 + len(flat) // 4))
    for name, v in flat.items():
        ax.axhline(v, color="black", ls=next(styles), lw=1, label=f"{name} {v:.3f}")
    ax.axhline(chance, color="gray", ls="--", lw=1, label=f"chance {chance:.3f}")
    ax.set_xticks(range(len(layers)), layers, fontsize=8)
    ax.set_xlabel("layer (depth order)")
    ax.set_ylabel("linear probe test top-1")
    top = max([v for s in curves.values() for v in s.values()] + list(flat.values()) + [chance])
    ax.set_ylim(0, min(1.0, top * 1.15 + 0.02))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return save_figure(path, fig)


def plot_compare(keys: list[str], names: list[str], values: list[list[float]], bounds: list[list[tuple]],
                 diffs: list, path: Path) -> Path:
    """``multiview runs compare``'s chart: the runs' shared figures as grouped bars with their 95%
    intervals as error bars (``bounds[run][key]``: ``(lo, hi)`` or NaNs), and, where the runs were
    paired, each difference ``B - A`` with its paired 95% interval
    (:class:`~multiview.eval.core.run_pairs.Difference`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if diffs else 1
    fig, axes = plt.subplots(1, panels, figsize=(max(6.0, 0.5 * len(keys) * len(names) + 2) + 5 * (panels - 1), 4.5),
                             squeeze=False)
    ax, width, x = axes[0][0], 0.8 / len(names), np.arange(len(keys))
    for i, (name, vals, bnd) in enumerate(zip(names, values, bounds)):
        v, b = np.asarray(vals, dtype=float), np.asarray(bnd, dtype=float).reshape(-1, 2)
        err = np.nan_to_num(np.abs(np.stack([v - b[:, 0], b[:, 1] - v])), nan=0.0)
        ax.bar(x + (i - (len(names) - 1) / 2) * width, v, width, yerr=err, capsize=2, label=name)
    ax.set_xticks(x, keys, rotation=60, ha="right", fontsize=7)
    ax.legend(fontsize=7)
    ax.set_title("shared metrics (error bars: 95% interval)", fontsize=9)
    if diffs:
        ax = axes[0][1]
        for y, diff in enumerate(diffs):
            err = [[abs(diff.d - diff.lo)], [abs(diff.hi - diff.d)]] if np.isfinite([diff.lo, diff.hi]).all() else None
            ax.errorbar([diff.d], [y], xerr=err, fmt="o", capsize=3, color="tab:red" if diff.p < 0.05 else "black")
        ax.axvline(0, color="gray", ls="--", lw=1)
        labels = [f"{x.metric.removeprefix('retrieval/')} ({x.b} - {x.a}), p={x.p:.3f}" for x in diffs]
        ax.set_yticks(range(len(diffs)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title("paired differences B - A (95% interval)", fontsize=9)
    fig.tight_layout()
    return save_figure(path, fig)
