"""Class weights of the forest: integer units that ride inside the encrypted class vectors."""

from __future__ import annotations

import numpy as np
import pytest

from rf_component.binning import apply_bins, bin_counts, fit_bin_edges
from rf_component.class_weights import RESOLUTION, class_weight_units, sample_weights
from rf_component.federated import ForestSettings, settings_from_dict, settings_to_dict
from rf_component.label_cipher import PheLabelCipher, PlainLabelCipher, field_bits_for
from rf_component.reference import ForestParams, PlaintextForest


def test_no_class_weight_counts_every_sample_once():
    units, scale = class_weight_units(np.array([0, 0, 1, 2]), 3, "none")
    assert units.tolist() == [1, 1, 1] and scale == 1


def test_balanced_weights_make_every_class_weigh_as_much_as_the_majority():
    labels = np.array([0] * 800 + [1] * 160 + [2] * 30 + [3] * 10)
    units, scale = class_weight_units(labels, 5, "balanced")
    assert scale == RESOLUTION
    assert units.tolist() == [16, 80, 427, 1280, 16]  # 800/count in 1/16ths; class 4 is absent
    totals = np.bincount(labels, weights=sample_weights(np.ones(len(labels), dtype=np.int64), labels, units, scale))
    np.testing.assert_allclose(totals, 800, rtol=1 / (2 * RESOLUTION))


def test_sample_weights_multiply_bootstrap_draws_by_the_class_weight():
    weights = sample_weights(np.array([0, 1, 3]), np.array([1, 0, 1]), np.array([16, 40]), 16)
    assert weights.tolist() == [0.0, 1.0, 7.5]


def test_an_unknown_class_weight_is_a_clear_error():
    with pytest.raises(ValueError, match="class_weight 'rare'.*none, balanced"):
        class_weight_units(np.array([0, 1]), 2, "rare")
    with pytest.raises(ValueError, match="class_weight"):
        ForestParams(class_weight="rare")


def test_encrypted_weighted_histograms_equal_plaintext_weighted_counts():
    from fate.arch.protocol.phe.paillier import evaluator, keygen

    sk, pk, coder = keygen(1024)
    rng = np.random.default_rng(3)
    n_rows, n_cells, n_classes = 400, 23, 5
    labels = rng.choice(n_classes, n_rows, p=[0.7, 0.2, 0.07, 0.02, 0.01])
    units, _ = class_weight_units(labels, n_classes, "balanced")
    bits = field_bits_for(n_rows * int(units.max()))
    he = PheLabelCipher("paillier", 1024, pk, coder, evaluator, n_classes, bits, sk=sk)
    rows = np.repeat(np.arange(n_rows), rng.integers(0, 4, n_rows))
    cells = rng.integers(0, n_cells, len(rows))
    payload = he.from_wire(he.to_wire(he.encrypt_labels(labels, units)))
    squeezed, per_ciphertext = he.squeeze(he.histogram(payload, rows, cells, n_cells))
    expected = np.zeros((n_cells, n_classes))
    np.add.at(expected, (cells, labels[rows]), units[labels[rows]])
    np.testing.assert_array_equal(he.decrypt_counts(squeezed, per_ciphertext, n_cells), expected)
    plain = PlainLabelCipher(n_classes, bits)
    np.testing.assert_array_equal(plain.histogram(plain.encrypt_labels(labels, units), rows, cells, n_cells), expected)


def test_a_balanced_forest_finds_a_rare_class_the_unweighted_one_misses():
    rng = np.random.default_rng(5)
    n = 4000
    x = rng.random((n, 4))
    # class 1 (about 1 %) lives in a small corner that a noisy majority also visits
    rare = (x[:, 0] > 0.9) & (x[:, 1] > 0.9) & (rng.random(n) < 0.5)
    y = rare.astype(int)
    edges = fit_bin_edges(x, 16)
    bins = apply_bins(x, edges)
    recall = {}
    for weighting in ("none", "balanced"):
        params = ForestParams(n_trees=10, max_depth=3, node_max_features="all", class_weight=weighting)
        forest = PlaintextForest(params, 2).fit(bins, y, bin_counts(edges))
        recall[weighting] = (forest.predict_proba(bins).argmax(axis=1)[y == 1] == 1).mean()
    assert recall["none"] < 0.2 and recall["balanced"] > 0.8


def test_settings_keep_the_class_weight_and_read_models_saved_without_it():
    settings = ForestSettings(params=ForestParams(class_weight="balanced"), n_classes=5)
    assert settings_from_dict(settings_to_dict(settings)).params.class_weight == "balanced"
    old = settings_to_dict(ForestSettings(params=ForestParams(), n_classes=5))
    del old["class_weight"]
    assert settings_from_dict(old).params.class_weight == "none"


def test_a_row_weighed_zero_does_not_count_towards_its_class_or_any_histogram():
    from rf_component.label_cipher import class_vectors

    labels, rows = np.array([0, 0, 1, 1, 2]), np.array([1, 1, 0, 1, 1])
    units, scale = class_weight_units(labels, 3, "balanced", rows)
    assert units.tolist() == [16, 32, 32] and scale == 16    # class 1 counts 1 row, not 2
    vectors = class_vectors(labels, 3, units, rows)
    assert vectors[2].tolist() == [0, 0, 0] and vectors[3].tolist() == [0, 32, 0]
    assert sample_weights(np.array([2, 1, 1, 1, 1]), labels, units, scale, rows).tolist() == [2, 1, 0, 2, 2]


def test_the_forest_ignores_the_labels_of_rows_weighed_zero():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 4))
    labels = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1).astype(np.int64)
    rows = (rng.random(300) > 0.3).astype(np.int64)
    edges = fit_bin_edges(x, 16)
    bins = apply_bins(x, edges)
    params = ForestParams(n_trees=3, max_depth=4, min_samples_split=2, min_samples_leaf=1, seed=1)
    scrambled = labels.copy()
    scrambled[rows == 0] = rng.integers(0, 3, (rows == 0).sum())
    first = PlaintextForest(params, 3).fit(bins, labels, bin_counts(edges), rows).predict_proba(bins)
    second = PlaintextForest(params, 3).fit(bins, scrambled, bin_counts(edges), rows).predict_proba(bins)
    np.testing.assert_array_equal(first, second)
    unweighted = PlaintextForest(params, 3).fit(bins, scrambled, bin_counts(edges)).predict_proba(bins)
    assert not np.array_equal(first, unweighted)


@pytest.mark.parametrize("values, message", [
    ([1, 0.5], "whole numbers >= 0"), ([1, -1], "whole numbers >= 0"), ([1, np.nan], "whole numbers >= 0"),
    ([0, 0], "weighs every row 0"),
])
def test_bad_sample_weights_are_refused_naming_the_column(values, message):
    from rf_component.class_weights import validate_row_weights

    with pytest.raises(ValueError, match=f"column 'sample_weight' .*{message}|column 'sample_weight' {message}"):
        validate_row_weights(np.array(values, dtype=float), "sample_weight")


def test_a_host_table_with_a_sample_weight_is_refused_naming_the_column():
    from rf_component.frames import read_party_table

    class Schema:
        label_name, weight_name = None, "sample_weight"

    class Frame:
        schema = Schema()

    with pytest.raises(ValueError, match="host's table has a sample weight column 'sample_weight'"):
        read_party_table(Frame(), "host", require_label=False)
