"""Audio files through soundfile (WAV of every sample format, FLAC, OGG) and PyAV (AAC), read
back equal to the written signal; a corrupt file is one clear error."""

import wave

import av
import numpy as np
import pytest
import soundfile

from multiview.core.errors import UserError
from multiview.data.audio.audio_folder import read_any

RATE = 16000


def signal(n: int = 4000) -> np.ndarray:
    t = np.arange(n) / RATE
    return (0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234 * t)).astype(np.float64)


def write_pcm_by_hand(path, x: np.ndarray, width: int, channels: int = 1) -> np.ndarray:
    """PCM WAV written with the standard library; returns the exact float values stored."""
    scale = 2.0 ** (8 * width - 1)
    q = np.clip(np.round(x * scale), -scale, scale - 1).astype(np.int64)
    if width == 1:
        raw = (q + 128).astype(np.uint8)
    else:
        raw = np.repeat(q[:, None], channels, 1).reshape(-1)
        raw = np.stack([(raw >> (8 * i)) & 0xFF for i in range(width)], 1).astype(np.uint8)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels if width > 1 else 1)
        w.setsampwidth(width)
        w.setframerate(RATE)
        w.writeframes(raw.tobytes())
    return q / scale


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_wav_of_every_width_reads_exactly(tmp_path, width):
    path = tmp_path / f"pcm{8 * width}.wav"
    stored = write_pcm_by_hand(path, signal(), width, channels=2)
    y, rate = read_any(path)
    assert rate == RATE and y.dtype == np.float32 and y.shape == stored.shape
    assert np.allclose(y, stored, atol=1e-7 if width < 4 else 1e-6)


def test_float_wav_reads_exactly(tmp_path):
    x = signal().astype(np.float32)
    soundfile.write(tmp_path / "f.wav", np.stack([x, -x], 1), RATE, subtype="FLOAT")
    y, rate = read_any(tmp_path / "f.wav")
    assert rate == RATE and np.allclose(y, 0.0, atol=1e-7)  # the channels cancel: mixed to mono
    soundfile.write(tmp_path / "g.wav", x, RATE, subtype="FLOAT")
    assert np.array_equal(read_any(tmp_path / "g.wav")[0], x)


def encode_with_pyav(path, x: np.ndarray, codec: str, container: str, sample_format: str) -> None:
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            (x * 32767).round().astype(np.int16)[None] if sample_format == "s16" else x.astype(np.float32)[None],
            format=sample_format, layout="mono")
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_flac_written_by_ffmpeg_reads_losslessly(tmp_path):
    x = signal()
    encode_with_pyav(tmp_path / "a.flac", x, "flac", "flac", "s16")
    y, rate = read_any(tmp_path / "a.flac")
    assert rate == RATE and np.array_equal(y * 32768, np.round(x * 32767))


def test_ogg_vorbis_reads_close_to_the_signal(tmp_path):
    x = signal(8000)
    soundfile.write(tmp_path / "a.ogg", x, RATE, format="OGG", subtype="VORBIS")
    y, rate = read_any(tmp_path / "a.ogg")
    assert rate == RATE and len(y) == len(x)
    snr = 10 * np.log10(np.sum(x ** 2) / np.sum((y - x) ** 2))
    assert snr > 20, snr  # lossy, yet the same signal


def test_aac_falls_back_to_pyav(tmp_path):
    x = signal(16000)
    encode_with_pyav(tmp_path / "a.m4a", x, "aac", "mp4", "fltp")
    with pytest.raises(soundfile.LibsndfileError):
        soundfile.read(tmp_path / "a.m4a")
    y, rate = read_any(tmp_path / "a.m4a")
    assert rate == RATE and abs(len(y) - len(x)) <= 2048  # encoder priming and padding
    lag = int(np.argmax(np.correlate(y[:4000], x[:3000], "valid")))
    assert np.corrcoef(y[lag:lag + 8000], x[:8000])[0, 1] > 0.9  # lossy AAC; unrelated audio gives ~0


def test_corrupt_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(100))
    with pytest.raises(UserError, match="broken.wav: cannot decode audio"):
        read_any(bad)


def test_a_wav_no_decoder_reads_is_one_clear_error_and_skipped_in_a_folder(tmp_path, capsys):
    import struct

    from multiview.data.audio.audio_folder import AudioFolderDataset

    data = bytes(5 * 800)  # 36-bit PCM: libsndfile refuses it and FFmpeg has no decoder for it
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000 * 5, 5, 36)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    odd = tmp_path / "1_cat_0.wav"
    odd.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(UserError, match="1_cat_0.wav: cannot decode audio"):
        read_any(odd)
    for speaker in ("ann", "bob", "cat", "dan"):
        for digit in (0, 1):
            if (digit, speaker) != (1, "cat"):
                soundfile.write(tmp_path / f"{digit}_{speaker}_0.wav", signal(800).astype(np.float32), 8000)
    test = AudioFolderDataset(tmp_path, "test", sample_rate=8000, seconds=0.1)
    assert test.skipped == 1 and len(test) == 3 and "1_cat_0.wav" in capsys.readouterr().err


def test_no_path_is_one_clear_error():
    from multiview.data.audio.audio_folder import resolve

    with pytest.raises(UserError, match="no path given"):
        resolve("")
