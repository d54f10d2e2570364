"""MkDocs hook: replace ``<!-- help: ARGS -->`` with the output of ``ts-resnet ARGS``, so the command-line
reference is generated from the installed package and can never drift from it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

_MARKER = re.compile(r"<!-- help: (.+?) -->")


def _help(args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "ts_resnet.cli.main", *args.split()], capture_output=True,
                         text=True, check=False, env={**os.environ, "COLUMNS": "100"})
    text = (out.stdout or out.stderr).rstrip()
    if not text:
        raise RuntimeError(f"`ts-resnet {args}` printed nothing (exit {out.returncode})")
    return f"```text\n$ ts-resnet {args}\n{text}\n```"


def on_page_markdown(markdown: str, **_: object) -> str:
    return _MARKER.sub(lambda m: _help(m.group(1)), markdown)
