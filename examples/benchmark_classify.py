"""Warm per-record cost of ``ts-resnet classify``, stage by stage, for one or more model files.

    python examples/benchmark_classify.py ../shared/data/cinc2021-sample -m model.ckpt model.onnx

For each model file (``.ckpt``, ``.safetensors`` or an exported ``.onnx``, which runs on ONNX Runtime)
it runs the functions ``classify`` runs - read, preprocess + quality flags, network in batches - over
every record of the folder, ``--passes`` times in one process, and prints milliseconds per record of
each stage for the last (warm) pass: start-up costs (imports, first calls, ONNX session creation) are
left out on purpose, they are reported by timing the whole command instead (BENCHMARKS.md).
``--threads`` sets torch's (and ONNX Runtime's) intra-op threads.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def run(model: str, paths: list[Path], passes: int, batch_size: int) -> dict[str, float]:
    import torch

    from ts_resnet.data.readers import read_record
    from ts_resnet.inference import load_classifier
    from ts_resnet.layers import fold_batchnorm

    clf = load_classifier(model)
    fold_batchnorm(clf.net)  # as classify does (a no-op for ONNX Runtime)
    pre = clf.preprocessor()
    times: dict[str, float] = {}
    for _ in range(passes):
        times = {"read": 0.0, "preprocess": 0.0, "inference": 0.0}
        prepared = []
        for p in paths:
            t0 = time.perf_counter()
            rec = read_record(p, nan_policy=pre.config.reader_nan_policy)
            t1 = time.perf_counter()
            prepared.append(clf.prepare(rec, pre, quality=True).windows)
            times["read"] += t1 - t0
            times["preprocess"] += time.perf_counter() - t1
        t0 = time.perf_counter()
        by_shape: dict[tuple[int, ...], list] = {}
        for w in prepared:
            by_shape.setdefault(w.shape[1:], []).append(w)
        for group in by_shape.values():
            for i in range(0, len(group), batch_size):
                clf.predict([group[i:i + batch_size]], device=torch.device("cpu"))
        times["inference"] += time.perf_counter() - t0
    per = {k: 1000 * v / len(paths) for k, v in times.items()}
    per["total"] = sum(per.values())
    return per


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("-m", "--models", nargs="+", required=True)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import torch

    from ts_resnet.data.readers import find_records

    torch.set_num_threads(args.threads)
    paths = find_records([args.folder])
    print(f"{len(paths)} records from {args.folder}, {args.threads} threads, warm pass of {args.passes}")
    print(f"{'model':<40} {'read':>7} {'prep+qc':>8} {'network':>8} {'total':>7}  ms/record")
    results = {}
    for model in args.models:
        per = results[model] = run(model, paths, args.passes, args.batch_size)
        print(f"{Path(model).name:<40} {per['read']:7.2f} {per['preprocess']:8.2f} {per['inference']:8.2f} "
              f"{per['total']:7.2f}")
    return results


if __name__ == "__main__":
    main()
