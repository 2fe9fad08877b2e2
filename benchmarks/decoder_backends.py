"""decord 0.6.0 against PyAV (and decord2, from another interpreter) on the real clips.

Each backend runs in its own interpreter (``python THIS --worker BACKEND``; numpy and the
backend only), so decord and decord2, which share ``import decord``, never meet. Per backend:
sequential throughput (every frame of every fourth file, frames/s), random access (single frames at
random positions, reads/s), RSS growth over ``--reads`` random reads with a fresh reader each (also
after ``malloc_trim``, which separates memory still held from freed heap glibc kept), and fork safety (a reader
used in the parent, then read from in a forked child, which must finish within 20 s).

    python benchmarks/decoder_backends.py --data ../shared/data/av --out /tmp/decoders.json \
        --decord2-python /tmp/d2venv/bin/python
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time

FILES = ("grid/*.mpg", "msrvtt/*.mp4", "vas_vggsound/*.mp4", "odd/chaplin.mp4", "odd/smpte-2997.mp4",
         "odd/big_buck_bunny_0_30.webm")


def trim() -> None:
    """Return freed heap to the system, so what RSS still shows after it is memory held, not cached."""
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


class Decord:
    def __init__(self):
        import decord

        self.decord = decord

    def open(self, path):
        return self.decord.VideoReader(path, num_threads=1)

    def count(self, reader) -> int:
        return len(reader)

    def all_frames(self, reader) -> int:
        n = 0
        for start in range(0, len(reader), 64):
            n += len(reader.get_batch(list(range(start, min(start + 64, len(reader))))).asnumpy())
        return n

    def frame(self, reader, k: int):
        return reader[k].asnumpy()


class PyAV:
    def __init__(self):
        import av

        self.av = av

    def open(self, path):
        c = self.av.open(path)
        s = c.streams.video[0]
        s.thread_type = "NONE"
        return c, s

    def count(self, reader) -> int:
        return reader[1].frames or int(float(reader[0].duration or 0) / 1e6 * float(reader[1].average_rate))

    def all_frames(self, reader) -> int:
        c, s = reader
        c.seek(0, stream=s)
        return sum(1 for f in c.decode(s) if f.to_ndarray(format="rgb24") is not None)

    def frame(self, reader, k: int):
        c, s = reader
        target = s.start_time or 0
        target += int(k / float(s.average_rate) / s.time_base)
        c.seek(target, stream=s, backward=True, any_frame=False)
        for f in c.decode(s):
            if f.pts is not None and f.pts >= target:
                return f.to_ndarray(format="rgb24")
        return None


def worker(backend: str, files: list[str], reads: int, random_reads: int) -> dict:
    import numpy as np

    b = Decord() if backend.startswith("decord") else PyAV()
    out = {"backend": backend}
    if backend.startswith("decord"):
        out["version"] = b.decord.__version__
    else:
        out["version"] = b.av.__version__
    frames, start = 0, time.perf_counter()
    for path in files[::4]:
        frames += b.all_frames(b.open(path))
    out["sequential_frames_per_s"] = frames / (time.perf_counter() - start)
    rng = np.random.default_rng(0)
    readers = {p: b.open(p) for p in files}
    counts = {p: b.count(r) for p, r in readers.items()}
    start = time.perf_counter()
    for _ in range(random_reads):
        p = files[rng.integers(len(files))]
        b.frame(readers[p], int(rng.integers(counts[p])))
    out["random_reads_per_s"] = random_reads / (time.perf_counter() - start)
    small = [p for p in files if "grid" in p or "msrvtt" in p]
    before = rss_mb()
    for k in range(reads):
        p = small[rng.integers(len(small))]
        reader = b.open(p)  # a fresh reader each time, as a loader over many files does
        b.frame(reader, int(rng.integers(max(1, b.count(reader)))))
        del reader
        if k == 99:
            before = rss_mb()
    grown = rss_mb() - before
    trim()
    out.update(memory_reads=reads, rss_after_100_mb=before, rss_growth_mb=grown,
               rss_growth_after_trim_mb=rss_mb() - before)
    reader = readers[files[0]]
    b.frame(reader, 0)
    pid = os.fork()
    if pid == 0:
        b.frame(reader, 5)
        b.frame(b.open(files[1]), 3)
        os._exit(0)
    deadline = time.time() + 20
    status = None
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    out["fork_safe"] = status == 0 and time.time() < deadline
    out["fork_result"] = "ok" if out["fork_safe"] else ("hung" if status is None else f"exit status {status}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "av"))
    parser.add_argument("--out", default=None, help="JSON to write (required)")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--random-reads", type=int, default=200)
    parser.add_argument("--decord2-python", default=None, help="an interpreter with decord2 installed")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--files", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, json.loads(args.files), args.reads, args.random_reads)))
        return 0
    if not args.out:
        parser.error("--out is required")
    files = sorted(p for pattern in FILES for p in glob.glob(os.path.join(args.data, pattern)))
    if not files:
        print(f"no clips under {args.data}", file=sys.stderr)
        return 2
    runs = [("decord", sys.executable), ("pyav", sys.executable)]
    if args.decord2_python:
        runs.append(("decord2", args.decord2_python))
    results = []
    for backend, python in runs:
        cmd = [python, os.path.abspath(__file__), "--worker", backend, "--files", json.dumps(files),
               "--reads", str(args.reads), "--random-reads", str(args.random_reads)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            results.append({"backend": backend, "error": done.stderr.strip().splitlines()[-1:]})
        else:
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    from multiview.core.io import write_json

    write_json(args.out, {"files": len(files), "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
