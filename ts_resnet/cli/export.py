"""``ts-resnet export``: a checkpoint as ONNX, TorchScript or safetensors + JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import CLIError, check_output, err


def main(argv: list[str] | None = None) -> int:
    from ..export import EXPORT_FORMATS

    p = argparse.ArgumentParser(prog="ts-resnet export", description=__doc__)
    p.add_argument("--checkpoint", "-m", required=True, help=".ckpt or .safetensors model file")
    p.add_argument("--format", "-f", required=True, choices=EXPORT_FORMATS)
    p.add_argument("--output", "-o", required=True, help="output file (.onnx, .pt, .safetensors)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    args = p.parse_args(argv)
    try:
        from ..export import export_model
        from ..inference import ModelFileError, load_classifier

        out = Path(args.output)
        check_output(out, args.force)
        if args.format == "safetensors":
            if out.suffix != ".safetensors":
                raise CLIError(f"--output {out}: a safetensors export must end in .safetensors")
            check_output(out.with_suffix(".json"), args.force)
        try:
            clf = load_classifier(args.checkpoint)
        except ModelFileError as e:
            raise CLIError(str(e)) from None
        if args.format == "onnx":
            try:
                import onnxscript  # noqa: F401
            except ImportError:
                raise CLIError("ONNX export needs the 'export' extra: pip install 'ts-resnet[export]'") from None
        written = export_model(clf, args.format, out)
    except CLIError as e:
        err(f"ts-resnet export: error: {e}")
        return 2
    for f in written:
        err(f"wrote {f}")
    return 0
