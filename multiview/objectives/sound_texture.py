"""Sound-texture statistics (McDermott & Simoncelli 2011), as used as targets by Owens et al. 2016.

A waveform is described by the time-averaged statistics of a simple auditory model:

1. **Cochlear filterbank.** ``n_bands`` bandpass filters whose centres are evenly spaced on the
   ERB-number scale of Glasberg & Moore (1990), ``E(f) = 21.4 log10(1 + 0.00437 f)``, each a
   half-cosine in ``E`` spanning its two neighbours' centres (M&S 2011, Methods, "Peripheral
   auditory model"). Neighbouring squared responses sum to one (a tight frame). With
   ``filter_norm="density"`` (default) each filter is rescaled to unit noise gain, so white noise
   gives the same power in every band and the band means read as a spectral density; with
   ``"frame"`` the filters are left as M&S built them (wider high bands carry more power).
2. **Subband envelopes** ``a_k(t) = |x_k(t) + i H{x_k}(t)|`` (Hilbert transform, done in the
   frequency domain: the analytic subband is the inverse FFT of twice the positive-frequency
   spectrum times the filter), **compressed** ``s_k = (a_k + floor) ** 0.3``, then
   **downsampled** to ``env_rate`` Hz by truncating their spectrum. Each band's envelope is
   computed at ``oversample`` (default 8) times the band's width rather than at the full sample
   rate, which is several times faster and changes the statistics by well under 1% of their
   range; ``oversample=None`` computes at the full rate, exactly as defined. The ``floor`` (1e-5, about
   the level of 16-bit quantisation noise) keeps silent bands from turning rounding error into
   statistics.
3. **Statistics** of each compressed envelope ``s_k`` (M&S 2011, Eqs. 1-5):

   - ``mean``  ``M1_k = mu_k = <s_k(t)>_t``
   - ``cv``    ``M2_k = sigma_k / mu_k`` (coefficient of variation)
   - ``skew``  ``M3_k = <(s_k - mu_k)^3> / sigma_k^3``
   - ``corr``  ``C_jk = <(s_j - mu_j)(s_k - mu_k)> / (sigma_j sigma_k)`` for band pairs ``k - j``
     in ``corr_offsets`` (M&S use offsets 1, 2, 3, 5, 8, 11, 16, 21), or all pairs
   - ``mod``   ``M_k,n = <b_k,n(t)^2> / sigma_k^2``: the share of the envelope's variance passed
     by modulation filter ``n``; the modulation filters are half-cosines on ``log2`` frequency,
     octave-spaced from ``mod_low_hz`` (M&S Eq. 4, with octave rather than Q=2 spacing).

Owens et al. (2016, Sec. 3.1) cluster these statistics (PCA then k-means) to get the sound
category a video frame is trained to predict. Everything here is batched torch, on any device,
float32 or float64: ``[B, n]`` waveform -> ``[B, D]`` statistics.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from multiview.core.errors import UserError
from multiview.encoders.audio import LogMel

MS_OFFSETS = (1, 2, 3, 5, 8, 11, 16, 21)
STAT_NAMES = ("mean", "cv", "skew", "corr", "mod")


def smooth_length(n: int) -> int:
    """The smallest 5-smooth integer >= n (a fast FFT length)."""
    while True:
        r = n
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return n
        n += 1


def erb_number(f_hz: torch.Tensor) -> torch.Tensor:
    """Glasberg & Moore (1990) ERB-number scale."""
    return 21.4 * torch.log10(1.0 + 0.00437 * f_hz)


def erb_to_hz(e: torch.Tensor) -> torch.Tensor:
    return (10.0 ** (e / 21.4) - 1.0) / 0.00437


def cochlear_filters(n: int, sample_rate: int, n_bands: int, low_hz: float, high_hz: float,
                     norm: str = "density", dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Half-cosine ERB filters on the ``n // 2 + 1`` rfft bins: ``(H [K, F], centres_hz [K])``."""
    freqs = torch.arange(n // 2 + 1, dtype=torch.float64) * sample_rate / n
    edges = torch.linspace(float(erb_number(torch.tensor(low_hz))), float(erb_number(torch.tensor(high_hz))),
                           n_bands + 2, dtype=torch.float64)
    step = edges[1] - edges[0]
    centres = edges[1:-1]
    u = (erb_number(freqs)[None, :] - centres[:, None]) / step
    h = torch.where(u.abs() < 1.0, torch.cos(0.5 * math.pi * u), torch.zeros(()))
    if norm == "density":
        h = h * torch.sqrt(freqs.numel() / (h.pow(2).sum(1, keepdim=True)).clamp_min(1e-12))
    elif norm != "frame":
        raise UserError(f"filter_norm: expected 'density' or 'frame', got {norm!r}")
    return h.to(dtype), erb_to_hz(centres)


def modulation_filters(m: int, env_rate: float, centres_hz: torch.Tensor, dtype=torch.float64) -> torch.Tensor:
    """Octave-wide half-cosine filters on ``log2`` frequency over the ``m // 2 + 1`` rfft bins: ``[F, N]``."""
    freqs = torch.arange(m // 2 + 1, dtype=torch.float64) * env_rate / m
    logf = torch.log2(freqs.clamp_min(1e-12))
    u = logf[:, None] - torch.log2(centres_hz.to(torch.float64))[None, :]
    h = torch.where((u.abs() < 1.0) & (freqs[:, None] > 0), torch.cos(0.5 * math.pi * u), torch.zeros(()))
    return h.to(dtype)


class SoundTexture(nn.Module):
    """Waveform ``[B, n]`` (or ``[n]``) at ``sample_rate`` -> texture statistics ``[B, D]``.

    ``layout()`` names the slice of the output each statistic occupies; ``envelopes(x)`` returns
    the compressed, downsampled subband envelopes ``[B, K, m]`` (a cochleagram) the statistics
    are computed from.
    """

    def __init__(self, sample_rate: int = 16000, n_bands: int = 32, low_hz: float = 20.0,
                 high_hz: float | None = None, compression: float = 0.3, env_rate: float = 400.0,
                 n_mod: int = 9, mod_low_hz: float = 0.5, corr_offsets: tuple[int, ...] | None = MS_OFFSETS,
                 filter_norm: str = "density", floor: float = 1e-5, oversample: float | None = 8.0,
                 eps: float = 1e-8):
        super().__init__()
        high_hz = min(10000.0, sample_rate / 2) if high_hz is None else high_hz
        if not 0 < low_hz < high_hz <= sample_rate / 2:
            raise UserError(f"filterbank: expected 0 < low_hz < high_hz <= sample_rate/2, got "
                            f"low_hz={low_hz}, high_hz={high_hz}, sample_rate={sample_rate}")
        if filter_norm not in ("density", "frame"):
            raise UserError(f"filter_norm: expected 'density' or 'frame', got {filter_norm!r}")
        self.sample_rate, self.n_bands = int(sample_rate), int(n_bands)
        self.low_hz, self.high_hz = float(low_hz), float(high_hz)
        self.compression, self.env_rate, self.eps = float(compression), float(env_rate), float(eps)
        self.floor = float(floor)
        if oversample is not None and oversample < 2:
            raise UserError(f"oversample: expected None (full rate) or at least 2, got {oversample}")
        self.filter_norm, self.oversample = filter_norm, oversample
        self.mod_centres_hz = mod_low_hz * 2.0 ** torch.arange(n_mod, dtype=torch.float64)
        if corr_offsets is None:
            j, k = torch.triu_indices(n_bands, n_bands, offset=1)
        else:
            pairs = [(j, j + o) for o in sorted(set(corr_offsets)) for j in range(n_bands - o) if o > 0]
            j, k = (torch.tensor([p[i] for p in pairs], dtype=torch.long) for i in (0, 1))
        self.register_buffer("pair_j", j, persistent=False)
        self.register_buffer("pair_k", k, persistent=False)
        self._cache: dict = {}
        self.band_centres_hz = cochlear_filters(64, sample_rate, n_bands, self.low_hz, self.high_hz)[1]

    @property
    def dim(self) -> int:
        return sum(s.stop - s.start for s in self.layout().values())

    def layout(self) -> dict[str, slice]:
        sizes = {"mean": self.n_bands, "cv": self.n_bands, "skew": self.n_bands,
                 "corr": int(self.pair_j.numel()), "mod": self.n_bands * len(self.mod_centres_hz)}
        out, start = {}, 0
        for name in STAT_NAMES:
            out[name] = slice(start, start + sizes[name])
            start += sizes[name]
        return out

    def _filters(self, kind: str, n: int, device, dtype) -> torch.Tensor:
        """Cached cochlear filters for ``n`` samples, or squared modulation filters for ``n`` envelope samples."""
        key = (kind, n, str(device), dtype)
        if key not in self._cache:
            if kind == "cochlear":
                h, _ = cochlear_filters(n, self.sample_rate, self.n_bands, self.low_hz, self.high_hz,
                                        self.filter_norm)
            else:
                h = modulation_filters(n, self.env_rate, self.mod_centres_hz).pow(2)
            self._cache[key] = h.to(device, dtype)
        return self._cache[key]

    def env_length(self, n: int) -> int:
        return max(2, int(round(n * self.env_rate / self.sample_rate)))

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 1:
            x = x[None]
        if x.dim() != 2:
            raise UserError(f"waveform: expected shape [B, n] or [n], got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise UserError(f"waveform: expected a float tensor, got {x.dtype}")
        if x.shape[1] < 2 * self.sample_rate / self.env_rate:
            raise UserError(f"waveform: {x.shape[1]} samples is too short for env_rate={self.env_rate}")
        return x

    def _plan(self, n: int, device, dtype) -> list[tuple[int, int, int, torch.Tensor]]:
        """Per band: its first and last-plus-one rfft bin, its envelope length, its filter values."""
        key = ("plan", n, str(device), dtype)
        if key not in self._cache:
            h = self._filters("cochlear", n, device, dtype)
            m = self.env_length(n)
            plan = []
            for k in range(self.n_bands):
                nz = torch.nonzero(h[k]).flatten()
                lo, hi = (int(nz[0]), int(nz[-1]) + 1) if nz.numel() else (0, 1)
                mk = (n if self.oversample is None
                      else min(n, smooth_length(max(m, math.ceil(self.oversample * (hi - lo))))))
                plan.append((lo, hi, mk, h[k, lo:hi]))
            self._cache[key] = plan
        return self._cache[key]

    def envelopes(self, x: torch.Tensor) -> torch.Tensor:
        """Compressed subband envelopes downsampled to ``env_rate``: ``[B, K, m]``.

        A band's analytic signal only has energy on the band's own bins, and its magnitude does
        not change when those bins are shifted down to zero frequency, so each band's envelope is
        the inverse FFT of just its bins, of length ``oversample`` x the band's width (``n``, the
        full rate, when ``oversample`` is None). The compression is applied at that rate.
        """
        x = self._check(x)
        n = x.shape[1]
        m = self.env_length(n)
        spec = torch.fft.rfft(x, dim=-1)
        out = x.new_empty(x.shape[0], self.n_bands, m)
        for k, (lo, hi, mk, hk) in enumerate(self._plan(n, x.device, x.dtype)):
            analytic = torch.fft.ifft(spec[:, lo:hi] * hk, n=mk, dim=-1) * (2.0 * mk / n)
            env = (analytic.abs() + self.floor).pow(self.compression)
            if mk != m:
                env = torch.fft.irfft(torch.fft.rfft(env, dim=-1)[..., : m // 2 + 1], n=m, dim=-1) * (m / mk)
            out[:, k] = env
        return out

    def statistics(self, s: torch.Tensor) -> torch.Tensor:
        """Statistics of compressed envelopes ``[B, K, m]`` -> ``[B, D]`` (see the module docstring)."""
        g2 = self._filters("modulation", s.shape[-1], s.device, s.dtype)
        mu = s.mean(-1)
        d = s - mu[..., None]
        var = d.pow(2).mean(-1)
        sigma = var.sqrt()
        cv = sigma / mu.abs().clamp_min(self.eps)
        skew = d.pow(3).mean(-1) / sigma.pow(3).clamp_min(self.eps)
        cov = (d[:, self.pair_j] * d[:, self.pair_k]).mean(-1)
        corr = cov / (sigma[:, self.pair_j] * sigma[:, self.pair_k]).clamp_min(self.eps)
        m = s.shape[-1]
        power = torch.fft.rfft(d, dim=-1).abs().pow(2)
        weight = torch.full((power.shape[-1],), 2.0, dtype=s.dtype, device=s.device)
        weight[0] = 0.0
        if m % 2 == 0:
            weight[-1] = 1.0
        power = power * weight
        mod = (power @ g2) / power.sum(-1, keepdim=True).clamp_min(self.eps * m * m)
        return torch.cat([mu, cv, skew, corr, mod.flatten(1)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.statistics(self.envelopes(x))


def sound_texture_stats(x: torch.Tensor, sample_rate: int, **kwargs) -> torch.Tensor:
    """Functional form: ``SoundTexture(sample_rate, **kwargs)(x)``."""
    return SoundTexture(sample_rate, **kwargs).to(x.device)(x)


def audio_features(audio: torch.Tensor, sample_rate: int, n_mels: int = 64) -> dict[str, torch.Tensor]:
    """``{"logmel": [B, 1, n_mels, frames], "texture": [B, D]}`` of ``[B, n]`` waveforms, on their device."""
    logmel = LogMel(sample_rate, n_mels).to(audio.device)
    return {"logmel": logmel(audio), "texture": sound_texture_stats(audio.float(), sample_rate)}
