"""Write synthetic 12-lead ECGs as WFDB records (with a ``# Dx:`` label comment).

    python datasets/synthetic/prepare.py OUT_DIR [--n 20] [--fs 500] [--seconds 10] [--seed 0]
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    from ts_resnet.data.synthetic import write_wfdb_records

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--fs", type=float, default=500.0)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    paths = write_wfdb_records(args.out_dir, args.n, fs=args.fs, duration=args.seconds, seed=args.seed)
    print(f"wrote {len(paths)} records to {args.out_dir}")


if __name__ == "__main__":
    main()
