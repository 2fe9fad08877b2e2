"""Peak memory of our bounded readers against the plain library reads, on hostile files.

Three files, written to a temporary folder: a FLAC of silence that compresses minutes of audio
into a few hundred KB, a FLAC whose header declares 2^36 samples but holds 8,000, and a corpus
with no newline. Each read runs in a fresh process; the figure is its peak resident memory over
what the imports took (``ru_maxrss``), beside the same file read by ``soundfile.read`` (audio)
or by iterating the file's lines (corpus).

    python benchmarks/reader_memory.py --minutes 27 --corpus-mb 200 --out reader_memory.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

MEASURE = """
import resource, sys
{setup}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    {read}
    outcome = "read"
except BaseException as e:
    outcome = type(e).__name__ + ": " + str(e)[:120]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"peak_mb_over_imports": (after - before) / 1024, "outcome": outcome}}))
"""

CASES = {
    "ours": {"audio": ("from multiview.data.audio.readers import read_any", "read_any(sys.argv[1])"),
             "corpus": ("from multiview.data.text.corpus import iter_sentences",
                        "for _ in iter_sentences(sys.argv[1]): pass")},
    "library": {"audio": ("import soundfile", "soundfile.read(sys.argv[1], dtype='float32')"),
                "corpus": ("", "for line in open(sys.argv[1], encoding='utf-8'): line.split()")},
}


def silent_flac(path: Path, minutes: float) -> Path:
    with soundfile.SoundFile(path, "w", samplerate=44100, channels=2, format="FLAC", subtype="PCM_16") as f:
        block = np.zeros((441000, 2), dtype=np.int16)
        for _ in range(int(minutes * 6)):
            f.write(block)
    return path


def lying_flac(path: Path) -> Path:
    soundfile.write(path, (0.1 * np.sin(np.arange(8000) * 0.1)).astype(np.float32), 8000, format="FLAC")
    data = bytearray(path.read_bytes())
    declared = int.from_bytes(data[18:26], "big") | ((1 << 36) - 1)  # STREAMINFO's total samples: 2^36 - 1
    data[18:26] = declared.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path


def one_line_corpus(path: Path, mb: int) -> Path:
    words = " ".join(f"w{i % 5000}" for i in range(100_000)) + " "
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(mb * 1024 * 1024 // len(words)):
            f.write(words)
    return path


def measure(side: str, kind: str, path: Path) -> dict:
    setup, read = CASES[side][kind]
    code = MEASURE.format(setup="import json\n" + setup, read=read)
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=1800)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"peak_mb_over_imports": None, "outcome": f"exit {done.returncode}: {done.stderr.strip()[-200:]}"}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=27, help="length of the silent FLAC")
    p.add_argument("--corpus-mb", type=int, default=200, help="size of the corpus without a newline")
    p.add_argument("--out", type=Path, default=Path("reader_memory.json"))
    args = p.parse_args(argv)
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = {"silent_flac": ("audio", silent_flac(Path(tmp) / "silence.flac", args.minutes)),
                 "flac_declaring_2^36_samples": ("audio", lying_flac(Path(tmp) / "lying.flac")),
                 "corpus_without_newline": ("corpus", one_line_corpus(Path(tmp) / "corpus.txt", args.corpus_mb))}
        for name, (kind, path) in files.items():
            row = {"file_mb": path.stat().st_size / 2**20}
            row.update({side: measure(side, kind, path) for side in ("ours", "library")})
            ours, lib = row["ours"]["peak_mb_over_imports"], row["library"]["peak_mb_over_imports"]
            both_read = row["ours"]["outcome"] == row["library"]["outcome"] == "read"
            row["ratio_library_over_ours"] = lib / max(ours, 1.0) if both_read else None
            result[name] = row
            print(name, json.dumps(row))
    args.out.write_text(json.dumps({"settings": vars(args) | {"out": str(args.out)}, "results": result}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
