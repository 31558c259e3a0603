"""Losses of the CRNN.

Multi-class (the paper's 5 NSL-KDD classes): cross-entropy over the classes
(``torch.nn.CrossEntropyLoss``). The paper says "binary cross-entropy"; that is its binary
mode, so for two classes we use :class:`TwoLogitBCELoss`, binary cross-entropy on the
model's two outputs. It equals two-class cross-entropy exactly (sigmoid(z1 - z0) is the
softmax probability of class 1), so predict_detail still carries both classes.

With ``class_weight: balanced`` (conf/crnn.yaml) each sample's loss is weighted by
n / (k * count of its class) over the k classes a client holds (scikit-learn's "balanced"
weights), from that client's own labels: nothing about them leaves the client. The loss is then
the weighted mean, as ``torch.nn.CrossEntropyLoss(weight=...)`` computes it.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn


class TwoLogitBCELoss(nn.Module):
    """Binary cross-entropy of class 1 from two logits (batch, 2) and labels in {0, 1}."""

    def __init__(self, weight: Optional[torch.Tensor] = None) -> None:
        super().__init__()
        self.bce = nn.BCEWithLogitsLoss(reduction="none" if weight is not None else "mean")
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if logits.dim() != 2 or logits.shape[1] != 2:
            raise ValueError(f"TwoLogitBCELoss needs (batch, 2) logits, got shape {tuple(logits.shape)}")
        labels = labels.reshape(-1)
        loss = self.bce(logits[:, 1] - logits[:, 0], labels.float())
        if self.weight is None:
            return loss
        sample_weight = self.weight[labels.long()]
        return (loss * sample_weight).sum() / sample_weight.sum()


def balanced_class_weights(labels: np.ndarray, class_num: int) -> torch.Tensor:
    """n / (k * count_c) for the k classes present in ``labels``; classes absent get 1 (never used)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64).reshape(-1), minlength=class_num)[:class_num]
    present = counts > 0
    weights = np.ones(class_num)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def loss_for(class_num: int, class_weights: Optional[torch.Tensor] = None) -> nn.Module:
    """The loss the paper's setting implies for this many classes, optionally class-weighted."""
    if class_num == 2:
        return TwoLogitBCELoss(class_weights)
    return nn.CrossEntropyLoss(weight=class_weights)
