"""Decode PTB-XL once into ts_resnet's memory-mapped cache (what ``prepare_data`` does before training).

    python datasets/ptbxl/prepare.py /path/to/ptb-xl [--sampling-rate 100] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> None:
    from ts_resnet.data.modules import PTBXLDataModule

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root")
    p.add_argument("--sampling-rate", type=int, default=100, choices=[100, 500])
    p.add_argument("--cache-dir", default=None)
    args = p.parse_args(argv)
    start = time.perf_counter()
    dm = PTBXLDataModule(root=args.root, sampling_rate=args.sampling_rate, task="all", cache_dir=args.cache_dir)
    dm.prepare_data()
    cache, _, items = dm._cache()
    print(f"{len(items)} records cached in {cache.folder} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
