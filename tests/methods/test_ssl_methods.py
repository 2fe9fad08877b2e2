"""The contrastive and predictive methods on tiny batches: views are seeded by the step, each
method names its online encoder, a step moves teachers and queues, and the state resumes."""

import pytest
import torch

from multiview.core.errors import UserError
from multiview.methods.byol import BYOL, SimSiam
from multiview.methods.byol_av import CrossModalBYOL
from multiview.methods.dino import DINO
from multiview.methods.instdisc import InstanceDiscrimination
from multiview.methods.moco import MoCo
from multiview.methods.simclr import SimCLR
from multiview.views.augment import ImageAugment, generator, moments

SMALL = {"encoder": {"width": 4}}
AUDIO = {"encoder": {"width": 4, "n_mels": 16}, "view": "audio", "sample_rate": 8000}
METHODS = {
    "simclr": lambda small=SMALL: SimCLR(**small, proj_dim=8),
    "moco": lambda small=SMALL: MoCo(**small, proj_dim=8, queue_size=16),
    "byol": lambda small=SMALL: BYOL(**small, proj_hidden=16, proj_dim=8),
    "simsiam": lambda small=SMALL: SimSiam(**small, proj_dim=16, pred_hidden=8),
    "dino": lambda small=SMALL: DINO(**small, out_dim=32, local_crops=2, local_size=8),
    "instdisc": lambda small=SMALL: InstanceDiscrimination(**small, dim=8, nce_k=5, n_data=10),
}


def test_views_are_seeded_by_the_step_and_stay_in_range():
    x = torch.rand(6, 3, 16, 16)
    aug = ImageAugment(blur_p=0.5)
    a, b = aug(x, generator(0, 5)), aug(x, generator(0, 5))
    assert torch.equal(a, b) and not torch.equal(a, aug(x, generator(0, 6)))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert ImageAugment(size=8)(x, generator(0, 1)).shape == (6, 3, 8, 8)
    clip = torch.rand(2, 3, 3, 8, 8)
    first, last = moments(clip)
    assert torch.equal(first, clip[:, 0]) and torch.equal(last, clip[:, -1])


def test_identity_augmentation_keeps_the_image():
    x = torch.rand(2, 3, 8, 8)
    same = ImageAugment(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=0.0, jitter_p=0.0, gray_p=0.0)
    assert torch.allclose(same(x, generator(0, 0)), x, atol=1e-5)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_step_names_the_encoder_and_resumes(name):
    torch.manual_seed(0)
    model = METHODS[name]()
    batch = {"frame": torch.rand(4, 3, 16, 16), "index": torch.tensor([0, 1, 2, 3])}
    loss = model.training_step(batch, 0)
    assert torch.isfinite(loss) and list(model.encoders()) == ["frame"]
    loss.backward()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(0.1)
    model.on_train_batch_end(None, batch, 0)
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    teacher = [k for k in changed if k.split(".")[0] in ("target_encoder", "key_encoder", "teacher_encoder")]
    assert name in ("simclr", "simsiam", "instdisc") or teacher, "the momentum network did not move"
    twin = METHODS[name]()
    twin.load_state_dict(model.state_dict())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in twin.state_dict().items())


def test_cross_modal_byol_predicts_the_sound_code():
    model = CrossModalBYOL(encoders={"frame": {"width": 4}, "audio": {"width": 4, "n_mels": 16}},
                           proj_hidden=16, proj_dim=8)
    batch = {"frame": torch.rand(3, 3, 16, 16), "audio": torch.randn(3, 4000), "index": torch.arange(3)}
    loss = model.training_step(batch, 0)
    loss.backward()
    assert torch.isfinite(loss) and set(model.encoders()) == {"frame", "audio"}
    z = model.embed(batch)
    assert z["frame"].shape == z["audio"].shape == (3, 8)
    model.on_train_batch_end(None, batch, 0)


@pytest.mark.parametrize("name", sorted(set(METHODS) - {"dino"}))
def test_methods_on_sounds_train_an_audio_encoder(name):
    torch.manual_seed(0)
    model = METHODS[name](AUDIO)
    loss = model.training_step({"audio": torch.randn(4, 8000) * 0.1, "index": torch.arange(4)}, 0)
    loss.backward()
    assert torch.isfinite(loss) and list(model.encoders()) == ["audio"]
    assert model.encoder.logmel.mel.sample_rate == 8000
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    with pytest.raises(UserError, match="audio"):
        model.training_step({"frame": torch.rand(4, 3, 16, 16)}, 0)


def test_the_small_image_resnet_stem_keeps_a_map_at_32_px():
    from multiview.encoders.registry import build, feature_shapes

    plain, cifar = build({"name": "resnet18"}), build({"name": "resnet18_cifar"})
    assert feature_shapes(plain, side=32)["stage4"][-2:] == (1, 1)
    assert feature_shapes(cifar, side=32)["stage4"][-2:] == (4, 4)
    assert cifar.net.conv1.kernel_size == (3, 3) and cifar.net.conv1.stride == (1, 1)
    assert set(cifar.state_dict()) == set(plain.state_dict()) and cifar.out_dim == plain.out_dim == 512
