"""The device-side pipeline pieces: batch augmentation (multiview.views.frames), the batch's audio
features (multiview.objectives.sound_texture) and the compile switch (multiview.run.compile)."""

from __future__ import annotations

import torch

from multiview.encoders.audio import LogMel
from multiview.objectives.sound_texture import SoundTexture, audio_features
from multiview.run.compile import Compile
from multiview.views.frames import BatchAugment, augment_frames


def _ramp(b=4, h=12, w=16):
    x = torch.linspace(0, 1, w).expand(b, 3, h, w).clone()
    return x


def test_augmentation_draws_per_sample_and_stays_in_range():
    x = _ramp()
    g = torch.Generator().manual_seed(0)
    y = augment_frames(x, g)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert not torch.allclose(y[0], y[1])  # each sample draws its own crop, flip and jitter
    same = augment_frames(x, torch.Generator().manual_seed(0))
    assert torch.equal(y, same)


def test_identity_parameters_give_back_the_input():
    x = torch.rand(3, 3, 8, 8)
    y = augment_frames(x, torch.Generator().manual_seed(1), crop=1.0, jitter=0.0)
    flipped = x.flip(-1)
    for a, b, c in zip(y, x, flipped):  # only a flip is left: each output is the input or its mirror
        assert torch.allclose(a, b, atol=1e-5) or torch.allclose(a, c, atol=1e-5)


def test_clips_share_one_draw_across_their_frames():
    x = _ramp(2).unsqueeze(1).expand(2, 3, 3, 12, 16).clone()
    y = augment_frames(x, torch.Generator().manual_seed(2))
    assert torch.allclose(y[:, 0], y[:, 2])


def test_audio_features_match_the_encoder_front_end_and_texture_module():
    wave = torch.randn(2, 16000) * 0.1
    feats = audio_features(wave, 16000)
    assert torch.allclose(feats["logmel"], LogMel(16000, 64)(wave))
    assert torch.allclose(feats["texture"], SoundTexture(16000)(wave))


def test_batch_augment_callback_changes_frames_in_the_batch():
    class T:
        global_rank, global_step = 0, 3

    batch = {"frame": _ramp(), "audio": torch.zeros(4, 10)}
    before = batch["frame"].clone()
    BatchAugment().on_train_batch_start(T(), None, batch, 0)
    assert batch["frame"].shape == before.shape and not torch.equal(batch["frame"], before)
    again = {"frame": before.clone()}
    BatchAugment().on_train_batch_start(T(), None, again, 0)  # a fresh callback (a resumed run): same frames
    assert torch.equal(again["frame"], batch["frame"])


def test_batch_augment_draws_each_sample_from_its_place_and_step():
    class T:
        global_rank, global_step = 0, 3

    x = torch.rand(4, 3, 8, 8)
    whole, half = {"frame": x.clone()}, {"frame": x[2:].clone()}
    BatchAugment().on_train_batch_start(T(), None, whole, 0)
    T.global_rank = 1  # rank 1's batch of 2 holds the global batch's samples 2 and 3
    BatchAugment().on_train_batch_start(T(), None, half, 0)
    assert torch.allclose(whole["frame"][2:], half["frame"], atol=1e-6)
    T.global_step = 4
    later = {"frame": x[2:].clone()}
    BatchAugment().on_train_batch_start(T(), None, later, 0)
    assert not torch.equal(later["frame"], half["frame"])


def test_compile_keeps_outputs_and_state_dict_names():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.nets = torch.nn.ModuleDict({"a": torch.nn.Linear(4, 3)})

        def encoders(self):
            return dict(self.nets.items())

    m = M()
    x = torch.randn(5, 4)
    ref = m.nets["a"](x)
    keys = list(m.state_dict())
    Compile(backend="eager").setup(None, m, "fit")
    assert torch.allclose(m.nets["a"](x), ref) and list(m.state_dict()) == keys
    assert m.nets["a"]._compiled_call_impl is not None
