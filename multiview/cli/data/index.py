"""``multiview data index FOLDER --out INDEX``: list the usable videos of any folder.

Writes ``INDEX`` (one JSON record per usable video) and ``INDEX.rejected.jsonl`` (one per file that
cannot be used, with the reason); see :mod:`multiview.data.video.index`. Re-running with the same
``--out`` probes only files that changed; an interrupted run (SIGTERM, Ctrl-C: exit 143 / 130)
keeps what it probed, and the next run continues from there.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from multiview.core.errors import UserError
from multiview.core.outputs import claim_file
from multiview.data.media import shown
from multiview.data.video.index import (
    FLUSH_S,
    PROBE_TIMEOUT_S,
    Terminated,
    build_index,
    raise_terminated,
    report_path,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multiview data index", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder of videos (searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="index file to write (JSON Lines)")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="probing processes (default: CPUs, at most 8)")
    parser.add_argument("--timeout", type=float, default=PROBE_TIMEOUT_S,
                        help=f"seconds before a file's probe is abandoned (default {PROBE_TIMEOUT_S})")
    parser.add_argument("--flush-seconds", type=float, default=FLUSH_S,
                        help=f"rewrite the partial index this often while probing (default {FLUSH_S:g})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    root = args.folder.expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"{args.folder}: not a folder; expected a folder of videos")
    if args.workers < 1:
        raise UserError(f"--workers: expected a positive integer, got {args.workers}")
    if args.timeout <= 0:
        raise UserError(f"--timeout: expected a positive number of seconds, got {args.timeout}")
    out = args.out.expanduser().resolve()
    claim_file(out, "data index", companions=[report_path(out)])  # a re-run continues its own index
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        usable, rejected, stats = build_index(root, out, args.workers, quiet=args.quiet, timeout=args.timeout,
                                              flush_s=args.flush_seconds)
    except (Terminated, KeyboardInterrupt) as e:
        print(f"{shown(root)}: interrupted; the partial index is kept in {out}; run the same command to continue",
              file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"{shown(root)}: {stats['found']} video files, {stats['usable']} usable, {stats['rejected']} rejected "
          f"({stats['probed']} probed, {stats['reused']} unchanged since the last index)")
    for r in rejected:
        print(f"  rejected {shown(os.path.relpath(r['path'], root))}: {shown(r['reason'])}")
    for r in usable:
        if not r.get("audio_ok") and r.get("has_audio"):
            print(f"  no usable audio {shown(os.path.relpath(r['path'], root))}: {shown(str(r['audio_error']))}")
    for note in stats["notes"]:
        print(f"  note: {note}")
    labelled = sum(r["label"] is not None for r in usable)
    captioned = sum(r["caption"] is not None for r in usable)
    print(f"index: {shown(out)} ({labelled} labelled, {captioned} captioned)\nreport: {shown(report_path(out))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
