"""End-of-fit reports for multi-view models: cross-view retrieval, or a linear probe for images.

Any model with ``embed(batch) -> {view: [B, D]}`` works for retrieval. The report holds the
trained model, the same architecture at random init, and chance, with flat keys such as
``retrieval/frame_to_audio/R@1``, ``retrieval/random_init/caption_to_frame/R@5`` and
``retrieval/chance/R@1``, and writes ``retrieval.png`` (frame/sound queries and their top
matches) when both of those views are present.
"""

from __future__ import annotations

from itertools import permutations
from pathlib import Path

import torch

from multiview.eval.probe import probe_top1
from multiview.eval.metrics.ranking import top_indices
from multiview.eval.retrieval import chance_metrics, retrieval_metrics, similarity
from multiview.io import save_figure


def _to(batch: dict, device) -> dict:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


@torch.no_grad()
def embed_loader(model, loader, keep_inputs: int = 0, fn: str = "embed") -> dict:
    """Concatenated outputs of ``model.<fn>(batch)`` over ``loader``; the first inputs too."""
    was_training = model.training
    model.eval()
    out: dict[str, list] = {}
    kept: dict[str, list] = {}
    n_kept = 0
    for batch in loader:
        batch = _to(batch, model.device)
        for view, z in getattr(model, fn)(batch).items():
            out.setdefault(view, []).append(z.float().cpu())
        out.setdefault("label", []).append(batch["label"].cpu())
        if n_kept < keep_inputs:
            for key in ("frame", "audio"):
                if key in batch:
                    kept.setdefault(key, []).append(batch[key].cpu())
            n_kept += len(batch["label"])
    model.train(was_training)
    result = {k: torch.cat(v) for k, v in out.items()}
    result.update({f"{k}_in": torch.cat(v) for k, v in kept.items()})
    return result


@torch.no_grad()
def calibrate_batchnorm(model, loader, max_batches: int = 20, fn: str = "embed") -> None:
    """Set every BatchNorm's running statistics to the data's (no labels, no weight change).

    A network at random init has running statistics of (0, 1) that do not match its
    activations; evaluating it in eval mode then collapses its outputs. Recomputing them first
    makes the random-init baseline a fair one.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches seen
    model.train()
    for i, batch in enumerate(loader):
        if i >= max_batches:
            break
        getattr(model, fn)(_to(batch, model.device))
    model.train(was_training)


def directions(z: dict, views: list[str], prefix: str) -> dict[str, float]:
    out = {}
    for a, b in permutations(views, 2):
        for k, v in retrieval_metrics(similarity(z[a], z[b])).items():
            out[f"{prefix}{a}_to_{b}/{k}"] = v
    return out


def retrieval_report(model, random_model, loader, views: list[str], run_dir: Path | None) -> dict[str, float]:
    trained = embed_loader(model, loader, keep_inputs=64)
    calibrate_batchnorm(random_model, loader)
    baseline = embed_loader(random_model, loader)
    n = len(trained[views[0]])
    metrics = {"retrieval/n_queries": float(n)}
    metrics.update(directions(trained, views, "retrieval/"))
    metrics.update(directions(baseline, views, "retrieval/random_init/"))
    metrics.update({f"retrieval/chance/{k}": v for k, v in chance_metrics(n).items()})
    if run_dir is not None and {"frame", "audio"} <= set(views):
        plot_matches(trained, model.encoders["audio"].logmel, Path(run_dir) / "retrieval.png")
    return metrics


def plot_matches(z: dict, logmel, path: Path, n_queries: int = 4, top: int = 5) -> Path:
    """Frame queries with their top sound matches, and sound queries with their top frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(z["frame_in"])
    sim = similarity(z["frame"][:n], z["audio"][:n])
    with torch.no_grad():
        specs = logmel(z["audio_in"].to(next(iter(logmel.buffers())).device)).cpu()[:, 0]
    frames = z["frame_in"].permute(0, 2, 3, 1).clamp(0, 1)
    fig, axes = plt.subplots(2 * n_queries, top + 1, figsize=(1.6 * (top + 1), 1.6 * 2 * n_queries))
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


def image_probe_report(model, random_model, datamodule) -> dict[str, float]:
    """Linear probe on the concatenated encoder features of every view, trained vs random init."""
    train_loader, test_loader = datamodule.feature_loaders()
    metrics = {}
    calibrate_batchnorm(random_model, train_loader, fn="encode")
    for name, m in (("", model), ("random_init/", random_model)):
        tr = embed_loader(m, train_loader, fn="encode")
        te = embed_loader(m, test_loader, fn="encode")
        views = [v for v in m.views]
        acc = probe_top1(torch.cat([tr[v] for v in views], 1), tr["label"],
                                    torch.cat([te[v] for v in views], 1), te["label"])
        metrics[f"probe/{name}top1"] = acc
    metrics["probe/chance/top1"] = 1.0 / len(datamodule.classes)
    return metrics
