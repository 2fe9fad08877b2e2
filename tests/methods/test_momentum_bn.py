"""BatchNorm in the momentum networks: MoCo's shuffled BN on one device (per-group statistics) and the
EMA update leaving the target's own running statistics alone."""

import copy

import pytest
import torch
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.methods.moco import MoCo
from multiview.methods.parts import SimCLRProjectionHead, ema_, frozen_copy


def moco(shuffle_bn: str, groups: int = 4) -> MoCo:
    torch.manual_seed(0)
    return MoCo(encoder={"width": 4}, view="image", proj_dim=8, queue_size=16, shuffle_bn=shuffle_bn,
                bn_groups=groups).train()


def test_shuffled_keys_are_normalised_per_group():
    x = torch.rand(32, 3, 16, 16)
    shuffled, plain = moco("shuffle"), moco("none")
    reference = copy.deepcopy(shuffled)
    k_shuffle, k_none = shuffled.keys(x, stream=1), plain.keys(x, stream=1)

    # Slow reference: the permutation the key encoder draws (seed = aug_seed * 7919 + 2 step + stream),
    # four groups of the shuffled batch, each through the key encoder on its own, then back in order.
    perm = torch.randperm(32, generator=torch.Generator().manual_seed(1))
    expected = torch.empty_like(k_none)
    with torch.no_grad():
        for group in perm.tensor_split(4):
            expected[group] = reference.key_head(reference.key_encoder(x[group]))
    assert torch.allclose(k_shuffle, expected, atol=1e-5)
    assert (k_shuffle - k_none).abs().max() > 1e-3  # one group of 32 would give the same keys as none


def test_one_group_or_tiny_batches_fall_back_to_the_whole_batch():
    x = torch.rand(8, 3, 16, 16)
    assert torch.allclose(moco("shuffle", groups=1).keys(x, 0), moco("none").keys(x, 0), atol=1e-5)
    assert moco("shuffle", groups=8).keys(x[:3], 0).shape == (3, 8)  # one group of 3, never a group of 1
    with pytest.raises(UserError, match="model.bn_groups"):
        moco("shuffle", groups=0)


def test_ema_keeps_the_targets_own_batchnorm_statistics():
    torch.manual_seed(0)
    online = SimCLRProjectionHead(6, 10, 4).train()
    target = frozen_copy(online)
    online(torch.randn(16, 6) * 3 + 1)
    with torch.no_grad():
        target(torch.randn(16, 6))
    bn_t, bn_o = target[1], online[1]
    own_mean, own_var = bn_t.running_mean.clone(), bn_t.running_var.clone()
    weights = [p.clone() for p in target.parameters()]
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)

    ema_(target, online, 0.9)
    assert torch.equal(bn_t.running_mean, own_mean) and torch.equal(bn_t.running_var, own_var)
    assert not torch.allclose(bn_t.running_mean, bn_o.running_mean)
    for t, w, o in zip(target.parameters(), weights, online.parameters()):
        assert torch.allclose(t, 0.9 * w + 0.1 * o)


def test_a_moco_step_moves_the_key_statistics_by_the_keys_own_forward():
    model = moco("none")
    batch = {"image": torch.rand(8, 3, 16, 16), "index": torch.arange(8)}
    model.training_step(batch, 0).backward()
    bns = [m for m in model.key_encoder.modules() if isinstance(m, nn.BatchNorm2d)]
    after_forward = [m.running_mean.clone() for m in bns]
    model.on_train_batch_end(None, batch, 0)
    online = [m for m in model.encoder.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.equal(m.running_mean, a) for m, a in zip(bns, after_forward))
    assert not all(torch.allclose(m.running_mean, o.running_mean) for m, o in zip(bns, online))
