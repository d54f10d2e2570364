"""Grad-CAM-1D relevance and an ECG-paper figure of a record with the relevance overlaid."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .data.records import Record
from .inference import Classifier


def grad_cam_1d(net: torch.nn.Module, x: torch.Tensor, class_index: int) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) on the last stage: ``(B, C, T) -> (B, T)`` in [0, 1].

    Channel weights are the time-averaged gradients of the class logit w.r.t. the last-stage
    feature map; the weighted, rectified map is linearly upsampled to the input length.
    """
    net.eval()
    feats = net.forward_features(x.detach())
    feats.retain_grad()
    logits = net.forward_head(feats)
    logits[:, class_index].sum().backward()
    weights = feats.grad.mean(-1, keepdim=True)
    cam = torch.relu((weights * feats).sum(1)).detach()  # (B, T')
    cam = torch.nn.functional.interpolate(cam[:, None], size=x.shape[-1], mode="linear", align_corners=False)[:, 0]
    cam = cam.numpy()
    peak = cam.max(axis=-1, keepdims=True)
    return np.where(peak > 0, cam / np.maximum(peak, 1e-12), 0.0)


def explain_record(clf: Classifier, rec: Record, class_name: str | None = None,
                   fill_missing_leads: str | None = None) -> dict[str, Any]:
    """Probabilities of the whole record plus a relevance curve over its full length for one class
    (the predicted one by default): windows' Grad-CAMs averaged where windows overlap."""
    pre = clf.preprocessor(fill_missing_leads=fill_missing_leads)
    prepared = clf.prepare(rec, pre)  # the same windows classify scores
    probs = clf.predict([[prepared.windows]])[0]
    names = clf.class_names
    if class_name is None:
        class_name = names[int(np.argmax(probs))]
    if class_name not in names:
        raise ValueError(f"unknown class {class_name!r}; the model's classes are {names}")
    output, invert = clf.spec.cam_target(names.index(class_name))
    cams = grad_cam_1d(clf.net, torch.from_numpy(prepared.windows), output)
    if invert:
        cams = 1.0 - cams  # evidence for the negative class of a binary task
    t, w = prepared.signal.shape[-1], prepared.windows.shape[-1]
    total = np.zeros(max(t, w))
    count = np.zeros(max(t, w))
    for s, cam in zip(prepared.starts, cams):
        total[s : s + w] += cam
        count[s : s + w] += 1
    relevance = (total / np.maximum(count, 1))[:t]
    return {"signal": prepared.signal, "relevance": relevance,
            "probs": {n: float(p) for n, p in zip(names, probs)}, "class_name": class_name,
            "fs": clf.fs or rec.fs, "channels": pre.channels_out(rec)}


def plot_ecg(result: dict[str, Any], out: str, *, title: str = "", width_px: int = 1600,
             height_px: int = 1200, dpi: int = 100, max_seconds: float | None = 10.0) -> None:
    """Stacked leads on ECG paper (1 mm = 0.04 s x 0.1 mV minor grid, 5 mm major grid), the
    relevance drawn as a colour band behind each lead."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sig = result["signal"]
    rel = result["relevance"]
    fs = float(result["fs"])
    if max_seconds is not None:
        n = min(sig.shape[-1], int(max_seconds * fs))
        sig, rel = sig[:, :n], rel[:n]
    n_leads, n = sig.shape
    t = np.arange(n) / fs
    fig, axes = plt.subplots(n_leads, 1, figsize=(width_px / dpi, height_px / dpi), dpi=dpi, sharex=True,
                             squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        y = sig[i] - np.median(sig[i])
        span = max(1.0, float(np.ceil(np.abs(y).max() / 0.5)) * 0.5)
        ax.set_ylim(-span, span)
        ax.set_xlim(0, t[-1] if n > 1 else 1)
        ax.imshow(rel[None, :], aspect="auto", cmap="Reds", alpha=0.45, vmin=0, vmax=1,
                  extent=(0, t[-1] if n > 1 else 1, -span, span), zorder=0)
        for x0 in np.arange(0, t[-1] + 1e-9, 0.04):
            major = abs(x0 / 0.2 - round(x0 / 0.2)) < 1e-6
            ax.axvline(x0, color="#f4a6a6" if major else "#fbe0e0", lw=0.6 if major else 0.3, zorder=1)
        for y0 in np.arange(-span, span + 1e-9, 0.1):
            major = abs(y0 / 0.5 - round(y0 / 0.5)) < 1e-6
            ax.axhline(y0, color="#f4a6a6" if major else "#fbe0e0", lw=0.6 if major else 0.3, zorder=1)
        ax.plot(t, y, color="black", lw=0.8, zorder=3)
        ax.set_yticks([])
        ax.text(0.005, 0.85, result["channels"][i], transform=ax.transAxes, fontsize=9, weight="bold", zorder=4)
    axes[-1, 0].set_xlabel("time (s)")
    probs = result["probs"]
    top = ", ".join(f"{k} {v:.2f}" for k, v in sorted(probs.items(), key=lambda kv: -kv[1])[:4])
    fig.suptitle(f"{title}\n{top} - relevance: {result['class_name']} (Grad-CAM)".strip(), fontsize=11)
    fig.subplots_adjust(left=0.02, right=0.99, top=0.93, bottom=0.05, hspace=0.05)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
