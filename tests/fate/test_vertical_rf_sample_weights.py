"""The guest's sample weights through a real FATE Flow: rows weighed 0 leave the forest, B sees nothing.

The leave-attack-out preparation (data_upload/holdout.py) gives A's tables a `sample_weight`
column (FATE's weight column): 0 for the training rows of held-out attack names. One Paillier
job on it is checked against the plaintext reference with the same weights, and what the guest
sent B against what any training of the same rows sends: B's tables unchanged, the bootstrap
draw of the seed, one ciphertext per row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_upload.holdout import SAMPLE_WEIGHT_COLUMN
from data_upload.prepare import prepare
from data_upload.sample import sample_kdd_file
from fedids.model_config import load_rf_profile
from pipelines.vertical_rf import train_vertical_rf
from rf_component.binning import apply_bins, bin_counts, fit_bin_edges
from rf_component.reference import ForestParams, PlaintextForest
from rf_component.sampling import bootstrap_multiplicities, tree_rng
from tests.fate.test_vertical_rf import as_ciphertexts, details, in_sample_order, sent_by

pytestmark = pytest.mark.fate

N_CLASSES = 5
TREES, DEPTH = 4, 4


@pytest.fixture(scope="module")
def weighted(tmp_path_factory, repo_root, fate_flow):
    """A's tables weigh the training rows of half of each attack class's names 0 (leave-attack-out)."""
    from data_upload.fate_upload import FlowTables
    from data_upload.upload import upload_manifest

    nsl = repo_root.parent / "shared" / "datasets" / "nsl-kdd"
    root = tmp_path_factory.mktemp("rf_weights")
    train = sample_kdd_file(nsl / "KDDTrain+_20Percent.txt.gz", 2500, root / "train_2500.txt", seed=5)
    test = sample_kdd_file(nsl / "KDDTest+.txt.gz", 300, root / "test_300.txt", seed=5)
    common = dict(train_file=str(train), test_file=str(test), validation_fraction=0.1, seed=11, show_progress=False)
    prepare("nsl-kdd", str(nsl), "vertical", "official", str(root / "plain"), **common)
    prepare("nsl-kdd", str(nsl), "vertical", "official", str(root / "held"), holdout_attack_fraction=0.5, **common)
    upload_manifest(root / "held", FlowTables(fate_flow.flow))
    return root, train_vertical_rf(fate_flow, root / "held", params(), predict_test=False)


def params():
    out = load_rf_profile("tiny")
    out.update(num_trees=TREES, max_depth=DEPTH, he_param={"kind": "paillier", "key_length": 1024})
    return out


def training_rows(folder: Path, order: np.ndarray) -> pd.DataFrame:
    a = pd.read_csv(folder / "A" / "train.csv")
    b = pd.read_csv(folder / "B" / "train.csv")
    return a.merge(b, on="id").set_index("id").loc[order]


def test_zero_weight_rows_leave_the_federated_forest_exactly_as_in_the_plaintext_reference(weighted):
    root, run = weighted
    train = in_sample_order(run.train_predictions)
    rows = training_rows(root / "held", train["id"].astype(int).to_numpy())
    row_weights = rows[SAMPLE_WEIGHT_COLUMN].to_numpy()
    assert 0 < (row_weights == 0).sum() < len(rows)
    features = [c for c in rows.columns if c not in ("label", SAMPLE_WEIGHT_COLUMN)]
    assert len(features) == 41                         # the weight column is no feature at either party
    edges = fit_bin_edges(rows[features].to_numpy(float), 32)
    forest_params = ForestParams(n_trees=TREES, max_depth=DEPTH, min_samples_split=2, min_samples_leaf=1,
                                 tree_feature_fraction=0.8, node_max_features="sqrt", seed=42)
    bins = apply_bins(rows[features].to_numpy(float), edges)
    reference = PlaintextForest(forest_params, N_CLASSES).fit(bins, rows["label"].to_numpy(), bin_counts(edges),
                                                              row_weights.astype(np.int64))
    np.testing.assert_allclose(details(train), reference.predict_proba(bins), atol=1e-9)
    # the held-out rows are scored like new records: the training job predicts them too
    held = row_weights == 0
    assert len(train) == len(rows) and details(train)[held].shape[0] == held.sum()


def test_b_gets_the_same_messages_with_and_without_sample_weights(weighted, fate_flow, repo_root):
    root, run = weighted
    a, b = fate_flow.party_id("A"), fate_flow.party_id("B")
    sent = sent_by(repo_root, run.train_job_id, "guest", a)

    def to_b(name):
        return [m["value"] for m in sent if m["name"] == name and ("host", b) in m["to"]]

    # B's tables are those of the preparation without a holdout: a missing row would have told B it
    # is an attack of a held-out name
    for split in ("train", "valid", "test"):
        assert (root / "held" / "B" / f"{split}.csv").read_bytes() == (root / "plain" / "B" / f"{split}.csv").read_bytes()
    n_rows = len(pd.read_csv(root / "held" / "A" / "train.csv"))
    # the same kinds of message as any training; the bootstrap B sees is the weight-blind draw of the seed
    assert {m["name"] for m in sent if ("host", b) in m["to"]} == {"alignment", "encrypted_labels", "tree_plan",
                                                                  "level_plan", "partition"}
    plans = to_b("tree_plan")
    assert len(plans) == TREES
    for t, plan in enumerate(plans):
        expected = bootstrap_multiplicities(tree_rng(params()["seed"], t), n_rows, params()["bootstrap"])
        assert np.array_equal(plan["weights"], expected)
    # one ciphertext per row, the rows weighed 0 included (an encryption of zeros)
    assert len(as_ciphertexts(to_b("encrypted_labels")[0])) == n_rows
