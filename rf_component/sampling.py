"""Random choices of the forest: bootstrap rows, features per tree, features per node.

The guest draws all of them from one seeded stream per tree, in a fixed order, so the
federated forest and the plaintext reference forest (same seed) see the same samples and
features, and a run is reproducible.
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np

MaxFeatures = Union[str, int, float, None]


def tree_rng(seed: int, tree_index: int) -> np.random.Generator:
    """The random stream of one tree."""
    return np.random.default_rng([int(seed), int(tree_index)])


def bootstrap_multiplicities(rng: np.random.Generator, n_rows: int, bootstrap: bool = True) -> np.ndarray:
    """How many times each row is drawn (n_rows draws with replacement); all ones without bootstrap."""
    if not bootstrap:
        return np.ones(n_rows, dtype=np.int64)
    return np.bincount(rng.integers(0, n_rows, n_rows), minlength=n_rows).astype(np.int64)


def sample_tree_features(rng: np.random.Generator, n_features: int, fraction: float) -> np.ndarray:
    """Sorted global feature indices this tree may use (FATE-style per-tree subsampling)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"tree feature fraction must be in (0, 1], got {fraction}")
    k = max(1, int(round(n_features * fraction)))
    if k >= n_features:
        return np.arange(n_features)
    return np.sort(rng.choice(n_features, size=k, replace=False))


def node_feature_count(max_features: MaxFeatures, n_features: int) -> int:
    """Features tried per node: 'sqrt', 'log2', an int, a fraction, or None/'all' for all."""
    if max_features is None or max_features == "all":
        return n_features
    if max_features == "sqrt":
        return max(1, int(math.sqrt(n_features)))
    if max_features == "log2":
        return max(1, int(math.log2(n_features)))
    if isinstance(max_features, bool):
        raise ValueError("max_features must be 'sqrt', 'log2', 'all', an int or a fraction")
    if isinstance(max_features, int):
        return max(1, min(n_features, max_features))
    if isinstance(max_features, float) and 0.0 < max_features <= 1.0:
        return max(1, int(max_features * n_features))
    raise ValueError(f"max_features must be 'sqrt', 'log2', 'all', an int or a fraction in (0, 1], got {max_features!r}")


def sample_node_features(
    rng: np.random.Generator, tree_features: np.ndarray, n_nodes: int, per_node: int, n_features: int
) -> np.ndarray:
    """(n_nodes, n_features) mask: each node's features, drawn from the tree's features."""
    mask = np.zeros((n_nodes, n_features), dtype=bool)
    k = min(per_node, len(tree_features))
    if k >= len(tree_features):
        mask[:, tree_features] = True
        return mask
    # one random key per (node, tree feature); the k smallest keys per node are its features
    keys = rng.random((n_nodes, len(tree_features)))
    chosen = np.argpartition(keys, k - 1, axis=1)[:, :k]
    mask[np.arange(n_nodes)[:, None], tree_features[chosen]] = True
    return mask
