"""Audio readers are bounded by what a file holds, not by what its header claims."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st

from multiview.data.audio.audio_folder import MAX_SECONDS, AudioFolderDataset, read_any
from tests.data.test_property_readers import FAST, check_reader

RATE = 8000


def encoded(fmt: str, subtype: str, seconds: float = 0.25, channels: int = 1) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], 1)
    buf = io.BytesIO()
    soundfile.write(buf, x.astype(np.float32), RATE, format=fmt, subtype=subtype)
    return buf.getvalue()


def flac_declaring(base: bytes, total: int, rate: int | None = None) -> bytes:
    """``base`` (a FLAC) whose STREAMINFO declares ``total`` samples (36 bits) and maybe ``rate`` Hz (20 bits)."""
    data = bytearray(base)
    assert data[:4] == b"fLaC"
    v = int.from_bytes(data[18:26], "big")  # rate(20) channels-1(3) bits-1(5) total samples(36)
    v = (v & ~((1 << 36) - 1)) | (total & ((1 << 36) - 1))
    if rate is not None:
        v = (v & ((1 << 44) - 1)) | ((rate & 0xFFFFF) << 44)
    data[18:26] = v.to_bytes(8, "big")
    return bytes(data)


def valid(result) -> None:
    x, rate = result
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 1
    assert 0 < rate and len(x) <= MAX_SECONDS * rate


@pytest.mark.parametrize("fmt,subtype,channels", [("WAV", "PCM_16", 1), ("WAV", "FLOAT", 2), ("FLAC", "PCM_16", 2)])
def test_hostile_audio_headers(tmp_path_factory, fmt, subtype, channels):
    """Mutated WAV/FLAC files: bounded float32 mono, or one UserError line naming the file."""
    base = encoded(fmt, subtype, channels=channels)
    folder = tmp_path_factory.mktemp("audio")
    check_reader(folder, f"a.{fmt.lower()}", base, read_any, valid)
    check_reader(folder, f"w.{fmt.lower()}", base, lambda p: read_any(p, seconds=0.1), valid)


def test_flac_headers_declaring_any_length(tmp_path):
    base, path = encoded("FLAC", "PCM_16"), tmp_path / "a.flac"

    @FAST
    @given(st.integers(0, (1 << 36) - 1), st.one_of(st.none(), st.integers(0, (1 << 20) - 1)))
    def check(total, rate):
        path.write_bytes(flac_declaring(base, total, rate))
        for seconds in (None, 0.1):
            tracemalloc.start()
            try:
                valid(read_any(path, seconds))
            except Exception as e:  # noqa: BLE001 -- only a one-line UserError may come out
                from multiview.core.errors import UserError

                assert isinstance(e, UserError) and str(path) in str(e), repr(e)
            finally:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            assert peak < 8_000_000, f"{peak} bytes for a header declaring {total} samples at {rate} Hz"

    check()


def test_flac_of_silence_reads_at_most_the_cap(tmp_path):
    """An hour of silence is ~100 KB of FLAC: the reader stops at MAX_SECONDS, and a window costs a window."""
    path = tmp_path / "silence.flac"
    with soundfile.SoundFile(path, "w", samplerate=RATE, channels=1, format="FLAC", subtype="PCM_16") as f:
        for _ in range(360):
            f.write(np.zeros(10 * RATE, np.int16))
    assert path.stat().st_size < 400_000 and soundfile.info(path).frames == 3600 * RATE
    tracemalloc.start()
    x, _ = read_any(path, seconds=1.0)
    window_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(x) == RATE and window_peak < 2_000_000
    assert len(read_any(path)[0]) == MAX_SECONDS * RATE


def test_a_lying_header_in_an_audio_folder_is_read_for_what_it_holds(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            (tmp_path / cls / f"{i}.wav").write_bytes(encoded("WAV", "PCM_16", seconds=0.5))
    huge = tmp_path / "a" / "huge.flac"
    huge.write_bytes(flac_declaring(encoded("FLAC", "PCM_16", seconds=0.5), (1 << 36) - 1))
    ds = AudioFolderDataset(tmp_path, "train", sample_rate=RATE, seconds=0.5, peak=None)
    k = ds.files.index(str(huge)) if str(huge) in ds.files else None
    assert k is not None and ds.skipped == 0
    reference = encoded("FLAC", "PCM_16", seconds=0.5)
    expected, _ = soundfile.read(io.BytesIO(reference), dtype="float32")
    assert np.allclose(ds.waves[k].numpy(), expected, atol=1e-4)


