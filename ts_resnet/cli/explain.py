"""``ts-resnet explain``: a record on ECG paper with Grad-CAM-1D relevance for one class."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import CLIError, check_output, err


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ts-resnet explain", description=__doc__)
    p.add_argument("record", help="a record file (WFDB .hea, .edf, .csv, .npy/.npz)")
    p.add_argument("--checkpoint", "-m", required=True)
    p.add_argument("--class", dest="class_name", default=None, help="class to explain (default: the most probable)")
    p.add_argument("--output", "-o", required=True, help="PNG file")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--width", type=int, default=1600, help="image width in pixels")
    p.add_argument("--height", type=int, default=1200, help="image height in pixels")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of the record to draw")
    p.add_argument("--fill-missing-leads", default=None, choices=["error", "zero"])
    p.add_argument("--fs", type=float, default=None, help="sampling rate of CSV/NPY files without a sidecar")
    p.add_argument("--layout", default=None, choices=["CT", "TC"])
    args = p.parse_args(argv)
    try:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CLIError("explain needs matplotlib: pip install 'ts-resnet[plot]'") from None
        from ..data.readers import read_record
        from ..data.records import SignalReadError
        from ..explain import explain_record, plot_ecg
        from ..inference import ModelFileError, load_classifier

        out = Path(args.output)
        check_output(out, args.force)
        try:
            clf = load_classifier(args.checkpoint)
            rec = read_record(args.record, fs=args.fs, layout=args.layout,
                              nan_policy=clf.card.preprocess.reader_nan_policy)
            result = explain_record(clf, rec, args.class_name, args.fill_missing_leads)
        except (ModelFileError, SignalReadError, ValueError) as e:
            raise CLIError(str(e)) from None
        plot_ecg(result, str(out), title=rec.id, width_px=args.width, height_px=args.height,
                 max_seconds=args.seconds)
    except CLIError as e:
        err(f"ts-resnet explain: error: {e}")
        return 2
    err(f"wrote {out} (class {result['class_name']}, p={result['probs'][result['class_name']]:.3f})")
    return 0
