"""Entry point of the ``ts-resnet`` command."""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from pathlib import Path

# Commands on a trained model file: each is a typed function in ``ts_resnet.cli.<name>`` whose
# signature is the command (``ts_resnet.cli.signature``); its module's ``main(argv)`` parses and calls it.
OWN = {
    "classify": "turn signal files into per-class probabilities with a trained model",
    "export": "write a model as ONNX, TorchScript or safetensors + JSON",
    "explain": "plot a record with Grad-CAM relevance for a class",
}
LIGHTNING = {
    "fit": "train a model (-c configs/demo.yaml)",
    "validate": "evaluate on the validation split",
    "test": "evaluate on the test split",
    "predict": "predict the test split",
    "report": "test + an evaluation report folder (--out DIR): per-class metrics with 95% CIs, figures",
}


def _usage() -> str:
    lines = ["usage: ts-resnet COMMAND [options]   (ts-resnet COMMAND --help for details; ts-resnet --version)",
             "", "commands:"]
    lines += [f"  {k:<10}{v}" for k, v in {**LIGHTNING, **OWN}.items()]
    return "\n".join(lines)


def _report_args(argv: list[str]) -> list[str]:
    """``report ... --out DIR [--n-boot N] [--overwrite]`` -> ``test ...`` with the report callback:
    the test run's own options (config, data, ``--ckpt_path``) pass through unchanged."""
    if any(a in ("-h", "--help") for a in argv):
        raise ValueError("usage: ts-resnet report -c CONFIG --ckpt_path MODEL.ckpt --out DIR [--n-boot 1000] "
                         "[--overwrite] [other `ts-resnet test` options]")
    rest, options = [], {"--out": None, "--n-boot": "1000", "--overwrite": None}
    i = 0
    while i < len(argv):
        key, _, value = argv[i].partition("=")
        if key in ("--out", "--n-boot"):
            if not value:
                if i + 1 >= len(argv):
                    raise ValueError(f"{key} needs a value")
                value, i = argv[i + 1], i + 1
            options[key] = value
        elif key == "--overwrite":
            options[key] = "true"
        else:
            rest.append(argv[i])
        i += 1
    if not options["--out"]:
        raise ValueError("--out DIR is required (the report folder)")
    if "--ckpt_path" not in " ".join(rest):
        raise ValueError("--ckpt_path MODEL.ckpt is required (the model to evaluate)")
    return [*rest, "--trainer.callbacks+=ts_resnet.plots.EvaluationReport",
            f"--trainer.callbacks.out_dir={options['--out']}", f"--trainer.callbacks.n_boot={options['--n-boot']}",
            f"--trainer.callbacks.overwrite={options['--overwrite'] or 'false'}"]


_PACKAGE = Path(__file__).resolve().parent.parent
# where a ValueError is about the user's files: the readers and data modules, and the model-file loader
# (a bad --ckpt_path or --model.init_from)
_INPUT_CODE = (_PACKAGE / "data", _PACKAGE / "inference.py")
TRACEBACK_ENV = "TS_RESNET_TRACEBACK"


def input_error(exc: BaseException) -> BaseException | None:
    """The error about the user's files behind ``exc``, or None when ``exc`` is anything else.

    An ``OSError`` (a missing folder or file, no permission, a full disk) or a ``ValueError`` raised by
    the readers and data modules (``ts_resnet.data``: a header that does not parse, a labels CSV
    without its column) or by the model-file loader (a file that is not a checkpoint) is the user's to
    fix, and its message names the file; its traceback through
    Lightning and jsonargparse only hides that line. jsonargparse re-raises an error from a data
    module's ``__init__`` as "Does not validate against any of the Union subtypes", with the real one
    as ``__cause__``, so the chain is followed. Every other exception (a bug) keeps its traceback."""
    from ..card import CheckpointDataError  # torch is loaded by now: a Lightning run raised this

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError):
            return e
        # Lightning refusing to overwrite the config.yaml of an earlier run in the same folder (with
        # --trainer.logger=false the folder is the working directory, so a second run meets the first's)
        if isinstance(e, RuntimeError) and str(e).startswith("SaveConfigCallback expected"):
            return e
        if isinstance(e, CheckpointDataError):  # --ckpt_path last/best, or fit resuming on other data
            return e
        if isinstance(e, ValueError):
            frames = traceback.extract_tb(e.__traceback__)
            where = Path(frames[-1].filename).resolve() if frames else None
            if where is not None and any(where == c or where.is_relative_to(c) for c in _INPUT_CODE):
                return e
        e = e.__cause__
    return None


def _user_message(exc: BaseException) -> str:
    text = str(exc)
    saved = re.match(r"SaveConfigCallback expected (.+) to NOT exist", text)
    if saved:  # Lightning's own advice is Python (LightningCLI(save_config_kwargs=...)), not an option
        return (f"{saved.group(1)} exists: an earlier run's config, which is not overwritten. Run in another "
                "folder (--trainer.default_root_dir DIR), or with a logger, which gives every run its own "
                "lightning_logs/version_N/")
    return text


def _run_lightning(cmd: str, args: list[str] | None) -> int:
    from .train import run_lightning_cli

    try:
        run_lightning_cli(args)
    except (OSError, ValueError, RuntimeError) as exc:
        cause = input_error(exc)
        if cause is None or os.environ.get(TRACEBACK_ENV):
            raise
        print(f"ts-resnet {cmd}: error: {_user_message(cause)}\n(set {TRACEBACK_ENV}=1 for the full traceback)",
              file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from .. import __version__

        print(f"ts-resnet {__version__}")
        return 0
    cmd = argv[0]
    if cmd in OWN:
        return int(importlib.import_module(f"{__package__}.{cmd}").main(argv[1:]))
    if cmd == "report":
        try:
            args = _report_args(argv[1:])
        except ValueError as e:
            print(f"ts-resnet report: error: {e}", file=sys.stderr)
            return 2
        return _run_lightning(cmd, ["test", *args])
    if cmd in LIGHTNING or cmd.startswith("-"):
        # From the shell LightningCLI reads sys.argv itself (it warns when given both).
        return _run_lightning(cmd, None if from_command_line else argv)
    print(f"ts-resnet: unknown command {cmd!r}\n\n{_usage()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
