"""Decode PTB-XL once into ts_resnet's memory-mapped cache (what ``prepare_data`` does before training).

    python datasets/ptbxl/prepare.py /path/to/ptb-xl [--sampling-rate 100] [--cache-dir DIR]

The cache holds every record at the chosen rate and is keyed on the record list and the
preprocessing, not on the labels: every task level (superdiagnostic, rhythm, all...) trained
afterwards with the same rate, preprocessing and cache folder reuses it without decoding anything.
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
    dm = PTBXLDataModule(root=args.root, sampling_rate=args.sampling_rate, cache_dir=args.cache_dir)
    info = dm.prepare()
    state = "decoded" if info.decoded else "already cached"
    print(f"{info.records} records {state} in {info.folder} ({info.skipped} skipped, "
          f"{time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
