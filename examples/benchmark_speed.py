"""Speed benchmark: parameters, FLOPs, train/inference throughput, and efficiency vs. a matmul.

    python examples/benchmark_speed.py                    # every preset, (64, 12, 1000), 2 threads
    python examples/benchmark_speed.py --models msresnet18 --json results.json

For each preset: params, forward MFLOP/sample (torch.utils.flop_counter.FlopCounterMode), train
samples/s (forward + backward + AdamW step), inference samples/s, and the achieved GFLOP/s of training
(3x forward FLOPs) as a fraction of a 2048x2048 fp32 matmul timed in the same run, so the number means
"how close to this machine's dense-math peak does training run".  On CUDA it also times bf16 autocast.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

import ts_resnet


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timeit(fn, device: torch.device, min_time: float, warmup: int = 2) -> float:
    """Seconds per call (median-free mean over enough calls to fill ``min_time``)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and n >= 2:
            return elapsed / n


def matmul_gflops(device: torch.device, dtype: torch.dtype, min_time: float) -> float:
    a = torch.randn(2048, 2048, device=device, dtype=dtype)
    b = torch.randn(2048, 2048, device=device, dtype=dtype)
    sec = timeit(lambda: a @ b, device, min_time)
    return 2 * 2048**3 / sec / 1e9


def forward_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def bench_model(name: str, x: torch.Tensor, min_time: float, autocast: torch.dtype | None) -> dict:
    device = x.device
    model = ts_resnet.create_model(name, in_ch=x.shape[1], num_classes=5).to(device)
    params = sum(p.numel() for p in model.parameters())
    flops = forward_flops(model.eval(), x)
    target = torch.randint(0, 2, (x.shape[0], 5), device=device).float()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ctx = (lambda: torch.autocast(device.type, dtype=autocast)) if autocast else torch.enable_grad

    def train_step():
        with ctx():
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer():
        with torch.inference_mode(), (torch.autocast(device.type, dtype=autocast) if autocast else torch.enable_grad()):
            model(x)

    model.train()
    t_train = timeit(train_step, device, min_time)
    model.eval()
    t_infer = timeit(infer, device, min_time)
    bsz = x.shape[0]
    return {
        "model": name,
        "params_M": params / 1e6,
        "fwd_MFLOP_per_sample": flops / bsz / 1e6,
        "train_samples_s": bsz / t_train,
        "infer_samples_s": bsz / t_infer,
        "train_GFLOP_s": 3 * flops / t_train / 1e9,
        "infer_GFLOP_s": flops / t_infer / 1e9,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=None, help="presets (default: all)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=12)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-time", type=float, default=3.0, help="seconds spent timing each measurement")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    names = args.models or ts_resnet.list_models()
    x = torch.randn(args.batch, args.channels, args.length, device=device)
    peak = matmul_gflops(device, torch.float32, args.min_time)
    print(f"device={device} threads={torch.get_num_threads()} input={tuple(x.shape)} "
          f"fp32 2048^2 matmul: {peak:.1f} GFLOP/s")
    modes: list[tuple[str, torch.dtype | None, float]] = [("fp32", None, peak)]
    if device.type == "cuda":
        modes.append(("bf16-autocast", torch.bfloat16, matmul_gflops(device, torch.bfloat16, args.min_time)))
    rows = []
    header = (f"{'model':<16}{'mode':<15}{'params M':>9}{'MFLOP/s.':>10}{'train s/s':>11}"
              f"{'infer s/s':>11}{'train GF/s':>11}{'% matmul':>9}")
    print(header)
    for name in names:
        for mode, dtype, ref in modes:
            r = bench_model(name, x, args.min_time, dtype)
            r.update(mode=mode, matmul_GFLOP_s=ref, train_frac_of_matmul=r["train_GFLOP_s"] / ref,
                     threads=torch.get_num_threads(), input=list(x.shape), device=str(device))
            rows.append(r)
            print(f"{name:<16}{mode:<15}{r['params_M']:>9.2f}{r['fwd_MFLOP_per_sample']:>10.0f}"
                  f"{r['train_samples_s']:>11.1f}{r['infer_samples_s']:>11.1f}{r['train_GFLOP_s']:>11.1f}"
                  f"{100 * r['train_frac_of_matmul']:>8.0f}%", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
