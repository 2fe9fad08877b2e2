"""End-of-fit report for the ambient-sound method (Owens et al. 2016, Sec. 4 and Fig. 3).

* **Sound-cluster prediction** on held-out clips: accuracy of the frame network at naming the
  cluster of its sound, against chance (always answering the training set's most common
  cluster, and 1/k); per-bit accuracy against the per-bit majority for binary targets.
* **What each sound cluster looks like**: ``clusters.png``, one row per cluster, the frames whose
  sound is nearest the cluster centre and the cochleagram (compressed subband envelopes) of the
  nearest one, like the paper's Fig. 3.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from multiview.core.errors import UserError
from multiview.core.io import save_figure
from multiview.eval.reports.base import Report
from multiview.views.select import get_view


@torch.no_grad()
def collect(model, loader) -> dict[str, torch.Tensor]:
    """Predictions, sound targets and PCA projections of the sound statistics."""
    was_training = model.training
    model.eval()
    out: dict[str, list] = {k: [] for k in ("logits", "target", "proj")}
    for batch in loader:
        frame, audio = (get_view(batch, v).to(model.device) for v in ("frame", "audio"))
        out["logits"].append(model(frame).float().cpu())
        with torch.autocast(audio.device.type, enabled=False):
            stats = model.texture(audio.float())
        out["target"].append(model.targets.assign(stats).cpu())
        out["proj"].append(model.targets.project(stats).cpu())
    model.train(was_training)
    return {k: torch.cat(v) for k, v in out.items()}


def cluster_ids(target: torch.Tensor) -> torch.Tensor:
    """Clusters as is; binary codes grouped by their first four bits."""
    if target.dim() == 1:
        return target
    bits = target[:, :4].long()
    return (bits * (2 ** torch.arange(bits.shape[1]))).sum(1)


def cluster_grid(model, dataset, proj: torch.Tensor, groups: torch.Tensor, path: Path,
                 per_row: int = 6, max_rows: int = 30) -> None:
    """One row per cluster: the cochleagram of the most central sound, then the central frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids, counts = groups.unique(return_counts=True)
    ids = ids[counts.argsort(descending=True)][:max_rows]
    height = 1.3 * len(ids) + 0.6
    fig, axes = plt.subplots(len(ids), per_row + 1, figsize=(1.3 * (per_row + 2), height), squeeze=False)
    fig.subplots_adjust(top=1 - 0.5 / height, bottom=0.1 / height, hspace=0.08, wspace=0.05)
    for row, c in enumerate(ids.tolist()):
        members = torch.nonzero(groups == c).flatten()
        centre = proj[members].mean(0)
        members = members[(proj[members] - centre).norm(dim=1).argsort()][:per_row]
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                audio = dataset[int(members[0])]["audio"].to(model.device)
                env = model.texture.envelopes(audio.float())[0].cpu().numpy()
                ax.imshow(env, aspect="auto", origin="lower", cmap="magma")
                ax.set_ylabel(f"{c} (n={int((groups == c).sum())})", fontsize=7)
            elif col - 1 < len(members):
                frame = dataset[int(members[col - 1])]["frame"]
                ax.imshow(frame.permute(1, 2, 0).clamp(0, 1).numpy())
            else:
                ax.axis("off")
    axes[0][0].set_title("cochleagram", fontsize=7)
    fig.suptitle("sound clusters: the frames nearest each centre", fontsize=9)
    save_figure(path, fig)


class ClusterReport(Report):
    """Ambient sound (Owens et al. 2016): how often the frame network names its sound's cluster
    on held-out clips, against chance, and ``clusters.png``. Needs the ambient-sound method."""

    name = "clusters"
    headline = ("ambient/val_acc", "ambient/val_bit_acc")

    def compute(self, trainer, model, run_dir: Path) -> dict[str, float]:
        if getattr(model, "targets", None) is None or not hasattr(model, "texture"):
            raise UserError(f"{type(model).__name__} has no fitted sound-cluster targets")
        dm = trainer.datamodule
        train_set = dm.train_set
        train = collect(model, DataLoader(train_set, batch_size=dm.batch_size, num_workers=dm.num_workers))
        val = collect(model, dm.val_dataloader())
        metrics: dict[str, float] = {"ambient/val_samples": float(len(val["target"]))}
        if val["target"].dim() == 1:
            k = model.targets.n_classes
            majority = int(torch.bincount(train["target"], minlength=k).argmax())
            metrics["ambient/val_acc"] = float((val["logits"].argmax(1) == val["target"]).float().mean())
            metrics["ambient/chance_majority"] = float((val["target"] == majority).float().mean())
            metrics["ambient/chance_uniform"] = 1.0 / k
            metrics["ambient/train_clusters_used"] = float(train["target"].unique().numel())
        else:
            majority = (train["target"].mean(0) > 0.5).float()
            metrics["ambient/val_bit_acc"] = float(((val["logits"] > 0).float() == val["target"]).float().mean())
            metrics["ambient/chance_bit_majority"] = float((val["target"] == majority).float().mean())
        cluster_grid(model, train_set, train["proj"], cluster_ids(train["target"]), run_dir / "clusters.png")
        return metrics
