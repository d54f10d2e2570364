"""Run the code on the tutorial pages, so every command a reader copies is known to work.

    python docs/run_tutorials.py                 # every page under docs/tutorials
    python docs/run_tutorials.py quickstart ucr  # some pages
    python docs/run_tutorials.py --keep          # keep the working folders to look at

Each page runs in a fresh temporary folder in which the repository's ``configs``, ``datasets``,
``examples`` and ``tests`` folders are linked, as if the reader were in a checkout. The page's
```` ```bash ```` blocks run in order with ``bash -euo pipefail``; its ```` ```python ```` blocks run in
one shared namespace (later blocks see earlier names). A block right after a line
``<!-- no-run: reason -->`` is shown on the site but not run (a download the reader must do).
The data cache goes to the temporary folder (``TS_RESNET_CACHE``), so nothing outside it is touched.
Exit status 1 when any block fails; its code and output are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
LINKED = ("configs", "datasets", "examples", "tests")
_FENCE = re.compile(r"^```(\w*)")


@dataclass
class Block:
    page: str
    line: int
    lang: str
    code: str


def extract_blocks(path: Path) -> list[Block]:
    """The runnable blocks of a Markdown page: ```bash and ```python fences not marked no-run."""
    blocks: list[Block] = []
    lines = path.read_text().splitlines()
    i = 0
    previous = ""
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        lang, start = m.group(1), i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"{path}:{start + 1}: code fence never closed")
        i += 1
        if lang in ("bash", "python") and not previous.startswith("<!-- no-run"):
            blocks.append(Block(path.stem, start + 1, lang, "\n".join(body) + "\n"))
        previous = ""
    return blocks


def run_page(page: Path, workdir: Path, env: dict[str, str]) -> list[tuple[Block, float, str | None]]:
    """Run a page's blocks in ``workdir``; stops at the first failure. Returns (block, seconds, error)."""
    for name in LINKED:
        (workdir / name).symlink_to(REPO / name, target_is_directory=True)
    namespace: dict[str, object] = {"__name__": "__tutorial__"}
    results = []
    for block in extract_blocks(page):
        start = time.perf_counter()
        error = None
        if block.lang == "bash":
            out = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=workdir, env=env,
                                 capture_output=True, text=True, check=False)
            if out.returncode != 0:
                error = f"exit status {out.returncode}\n--- stdout ---\n{out.stdout[-4000:]}\n--- stderr ---\n{out.stderr[-4000:]}"
        else:
            buf = io.StringIO()
            cwd = os.getcwd()
            try:
                os.chdir(workdir)
                with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                    exec(compile(block.code, f"{page.name}:{block.line}", "exec"), namespace)
            except BaseException:
                error = f"{traceback.format_exc()}\n--- output ---\n{buf.getvalue()[-4000:]}"
            finally:
                os.chdir(cwd)
        results.append((block, time.perf_counter() - start, error))
        if error:
            break
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pages", nargs="*", help="page names without .md (default: all tutorials)")
    p.add_argument("--keep", action="store_true", help="keep the temporary working folders")
    args = p.parse_args(argv)
    available = {f.stem: f for f in sorted((DOCS / "tutorials").glob("*.md"))}
    unknown = sorted(set(args.pages) - set(available))
    if unknown:
        p.error(f"unknown pages {unknown}; available: {sorted(available)}")
    pages = [available[n] for n in args.pages] if args.pages else list(available.values())
    failed = 0
    for page in pages:
        workdir = Path(tempfile.mkdtemp(prefix=f"tutorial-{page.stem}-"))
        # The interpreter running this script (the project's venv) provides `python` and `ts-resnet`.
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "TS_RESNET_CACHE": str(workdir / ".cache"), "PYTHONUNBUFFERED": "1"}
        start = time.perf_counter()
        results = run_page(page, workdir, env)
        for block, seconds, error in results:
            status = "FAILED" if error else "ok"
            print(f"{page.name}:{block.line:<4} {block.lang:<6} {seconds:6.1f} s  {status}", flush=True)
            if error:
                failed += 1
                print(f"--- code ---\n{block.code}--- error ---\n{error}", flush=True)
        print(f"{page.name}: {len(results)} block(s) in {time.perf_counter() - start:.0f} s"
              + (f", kept in {workdir}" if args.keep else ""), flush=True)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        print(f"{failed} tutorial block(s) failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
