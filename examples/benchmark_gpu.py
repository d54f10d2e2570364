"""GPU benchmark: a PTB-XL-sized epoch (17,418 x 12 x 1000) of the default ECG preset.

    python examples/benchmark_gpu.py --json gpu.json                   # on a CUDA machine
    python examples/benchmark_gpu.py --device cpu --records 64 --batch-sizes 16 --no-compile   # smoke run

For each batch size: one warm-up epoch (compilation, cuDNN autotuning), then timed epochs (median) through
Lightning's loop with ``configs/gpu.yaml``'s settings (bf16-mixed, eager, 1-D layout),
data from the synthetic PTB-XL-shaped task held in memory and served by DataLoader workers into
pinned memory.  ``--ablations`` adds rows at the first batch size that each change one of those
settings (``compiled``: ``torch.compile``; ``fp32``: 32-bit instead of bf16-mixed, compiled;
``channels-last``: the 2-D channels-last path, compiled), so the config's choices are measured, not
assumed.  Reported per row: epoch
seconds, samples/s, GPU busy fraction during the timed epoch (NVML utilisation sampled every 20 ms
when ``pynvml`` is importable) and the share of the epoch between each step's start and end markers
on the GPU's own timeline (CUDA events, no host synchronisation inside the epoch, so timing does not
slow the loop it times), peak GPU memory, and inference records/s of the trained network (batch
1024).  ``--ceilings`` also times the two halves of an epoch apart: the data path alone (the same
DataLoader copied to the device, no network) and the network alone (the training set held on the
device, a plain compiled bf16 forward/backward/AdamW loop, no Lightning), which says which of them
bounds the epoch.  Each row is written to ``--json`` as soon as it is measured.  Finally
``configs/ddp.yaml`` runs one short epoch on one device as a smoke test, in a temporary folder.

Targets (issue 8): an epoch < 2 s on an H200, GPU busy >= 90% of it.  Measured on an H200
(BENCHMARKS.md, "GPU"): the first is met at batch 1024, the second is not (15-26% busy).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import lightning as L
import torch

from ts_resnet import SignalClassifier, create_model
from ts_resnet.data.modules import SyntheticECGDataModule

REPO = Path(__file__).resolve().parents[1]


class EpochTimer(L.Callback):
    """Wall time of each training epoch, and the time between each step's start and end.

    On CUDA the step times are read from events recorded on the GPU's stream and summed after the
    epoch, so no step waits for the host: a per-step ``synchronize`` would stop the CPU from queueing
    the next step while the GPU runs this one, which is exactly what the benchmark must not do.
    """

    def __init__(self) -> None:
        self.epochs: list[tuple[float, float]] = []  # (start, end) on time.perf_counter's clock
        self.step_times: list[float] = []  # seconds between the steps' start and end markers, per epoch

    @staticmethod
    def _cuda(trainer: L.Trainer) -> bool:
        return trainer.strategy.root_device.type == "cuda"

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self._cuda(trainer):
            torch.cuda.synchronize()
        self.marks: list[tuple[object, object]] = []
        self.step_time = 0.0
        self.t0 = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._cuda(trainer):
            self.start = torch.cuda.Event(enable_timing=True)
            self.start.record()
        else:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._cuda(trainer):
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            self.marks.append((self.start, end))
        else:
            self.step_time += time.perf_counter() - self.start

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._cuda(trainer):
            torch.cuda.synchronize()
            self.step_time = sum(a.elapsed_time(b) for a, b in self.marks) / 1000
        self.epochs.append((self.t0, time.perf_counter()))
        self.step_times.append(self.step_time)


class NvmlSampler:
    """GPU utilisation samples (time, percent) from NVML, when pynvml is installed."""

    def __init__(self, period: float = 0.02) -> None:
        self.samples: list[tuple[float, int]] = []
        self.period = period
        try:
            import pynvml

            pynvml.nvmlInit()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
            self.nvml = pynvml
        except Exception:  # no pynvml, or no NVIDIA driver
            self.nvml = None

    def __enter__(self) -> NvmlSampler:
        self.stop = threading.Event()
        if self.nvml is not None:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            util = self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu
            self.samples.append((time.perf_counter(), util))
            time.sleep(self.period)

    def __exit__(self, *exc) -> None:
        self.stop.set()

    def mean(self, windows: list[tuple[float, float]]) -> float | None:
        """Mean utilisation (0-1) of the samples taken inside the (start, end) ``windows``."""
        inside = [u for t, u in self.samples if any(start <= t <= end for start, end in windows)]
        return sum(inside) / len(inside) / 100 if inside else None


# Against configs/gpu.yaml (bf16-mixed, eager, 1-D layout). fp32 and channels-last are compiled, as
# they were measured when gpu.yaml still compiled (BENCHMARKS.md, "GPU").
VARIANTS = {
    "gpu.yaml": {},
    "compiled": {"compile": True},
    "fp32": {"precision": "32-true", "compile": True},
    "channels-last": {"channels_last": True, "compile": True},
}


def epoch_times(windows: list[tuple[float, float]], records: int) -> dict:
    """The median epoch of the timed (start, end) ``windows``, each epoch, and records/s."""
    epochs = [end - start for start, end in windows]
    epoch = statistics.median(epochs)
    return {"epoch_s": epoch, "epochs_s": epochs, "samples_s": records / epoch}


def run(batch_size: int, args: argparse.Namespace, dm: SyntheticECGDataModule, variant: str = "gpu.yaml") -> dict:
    cuda = args.device == "cuda"
    change = VARIANTS[variant]
    dm.batch_size = batch_size
    model = SignalClassifier(arch=args.arch, num_classes=dm.num_classes, in_channels=12, task="multilabel",
                             class_names=dm.class_names, lr=1e-3, scheduler="none",
                             compile=change.get("compile", False) and not args.no_compile,
                             channels_last=change.get("channels_last", False))
    timer = EpochTimer()
    precision = change.get("precision", "bf16-mixed") if cuda else "32-true"
    trainer = L.Trainer(accelerator="gpu" if cuda else "cpu", devices=1, max_epochs=1 + args.timed_epochs,
                        precision=precision, benchmark=cuda, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, callbacks=[timer])
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    fit_start = time.perf_counter()
    with NvmlSampler() as nvml:
        trainer.fit(model, datamodule=dm)
    fit_wall = time.perf_counter() - fit_start
    timed = timer.epochs[1:]  # after the first epoch: compiled, autotuned
    n = len(dm.datasets["train"])
    times = epoch_times(timed, n)
    row = {"variant": variant, "batch_size": batch_size, "precision": precision,
           "compiled": model.hparams.compile, **times, "train_records": n,
           "busy_fraction_steps": sum(timer.step_times[1:]) / sum(times["epochs_s"]),
           "busy_fraction_nvml": nvml.mean(timed),
           "peak_mem_GiB": torch.cuda.max_memory_allocated() / 2**30 if cuda else None, "fit_wall_s": fit_wall}
    net = model.net.eval().to(args.device)
    x = torch.randn(1024 if cuda else 16, 12, 1000, device=args.device)
    with torch.inference_mode(), torch.autocast(args.device, dtype=torch.bfloat16, enabled=precision != "32-true"):
        for _ in range(3):
            net(x)
        if cuda:
            torch.cuda.synchronize()
        t0, reps = time.perf_counter(), 10
        for _ in range(reps):
            net(x)
        if cuda:
            torch.cuda.synchronize()
    row["infer_records_s"] = reps * x.shape[0] / (time.perf_counter() - t0)
    return row


def loader_ceiling(batch_size: int, args: argparse.Namespace, dm: SyntheticECGDataModule) -> dict:
    """The data path alone: the training DataLoader (same workers, pinned memory) copied to the
    device, no network. An epoch of training cannot be faster than this."""
    dm.batch_size = batch_size
    loader = dm.train_dataloader()
    windows = []
    for _ in range(1 + args.timed_epochs):  # the first starts the workers
        t0 = time.perf_counter()
        for batch in loader:
            batch["x"].to(args.device, non_blocking=True)
            batch["y"].to(args.device, non_blocking=True)
        if args.device == "cuda":
            torch.cuda.synchronize()
        windows.append((t0, time.perf_counter()))
    return {"variant": "ceiling: loader only", "batch_size": batch_size,
            **epoch_times(windows[1:], len(dm.datasets["train"])), "workers": dm.num_workers}


def step_ceiling(batch_size: int, args: argparse.Namespace, dm: SyntheticECGDataModule) -> dict:
    """The network alone: the training set held on the device, batches drawn there, a plain
    forward/backward/AdamW loop (compiled, bf16 autocast on CUDA) with no Lightning and no loader.
    What the GPU itself can do with this network at this batch size."""
    cuda = args.device == "cuda"
    ds = dm.datasets["train"]
    items = [ds[i] for i in range(len(ds))]  # each record read (and cropped) once
    x_all = torch.cat([it["x"] for it in items]).to(args.device)
    y_all = torch.stack([it["y"] for it in items]).to(args.device)
    net = create_model(args.arch, in_ch=12, num_classes=dm.num_classes).to(args.device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    step_net = net if args.no_compile else torch.compile(net)
    n, windows = len(items), []
    with NvmlSampler() as nvml:
        for _ in range(1 + args.timed_epochs):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            order = torch.randperm(n, device=args.device)
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                with torch.autocast(args.device, dtype=torch.bfloat16, enabled=cuda):
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(step_net(x_all[idx]).float(), y_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if cuda:
                torch.cuda.synchronize()
            windows.append((t0, time.perf_counter()))
    return {"variant": "ceiling: network alone, data on the device", "batch_size": batch_size,
            "precision": "bf16-mixed" if cuda else "32-true", "compiled": not args.no_compile,
            **epoch_times(windows[1:], n), "busy_fraction_nvml": nvml.mean(windows[1:])}


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--arch", default="msresnet_ecg")
    p.add_argument("--records", type=int, default=21772, help="generated; 80%% train (17,418 = PTB-XL folds 1-8)")
    p.add_argument("--batch-sizes", type=int, nargs="*", default=[256, 1024])
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--timed-epochs", type=int, default=2, help="epochs timed after the warm-up one (median reported)")
    p.add_argument("--no-compile", action="store_true", help="compile nothing, not even the compiled rows (CPU smoke runs)")
    p.add_argument("--ablations", nargs="*", default=[], choices=[v for v in VARIANTS if v != "gpu.yaml"],
                   help="extra rows at the first batch size, each changing one setting of configs/gpu.yaml")
    p.add_argument("--ceilings", action="store_true",
                   help="also time the data path alone and the network alone (data held on the device) at the "
                        "first batch size: what an epoch could take if the other part cost nothing")
    p.add_argument("--skip-ddp", action="store_true")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"device: {name}, torch {torch.__version__}, lightning {L.__version__}")
    dm = SyntheticECGDataModule(num_records=args.records, label_set="hard", val_fraction=0.1, test_fraction=0.1,
                                num_workers=args.workers)
    t0 = time.perf_counter()
    dm.setup("fit")
    print(f"generated {args.records} records in {time.perf_counter() - t0:.1f} s")
    rows: list[dict] = []

    def keep(row: dict) -> None:  # written at once, so a run cut short keeps what it measured
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))

    for bs in args.batch_sizes:
        keep(run(bs, args, dm) | {"device": name, "arch": args.arch, "torch": torch.__version__})
    if args.ceilings:
        keep(loader_ceiling(args.batch_sizes[0], args, dm) | {"device": name})
        keep(step_ceiling(args.batch_sizes[0], args, dm) | {"device": name, "arch": args.arch})
    for variant in args.ablations:
        keep(run(args.batch_sizes[0], args, dm, variant) | {"device": name, "arch": args.arch, "torch": torch.__version__})
    if not args.skip_ddp:
        keep(ddp_smoke(args.device))
    return rows


def ddp_smoke(device: str) -> dict:
    """One short epoch of the demo with ``configs/ddp.yaml`` on one device, run in a temporary folder
    (LightningCLI saves its config.yaml in the working folder and refuses to overwrite one)."""
    with tempfile.TemporaryDirectory(prefix="ddp-smoke-") as work:
        cmd = [sys.executable, "-m", "ts_resnet.cli.main", "fit", "-c", str(REPO / "configs" / "demo.yaml"), "-c",
               str(REPO / "configs" / "ddp.yaml"), "--trainer.devices=1", "--trainer.max_epochs=1",
               "--trainer.logger=false", "--trainer.enable_checkpointing=false", f"--trainer.default_root_dir={work}",
               "--data.init_args.num_records=200", "--data.init_args.num_workers=0"]
        if device != "cuda":
            cmd += ["--trainer.accelerator=cpu", "--trainer.precision=32-true", "--trainer.sync_batchnorm=false"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env)
    print(f"ddp.yaml smoke run: exit {proc.returncode}")
    return {"ddp_smoke_exit": proc.returncode, "ddp_stderr_tail": proc.stderr[-2000:]}


if __name__ == "__main__":
    main()
