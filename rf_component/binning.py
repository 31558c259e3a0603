"""Quantile binning of continuous features, fitted by each party on its own columns.

Trees split on bin boundaries, as FATE's trees do: a party turns its feature values into
small integers once, and every histogram afterwards is a scatter-add over those integers.
A split "feature j <= bin b" sends left every sample whose bin is at most b; its threshold
value (edges[j][b]) never leaves the party that owns feature j.
"""

from __future__ import annotations

from typing import List

import numpy as np


def fit_bin_edges(x: np.ndarray, max_bin: int) -> List[np.ndarray]:
    """Upper edges of at most ``max_bin`` quantile bins per column (bins = len(edges) + 1).

    Columns with few distinct values get one bin per value, so categorical codes and flags
    split exactly.
    """
    if x.ndim != 2:
        raise ValueError(f"expected a (rows, features) array, got shape {x.shape}")
    if max_bin < 2:
        raise ValueError(f"max_bin must be at least 2, got {max_bin}")
    edges: List[np.ndarray] = []
    quantiles = np.linspace(0.0, 1.0, max_bin + 1)[1:-1]
    for j in range(x.shape[1]):
        column = x[:, j].astype(np.float64)
        distinct = np.unique(column)
        if len(distinct) <= max_bin:
            # midpoints between neighbouring values: one bin per distinct value
            cuts = (distinct[:-1] + distinct[1:]) / 2.0
        else:
            cuts = np.unique(np.quantile(column, quantiles, method="linear"))
            cuts = cuts[cuts < distinct[-1]]
        edges.append(cuts.astype(np.float64))
    return edges


def apply_bins(x: np.ndarray, edges: List[np.ndarray]) -> np.ndarray:
    """Bin index of every value: (rows, features) uint8 (uint16 beyond 255 bins)."""
    if x.shape[1] != len(edges):
        raise ValueError(f"data has {x.shape[1]} features, the bins were fitted on {len(edges)}")
    widest = max((len(e) for e in edges), default=0) + 1
    dtype = np.uint8 if widest <= 256 else np.uint16
    out = np.empty(x.shape, dtype=dtype)
    for j, cuts in enumerate(edges):
        out[:, j] = np.searchsorted(cuts, x[:, j], side="left")
    return out


def bin_counts(edges: List[np.ndarray]) -> np.ndarray:
    """Number of bins of every feature."""
    return np.array([len(e) + 1 for e in edges], dtype=np.int64)
