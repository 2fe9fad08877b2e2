import os
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # set when the suite runs on several processes (-n)

if WORKER:  # one compute thread per test process, so two processes share two cores without thrashing
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def multiview_home(tmp_path_factory):
    """Caches and run folders of the test session live in a temporary MULTIVIEW_HOME."""
    home = os.environ.get("MULTIVIEW_TEST_HOME") or str(tmp_path_factory.mktemp("multiview_home"))
    old = os.environ.get("MULTIVIEW_HOME")
    os.environ["MULTIVIEW_HOME"] = home
    if SHARED_DATA.is_dir():  # `--data cifar10`, `fsdd` and the word-sim sets are found through it
        os.environ.setdefault("MULTIVIEW_DATA", str(SHARED_DATA))
    yield Path(home)
    if old is None:
        os.environ.pop("MULTIVIEW_HOME", None)
    else:
        os.environ["MULTIVIEW_HOME"] = old


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is missing")
    return SHARED_DATA
