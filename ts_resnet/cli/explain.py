"""``ts-resnet explain``: a record on ECG paper with Grad-CAM-1D relevance for one class."""

from __future__ import annotations

from pathlib import Path

from ..data.readers import Layout
from ..data.transforms import FillMissing
from .common import CLIError, check_output, err


def explain(record: str, *, checkpoint: str, output: str, class_name: str | None = None, force: bool = False,
            width: int = 1600, height: int = 1200, seconds: float = 10.0,
            fill_missing_leads: FillMissing | None = None, fs: float | None = None,
            layout: Layout | None = None) -> int:
    """Plot a record on ECG paper with the Grad-CAM-1D relevance of one class over every lead.

    Args:
        record: a record file (WFDB .hea, .edf, .csv, .npy/.npz).
        checkpoint: .ckpt or .safetensors model file.
        output: PNG file.
        class_name: class to explain (default: the most probable).
        force: overwrite an existing output file.
        width: image width in pixels.
        height: image height in pixels.
        seconds: seconds of the record to draw.
        fill_missing_leads: records lacking some of the model's leads: fail (default) or use flat zero leads.
        fs: sampling rate of CSV/NPY files without a sidecar.
        layout: axis order of NPY files without a sidecar.

    Returns:
        The exit status: 0 = written, 2 = usage error or unreadable record or model file.
    """
    try:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CLIError("explain needs matplotlib: pip install 'ts-resnet[plot]'") from None
        from ..data.readers import read_record
        from ..data.records import SignalReadError
        from ..explain import explain_record, plot_ecg
        from ..inference import ModelFileError, load_classifier

        out = Path(output)
        check_output(out, force)
        if Path(checkpoint).suffix == ".onnx":
            raise CLIError(f"--checkpoint {checkpoint}: Grad-CAM needs the network's gradients: give the "
                           ".ckpt or .safetensors model, not its ONNX export")
        try:
            clf = load_classifier(checkpoint)
            rec = read_record(record, fs=fs, layout=layout, nan_policy=clf.card.preprocess.reader_nan_policy)
            result = explain_record(clf, rec, class_name, fill_missing_leads)
        except (ModelFileError, SignalReadError, ValueError) as e:
            raise CLIError(str(e)) from None
        plot_ecg(result, str(out), title=rec.id, width_px=width, height_px=height, max_seconds=seconds)
    except CLIError as e:
        err(f"ts-resnet explain: error: {e}")
        return 2
    err(f"wrote {out} (class {result['class_name']}, p={result['probs'][result['class_name']]:.3f})")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .signature import run_command

    # `--class` on the command line: `class` is a Python keyword
    return run_command(explain, argv, prog="ts-resnet explain",
                       aliases={"checkpoint": "-m", "output": "-o", "class_name": "--class"})
