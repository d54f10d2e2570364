"""Quickstart: build the network, run it on a 12-lead batch, and take a few training steps.

    python examples/quickstart.py [--steps 20] [--model msresnet18]
"""

from __future__ import annotations

import argparse

import torch

import ts_resnet


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="msresnet18", choices=ts_resnet.list_models())
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--length", type=int, default=1000, help="samples per record (10 s at 100 Hz)")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = ts_resnet.create_model(args.model, in_ch=12, num_classes=5)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.model}: {n_params / 1e6:.2f} M parameters, minimum input length {model.min_input_length}")

    x = torch.randn(16, 12, args.length)
    y = torch.randint(0, 2, (16, 5)).float()  # multi-label targets, as for PTB-XL superclasses
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = torch.tensor(float("nan"))
    for step in range(args.steps):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 5 == 0 or step == args.steps - 1:
            print(f"step {step:3d}  loss {loss.item():.4f}")
    model.eval()
    with torch.inference_mode():
        probs = torch.sigmoid(model(x[:2]))
    print("probabilities of the first two records:\n", probs.numpy().round(3))
    return float(loss)


if __name__ == "__main__":
    main()
