"""Start a network from a trained model: the backbone as is, the head mapped by class name, the first
convolution mapped by lead name; plus the layer depths that layer-wise learning-rate decay uses.

``SignalClassifier(init_from=...)`` calls :func:`transfer_weights` once the new network is built:

* every backbone tensor (stem, stages, BatchNorm statistics) is copied; shapes must agree, so the
  source must have the same preset and options (a mismatch is an error naming the tensors);
* the first convolution's input channels are matched by lead name (``aVR`` == ``AVR``): a 12-lead
  model fine-tuned on a 2-lead set starts with the weights of those two leads; target leads the
  source never saw start at zero (no contribution until trained), and so do inputs derived from the
  leads (a UCR set's level channels, slopes, a position ramp), which follow the leads themselves;
* the classifier head keeps the rows of classes whose names the source knows and re-initialises the
  others (all of them when no name overlaps).

No Lightning here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .data.transforms import lead_key
from .inference import Classifier

HEAD_PREFIX = "fc."
FIRST_CONVS = ("stem.0.0.weight", "stem.0.conv.weight")  # the stem's convolution: plain, or beside stem_filters


@dataclass
class TransferReport:
    """What :func:`transfer_weights` did, for the log and the tests."""

    copied: int = 0
    classes_kept: list[str] = field(default_factory=list)
    classes_new: list[str] = field(default_factory=list)
    leads_matched: list[str] = field(default_factory=list)
    leads_new: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.copied} backbone tensors"]
        parts.append(f"head rows kept for {self.classes_kept or 'no class'}"
                     + (f", new for {self.classes_new}" if self.classes_new else ""))
        if self.leads_new:
            parts.append(f"first conv: leads {self.leads_matched} from the source, {self.leads_new} start at zero")
        return "; ".join(parts)


def _output_rows(class_names: list[str], task: str) -> dict[str, int]:
    """Class name -> row of the head's weight (a binary head has one row: the second class)."""
    if task == "binary":
        return {class_names[-1]: 0}
    return {name: i for i, name in enumerate(class_names)}


@torch.no_grad()
def transfer_weights(net: nn.Module, source: Classifier, *, class_names: list[str], task: str,
                     channels: list[str] | None) -> TransferReport:
    """Copy ``source``'s weights into ``net`` (see the module doc); returns what was done."""
    report = TransferReport()
    target = net.state_dict()
    src = source.net.state_dict()
    first_conv = next((k for k in FIRST_CONVS if k in target), FIRST_CONVS[0])
    if (first_conv == FIRST_CONVS[1] and first_conv in src
            and src[first_conv].shape[1] != target[first_conv].shape[1]):
        # stem_filters give every input channel 17 fixed channels, so the channel count reaches past the
        # first convolution (the stem norm and the first block); there is no lead mapping for those.
        raise ValueError(f"init_from: the source network has {src[first_conv].shape[1]} input channels and "
                         f"stem_filters; fine-tuning it to {target[first_conv].shape[1]} channels is not supported")
    mismatched = sorted(k for k in target if not k.startswith(HEAD_PREFIX) and k != first_conv
                        and (k not in src or src[k].shape != target[k].shape))
    if mismatched:
        raise ValueError(
            f"init_from: the source network ({source.card.arch}, options {source.card.arch_options}) does not "
            f"match this one: {len(mismatched)} tensors differ, e.g. {mismatched[:3]}; use the same arch and "
            "arch_options as the source model")
    for k in target:
        if not k.startswith(HEAD_PREFIX) and k != first_conv:
            target[k].copy_(src[k])
            report.copied += 1
    # First convolution: by lead name, so lead subsets and orders map onto the source's leads. Inputs
    # derived from the leads come after them (a UCR set's level channels, slopes, a position ramp:
    # PreprocessConfig.input_channels), so the first len(names) inputs are the leads themselves in
    # either network. Only those are mapped; the target's derived inputs start at zero, because which
    # derivation a column holds is not in the weights (a level and a slope column look alike) and a
    # wrong guess would feed the network a signal it was never trained on.
    w_src, w_dst = src[first_conv], target[first_conv]
    names_dst = list(channels) if channels else list(source.card.channels)[: w_dst.shape[1]]
    if not 0 < len(names_dst) <= w_dst.shape[1]:
        raise ValueError(f"init_from: {len(names_dst)} channel names for a network with {w_dst.shape[1]} inputs")
    index_src = {lead_key(c): j for j, c in enumerate(source.card.channels)}
    if not index_src and w_src.shape == w_dst.shape:  # unnamed channels (UCR models): by position
        index_src = {lead_key(c): j for j, c in enumerate(names_dst)}
    n_leads_src = len(source.card.channels) or w_src.shape[1]
    w_dst.zero_()
    for i, name in enumerate(names_dst):
        j = index_src.get(lead_key(name))
        if j is not None and j < min(n_leads_src, w_src.shape[1]):
            w_dst[:, i] = w_src[:, j]
            report.leads_matched.append(name)
        else:
            report.leads_new.append(name)
    if w_dst.shape[1] > len(names_dst):
        report.leads_new.append(f"{w_dst.shape[1] - len(names_dst)} derived input(s)")
    report.copied += 1
    # Head: rows of known classes (by name); the rest keeps its fresh initialisation.
    if f"{HEAD_PREFIX}weight" in target and f"{HEAD_PREFIX}weight" in src:
        rows_src = _output_rows(source.class_names, source.task)
        for name, i in _output_rows(class_names, task).items():
            j = rows_src.get(name)
            if j is not None:
                target[f"{HEAD_PREFIX}weight"][i] = src[f"{HEAD_PREFIX}weight"][j]
                target[f"{HEAD_PREFIX}bias"][i] = src[f"{HEAD_PREFIX}bias"][j]
                report.classes_kept.append(name)
            else:
                report.classes_new.append(name)
    net.load_state_dict(target)
    return report


def layer_depths(net: nn.Module) -> dict[str, int]:
    """Parameter name -> depth from the head (0 = head, 1 = last stage, ..., the stem deepest), for
    layer-wise learning-rate decay (``lr * decay ** depth``)."""
    n_stages = len(getattr(net, "stages", []))
    depths = {}
    for name, _ in net.named_parameters():
        if name.startswith(HEAD_PREFIX):
            depths[name] = 0
        elif name.startswith("stages."):
            depths[name] = n_stages - int(name.split(".")[1])
        else:
            depths[name] = n_stages + 1  # stem
    return depths
