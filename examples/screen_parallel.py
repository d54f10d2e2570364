"""Many ``benchmark_ucr.py --dev-folds`` runs side by side: a TRAIN-fold screen of recipe candidates
on a machine with more cores (or a GPU) than one process can use, cut off cleanly at a deadline.

    python examples/screen_parallel.py --root ../shared/data/ucr --out screen \
        --arm base= --arm "k4=--model.arch_options.kernel_sizes=[3,9,19,39]" \
        --datasets ArrowHead OliveOil FaceFour --draws 0 1 --workers 14 --deadline 430
    python examples/compare_cv.py screen/base.json screen/k4.json --min-gain 2 --max-loss 1

Each job is one (data set, arm, fold draw): ``benchmark_ucr.py --dev-folds K --seeds DRAW --datasets SET
-- ARM_ARGS``, a process of its own at one thread. Its row is added to ``OUT/<arm>.json`` (the
``--json`` format, so ``compare_cv.py`` reads it) the moment it finishes, so a run cut short keeps
everything that finished. Jobs start draw by draw, cheapest set first, the arms of one set together:
a lent machine's minutes then buy complete, comparable sets rather than half-run large ones (session
32 started the largest first: three of them were cut off at the deadline and the small sets never
started). Jobs still running at the deadline are stopped and listed. TEST is never opened (``--dev-folds`` scores folds of TRAIN).

On a GPU machine every job trains on the GPU (``configs/ucr.yaml`` has ``accelerator: auto``); start
CUDA MPS first (``nvidia-cuda-mps-control -d``) so that the processes' small kernels can share the chip
instead of taking turns. Session 32 ran 14 such jobs on one H200 that way: a five-fold small-set job
took 145-187 s, about 30 ms a step per process (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_arm(text: str) -> tuple[str, list[str]]:
    """``"name=--a=1 --b=2"`` -> ``("name", ["--a=1", "--b=2"])``; ``"base="`` is the recipe as it is."""
    name, sep, args = text.partition("=")
    if not sep or not name or not name.replace("-", "").replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"--arm {text!r}: expected NAME=ARGS (NAME of letters, digits, - or _)")
    return name, shlex.split(args)


def plan(root: Path, datasets: list[str], arms: list[str], draws: list[int]) -> list[tuple[str, str, int]]:
    """Jobs in the order they start: draw by draw, cheapest set first (TRAIN file size stands in for
    cost), every arm of a set next to each other. A set without a TRAIN file is a clear error here,
    before any job starts."""
    from ts_resnet.data.modules.ucr import archive_file

    try:
        size = {d: archive_file(root, d, "TRAIN").stat().st_size for d in datasets}
    except FileNotFoundError as e:
        raise SystemExit(str(e)) from None
    return [(d, a, draw) for draw in draws for d in sorted(datasets, key=lambda d: (size[d], d)) for a in arms]


class Screen:
    def __init__(self, args: argparse.Namespace, queue: list[tuple[str, str, int]]) -> None:
        self.args = args
        self.arms = dict(args.arm)
        self.queue = queue
        self.lock = threading.Lock()
        self.rows: dict[str, list[dict]] = {a: [] for a in self.arms}
        self.done: list[str] = []
        self.unfinished: list[str] = []
        self.t0 = time.monotonic()
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "logs").mkdir(exist_ok=True)

    def log(self, msg: str) -> None:
        line = f"{time.monotonic() - self.t0:7.1f}s {msg}"
        print(line, flush=True)
        with self.lock, open(self.args.out / "progress.log", "a") as f:
            f.write(line + "\n")

    def left(self) -> float:
        return self.args.deadline - (time.monotonic() - self.t0) if self.args.deadline else float("inf")

    def spawn(self, cmd: list[str], name: str) -> int | None:
        """Run one job's process at one thread, its output in ``logs/<name>.log``; its exit code, or
        None when the deadline stopped it. The job's temporary folders (the folds it writes,
        Lightning's working folder) go under a scratch folder of its own, removed here however the job
        ended: a job killed at the deadline cannot clean up after itself, and its copies of a large
        set's folds would otherwise stay in /tmp."""
        scratch = self.args.out / "scratch" / name
        scratch.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", TMPDIR=str(scratch))
        try:
            with open(self.args.out / "logs" / f"{name}.log", "w") as log:
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
                try:
                    return proc.wait(timeout=max(0.1, self.left()) if self.args.deadline else None)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    return None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def run_job(self, dataset: str, arm: str, draw: int) -> None:
        a = self.args
        name = f"{dataset}-{arm}-d{draw}"
        js = a.out / "logs" / f"{name}.json"
        cmd = [sys.executable, str(HERE / "benchmark_ucr.py"), "--root", str(a.root), "--datasets", dataset,
               "--dev-folds", str(a.folds), "--seeds", str(draw), "--json", str(js), "--", *self.arms[arm], *a.extra]
        start = time.monotonic()
        rc = self.spawn(cmd, name)
        if rc is None:
            with self.lock:
                self.unfinished.append(name)
            self.log(f"stopped at the deadline: {name} ({time.monotonic() - start:.0f} s in)")
            return
        if rc != 0 or not js.exists():
            with self.lock:
                self.unfinished.append(name)
            self.log(f"FAILED: {name} (exit {rc}; see {a.out / 'logs' / (name + '.log')})")
            return
        new = json.loads(js.read_text())
        with self.lock:
            for row in new:
                row.update(arm=arm, job_s=time.monotonic() - start)
            self.rows[arm].extend(new)
            tmp = a.out / f".{arm}.json.tmp"
            tmp.write_text(json.dumps(self.rows[arm], indent=1))
            tmp.replace(a.out / f"{arm}.json")  # whole file or the previous one, never half
            self.done.append(name)
        accs = ", ".join(f"{r['acc']:.2f}%" for r in new)
        self.log(f"done: {name} {accs} in {time.monotonic() - start:.0f} s")

    def worker(self) -> None:
        while True:
            with self.lock:
                if not self.queue or self.left() <= 0:
                    return
                job = self.queue.pop(0)
            self.run_job(*job)

    def run(self) -> dict:
        self.log(f"{len(self.queue)} jobs ({len(self.args.datasets)} sets x {len(self.arms)} arms x "
                 f"{len(self.args.draws)} draws), {self.args.workers} at a time")
        threads = [threading.Thread(target=self.worker) for _ in range(self.args.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            (self.args.out / "scratch").rmdir()  # empty by now: every job removed its own
        except OSError:
            pass
        never = [f"{d}-{a}-d{k}" for d, a, k in self.queue]
        self.log(f"finished: {len(self.done)} jobs done, {len(self.unfinished)} stopped or failed, "
                 f"{len(never)} never started")
        return {"done": self.done, "unfinished": self.unfinished, "never_started": never,
                "rows": self.rows}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, required=True, help="folder with one sub-folder per data set")
    p.add_argument("--datasets", nargs="+", required=True)
    p.add_argument("--arm", type=parse_arm, action="append", required=True,
                   help="NAME=LIGHTNINGCLI_ARGS, repeated; 'base=' runs the recipe unchanged")
    p.add_argument("--out", type=Path, required=True, help="writes <arm>.json, progress.log and logs/ here")
    p.add_argument("--draws", nargs="+", type=int, default=[0], help="fold draws (benchmark_ucr.py --seeds)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    p.add_argument("--deadline", type=float, default=0.0,
                   help="seconds from start after which running jobs are stopped and no job starts (0 = none)")
    p.add_argument("--extra", action="append", default=[],
                   help="one more LightningCLI argument for every job, e.g. --extra=--trainer.max_steps=500")
    args = p.parse_args(argv)
    if len({name for name, _ in args.arm}) != len(args.arm):
        p.error("--arm names must differ")
    if args.workers < 1 or args.folds < 2:
        p.error("--workers must be >= 1 and --folds >= 2")
    queue = plan(args.root, args.datasets, [name for name, _ in args.arm], args.draws)
    taken = [str(args.out / f"{name}.json") for name, _ in args.arm if (args.out / f"{name}.json").exists()]
    if taken:  # an earlier screen's rows: never overwritten
        p.error(f"{', '.join(taken)} already exist: choose another --out or move them away")
    return Screen(args, queue).run()


if __name__ == "__main__":
    result = main()
    sys.exit(1 if result["unfinished"] else 0)
