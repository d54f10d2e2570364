"""Speed benchmark: the presets next to the peers, side by side in one run on the same input.

    python examples/benchmark_speed.py                    # presets + peers, (64, 12, 1000), 2 threads
    python examples/benchmark_speed.py --models msresnet_ecg msresnet18 --json results.json
    python examples/benchmark_speed.py --models msresnet_ecg --layout 1d   # presets in the plain 1-D layout

Per network: params, forward MFLOP/sample (torch.utils.flop_counter; *useful* FLOPs, i.e. with every
branch at its own kernel length, so fused execution is not credited for the zeros it multiplies), train
samples/s (forward + backward + AdamW step), inference samples/s, training GFLOP/s (3x forward), and:

* ``eff. vs plain``: training GFLOP/s relative to ``resnet18_1d`` (one kernel length, full-width convs)
  timed in the same run - a device-independent efficiency figure: 1.0 = the multi-scale network turns
  FLOPs into progress as fast as a plain ResNet does;
* ``x MSResNet`` / ``x xresnet1d101``: train samples/s relative to the two peers
  (``examples/peers.py``), timed in the same run.

The presets train in the layout ``fit`` uses on the device (on CPU the 2-D channels-last path of
:mod:`ts_resnet.layout`, same weights and outputs; ``--layout 1d`` times the plain one) and are timed
for inference in the 1-D layout ``classify`` uses; the peers run as their authors wrote them.
The fp32 2048^2 matmul rate is printed for reference.  On CUDA, and on a CPU with bf16 instructions
(AVX512-BF16 or AMX; :func:`ts_resnet.precision.cpu_bf16_support`), it also times bf16 autocast, which is
what ``--trainer.precision=bf16-mixed`` runs (``configs/gpu.yaml``, ``configs/cpu_bf16.yaml``);
``--bf16 yes`` times it on any CPU (where it is emulated: slower), ``--bf16 no`` never.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import ts_resnet
from ts_resnet.layout import choose_layout
from ts_resnet.precision import cpu_bf16_support

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import PEERS  # noqa: E402

PLAIN = "resnet18_1d"


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
    """Useful forward FLOPs: multi-scale blocks counted with separate (unfused) branch convolutions."""
    model = copy.deepcopy(model).eval()
    for m in model.modules():
        if hasattr(m, "set_fused"):
            m.set_fused(False)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def build(name: str, in_ch: int) -> torch.nn.Module:
    return PEERS[name](in_ch=in_ch, num_classes=5) if name in PEERS else ts_resnet.create_model(
        name, in_ch=in_ch, num_classes=5)


def bench_model(name: str, x: torch.Tensor, min_time: float, autocast: torch.dtype | None,
                layout: str = "train") -> dict:
    device = x.device
    torch.manual_seed(0)
    model = build(name, x.shape[1]).to(device)
    # the layout `fit` trains in on this device (CPU: 2-D channels-last when the network has it);
    # the peers run as their authors wrote them
    channels_last = choose_layout(model, device, None if layout == "train" else False)
    params = sum(p.numel() for p in model.parameters())
    flops = forward_flops(model, x)
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
    choose_layout(model, device, False)  # inference as `classify` runs it
    t_infer = timeit(infer, device, min_time)
    bsz = x.shape[0]
    return {
        "model": name,
        "train_layout": "2d channels-last" if channels_last else "1d",
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
    parser.add_argument("--no-peers", action="store_true", help="leave out MSResNet and xresnet1d101")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=12)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-time", type=float, default=3.0, help="seconds spent timing each measurement")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--layout", choices=["train", "1d"], default="train",
                        help="train: the presets in the layout `fit` uses on this device; 1d: the plain layout")
    parser.add_argument("--bf16", choices=["auto", "yes", "no"], default="auto",
                        help="also time bf16 autocast: auto = on CUDA and on CPUs with bf16 instructions")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    names = list(args.models or ts_resnet.list_models())
    if PLAIN not in names:
        names.append(PLAIN)  # the efficiency reference is always timed in the same run
    if not args.no_peers:
        names += [p for p in PEERS if p not in names]
    x = torch.randn(args.batch, args.channels, args.length, device=device)
    peak = matmul_gflops(device, torch.float32, args.min_time)
    bf16 = "cuda" if device.type == "cuda" else cpu_bf16_support()
    print(f"device={device} threads={torch.get_num_threads()} input={tuple(x.shape)} "
          f"fp32 2048^2 matmul: {peak:.1f} GFLOP/s; bf16: {bf16}")
    modes: list[tuple[str, torch.dtype | None, float]] = [("fp32", None, peak)]
    if args.bf16 == "yes" or (args.bf16 == "auto" and bf16 in ("cuda", "native")):
        modes.append(("bf16-autocast", torch.bfloat16, matmul_gflops(device, torch.bfloat16, args.min_time)))
    rows = []
    for name in names:
        for mode, dtype, ref in modes:
            r = bench_model(name, x, args.min_time, dtype, args.layout)
            r.update(mode=mode, matmul_GFLOP_s=ref, train_frac_of_matmul=r["train_GFLOP_s"] / ref,
                     threads=torch.get_num_threads(), input=list(x.shape), device=str(device))
            rows.append(r)
            print(f"  timed {name} ({mode}, {r['train_layout']}): {r['train_samples_s']:.1f} train samples/s",
                  flush=True)
    print(f"{'model':<32}{'mode':<15}{'params M':>9}{'MFLOP/s.':>10}{'train s/s':>11}{'infer s/s':>11}"
          f"{'train GF/s':>11}{'eff. vs plain':>14}{'x MSResNet':>11}{'x xresnet':>10}")
    for mode, _, _ in modes:
        by = {r["model"]: r for r in rows if r["mode"] == mode}
        for r in by.values():
            r["efficiency_vs_plain"] = r["train_GFLOP_s"] / by[PLAIN]["train_GFLOP_s"]
            for key, peer in (("x_msresnet", "MSResNet (Wang, geekfeiw)"), ("x_xresnet1d101", "xresnet1d101 (PTB-XL benchmark)")):
                r[key] = r["train_samples_s"] / by[peer]["train_samples_s"] if peer in by else float("nan")
            print(f"{r['model']:<32}{mode:<15}{r['params_M']:>9.2f}{r['fwd_MFLOP_per_sample']:>10.0f}"
                  f"{r['train_samples_s']:>11.1f}{r['infer_samples_s']:>11.1f}{r['train_GFLOP_s']:>11.1f}"
                  f"{r['efficiency_vs_plain']:>14.2f}{r['x_msresnet']:>11.2f}{r['x_xresnet1d101']:>10.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
