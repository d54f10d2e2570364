from __future__ import annotations

import os
from pathlib import Path

import lightning.pytorch  # noqa: F401  (see the comment below)
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TS_RESNET_SHARED_DATA", REPO.parent / "shared" / "data"))

# Two cores in CI: keep torch from oversubscribing them when pytest runs subprocesses too. Under
# pytest-xdist the cores are shared by the workers, so each worker takes its share (at least one).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // _WORKERS)))

# Importing lightning.pytorch adds a StreamHandler bound to whatever sys.stderr is at that moment. The
# package imports Lightning lazily (no work at import time), so without the import above the first
# test to call the CLI under capsys bound Lightning's handler to that test's capture stream; once it
# closed, every later Lightning log line in the same process printed a "--- Logging error ---"
# traceback into the next test's stderr. Under pytest-xdist the order that triggers it is common
# (`pytest -n 2 tests/test_cli_signature.py` failed every time).


FIXTURES = REPO / "tests" / "data"


def fixture(*parts: str) -> Path:
    """A small real-data file shipped in ``tests/data`` (see its README): always there, so the core
    real-file tests run on a fresh clone too."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"test fixture missing from the repository: {path}")
    return path


def shared(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test cleanly when that folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/data (the full real-data sets; CI has it): {path} not found")
    return path


def ts_resnet_command() -> list[str]:
    """The installed ``ts-resnet`` entry point (next to this interpreter when the venv is not activated)."""
    import shutil
    import sys

    exe = shutil.which("ts-resnet", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if exe is None:
        pytest.fail("the ts-resnet console script is not installed (pip install -e .)")
    return [exe]
