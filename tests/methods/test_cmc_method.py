import pytest
import torch

from multiview.eval.core.embed import random_like
from multiview.methods.cmc import CMC

LAB4 = {"L": {"width": 4}, "ab": {"width": 4}}
AV8 = {"frame": {"width": 8}, "audio": {"width": 8}}


def video_batch(n=6):
    g = torch.Generator().manual_seed(0)
    return {"frame": torch.rand(n, 3, 32, 32, generator=g), "audio": torch.randn(n, 8000, generator=g) * 0.1,
            "caption": [f"a red square moves {d}" for d in ["left", "right", "up", "down", "left", "up"]][:n],
            "label": torch.zeros(n, dtype=torch.long), "index": torch.arange(n)}


@pytest.mark.parametrize("estimator", ["infonce", "nce"])
@pytest.mark.parametrize("graph", ["full", "core"])
def test_three_views_train_step(estimator, graph):
    model = CMC(views=["frame", "audio", "caption"], graph=graph, estimator=estimator, n_data=10,
                nce_k=8, encoders={"frame": {"width": 8}, "audio": {"width": 8}, "caption": {"dim": 16}}, proj_dim=16)
    figures = model.losses(video_batch(), 0)
    loss, per_pair = figures["loss"], {k: v for k, v in figures.items() if k.startswith("loss_")}
    assert torch.isfinite(loss) and len(per_pair) == (3 if graph == "full" else 2)
    assert sorted(per_pair) == sorted(f"loss_{a}-{b}" for a, b in model.pairs)
    loss.backward()
    for v in ("frame", "audio", "caption"):
        grads = [p.grad for p in model.encoders()[v].parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads), v


def test_pair_weights_scale_the_loss():
    torch.manual_seed(0)
    a = CMC(views=["L", "ab"], encoders=LAB4, proj_dim=8)
    b = CMC(views=["L", "ab"], encoders=LAB4, proj_dim=8, pair_weights={"L-ab": 2.0})
    b.load_state_dict(a.state_dict())
    batch = {"image": torch.rand(4, 3, 16, 16), "label": torch.zeros(4, dtype=torch.long), "index": torch.arange(4)}
    a.eval(), b.eval()
    assert b.losses(batch, 0)["loss"].item() == pytest.approx(2 * a.losses(batch, 0)["loss"].item(), rel=1e-5)


def test_held_out_figure_is_val_loss_and_heads_keep_their_keys(tmp_path):
    """Training and held-out figures share one name scheme (``val/loss``, ``val/loss_L-ab``); the
    heads are parts.SimCLRProjectionHead with the old nn.Sequential's state_dict keys."""
    import lightning as L
    from torch.utils.data import DataLoader

    model = CMC(views=["L", "ab"], encoders=LAB4, proj_dim=8)
    assert {"heads.L.0.weight", "heads.L.0.bias", "heads.L.1.running_mean", "heads.L.3.weight"} <= set(
        model.state_dict())
    g = torch.Generator().manual_seed(0)
    samples = [{"image": torch.rand(3, 16, 16, generator=g), "label": 0, "index": i} for i in range(8)]
    train, val = DataLoader(samples, batch_size=4), DataLoader(samples, batch_size=4)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=1, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, default_root_dir=tmp_path)
    trainer.fit(model, train, val)
    assert {"train/loss", "train/loss_L-ab", "val/loss", "val/loss_L-ab"} <= set(trainer.callback_metrics)


def test_split_encoders_are_half_width():
    model = CMC(views=["L", "ab"])
    assert model.encoders()["L"].out_dim == model.encoders()["ab"].out_dim == 8 * 16
    assert model.encoders()["L"].net.stem[0].in_channels == 1 and model.encoders()["ab"].net.stem[0].in_channels == 2


def test_bad_settings_name_the_key():
    with pytest.raises(ValueError, match="model.views"):
        CMC(views=["frame"])
    with pytest.raises(ValueError, match="model.pair_weights"):
        CMC(views=["frame", "audio"], pair_weights={"frame-caption": 1.0})
    with pytest.raises(ValueError, match="model.estimator"):
        CMC(estimator="ranking")


def test_random_like_differs_but_has_same_shape():
    model = CMC(views=["frame", "audio"], encoders=AV8)
    copy = random_like(model)
    assert copy.state_dict().keys() == model.state_dict().keys()
    w1, w2 = model.encoders()["frame"].net.stem[0].weight, copy.encoders()["frame"].net.stem[0].weight
    assert w1.shape == w2.shape and not torch.equal(w1, w2)
