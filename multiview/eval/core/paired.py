"""Cross-view retrieval of a run's held-out samples: the trained model, random init and chance.

Query ``i`` of one view and item ``i`` of another are the true pair (a frame and the sound
around it; a clip and its caption). :func:`retrieval_figures` embeds the loader with the trained
model and with the same architecture at random init (:func:`~multiview.eval.core.embed.random_init`),
and returns flat figures such as ``retrieval/frame_to_audio/R@1``,
``retrieval/random_init/audio_to_frame/R@5``, ``retrieval/chance/R@1``, and, where the samples
are labelled, class mAP across and within views. :func:`retrieval_results` adds each query's
rank (:mod:`multiview.eval.core.queries`) and the figures' bootstrap intervals; the end-of-fit
report and ``multiview eval retrieval`` both call it.
"""

from __future__ import annotations

import os
from itertools import permutations

import torch

from multiview.core.errors import UserError
from multiview.eval.core.bootstrap import intervals
from multiview.eval.core.embed import embed_loader, random_init
from multiview.eval.core.queries import query_metrics
from multiview.eval.metrics.ranking import top_indices
from multiview.eval.metrics.retrieval import (
    chance_map,
    chance_metrics,
    labelled_metrics,
    query_average_precision,
    query_ranks,
    retrieval_metrics,
    similarity,
)

MODELS = {"trained": "retrieval/", "random_init": "retrieval/random_init/"}  # per-query ``model`` -> key prefix


def directions(z: dict, views: list[str], prefix: str) -> dict[str, float]:
    out = {}
    for a, b in permutations(views, 2):
        for k, v in retrieval_metrics(similarity(z[a], z[b])).items():
            out[f"{prefix}{a}_to_{b}/{k}"] = v
    return out


def views_of(z: dict) -> list[str]:
    return [v for v in z if v != "label" and not v.endswith("_in")]


def query_ids(loader, n: int) -> list[str]:
    """Each held-out sample's id: its clip's path relative to the clips' common folder when the
    loader's dataset lists one record per sample (``records``), else its position."""
    records = getattr(getattr(loader, "dataset", None), "records", None)
    paths = [r.get("path") for r in records] if isinstance(records, list) else []
    if len(paths) != n or not all(isinstance(p, str) for p in paths) or len(set(paths)) != n:
        return [str(i) for i in range(n)]
    try:
        root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
    except ValueError:
        return [str(i) for i in range(n)]
    return [os.path.relpath(os.path.abspath(p), root) for p in paths]


def query_rows(z: dict, views: list[str], model: str, ids: list[str]) -> list[tuple]:
    """The rows of :data:`~multiview.eval.core.queries.QUERY_FILE` for one model's embeddings."""
    labels = z.get("label")
    labelled = labels is not None and len(labels) == len(ids) and int(labels.min()) >= 0 and labels.unique().numel() > 1
    rows = []
    for a, b in permutations(views, 2):
        sim = similarity(z[a], z[b])
        rank, tied = query_ranks(sim)
        ap = query_average_precision(sim, labels, labels).tolist() if labelled else [None] * len(ids)
        rows += [(model, f"{a}_to_{b}", q, r, t, p) for q, r, t, p in zip(ids, rank.tolist(), tied.tolist(), ap)]
    return rows


def row_intervals(rows: list[tuple], n_boot: int = 1000, seed: int = 0) -> dict[str, float]:
    """Bootstrap 95% intervals over the queries of every figure the ``rows`` give:
    ``retrieval/<direction>/<metric>_lo`` and ``_hi`` (``retrieval/random_init/...`` for the baseline)."""
    import numpy as np

    groups: dict[tuple[str, str], list[tuple]] = {}
    for row in rows:
        groups.setdefault(row[:2], []).append(row)
    out = {}
    for (model, direction), group in groups.items():
        q = {c: np.array([np.nan if r[i] is None else r[i] for r in group], dtype=float)
             for i, c in ((3, "rank"), (4, "tied"), (5, "ap"))}
        out.update(intervals(query_metrics(q), f"{MODELS[model]}{direction}/", n_boot, seed))
    return out


def retrieval_results(model, loader, keep_inputs: int = 64, n_boot: int = 1000,
                      seed: int = 0) -> tuple[dict[str, float], dict, list[tuple]]:
    """``(figures with their 95% intervals, trained embeddings, per-query rows)``: what the end-of-fit
    report and ``multiview eval retrieval`` write (``n_boot`` bootstrap resamples of the queries, seeded)."""
    figures, trained, baseline = retrieval_figures(model, loader, keep_inputs, with_baseline=True)
    views, ids = views_of(trained), query_ids(loader, int(figures["retrieval/n_queries"]))
    rows = query_rows(trained, views, "trained", ids) + query_rows(baseline, views, "random_init", ids)
    if n_boot > 0:
        figures.update(row_intervals(rows, n_boot, seed))
    return figures, trained, rows


def retrieval_figures(model, loader, keep_inputs: int = 64, with_baseline: bool = False):
    """``(figures, trained embeddings)`` over ``loader``; the embeddings keep the first inputs
    (``with_baseline``: the random init's embeddings too, third)."""
    trained = embed_loader(model, loader, keep_inputs=keep_inputs)
    views = views_of(trained)
    n = len(trained[views[0]]) if views else 0
    if len(views) < 2:
        raise UserError(f"retrieval needs two or more views; {type(model).__name__} embeds {views}")
    if n < 2:
        raise UserError(f"retrieval needs at least 2 held-out samples, the held-out set has {n}")
    baseline = embed_loader(random_init(model, loader), loader)
    figures = {"retrieval/n_queries": float(n)}
    figures.update(directions(trained, views, "retrieval/"))
    figures.update(directions(baseline, views, "retrieval/random_init/"))
    figures.update({f"retrieval/chance/{k}": v for k, v in chance_metrics(n).items()})
    labels = trained.get("label")
    if labels is not None and len(labels) == n and int(labels.min()) >= 0 and labels.unique().numel() > 1:
        figures.update(labelled_metrics(trained, views, "retrieval/"))
        figures.update(labelled_metrics(baseline, views, "retrieval/random_init/"))
        figures["retrieval/chance/class_mAP"] = chance_map(labels, exclude_self=False)
        figures["retrieval/chance/within_mAP"] = chance_map(labels, exclude_self=True)
    return (figures, trained, baseline) if with_baseline else (figures, trained)


def plot_matches(z: dict, logmel, path, n_queries: int = 4, top: int = 5):
    """Frame queries with their top sound matches, and sound queries with their top frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from multiview.core.io import save_figure

    n = len(z["frame_in"])
    top = min(top, n)
    n_queries = min(n_queries, n)
    sim = similarity(z["frame"][:n], z["audio"][:n])
    with torch.no_grad():
        specs = logmel(z["audio_in"].to(next(iter(logmel.buffers())).device)).cpu()[:, 0]
    frames = z["frame_in"].permute(0, 2, 3, 1).clamp(0, 1)
    fig, axes = plt.subplots(2 * n_queries, top + 1, figsize=(1.6 * (top + 1), 1.6 * 2 * n_queries), squeeze=False)
    queries = torch.linspace(0, n - 1, n_queries).long().tolist()
    show = {"frame": lambda ax, i: ax.imshow(frames[i]),
            "audio": lambda ax, i: ax.imshow(specs[i], origin="lower", aspect="auto")}
    for row, q in enumerate(queries):
        for kind, other, s, r in (("frame", "audio", sim[q], row), ("audio", "frame", sim[:, q], row + n_queries)):
            show[kind](axes[r, 0], q)
            axes[r, 0].set_title(f"query {kind} {q}", fontsize=7)
            for c, m in enumerate(top_indices(s, top).tolist(), 1):
                show[other](axes[r, c], m)
                axes[r, c].set_title(f"#{c}: {m}" + (" (true)" if m == q else ""), fontsize=7,
                                     color="green" if m == q else "black")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("held-out retrieval: frame -> sound (top rows), sound -> frame (bottom rows)", fontsize=9)
    return save_figure(path, fig)
