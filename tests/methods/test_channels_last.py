"""The method base keeps 4-D weights in channels_last while fitting (Method.configure_model): a real
fit leaves them so, and the layout changes no value (outputs agree with an NCHW copy)."""

import copy

import lightning as L
import torch

from multiview.methods.cmc import CMC
from multiview.methods.simclr import SimCLR


class Images(torch.utils.data.Dataset):
    def __len__(self):
        return 32

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return {"image": torch.rand(3, 32, 32, generator=g), "label": i % 2}


def four_d(module):
    return {n: t for n, t in [*module.named_parameters(), *module.named_buffers()] if t.dim() == 4}


def test_a_fit_trains_channels_last_weights_that_give_the_nchw_outputs(tmp_path):
    model = SimCLR(encoder={"name": "small_resnet", "width": 8}, view="image")
    assert all(t.is_contiguous() for t in four_d(model).values())
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, torch.utils.data.DataLoader(Images(), batch_size=16))
    weights = four_d(model)
    assert weights and all(t.is_contiguous(memory_format=torch.channels_last) for t in weights.values())
    assert not any(t.is_contiguous() for t in weights.values() if t.shape[1] > 1 and t.shape[2] * t.shape[3] > 1)

    plain = copy.deepcopy(model.encoder).eval()
    for t in [*plain.parameters(), *plain.buffers()]:
        t.data = t.data.contiguous()
    x = torch.rand(8, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.encoder.eval()(x), plain(x), atol=1e-5)


def test_configure_model_converts_every_encoder_and_keeps_other_tensors():
    model = CMC(encoders={"frame": {"name": "small_resnet", "width": 8},
                          "audio": {"name": "logmel_resnet", "width": 8}})
    before = {n: t.clone() for n, t in model.state_dict().items()}
    model.configure_model()
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[n], after[n]) for n in before)
    for view in ("frame", "audio"):
        convs = four_d(model.nets[view])
        assert convs and all(t.is_contiguous(memory_format=torch.channels_last) for t in convs.values())
    assert all(t.is_contiguous() for t in after.values() if t.dim() != 4)
