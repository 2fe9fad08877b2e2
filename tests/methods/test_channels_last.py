"""The method base keeps 4-D weights in channels_last on a GPU (Method.configure_model), never on a
CPU (where torch's oneDNN backward of a 1x1 stride-2 convolution corrupts the heap on such inputs);
the layout changes no value."""

import copy
from types import SimpleNamespace

import lightning as L
import torch

from multiview.methods.cmc import CMC
from multiview.methods.simclr import SimCLR


class Images(torch.utils.data.Dataset):
    def __len__(self):
        return 16

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return {"image": torch.rand(3, 64, 64, generator=g), "label": i % 2}


def four_d(module):
    return {n: t for n, t in [*module.named_parameters(), *module.named_buffers()] if t.dim() == 4}


def on(device: str):
    return SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device(device)))


def test_a_cpu_fit_keeps_nchw_weights_and_survives_the_shape_that_breaks_channels_last(tmp_path):
    model = SimCLR(encoder={"name": "small_resnet", "width": 8}, view="image")  # the aborting shape on NHWC
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, accelerator="cpu")
    trainer.fit(model, torch.utils.data.DataLoader(Images(), batch_size=8))
    assert trainer.global_step == 2
    assert all(t.is_contiguous() for t in four_d(model).values())


def test_on_a_gpu_every_encoder_goes_channels_last_with_the_same_values():
    model = CMC(encoders={"frame": {"name": "small_resnet", "width": 8},
                          "audio": {"name": "logmel_resnet", "width": 8}})
    before = copy.deepcopy(model).eval()
    model._trainer = on("cuda")
    model.configure_model()
    for view in ("frame", "audio"):
        convs = four_d(model.nets[view])
        assert convs and all(t.is_contiguous(memory_format=torch.channels_last) for t in convs.values())
        assert not all(t.is_contiguous() for t in convs.values())
    assert all(t.is_contiguous() for n, t in model.state_dict().items() if t.dim() != 4)
    after = model.eval()
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(after.nets["frame"](x), before.nets["frame"](x), atol=1e-5)
    model._trainer = None

    cpu = CMC(encoders={"frame": {"name": "small_resnet", "width": 8}})
    cpu._trainer = on("cpu")
    cpu.configure_model()
    assert all(t.is_contiguous() for t in four_d(cpu).values())
    cpu._trainer = None
