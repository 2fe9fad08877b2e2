"""``torch.compile`` as a recipe switch: ``--trainer.callbacks+=multiview.run.compile.Compile``.

bf16 autocast is the trainer's ``precision`` (``bf16-mixed``, the default on a GPU), channels_last
is set on the weights by the method base (:meth:`multiview.methods.base.Method.configure_model`),
and loaders pin memory on a GPU machine; this callback adds
compilation of every encoder in place (state dict names unchanged).
"""

from __future__ import annotations

import lightning as L


class Compile(L.Callback):
    """``torch.compile`` the method's encoders in place when fitting starts.

    Args:
        mode: torch.compile's mode ("default", "reduce-overhead", "max-autotune").
        backend: torch.compile's backend ("inductor"; "aot_eager" needs no compiler).
    """

    def __init__(self, mode: str = "default", backend: str = "inductor"):
        self.mode, self.backend = mode, backend

    def setup(self, trainer, pl_module, stage: str) -> None:
        encoders = getattr(pl_module, "encoders", None)
        modules = encoders().values() if callable(encoders) else [pl_module]
        for m in modules:
            m.compile(mode=None if self.mode == "default" else self.mode, backend=self.backend)
