"""Audio encoder: a log-mel spectrogram front end (torchaudio) and a small 2-D ResNet on it.

The spectrogram is computed inside the module, on the batch, so it runs on the GPU with the
rest of the network: ``[B, n]`` waveform -> ``[B, 1, n_mels, frames]`` log-mel -> ``[B, out_dim]``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torchaudio

from multiview.encoders.vision import SmallResNet


class LogMel(nn.Module):
    """``log(mel power + eps)``: 25 ms windows, 10 ms hop, ``n_mels`` bands."""

    def __init__(self, sample_rate: int = 16000, n_mels: int = 64, eps: float = 1e-6):
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=int(0.025 * sample_rate) if sample_rate >= 8000 else 256,
            hop_length=int(0.010 * sample_rate), n_mels=n_mels, f_min=20.0, f_max=sample_rate / 2)
        self.eps = eps

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=wave.device.type, enabled=False):
            return torch.log(self.mel(wave.float()) + self.eps).unsqueeze(1)


class AudioEncoder(nn.Module):
    """Log-mel front end, input batch norm, then :class:`SmallResNet` over (mel, time).

    Args:
        sample_rate: rate of the input waveforms, Hz.
        n_mels: mel bands of the spectrogram.
        width: channels of the ResNet's first stage.
    """

    modality = "audio"

    def __init__(self, sample_rate: int = 16000, n_mels: int = 64, width: int = 32):
        super().__init__()
        self.logmel = LogMel(sample_rate, n_mels)
        self.input_norm = nn.BatchNorm2d(1)
        self.net = SmallResNet(in_channels=1, width=width)
        self.out_dim = self.net.out_dim

    def features(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        spec = self.input_norm(self.logmel(wave))
        return {"logmel": spec, **self.net.features(spec)}

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.features(wave)["pool"]
