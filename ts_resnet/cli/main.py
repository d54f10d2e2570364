"""Entry point of the ``ts-resnet`` command."""

from __future__ import annotations

import importlib
import sys

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
        from .train import run_lightning_cli

        run_lightning_cli(["test", *args])
        return 0
    if cmd in LIGHTNING or cmd.startswith("-"):
        from .train import run_lightning_cli

        # From the shell LightningCLI reads sys.argv itself (it warns when given both).
        run_lightning_cli(None if from_command_line else argv)
        return 0
    print(f"ts-resnet: unknown command {cmd!r}\n\n{_usage()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
