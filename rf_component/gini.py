"""Gini gain of every candidate split, from class-count histograms, vectorised over nodes.

The same function scores the guest's own splits (plaintext histograms) and, at the arbiter,
the hosts' splits (decrypted histograms), so both sides of the protocol choose splits by
exactly the same rule as the plaintext reference forest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BestSplits:
    """Per node: the best candidate's feature (column in the histogram), bin and gain.

    ``feature`` is -1 and ``gain`` is -inf where no candidate is allowed.
    """

    feature: np.ndarray  # (nodes,) int64
    bin: np.ndarray  # (nodes,) int64
    gain: np.ndarray  # (nodes,) float64


def gini_impurity(counts: np.ndarray) -> np.ndarray:
    """Gini impurity over the last axis (class counts); 0 for empty sets."""
    total = counts.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = counts / total[..., None]
        impurity = 1.0 - np.square(share).sum(axis=-1)
    return np.where(total > 0, impurity, 0.0)


def split_gains(hist: np.ndarray, n_bins: np.ndarray, min_samples_leaf: float = 1.0) -> np.ndarray:
    """Gain of every split "bin <= b" for hist of shape (nodes, features, bins, classes).

    ``n_bins`` gives each feature's bin count, shape (features,) or per node (nodes, features).
    Returns (nodes, features, bins) gains; disallowed candidates (the last bin of a feature,
    bins past a feature's own count, children lighter than min_samples_leaf) are -inf.
    """
    hist = np.asarray(hist, dtype=np.float64)
    left = np.cumsum(hist, axis=2)
    total = left[:, :, -1:, :]
    right = total - left
    n_left = left.sum(axis=-1)
    n_right = right.sum(axis=-1)
    n = n_left + n_right
    with np.errstate(divide="ignore", invalid="ignore"):
        weighted_children = (n_left * gini_impurity(left) + n_right * gini_impurity(right)) / n
    gain = gini_impurity(total) - weighted_children
    bins = np.arange(hist.shape[2])[None, None, :]
    n_bins = np.asarray(n_bins)
    n_bins = n_bins[None, :, None] if n_bins.ndim == 1 else n_bins[:, :, None]
    allowed = (bins < n_bins - 1) & (n_left >= min_samples_leaf) & (n_right >= min_samples_leaf)
    return np.where(allowed & np.isfinite(gain), gain, -np.inf)


def best_splits(gains: np.ndarray, feature_mask: np.ndarray | None = None) -> BestSplits:
    """The best candidate per node; ties go to the lowest feature, then the lowest bin.

    ``feature_mask`` (nodes, features) restricts each node to its sampled features.
    """
    if feature_mask is not None:
        gains = np.where(feature_mask[:, :, None], gains, -np.inf)
    nodes, features, bins = gains.shape
    flat = gains.reshape(nodes, features * bins)
    if flat.shape[1] == 0:
        empty = np.full(nodes, -1, dtype=np.int64)
        return BestSplits(empty, empty.copy(), np.full(nodes, -np.inf))
    index = np.argmax(flat, axis=1)  # first maximum: lowest feature, then lowest bin
    gain = flat[np.arange(nodes), index]
    feature = np.where(np.isfinite(gain), index // bins, -1).astype(np.int64)
    bin_ = np.where(np.isfinite(gain), index % bins, -1).astype(np.int64)
    return BestSplits(feature, bin_, gain)
