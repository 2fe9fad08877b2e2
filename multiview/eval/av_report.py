"""End-of-fit report for audio-visual models: frame<->sound retrieval on held-out clips.

Any model with ``embed(batch) -> {"frame": [B, D], "audio": [B, D]}`` works. The report holds
the trained model, the same architecture at random init, and chance, with flat keys such as
``retrieval/frame_to_audio/R@1`` and ``retrieval/random_init/frame_to_audio/R@1``, and writes
``retrieval.png`` with a few queries and their top matches.
"""

from __future__ import annotations

from pathlib import Path

import torch

from multiview.eval.retrieval import chance_metrics, retrieval_metrics, similarity
from multiview.io import save_figure


@torch.no_grad()
def embed_loader(model, loader, keep_inputs: int = 0) -> dict[str, torch.Tensor]:
    """Concatenated embeddings over ``loader``; the first ``keep_inputs`` frames/waves too."""
    was_training = model.training
    model.eval()
    out: dict[str, list] = {"frame": [], "audio": [], "label": [], "frame_in": [], "audio_in": []}
    kept = 0
    for batch in loader:
        batch = {k: v.to(model.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        z = model.embed(batch)
        out["frame"].append(z["frame"].float().cpu())
        out["audio"].append(z["audio"].float().cpu())
        out["label"].append(batch["label"].cpu())
        if kept < keep_inputs:
            out["frame_in"].append(batch["frame"].cpu())
            out["audio_in"].append(batch["audio"].cpu())
            kept += len(batch["frame"])
    model.train(was_training)
    return {k: torch.cat(v) for k, v in out.items() if v}


def directions(z: dict[str, torch.Tensor], prefix: str) -> dict[str, float]:
    sim = similarity(z["frame"], z["audio"])
    out = {}
    for name, s in (("frame_to_audio", sim), ("audio_to_frame", sim.T)):
        for k, v in retrieval_metrics(s).items():
            out[f"{prefix}{name}/{k}"] = v
    return out


def av_retrieval_report(model, random_model, loader, run_dir: Path | None) -> dict[str, float]:
    trained = embed_loader(model, loader, keep_inputs=64)
    baseline = embed_loader(random_model, loader)
    n = len(trained["frame"])
    metrics = {"retrieval/n_queries": float(n)}
    metrics.update(directions(trained, "retrieval/"))
    metrics.update(directions(baseline, "retrieval/random_init/"))
    metrics.update({f"retrieval/chance/{k}": v for k, v in chance_metrics(n).items()})
    if run_dir is not None:
        plot_matches(trained, model, Path(run_dir) / "retrieval.png")
    return metrics


def plot_matches(z: dict[str, torch.Tensor], model, path: Path, n_queries: int = 4, top: int = 5) -> Path:
    """Frame queries with their top sound matches, and sound queries with their top frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(z["frame_in"])
    sim = similarity(z["frame"][:n], z["audio"][:n])
    with torch.no_grad():
        specs = model.audio_encoder.logmel(z["audio_in"].to(model.device)).cpu()[:, 0]
    frames = z["frame_in"].permute(0, 2, 3, 1).clamp(0, 1)
    fig, axes = plt.subplots(2 * n_queries, top + 1, figsize=(1.6 * (top + 1), 1.6 * 2 * n_queries))
    queries = torch.linspace(0, n - 1, n_queries).long().tolist()
    for row, q in enumerate(queries):
        for kind, s in (("frame", sim[q]), ("audio", sim[:, q])):
            r = row if kind == "frame" else row + n_queries
            axes[r, 0].imshow(frames[q] if kind == "frame" else specs[q], origin="upper" if kind == "frame" else "lower", aspect="auto")
            axes[r, 0].set_title(f"query {kind} {q}", fontsize=7)
            for c, m in enumerate(s.topk(top).indices.tolist(), 1):
                ax = axes[r, c]
                ax.imshow(specs[m] if kind == "frame" else frames[m], origin="lower" if kind == "frame" else "upper", aspect="auto")
                ax.set_title(f"#{c}: {m}" + (" (true)" if m == q else ""), fontsize=7,
                             color="green" if m == q else "black")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("held-out retrieval: frame -> sound (top rows), sound -> frame (bottom rows)", fontsize=9)
    return save_figure(path, fig)
