"""Tree structure and the steps of level-wise growth shared by the federated and the
plaintext forest: per-level class histograms, the split rule, and leaf distributions.

A tree is grown one level at a time. Every sample of the bootstrap sits in one node; the
nodes of a level that may still split get a class-count histogram per (feature, bin); the
best split per node by Gini gain wins; samples move to the children. Owners of splits are
parties: in the federated forest a host's split is known to the others only as an opaque
split id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

LEAF = -1


@dataclass
class TreeStructure:
    """Node arrays of one tree. ``owner`` is the party index of a split (0 = guest), LEAF for leaves.

    ``split_id`` is meaningful only to the owner (it encodes the owner's feature and bin);
    ``leaf_distribution`` (class shares of the training samples in a leaf) is known to the guest only.
    """

    owner: List[int] = field(default_factory=lambda: [LEAF])
    split_id: List[int] = field(default_factory=lambda: [-1])
    left: List[int] = field(default_factory=lambda: [-1])
    right: List[int] = field(default_factory=lambda: [-1])
    depth: List[int] = field(default_factory=lambda: [0])
    leaf_distribution: Dict[int, List[float]] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.owner)

    def split(self, node: int, owner: int, split_id: int) -> tuple:
        """Turn a leaf into a split; return the ids of its (left, right) children."""
        left, right = self.n_nodes, self.n_nodes + 1
        for _ in range(2):
            self.owner.append(LEAF)
            self.split_id.append(-1)
            self.left.append(-1)
            self.right.append(-1)
            self.depth.append(self.depth[node] + 1)
        self.owner[node], self.split_id[node] = owner, split_id
        self.left[node], self.right[node] = left, right
        return left, right

    def leaves(self) -> List[int]:
        return [n for n in range(self.n_nodes) if self.owner[n] == LEAF]

    def to_dict(self) -> dict:
        return {
            "owner": list(self.owner),
            "split_id": list(self.split_id),
            "left": list(self.left),
            "right": list(self.right),
            "depth": list(self.depth),
            "leaf_distribution": {str(k): v for k, v in self.leaf_distribution.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> TreeStructure:
        tree = cls(
            owner=list(data["owner"]),
            split_id=list(data["split_id"]),
            left=list(data["left"]),
            right=list(data["right"]),
            depth=list(data["depth"]),
        )
        tree.leaf_distribution = {int(k): list(v) for k, v in data.get("leaf_distribution", {}).items()}
        return tree


def encode_split(feature: int, bin_: int, max_bins: int) -> int:
    """An owner's private split id: which of its features, and which bin boundary."""
    return int(feature) * int(max_bins) + int(bin_)


def decode_split(split_id: int, max_bins: int) -> tuple:
    return int(split_id) // int(max_bins), int(split_id) % int(max_bins)


def class_histograms(
    bins: np.ndarray,
    slot: np.ndarray,
    weights: np.ndarray,
    labels: np.ndarray,
    n_slots: int,
    max_bins: int,
    n_classes: int,
) -> np.ndarray:
    """Weighted class counts (slots, features, bins, classes) in one vectorised bincount.

    ``slot[i]`` is the position of sample i's node among the nodes being split, -1 if none.
    """
    n_rows, n_features = bins.shape
    inside = (slot >= 0) & (weights > 0)
    if not np.any(inside) or n_slots == 0:
        return np.zeros((n_slots, n_features, max_bins, n_classes))
    b = bins[inside].astype(np.int64)
    base = slot[inside].astype(np.int64)[:, None] * n_features + np.arange(n_features)[None, :]
    flat = ((base * max_bins + b) * n_classes + labels[inside].astype(np.int64)[:, None]).ravel()
    w = np.repeat(weights[inside].astype(np.float64), n_features)
    size = n_slots * n_features * max_bins * n_classes
    return np.bincount(flat, weights=w, minlength=size).reshape(n_slots, n_features, max_bins, n_classes)


def node_class_counts(node: np.ndarray, weights: np.ndarray, labels: np.ndarray, n_nodes: int, n_classes: int) -> np.ndarray:
    """Weighted class counts per node: (n_nodes, n_classes)."""
    valid = node >= 0
    flat = node[valid].astype(np.int64) * n_classes + labels[valid].astype(np.int64)
    return np.bincount(flat, weights=weights[valid], minlength=n_nodes * n_classes).reshape(n_nodes, n_classes)


def splittable(counts: np.ndarray, depth: int, max_depth: int, min_samples_split: float) -> np.ndarray:
    """Which nodes (rows of class counts) may split: not too deep, heavy enough, not pure."""
    total = counts.sum(axis=1)
    pure = (counts > 0).sum(axis=1) <= 1
    return (depth < max_depth) & (total >= min_samples_split) & ~pure
