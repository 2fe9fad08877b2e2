"""End-of-fit reports: small held-out sets, failures that must not cost the run, BatchNorm
recalibration of the random-init baseline."""

import json

import lightning as L
import pytest
import torch
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.eval.core.embed import calibrate_batchnorm, random_init
from multiview.eval.core.paired import retrieval_figures
from multiview.eval.reports.base import Report, record
from multiview.methods.cmc import CMC


def batches(sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"frame": torch.rand(n, 3, 32, 32, generator=g), "audio": 0.1 * torch.randn(n, 4000, generator=g),
             "label": torch.arange(n) % 2, "index": torch.arange(n)} for n in sizes]


def small_cmc():
    torch.manual_seed(0)
    return CMC(encoders={"frame": {"width": 4}, "audio": {"width": 4}}, proj_dim=8)


def test_batchnorm_statistics_come_from_the_data_and_one_sample_batches_are_passed_over():
    model = small_cmc()
    data = batches([1, 5, 1, 7])
    assert calibrate_batchnorm(model, data) == 2
    bn = model.heads["frame"][1]
    # momentum None: the running mean is the average of the used batches' means; the head's
    # first layer sees the encoder's output, whose own BatchNorms were updated in the same passes
    model.train()
    with torch.no_grad():
        per_batch = torch.stack([model.heads["frame"][0](model.nets["frame"](b["frame"])).mean(0)
                                 for b in data if len(b["index"]) > 1]).mean(0)
    assert torch.allclose(bn.running_mean, per_batch, atol=1e-4)
    assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))


def test_random_init_differs_from_the_trained_weights_and_is_deterministic():
    model = small_cmc()
    a, b = random_init(model, batches([4])), random_init(model, batches([4]))
    w = lambda m: m.nets["frame"].net.stem[0].weight  # noqa: E731
    assert torch.equal(w(a), w(b)) and not torch.equal(w(a), w(model))


def test_retrieval_needs_two_held_out_samples_and_says_so():
    with pytest.raises(UserError, match="at least 2 held-out samples, the held-out set has 1"):
        retrieval_figures(small_cmc(), batches([1]))
    figures, _ = retrieval_figures(small_cmc(), batches([1, 2]))
    assert figures["retrieval/n_queries"] == 3 and 0 <= figures["retrieval/frame_to_audio/R@1"] <= 1


class Broken(Report):
    name = "broken"

    def compute(self, trainer, model, run_dir):
        raise RuntimeError("Expected more than 1 value per channel when training")


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def training_step(self, batch, i):
        return (self.w - 1).pow(2).sum()

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.zeros(4, 1), batch_size=2)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_a_failing_report_never_costs_the_trained_run(tmp_path, capsys):
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, callbacks=[Broken()], logger=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Tiny())
    err = capsys.readouterr().err
    assert "broken report: failed (RuntimeError" in err and "is kept" in err
    assert list((tmp_path / "checkpoints").glob("*.ckpt"))


def test_reports_merge_into_metrics_json(tmp_path):
    record(tmp_path, {"a/x": 1.0})
    record(tmp_path, {"b/y": 2.0, "a/x": 3.0})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"a/x": 3.0, "b/y": 2.0}
