"""Pure logic of the random forest: binning, Gini gains, sampling, the plaintext reference."""

from __future__ import annotations

import numpy as np
import pytest

from rf_component.binning import apply_bins, bin_counts, fit_bin_edges
from rf_component.gini import best_splits, gini_impurity, split_gains
from rf_component.reference import ForestParams, PlaintextForest
from rf_component.sampling import (
    bootstrap_multiplicities,
    node_feature_count,
    sample_node_features,
    sample_tree_features,
    tree_rng,
)
from rf_component.tree import TreeStructure, class_histograms


def test_columns_with_few_values_get_one_bin_per_value():
    x = np.array([[0.0], [1.0], [1.0], [5.0]])
    edges = fit_bin_edges(x, max_bin=32)
    assert edges[0].tolist() == [0.5, 3.0]
    assert apply_bins(x, edges)[:, 0].tolist() == [0, 1, 1, 2]


def test_continuous_columns_get_at_most_max_bin_bins_and_keep_order():
    x = np.random.default_rng(0).normal(size=(5000, 3))
    edges = fit_bin_edges(x, max_bin=16)
    assert all(len(e) + 1 <= 16 for e in edges)
    bins = apply_bins(x, edges)
    order = np.argsort(x[:, 0])
    assert np.all(np.diff(bins[order, 0].astype(int)) >= 0)
    # a split "bin <= b" is the same as "value <= edge b"
    b = 7
    assert np.array_equal(bins[:, 1] <= b, x[:, 1] <= edges[1][b])


def test_unseen_extreme_values_fall_into_the_outer_bins():
    edges = fit_bin_edges(np.arange(100, dtype=float)[:, None], max_bin=8)
    assert apply_bins(np.array([[-1e9], [1e9]]), edges)[:, 0].tolist() == [0, len(edges[0])]


def brute_force_gain(hist_feature, b):
    left = hist_feature[: b + 1].sum(axis=0)
    right = hist_feature[b + 1:].sum(axis=0)
    total = left + right
    n = total.sum()
    return gini_impurity(total) - (left.sum() * gini_impurity(left) + right.sum() * gini_impurity(right)) / n


def test_split_gains_equal_brute_force_gini_gain():
    rng = np.random.default_rng(3)
    hist = rng.integers(0, 20, size=(2, 3, 6, 4)).astype(float)
    n_bins = np.array([6, 4, 6])
    gains = split_gains(hist, n_bins, min_samples_leaf=1)
    for node in range(2):
        for feature in range(3):
            for b in range(6):
                if b >= n_bins[feature] - 1:
                    assert gains[node, feature, b] == -np.inf
                else:
                    assert gains[node, feature, b] == pytest.approx(brute_force_gain(hist[node, feature], b))


def test_min_samples_leaf_forbids_light_children():
    hist = np.zeros((1, 1, 3, 2))
    hist[0, 0, 0] = [1, 0]
    hist[0, 0, 2] = [0, 9]
    gains = split_gains(hist, np.array([3]), min_samples_leaf=2)
    assert gains[0, 0, 0] == -np.inf and gains[0, 0, 1] == -np.inf


def test_best_split_respects_the_node_feature_mask_and_breaks_ties_low():
    gains = np.array([[[0.1, 0.5], [0.5, 0.2]], [[0.3, -np.inf], [0.9, 0.1]]])
    best = best_splits(gains, np.array([[True, True], [True, False]]))
    assert best.feature.tolist() == [0, 0] and best.bin.tolist() == [1, 0]
    assert best.gain.tolist() == [0.5, 0.3]


def test_bootstrap_draws_n_rows_and_is_reproducible():
    m1 = bootstrap_multiplicities(tree_rng(7, 3), 1000)
    m2 = bootstrap_multiplicities(tree_rng(7, 3), 1000)
    assert m1.sum() == 1000 and np.array_equal(m1, m2)
    assert 0.55 < (m1 > 0).mean() < 0.72  # about 1 - 1/e of the rows are drawn
    assert np.all(bootstrap_multiplicities(tree_rng(7, 3), 10, bootstrap=False) == 1)


def test_feature_sampling_per_tree_and_per_node():
    rng = tree_rng(1, 0)
    tree_features = sample_tree_features(rng, 41, 0.8)
    assert len(tree_features) == 33 and len(set(tree_features)) == 33
    per_node = node_feature_count("sqrt", 41)
    assert per_node == 6
    mask = sample_node_features(rng, tree_features, 5, per_node, 41)
    assert mask.sum(axis=1).tolist() == [6] * 5
    assert not mask[:, np.setdiff1d(np.arange(41), tree_features)].any()


def test_class_histograms_count_weighted_samples_per_node_feature_bin():
    bins = np.array([[0, 1], [1, 1], [1, 0]], dtype=np.uint8)
    hist = class_histograms(bins, np.array([0, 0, -1]), np.array([2.0, 1.0, 5.0]), np.array([1, 0, 1]), 1, 2, 2)
    assert hist[0, 0].tolist() == [[0, 2], [1, 0]]
    assert hist[0, 1].tolist() == [[0, 0], [1, 2]]


def test_tree_structure_round_trips_through_json_dict():
    tree = TreeStructure()
    tree.split(0, owner=1, split_id=33)
    tree.leaf_distribution = {1: [1.0, 0.0], 2: [0.25, 0.75]}
    again = TreeStructure.from_dict(tree.to_dict())
    assert again == tree


def test_reference_forest_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    x = rng.random((600, 5))
    y = (x[:, 2] > 0.5).astype(int) + (x[:, 4] > 0.7).astype(int)
    edges = fit_bin_edges(x, 16)
    forest = PlaintextForest(ForestParams(n_trees=10, max_depth=4, node_max_features="all"), 3)
    forest.fit(apply_bins(x, edges), y, bin_counts(edges))
    proba = forest.predict_proba(apply_bins(x, edges))
    assert proba.shape == (600, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == y).mean() > 0.97
