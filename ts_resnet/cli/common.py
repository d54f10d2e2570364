"""Helpers shared by the classify/export/explain commands."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import torch


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CLIError("--device cuda requested but no CUDA device is available")
    return torch.device(name)


def check_output(path: Path, force: bool) -> None:
    """Refuse to overwrite what the user already has, unless --force."""
    if path.exists() and not force:
        raise CLIError(f"{path} exists; not overwriting it (use --force to replace it)")
    if not path.parent.exists():
        raise CLIError(f"output folder {path.parent} does not exist")


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file + rename: an interrupted run never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
