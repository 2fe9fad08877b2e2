"""Sound-texture statistics (McDermott & Simoncelli 2011) on generated and real sound."""

from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import scipy.stats
import torch

from multiview.core.errors import UserError
from multiview.objectives.sound_texture import SoundTexture, cochlear_filters, modulation_filters

SR = 16000
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _t(seconds: float) -> torch.Tensor:
    return torch.arange(int(seconds * SR), dtype=torch.float64) / SR


def _noise(seconds: float, seed: int) -> torch.Tensor:
    return torch.randn(int(seconds * SR), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.fixture(scope="module")
def st():
    return SoundTexture(SR)


@pytest.mark.parametrize("freq", [250.0, 1000.0, 4000.0])
def test_pure_tone_concentrates_envelope_energy_near_its_frequency(st, freq):
    x = 0.3 * torch.sin(2 * torch.pi * freq * _t(2.0))
    mean = st(x.float())[0, st.layout()["mean"]]
    energy = (mean - mean.min()) ** 2
    centres = st.band_centres_hz.float()
    near = (centres > freq / 1.35) & (centres < freq * 1.35)
    assert int(mean.argmax()) == int((centres.log() - np.log(freq)).abs().argmin())
    assert energy[near].sum() > 0.99 * energy.sum()


def test_white_noise_has_flat_band_means_and_weak_correlations(st):
    stats = st(0.1 * _noise(4.0, 0).float())[0]
    layout = st.layout()
    mean = stats[layout["mean"]]
    assert float(mean.std() / mean.mean()) < 0.03
    corr = stats[layout["corr"]]
    assert float(corr.abs().mean()) < 0.1
    # a low-pass (brown-ish) noise is not flat: the statistic can tell them apart
    brown = torch.cumsum(_noise(4.0, 1), 0)
    brown = (brown - brown.mean()) / brown.std() * 0.1
    bmean = st(brown.float())[0, layout["mean"]]
    assert float(bmean.std() / bmean.mean()) > 0.2


@pytest.mark.parametrize("rate", [2.0, 8.0, 32.0])
def test_amplitude_modulation_shows_in_the_modulation_band_around_its_rate(st, rate):
    t = _t(4.0)
    carrier_tone = torch.sin(2 * torch.pi * 2000 * t)
    carrier_noise = _noise(4.0, 2)
    gain = 1 + 0.9 * torch.sin(2 * torch.pi * rate * t)
    layout, k = st.layout(), len(st.mod_centres_hz)
    band = int((st.band_centres_hz - 2000).abs().argmin())
    expected = int((st.mod_centres_hz.log2() - np.log2(rate)).abs().argmin())
    mod_tone = st((0.3 * gain * carrier_tone).float())[0, layout["mod"]].view(-1, k)
    assert int(mod_tone[band].argmax()) == expected
    # on a noise carrier, the gain over the unmodulated noise peaks at the same modulation band
    mod_am = st((0.1 * gain * carrier_noise).float())[0, layout["mod"]].view(-1, k)
    mod_flat = st((0.1 * carrier_noise).float())[0, layout["mod"]].view(-1, k)
    high = st.band_centres_hz > 1000
    ratio = (mod_am[high] / mod_flat[high]).median(0).values
    assert int(ratio.argmax()) == expected and float(ratio[expected]) > 3.0


def test_invariant_to_a_time_shift_of_a_stationary_sound(st):
    t = _t(6.0)
    sound = ((1 + 0.8 * torch.sin(2 * torch.pi * 4 * t)) * _noise(6.0, 3) * 0.05
             + 0.1 * torch.sin(2 * torch.pi * 440 * t))
    n = 3 * SR
    windows = torch.stack([sound[s : s + n] for s in (0, 3779, 16000, 2 * SR + 1234)]).float()
    other = (0.05 * _noise(3.0, 4)).float()[None]
    stats = st(torch.cat([windows, other]))
    shifted = (stats[1:4] - stats[0]).norm(dim=1)
    different = (stats[4] - stats[0]).norm()
    assert float(shifted.max()) < 0.1 * float(different)
    # a circular shift is exact up to the envelope resampling
    exact = SoundTexture(SR, oversample=None)
    rolled = exact(torch.roll(windows[0], 4000)[None].double())
    assert torch.allclose(rolled, exact(windows[:1].double()), atol=1e-6)


def _reference(x: np.ndarray, st: SoundTexture) -> np.ndarray:
    """Float64 numpy/scipy re-derivation of the statistics, one band at a time."""
    n = x.size
    h = cochlear_filters(n, SR, st.n_bands, st.low_hz, st.high_hz).__getitem__(0).numpy()
    m = st.env_length(n)
    g = modulation_filters(m, st.env_rate, st.mod_centres_hz).numpy()
    spec = np.fft.rfft(x)
    envs = []
    for k in range(st.n_bands):
        sub = np.fft.irfft(spec * h[k], n=n)
        env = (np.abs(scipy.signal.hilbert(sub)) + st.floor) ** st.compression
        envs.append(np.fft.irfft(np.fft.rfft(env)[: m // 2 + 1], n=m) * m / n)
    s = np.stack(envs)
    mu, sigma = s.mean(1), s.std(1)
    skew = scipy.stats.skew(s, axis=1)
    c = np.corrcoef(s)
    corr = c[st.pair_j.numpy(), st.pair_k.numpy()]
    mod = np.zeros((st.n_bands, g.shape[1]))
    for k in range(st.n_bands):
        for j in range(g.shape[1]):
            band = np.fft.irfft(np.fft.rfft(s[k] - mu[k]) * g[:, j], n=m)
            mod[k, j] = np.mean(band**2) / sigma[k] ** 2
    return np.concatenate([mu, sigma / mu, skew, corr, mod.ravel()])


def test_float32_matches_a_float64_reference():
    st = SoundTexture(SR, oversample=None)
    t = _t(1.5)
    x = (0.05 * _noise(1.5, 5) * (1 + 0.7 * torch.sin(2 * torch.pi * 6 * t))
         + 0.2 * torch.sin(2 * torch.pi * 523 * t) + 0.02 * _noise(1.5, 6).cumsum(0) / 40)
    ref = _reference(x.numpy(), st)
    ours64 = st(x)[0].numpy()
    ours32 = st(x.float())[0].double().numpy()
    np.testing.assert_allclose(ours64, ref, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours32, ref, rtol=1e-4, atol=1e-4)


def test_band_rate_envelopes_stay_close_to_full_rate_and_rows_are_independent():
    t = _t(2.0)
    x = 0.1 * torch.stack([_noise(2.0, 7 + i) * (1 + 0.8 * torch.sin(2 * torch.pi * (3 + 5 * i) * t))
                           for i in range(4)])
    exact = SoundTexture(SR, oversample=None)(x)
    fast = SoundTexture(SR)(x)
    layout = SoundTexture(SR).layout()
    tolerance = {"mean": 1e-3, "cv": 5e-3, "skew": 5e-2, "corr": 1e-2, "mod": 1e-2}
    for name, sl in layout.items():
        assert float((fast[:, sl] - exact[:, sl]).abs().max()) < tolerance[name], name
    single = torch.cat([SoundTexture(SR)(row) for row in x])
    assert torch.allclose(fast, single, atol=1e-10)


def test_bad_input_names_the_problem():
    with pytest.raises(UserError, match="waveform"):
        SoundTexture(SR)(torch.zeros(2, 3, SR))
    with pytest.raises(UserError, match="high_hz"):
        SoundTexture(SR, high_hz=9000)
    with pytest.raises(UserError, match="filter_norm"):
        SoundTexture(SR, filter_norm="loud")
    with pytest.raises(UserError, match="oversample"):
        SoundTexture(SR, oversample=1)


def test_real_clips_differ_more_between_than_within():
    """Two windows of one real clip are closer in statistics than windows of different sounds."""
    root = DATA / "av" / "vas_vggsound"
    if not root.exists():
        pytest.skip(f"real data missing: {root}")
    from multiview.data.video.decode import read_audio

    names = ["drum_video_02480.mp4", "dog_video_02677.mp4", "fireworks_video_02997.mp4"]
    st = SoundTexture(SR)
    stats = torch.stack([
        st(torch.stack([read_audio(root / f, s, 2.0, SR) for s in (1.0, 4.0)]))
        for f in names])  # [clip, window, D]
    z = (stats - stats.flatten(0, 1).mean(0)) / (stats.flatten(0, 1).std(0) + 1e-6)
    within = (z[:, 0] - z[:, 1]).norm(dim=1).mean()
    between = torch.stack([(z[i, 0] - z[j, 1]).norm() for i in range(3) for j in range(3) if i != j]).mean()
    assert float(within) < float(between)
