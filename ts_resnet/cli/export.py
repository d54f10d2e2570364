"""``ts-resnet export``: a checkpoint as ONNX, TorchScript or safetensors + JSON."""

from __future__ import annotations

from pathlib import Path

from ..export import ExportFormat  # the formats' one definition (imports torch: fine for this command)
from .common import CLIError, check_output, err

# what an output file's suffix says when --format is left out (.pt is TorchScript's usual name)
FORMAT_BY_SUFFIX: dict[str, ExportFormat] = {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript",
                                             ".safetensors": "safetensors"}


def export(*, checkpoint: str, output: str, format: ExportFormat | None = None, force: bool = False) -> int:
    """Write a trained model for deployment: ONNX, TorchScript or safetensors + JSON.

    Every format carries the model card (classes, preprocessing, thresholds), so the file alone is
    enough to classify with.

    Args:
        checkpoint: .ckpt or .safetensors model file.
        output: output file (.onnx, .pt, .safetensors; a safetensors export also writes a .json card).
        format: the output format (default: from the output's suffix: .onnx, .pt or .ts for TorchScript,
            .safetensors).
        force: overwrite existing output files.

    Returns:
        The exit status: 0 = written, 2 = usage error or unreadable model file.
    """
    try:
        from ..export import export_model
        from ..inference import ModelFileError, load_classifier

        out = Path(output)
        if format is None:
            format = FORMAT_BY_SUFFIX.get(out.suffix.lower())
            if format is None:
                raise CLIError(f"--output {out}: give --format (onnx, torchscript or safetensors); the suffix "
                               f"{out.suffix or '(none)'} names none of them")
        check_output(out, force)
        if format == "safetensors":
            if out.suffix != ".safetensors":
                raise CLIError(f"--output {out}: a safetensors export must end in .safetensors")
            check_output(out.with_suffix(".json"), force)
        if Path(checkpoint).suffix == ".onnx":
            raise CLIError(f"--checkpoint {checkpoint}: export starts from a .ckpt or .safetensors model, "
                           "not an ONNX export")
        try:
            clf = load_classifier(checkpoint)
        except ModelFileError as e:
            raise CLIError(str(e)) from None
        if format == "onnx":
            try:
                import onnxscript  # noqa: F401
            except ImportError:
                raise CLIError("ONNX export needs the 'export' extra: pip install 'ts-resnet[export]'") from None
        written = export_model(clf, format, out)
    except CLIError as e:
        err(f"ts-resnet export: error: {e}")
        return 2
    for f in written:
        err(f"wrote {f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .signature import run_command

    return run_command(export, argv, prog="ts-resnet export",
                       aliases={"checkpoint": "-m", "format": "-f", "output": "-o"})
