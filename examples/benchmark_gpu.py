"""GPU benchmark: a PTB-XL-sized epoch (17,418 x 12 x 1000) of the default ECG preset.

    python examples/benchmark_gpu.py --json gpu.json                   # on a CUDA machine
    python examples/benchmark_gpu.py --device cpu --records 64 --batch-sizes 16 --no-compile   # smoke run

For each batch size: one warm-up epoch (compilation, cuDNN autotuning), then one timed epoch through
Lightning's loop with ``configs/gpu.yaml``'s settings (bf16-mixed, ``torch.compile``, channels
unchanged), data from the synthetic PTB-XL-shaped task held in memory and served by DataLoader workers
into pinned memory.  Reported: epoch seconds, samples/s, GPU busy fraction (NVML utilisation sampled
every 50 ms when ``pynvml`` is importable, else the share of the epoch spent inside CUDA-synchronised
training steps), peak GPU memory, and inference records/s of the trained network (bf16, batch 1024).
Finally ``configs/ddp.yaml`` runs one short epoch on one device as a smoke test.

Targets (issue 8): an epoch < 2 s on an H200, GPU busy >= 90% of it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import lightning as L
import torch

from ts_resnet import SignalClassifier
from ts_resnet.data.modules import SyntheticECGDataModule

REPO = Path(__file__).resolve().parents[1]


class EpochTimer(L.Callback):
    """Wall time of each training epoch and time spent inside (synchronised) training steps."""

    def __init__(self) -> None:
        self.epochs: list[float] = []
        self.step_time = 0.0

    def _sync(self, trainer: L.Trainer) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._sync(trainer)
        self.step_time = 0.0
        self.t0 = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._sync(trainer)
        self.s0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._sync(trainer)
        self.step_time += time.perf_counter() - self.s0

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._sync(trainer)
        self.epochs.append(time.perf_counter() - self.t0)


class NvmlSampler:
    """GPU utilisation samples from NVML, when pynvml is installed."""

    def __init__(self, period: float = 0.05) -> None:
        self.samples: list[int] = []
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
            self.samples.append(self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu)
            time.sleep(self.period)

    def __exit__(self, *exc) -> None:
        self.stop.set()

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) / 100 if self.samples else None


def run(batch_size: int, args: argparse.Namespace, dm: SyntheticECGDataModule) -> dict:
    cuda = args.device == "cuda"
    dm.batch_size = batch_size
    model = SignalClassifier(arch=args.arch, num_classes=dm.num_classes, in_channels=12, task="multilabel",
                             class_names=dm.class_names, lr=1e-3, scheduler="none", compile=not args.no_compile)
    timer = EpochTimer()
    trainer = L.Trainer(accelerator="gpu" if cuda else "cpu", devices=1, max_epochs=2,
                        precision="bf16-mixed" if cuda else "32-true", benchmark=cuda, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, callbacks=[timer])
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with NvmlSampler() as nvml:
        trainer.fit(model, datamodule=dm)
    epoch = timer.epochs[-1]  # the second: compiled, autotuned
    n = len(dm.datasets["train"])
    row = {"batch_size": batch_size, "epoch_s": epoch, "samples_s": n / epoch, "train_records": n,
           "busy_fraction_steps": timer.step_time / epoch, "busy_fraction_nvml": nvml.mean,
           "peak_mem_GiB": torch.cuda.max_memory_allocated() / 2**30 if cuda else None}
    net = model.net.eval().to(args.device)
    x = torch.randn(1024 if cuda else 16, 12, 1000, device=args.device)
    with torch.inference_mode(), torch.autocast(args.device, dtype=torch.bfloat16, enabled=cuda):
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


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--arch", default="msresnet_ecg")
    p.add_argument("--records", type=int, default=21772, help="generated; 80%% train (17,418 = PTB-XL folds 1-8)")
    p.add_argument("--batch-sizes", type=int, nargs="*", default=[256, 1024])
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--skip-ddp", action="store_true")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"device: {name}, torch {torch.__version__}")
    dm = SyntheticECGDataModule(num_records=args.records, label_set="hard", val_fraction=0.1, test_fraction=0.1,
                                num_workers=args.workers)
    t0 = time.perf_counter()
    dm.setup("fit")
    print(f"generated {args.records} records in {time.perf_counter() - t0:.1f} s")
    rows = []
    for bs in args.batch_sizes:
        row = run(bs, args, dm)
        row.update(device=name, arch=args.arch)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if not args.skip_ddp:
        cmd = [sys.executable, "-m", "ts_resnet.cli.main", "fit", "-c", str(REPO / "configs" / "demo.yaml"), "-c",
               str(REPO / "configs" / "ddp.yaml"), "--trainer.devices=1", "--trainer.max_epochs=1",
               "--trainer.logger=false", "--trainer.enable_checkpointing=false"]
        if args.device != "cuda":
            cmd += ["--trainer.accelerator=cpu", "--trainer.precision=32-true"]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        print(f"ddp.yaml smoke run: exit {proc.returncode}")
        rows.append({"ddp_smoke_exit": proc.returncode, "ddp_stderr_tail": proc.stderr[-2000:]})
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
