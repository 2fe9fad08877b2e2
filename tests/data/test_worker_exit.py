"""A process whose DataLoader workers ignore SIGTERM (multiview.data.loader.worker_ignores_sigterm)
still exits when it fails while a worker is alive: multiprocessing's exit hook terminates and
joins every worker, and a worker that ignores SIGTERM used to make that join wait for ever."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent('''
    import torch
    from torch.utils.data import DataLoader
    from multiview.data.loader import worker_ignores_sigterm
    loader = DataLoader(torch.arange(64), batch_size=4, num_workers=1, persistent_workers=True,
                        worker_init_fn=worker_ignores_sigterm)
    batches = iter(loader)
    next(batches)  # the worker is alive and stays so (persistent, iterator referenced)
    print("worker up", flush=True)
    raise ValueError("dict contains fields not in fieldnames: 'val/loss'")
''')


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork start method")
def test_failing_main_process_exits_while_a_worker_ignores_sigterm():
    try:
        done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the failing process hung at exit: {e.stdout!r}")
    assert "worker up" in done.stdout and done.returncode == 1
    assert "ValueError: dict contains fields not in fieldnames" in done.stderr
