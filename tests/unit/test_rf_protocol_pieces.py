"""Pure pieces of the federated forest: packing, encrypted histograms, tree walking, the
component definition the pipeline client validates against."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rf_component.federated import move_rows, pack_decisions, rows_of_slots, unpack_decisions, walk_tree
from rf_component.label_cipher import (
    PheLabelCipher,
    PlainLabelCipher,
    cells_of_rows,
    field_bits_for,
    label_cipher_from_spec,
    validate_he_param,
)
from rf_component.tree import TreeStructure


@pytest.fixture(scope="module")
def paillier():
    from fate.arch.protocol.phe.paillier import evaluator, keygen

    sk, pk, coder = keygen(1024)
    return sk, pk, coder, evaluator


def test_field_width_holds_the_largest_count():
    assert field_bits_for(1) == 2
    assert field_bits_for(25192) == 16  # 2**15 = 32768 > 25192, one spare bit
    assert (1 << field_bits_for(125973)) > 125973


def test_cells_of_rows_groups_repeated_cells_per_row():
    positions = cells_of_rows(np.array([2, 0, 2, 2]), np.array([5, 1, 5, 7]), 4)
    assert positions == [[1], [], [5, 5, 7], []]


@pytest.mark.parametrize("n_classes", [2, 5, 10])
def test_encrypted_packed_histograms_equal_plaintext_counts(paillier, n_classes):
    sk, pk, coder, evaluator = paillier
    rng = np.random.default_rng(n_classes)
    n_rows, n_cells = 300, 37
    bits = field_bits_for(n_rows * 3)
    he = PheLabelCipher("paillier", 1024, pk, coder, evaluator, n_classes, bits, sk=sk)
    plain = PlainLabelCipher(n_classes, bits)
    labels = rng.integers(0, n_classes, n_rows)
    rows = np.repeat(np.arange(n_rows), rng.integers(0, 4, n_rows))  # bootstrap multiplicities 0..3
    cells = rng.integers(0, n_cells, len(rows))
    payload = he.from_wire(he.to_wire(he.encrypt_labels(labels)))  # as it travels guest -> host
    encrypted = he.histogram(payload, rows, cells, n_cells)
    squeezed, per_ciphertext = he.squeeze(encrypted)
    assert per_ciphertext == 1022 // (n_classes * bits) and len(squeezed) == -(-n_cells // per_ciphertext)
    expected = np.zeros((n_cells, n_classes))
    np.add.at(expected, (cells, labels[rows]), 1)
    np.testing.assert_array_equal(he.decrypt_counts(squeezed, per_ciphertext, n_cells), expected)
    np.testing.assert_array_equal(
        plain.decrypt_counts(*plain.squeeze(plain.histogram(plain.encrypt_labels(labels), rows, cells, n_cells)),
                             n_cells), expected)


def test_sibling_histogram_is_parent_minus_child(paillier):
    sk, pk, coder, evaluator = paillier
    he = PheLabelCipher("paillier", 1024, pk, coder, evaluator, 3, 12, sk=sk)
    labels = np.array([0, 1, 2, 1, 0, 2])
    payload = he.encrypt_labels(labels)
    all_rows, all_cells = np.arange(6), np.array([0, 1, 1, 2, 0, 2])
    parent = he.histogram(payload, all_rows, all_cells, 3)
    child = he.histogram(payload, all_rows[:3], all_cells[:3], 3)
    sibling = he.subtract(parent, child)
    direct = he.histogram(payload, all_rows[3:], all_cells[3:], 3)
    np.testing.assert_array_equal(he.decrypt_counts(sibling, 1, 3), he.decrypt_counts(direct, 1, 3))


def test_public_spec_carries_no_secret_key_and_rebuilds_the_cipher(paillier):
    sk, pk, coder, evaluator = paillier
    he = PheLabelCipher("paillier", 1024, pk, coder, evaluator, 5, 16, sk=sk)
    spec = he.public_spec()
    assert "sk" not in spec and "_sk" not in spec
    public = label_cipher_from_spec(spec)
    with pytest.raises(RuntimeError, match="only the arbiter"):
        public.decrypt_counts(public.encrypt_labels(np.array([1])), 1, 1)


def test_too_many_classes_for_the_key_is_a_clear_error(paillier):
    sk, pk, coder, evaluator = paillier
    with pytest.raises(ValueError, match="do not fit one paillier-1024 plaintext"):
        PheLabelCipher("paillier", 1024, pk, coder, evaluator, 80, 20)


@pytest.mark.parametrize("kind, key, message", [("rsa", 1024, "not supported"), ("paillier", 512, "too short")])
def test_he_param_validation(kind, key, message):
    with pytest.raises(ValueError, match=message):
        validate_he_param(kind, key)
    validate_he_param("mock", 0)


def test_walk_tree_follows_each_nodes_decisions():
    tree = TreeStructure()
    left, right = tree.split(0, owner=0, split_id=1)
    tree.split(right, owner=1, split_id=-1)
    goes_left = np.zeros((tree.n_nodes, 4), dtype=bool)
    goes_left[0] = [True, False, False, True]
    goes_left[right] = [False, True, False, False]
    assert walk_tree(tree, goes_left).tolist() == [left, 3, 4, left]


def test_committed_component_definition_matches_the_component():
    # the pipeline client validates parameters against this file: it must follow the code
    committed = Path(__file__).resolve().parents[2] / "rf_component" / "hetero_random_forest.yaml"
    fresh = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "fate.components", "component", "desc", "--name",
         "hetero_random_forest", "--save", "/dev/stdout"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert fresh.strip() == committed.read_text().strip(), (
        "regenerate rf_component/hetero_random_forest.yaml (see rf_component/pipeline_component.py)")


def test_ou_cipher_histograms_equal_plaintext_counts_without_squeezing():
    from fate.arch.protocol.phe.ou import evaluator, keygen

    sk, pk, coder = keygen(1024)
    n_classes, bits = 5, field_bits_for(200)
    he = PheLabelCipher("ou", 1024, pk, coder, evaluator, n_classes, bits, sk=sk)
    assert he.cells_per_ciphertext == 1  # OU cannot fold ciphertexts
    rng = np.random.default_rng(9)
    labels = rng.integers(0, n_classes, 200)
    rows, cells = np.arange(200), rng.integers(0, 11, 200)
    payload = he.from_wire(he.to_wire(he.encrypt_labels(labels)))
    squeezed, per_ciphertext = he.squeeze(he.take(he.histogram(payload, rows, cells, 11), np.arange(11)))
    expected = np.zeros((11, n_classes))
    np.add.at(expected, (cells, labels), 1)
    np.testing.assert_array_equal(he.decrypt_counts(squeezed, per_ciphertext, 11), expected)


def test_rows_of_slots_marks_rows_of_marked_slots_and_never_rows_outside_the_level():
    slot = np.array([0, -1, 1, 2, 1, -1])
    assert rows_of_slots(slot, [True, False, True]).tolist() == [True, False, False, True, False, False]


def test_decisions_cross_as_one_bit_per_row_and_come_back_for_the_same_rows():
    rng = np.random.default_rng(0)
    goes_left = rng.random(1001) < 0.5
    rows = rng.random(1001) < 0.7
    packed = pack_decisions(goes_left, rows)
    assert packed.dtype == np.uint8 and packed.size == -(-rows.sum() // 8)
    assert np.array_equal(unpack_decisions(packed, rows, "host 0"), goes_left[rows])
    with pytest.raises(RuntimeError, match="host 0 sent left/right decisions for .* rows; 3 expected"):
        unpack_decisions(packed, np.arange(1001) < 3, "host 0")


def test_move_rows_sends_each_row_of_a_split_node_to_the_child_its_decision_names():
    rng = np.random.default_rng(1)
    node_of_row = rng.choice([1, 2, 3, 4], size=500)  # nodes 1-4 of a level; 5-8 are new children
    to_split = [1, 2, 4]                                 # node 3 is a leaf already
    slot = np.array([to_split.index(n) if n in to_split else -1 for n in node_of_row])
    children = {1: (5, 6), 4: (7, 8)}                    # node 2 had no winner: it stays
    goes_left = rng.random(500) < 0.5
    expected = node_of_row.copy()
    for node, (left, right) in children.items():        # the per-node loop the vectorised move replaces
        rows = node_of_row == node
        expected[rows & goes_left], expected[rows & ~goes_left] = left, right
    assert np.array_equal(move_rows(node_of_row, slot, to_split, children, goes_left), expected)
