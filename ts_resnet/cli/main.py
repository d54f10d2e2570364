"""Entry point of the ``ts-resnet`` command."""

from __future__ import annotations

import sys

OWN = {
    "classify": "turn signal files into per-class probabilities with a trained model",
    "export": "write a model as ONNX, TorchScript/torch.export or safetensors + JSON",
    "explain": "plot a record with Grad-CAM relevance for a class",
}
LIGHTNING = {
    "fit": "train a model (-c configs/demo.yaml)",
    "validate": "evaluate on the validation split",
    "test": "evaluate on the test split",
    "predict": "predict the test split",
}


def _usage() -> str:
    lines = ["usage: ts-resnet COMMAND [options]   (ts-resnet COMMAND --help for details; ts-resnet --version)",
             "", "commands:"]
    lines += [f"  {k:<10}{v}" for k, v in {**LIGHTNING, **OWN}.items()]
    return "\n".join(lines)


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
    if cmd == "classify":
        from .classify import main as classify_main

        return classify_main(argv[1:])
    if cmd == "export":
        from .export import main as export_main

        return export_main(argv[1:])
    if cmd == "explain":
        from .explain import main as explain_main

        return explain_main(argv[1:])
    if cmd in LIGHTNING or cmd.startswith("-"):
        from .train import run_lightning_cli

        # From the shell LightningCLI reads sys.argv itself (it warns when given both).
        run_lightning_cli(None if from_command_line else argv)
        return 0
    print(f"ts-resnet: unknown command {cmd!r}\n\n{_usage()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
