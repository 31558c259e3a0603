"""The paper's convolutional recurrent network (CRNN) for one traffic record, and its ablations.

A record's feature vector is read as a 1-D signal and cut into equal-length sub-segments.
A 1-D convolution (64 filters, kernel 3, ReLU) and average pooling (2) turn each sub-segment
into a feature vector; the sequence of those vectors goes through a recurrent layer (128
units, tanh; RNN, GRU or LSTM); a linear layer gives one score per class.

FATE's homo_nn builds this module in every client process from the same arguments
(``ModelLoader("crnn_component.model", "CRNN", ...)`` with ``source="workspace"``), so the
constructor seeds torch: FATE sends no initial global model, and clients that started from
different random weights would average into nonsense.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ARCHITECTURES = ("crnn", "cnn", "rnn")
RECURRENT_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def segment_features(x: torch.Tensor, segment_len: int) -> torch.Tensor:
    """Cut each row of ``x`` (batch, features) into (batch, segments, segment_len).

    The last segment is zero-padded when the feature count is not a multiple of
    ``segment_len``; zeros are neutral for min-max or z-scored inputs.
    """
    if x.dim() != 2:
        raise ValueError(f"expected a (batch, features) tensor, got shape {tuple(x.shape)}")
    n_segments = math.ceil(x.shape[1] / segment_len)
    pad = n_segments * segment_len - x.shape[1]
    if pad:
        x = nn.functional.pad(x, (0, pad))
    return x.reshape(x.shape[0], n_segments, segment_len)


class CRNN(nn.Module):
    """CRNN (default), CNN-only or RNN-only classifier of traffic records (paper Table 3).

    In training mode ``forward`` returns logits (for cross-entropy); in eval mode it returns
    class probabilities, which is what FATE's homo_nn writes into predict_detail.
    """

    def __init__(
        self,
        feat: int,
        class_num: int,
        segment_len: int = 8,
        architecture: str = "crnn",
        recurrent: str = "rnn",
        filters: int = 64,
        kernel_size: int = 3,
        pool: int = 2,
        hidden: int = 128,
        seed: int = 42,
        num_threads: int = 1,
    ) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if recurrent not in RECURRENT_CELLS:
            raise ValueError(f"recurrent must be one of {tuple(RECURRENT_CELLS)}, got {recurrent!r}")
        if feat < 1 or class_num < 2:
            raise ValueError(f"need feat >= 1 and class_num >= 2, got feat={feat}, class_num={class_num}")
        if segment_len < pool or segment_len < 1:
            raise ValueError(f"segment_len ({segment_len}) must be at least the pooling size ({pool})")
        if num_threads > 0:
            # Every FATE client is its own process; on a 2-core machine each one using all
            # cores makes training ~10x slower.
            torch.set_num_threads(num_threads)
        torch.manual_seed(seed)

        self.feat = feat
        self.class_num = class_num
        self.segment_len = segment_len
        self.architecture = architecture
        n_segments = math.ceil(feat / segment_len)

        self.conv = None
        if architecture in ("crnn", "cnn"):
            self.conv = nn.Sequential(
                nn.Conv1d(1, filters, kernel_size, padding=kernel_size // 2),
                nn.ReLU(),
                nn.AvgPool1d(pool),
                nn.Flatten(),
            )
            step_features = filters * (segment_len // pool)
        else:
            step_features = segment_len

        self.rnn = None
        if architecture in ("crnn", "rnn"):
            self.rnn = RECURRENT_CELLS[recurrent](step_features, hidden, batch_first=True)
            head_in = hidden
        else:
            head_in = step_features * n_segments
        self.head = nn.Linear(head_in, class_num)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        segments = segment_features(x.float(), self.segment_len)  # (B, S, L)
        batch, n_segments, seg_len = segments.shape
        if self.conv is not None:
            steps = self.conv(segments.reshape(batch * n_segments, 1, seg_len)).reshape(batch, n_segments, -1)
        else:
            steps = segments
        if self.rnn is not None:
            outputs, _ = self.rnn(steps)
            features = outputs[:, -1, :]
        else:
            features = steps.reshape(batch, -1)
        logits = self.head(features)
        return logits if self.training else torch.softmax(logits, dim=-1)
