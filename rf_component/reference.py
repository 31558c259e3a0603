"""The plaintext random forest on binned features: the oracle the federated forest is
checked against (same bins, seeds, bootstrap samples and feature draws give the same trees),
and the local-only baseline of a single party.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from rf_component.class_weights import class_weight_units, sample_weights, validate_class_weight
from rf_component.gini import best_splits, split_gains
from rf_component.sampling import (
    MaxFeatures,
    bootstrap_multiplicities,
    node_feature_count,
    sample_node_features,
    sample_tree_features,
    tree_rng,
)
from rf_component.tree import LEAF, TreeStructure, class_histograms, decode_split, encode_split, node_class_counts, splittable


@dataclass(frozen=True)
class ForestParams:
    """Random-forest hyperparameters (defaults: the paper's, see conf/rf.yaml)."""

    n_trees: int = 100
    max_depth: int = 10
    min_samples_split: int = 2
    min_samples_leaf: int = 1
    tree_feature_fraction: float = 0.8
    node_max_features: MaxFeatures = "sqrt"
    bootstrap: bool = True
    seed: int = 42
    class_weight: str = "none"

    def __post_init__(self) -> None:
        checks = [
            (self.n_trees >= 1, "n_trees must be at least 1"),
            (self.max_depth >= 1, "max_depth must be at least 1"),
            (self.min_samples_split >= 2, "min_samples_split must be at least 2"),
            (self.min_samples_leaf >= 1, "min_samples_leaf must be at least 1"),
            (0.0 < self.tree_feature_fraction <= 1.0, "tree_feature_fraction must be in (0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        node_feature_count(self.node_max_features, 1)
        validate_class_weight(self.class_weight)


def grow_tree(bins: np.ndarray, labels: np.ndarray, n_bins: np.ndarray, n_classes: int, params: ForestParams,
              tree_index: int, row_weights: Optional[np.ndarray] = None) -> TreeStructure:
    """One tree on all features of one table (plaintext); ``row_weights``: whole-number sample weights."""
    n_rows, n_features = bins.shape
    max_bins = int(n_bins.max())
    rng = tree_rng(params.seed, tree_index)
    units, scale = class_weight_units(labels, n_classes, params.class_weight, row_weights)
    weights = sample_weights(bootstrap_multiplicities(rng, n_rows, params.bootstrap), labels, units, scale,
                             row_weights)
    tree_features = sample_tree_features(rng, n_features, params.tree_feature_fraction)
    per_node = node_feature_count(params.node_max_features, n_features)
    tree = TreeStructure()
    node_of_row = np.zeros(n_rows, dtype=np.int64)
    level = [0]
    for depth in range(params.max_depth + 1):
        counts = node_class_counts(node_of_row, weights, labels, tree.n_nodes, n_classes)[level]
        can_split = splittable(counts, depth, params.max_depth, params.min_samples_split)
        to_split = [n for n, ok in zip(level, can_split) if ok]
        if not to_split:
            break
        slot_of_node = np.full(tree.n_nodes, -1, dtype=np.int64)
        slot_of_node[to_split] = np.arange(len(to_split))
        slot = slot_of_node[node_of_row]
        hist = class_histograms(bins, slot, weights, labels, len(to_split), max_bins, n_classes)
        gains = split_gains(hist, n_bins, params.min_samples_leaf)
        mask = sample_node_features(rng, tree_features, len(to_split), per_node, n_features)
        best = best_splits(gains, mask)
        next_level: List[int] = []
        for k, node in enumerate(to_split):
            if not best.gain[k] > 0:
                continue
            left, right = tree.split(node, 0, encode_split(best.feature[k], best.bin[k], max_bins))
            rows = node_of_row == node
            goes_left = bins[:, best.feature[k]] <= best.bin[k]
            node_of_row[rows & goes_left] = left
            node_of_row[rows & ~goes_left] = right
            next_level += [left, right]
        level = next_level
    set_leaf_distributions(tree, node_of_row, weights, labels, n_classes)
    return tree


def set_leaf_distributions(tree: TreeStructure, node_of_row: np.ndarray, weights: np.ndarray, labels: np.ndarray,
                           n_classes: int) -> None:
    """Class shares of the (weighted) training samples in every leaf."""
    counts = node_class_counts(node_of_row, weights, labels, tree.n_nodes, n_classes)
    for leaf in tree.leaves():
        total = counts[leaf].sum()
        share = counts[leaf] / total if total > 0 else np.full(n_classes, 1.0 / n_classes)
        tree.leaf_distribution[leaf] = [float(v) for v in share]


def leaf_of_rows(tree: TreeStructure, bins: np.ndarray, max_bins: int) -> np.ndarray:
    """The leaf every row reaches (single-party trees)."""
    node = np.zeros(bins.shape[0], dtype=np.int64)
    for _ in range(max(tree.depth) + 1):
        owner = np.asarray(tree.owner)[node]
        active = owner != LEAF
        if not np.any(active):
            break
        for n in np.unique(node[active]):
            feature, bin_ = decode_split(tree.split_id[n], max_bins)
            rows = node == n
            goes_left = bins[:, feature] <= bin_
            node[rows & goes_left] = tree.left[n]
            node[rows & ~goes_left] = tree.right[n]
    return node


def vote(trees: List[TreeStructure], leaves: np.ndarray, n_classes: int, hard: bool = False) -> np.ndarray:
    """Class probabilities from per-tree leaves (rows, trees): soft (mean of leaf shares) or hard vote."""
    probs = np.zeros((leaves.shape[0], n_classes))
    for t, tree in enumerate(trees):
        table = np.zeros((tree.n_nodes, n_classes))
        for leaf, share in tree.leaf_distribution.items():
            table[leaf] = share
        tree_probs = table[leaves[:, t]]
        if hard:
            tree_probs = np.eye(n_classes)[np.argmax(tree_probs, axis=1)]
        probs += tree_probs
    return probs / len(trees)


class PlaintextForest:
    """A random forest on one party's binned features (reference and local-only baseline)."""

    def __init__(self, params: ForestParams, n_classes: int) -> None:
        self.params = params
        self.n_classes = n_classes
        self.trees: List[TreeStructure] = []
        self.max_bins = 0

    def fit(self, bins: np.ndarray, labels: np.ndarray, n_bins: np.ndarray,
            row_weights: Optional[np.ndarray] = None) -> PlaintextForest:
        self.max_bins = int(n_bins.max())
        self.trees = [grow_tree(bins, labels, n_bins, self.n_classes, self.params, t, row_weights)
                      for t in range(self.params.n_trees)]
        return self

    def predict_proba(self, bins: np.ndarray, hard: bool = False) -> np.ndarray:
        leaves = np.stack([leaf_of_rows(tree, bins, self.max_bins) for tree in self.trees], axis=1)
        return vote(self.trees, leaves, self.n_classes, hard)
