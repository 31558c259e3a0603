"""Losses of the CRNN.

Multi-class (the paper's 5 NSL-KDD classes): cross-entropy over the classes
(``torch.nn.CrossEntropyLoss``). The paper says "binary cross-entropy"; that is its binary
mode, so for two classes we use :class:`TwoLogitBCELoss`, binary cross-entropy on the
model's two outputs. It equals two-class cross-entropy exactly (sigmoid(z1 - z0) is the
softmax probability of class 1), so predict_detail still carries both classes.
"""

from __future__ import annotations

import torch
from torch import nn


class TwoLogitBCELoss(nn.Module):
    """Binary cross-entropy of class 1 from two logits (batch, 2) and labels in {0, 1}."""

    def __init__(self) -> None:
        super().__init__()
        self.bce = nn.BCEWithLogitsLoss()

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if logits.dim() != 2 or logits.shape[1] != 2:
            raise ValueError(f"TwoLogitBCELoss needs (batch, 2) logits, got shape {tuple(logits.shape)}")
        return self.bce(logits[:, 1] - logits[:, 0], labels.float())


def loss_for(class_num: int) -> nn.Module:
    """The loss the paper's setting implies for this many classes."""
    return TwoLogitBCELoss() if class_num == 2 else nn.CrossEntropyLoss()
