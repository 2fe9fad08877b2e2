"""Seconds of audio turned into sound-texture statistics per second of wall time.

Compares, side by side in one run, on CPU (and on GPU where there is one):

* ``ours``: :class:`multiview.objectives.sound_texture.SoundTexture` with its defaults
  (band-rate envelopes, ``oversample=8``), batched;
* ``full_rate``: the same statistics with every envelope computed at the full sample rate
  (``oversample=None``), the direct transcription of McDermott & Simoncelli's definitions;
* ``scipy_reference`` (CPU only): a per-clip, per-band float64 numpy/scipy implementation
  (``scipy.signal.hilbert``), the usual way these statistics are computed one file at a time.

Writes JSON (``--out``, default ``ambient_stats.json`` in the run folder) with audio-seconds per
second for each and the ratios to the baselines.

    python benchmarks/ambient_stats.py --seconds 3.75 --batch 64
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from multiview.core import paths
from multiview.core.io import write_json
from multiview.objectives.sound_texture import SoundTexture, cochlear_filters


def scipy_envelope_stats(x: np.ndarray, st: SoundTexture) -> np.ndarray:
    """Per-band scipy Hilbert envelopes and their moments (the costly part of the reference)."""
    import scipy.signal

    n = x.size
    h = cochlear_filters(n, st.sample_rate, st.n_bands, st.low_hz, st.high_hz)[0].numpy()
    m = st.env_length(n)
    spec = np.fft.rfft(x)
    envs = np.stack([
        np.fft.irfft(np.fft.rfft((np.abs(scipy.signal.hilbert(np.fft.irfft(spec * h[k], n=n))) + st.floor)
                                 ** st.compression)[: m // 2 + 1], n=m) * m / n
        for k in range(st.n_bands)])
    return st.statistics(torch.from_numpy(envs)[None]).numpy()[0]


def rate(fn, audio_seconds: float, min_time: float) -> float:
    fn()  # warm-up (plans, caches, CUDA kernels)
    runs, start = 0, time.perf_counter()
    while True:
        fn()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return runs * audio_seconds / elapsed


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.75, help="length of each clip")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--sample-rate", type=int, default=16000)
    ap.add_argument("--min-time", type=float, default=3.0, help="seconds to time each variant")
    ap.add_argument("--reference-clips", type=int, default=4)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    sr, n = args.sample_rate, int(args.seconds * args.sample_rate)
    x = 0.1 * torch.randn(args.batch, n, generator=torch.Generator().manual_seed(0))
    result: dict = {"clip_seconds": args.seconds, "batch": args.batch, "sample_rate": sr,
                    "threads": torch.get_num_threads(), "devices": {}}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        xd = x.to(device)
        row = {}
        for name, oversample in (("ours", 8.0), ("full_rate", None)):
            st = SoundTexture(sr, oversample=oversample).to(device)

            def run(st=st, xd=xd, device=device):
                st(xd)
                if device == "cuda":
                    torch.cuda.synchronize()

            row[f"{name}_audio_s_per_s"] = rate(run, args.batch * args.seconds, args.min_time)
        row["ours_vs_full_rate"] = row["ours_audio_s_per_s"] / row["full_rate_audio_s_per_s"]
        if device == "cpu":
            st = SoundTexture(sr, oversample=None)
            clips = x[: args.reference_clips].double().numpy()
            row["scipy_reference_audio_s_per_s"] = rate(
                lambda st=st, clips=clips: [scipy_envelope_stats(c, st) for c in clips],
                len(clips) * args.seconds, args.min_time)
            row["ours_vs_scipy_reference"] = row["ours_audio_s_per_s"] / row["scipy_reference_audio_s_per_s"]
        if device == "cuda":
            row["name"] = torch.cuda.get_device_name()
        result["devices"][device] = row
    out = args.out or paths.runs_dir() / "benchmarks" / "ambient_stats.json"
    write_json(out, result)
    for device, row in result["devices"].items():
        print(device, "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
