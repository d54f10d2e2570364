"""Write a small stand-in for PTB-XL in its published layout, to try the commands without the download.

    python datasets/ptbxl/make_sample.py OUT_DIR [--meta tests/data/ptbxl-meta]

The metadata are real (``scp_statements.csv`` and the first rows of ``ptbxl_database.csv``, from
``--meta``); the signals are synthetic sinus rhythm, so a model trained on it learns nothing about
the labels. The docs' PTB-XL tutorial runs on it in CI. Nothing existing is overwritten.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_META = Path(__file__).resolve().parents[2] / "tests" / "data" / "ptbxl-meta"


def main(argv: list[str] | None = None) -> None:
    from ts_resnet.data.synthetic import write_ptbxl_layout

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir")
    p.add_argument("--meta", type=Path, default=DEFAULT_META,
                   help="folder with scp_statements.csv and ptbxl_database_head.csv")
    args = p.parse_args(argv)
    database, statements = args.meta / "ptbxl_database_head.csv", args.meta / "scp_statements.csv"
    for f in (database, statements):
        if not f.exists():
            p.error(f"{f} not found (--meta must hold scp_statements.csv and ptbxl_database_head.csv)")
    try:
        root = write_ptbxl_layout(args.out_dir, database, statements)
    except FileExistsError as e:
        p.error(str(e))
    n = sum(1 for _ in (root / "records100").rglob("*.hea"))
    print(f"wrote a PTB-XL-layout stand-in with {n} records to {root}")


if __name__ == "__main__":
    main()
