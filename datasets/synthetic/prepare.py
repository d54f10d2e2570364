"""Write synthetic 12-lead ECGs as WFDB records (with a ``# Dx:`` label comment) and a labels CSV.

    python datasets/synthetic/prepare.py OUT_DIR [--n 20] [--fs 500] [--seconds 10] [--seed 0]
                                                 [--records-per-patient 1]

Besides the records, OUT_DIR/labels.csv lists ``file,label,patient_id`` (labels joined by ``;``),
the layout ``FolderDataModule`` reads. ``--records-per-patient K`` gives consecutive records the
same made-up patient id, for trying patient-wise splits (``--data.group_column patient_id``).
Nothing existing is overwritten.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    from ts_resnet.data import read_record
    from ts_resnet.data.synthetic import write_wfdb_records

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--fs", type=float, default=500.0)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--records-per-patient", type=int, default=1)
    args = p.parse_args(argv)
    if args.n < 1 or args.records_per_patient < 1:
        p.error("--n and --records-per-patient must be >= 1")
    labels_csv = Path(args.out_dir) / "labels.csv"
    if labels_csv.exists():
        p.error(f"{labels_csv} exists; not overwriting")
    paths = write_wfdb_records(args.out_dir, args.n, fs=args.fs, duration=args.seconds, seed=args.seed)
    with open(labels_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label", "patient_id"])
        for i, path in enumerate(paths):
            labels = read_record(path).labels  # the record's own "# Dx:" comment
            w.writerow([path.name, ";".join(labels), f"P{i // args.records_per_patient:04d}"])
    print(f"wrote {len(paths)} records and {labels_csv} to {args.out_dir}")


if __name__ == "__main__":
    main()
