"""The vertical random forest through a real FATE Flow: A guest, B host, C arbiter.

One Paillier training job (and its predict job) on 2,000 real NSL-KDD rows split between A
and B is checked against the plaintext reference forest built on the same bins, seeds and
bootstrap samples, read back through FATE Flow's metric API, and audited for what each
party sent.
"""

from __future__ import annotations

import ast
import json
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_upload.prepare import prepare
from fedids.audit import audit_root, sent_in_job
from fedids.model_config import load_rf_profile
from pipelines.vertical_rf import train_vertical_rf
from rf_component.binning import apply_bins, bin_counts, fit_bin_edges
from rf_component.reference import ForestParams, PlaintextForest

pytestmark = pytest.mark.fate

N_CLASSES = 5
TREES, DEPTH = 5, 4


@pytest.fixture(scope="module")
def nsl_vertical(tmp_path_factory, repo_root):
    out = tmp_path_factory.mktemp("rf") / "nsl_vertical_rf"
    prepare("nsl-kdd", str(repo_root.parent / "shared" / "datasets" / "nsl-kdd"), "vertical", "paper", str(out),
            subset_size=2500, seed=11, show_progress=False)
    from data_upload.fate_upload import FlowTables
    from data_upload.upload import upload_manifest
    from fedids.config import load_parties

    upload_manifest(out, FlowTables(load_parties().flow))
    return out


@pytest.fixture(scope="module")
def paillier_run(nsl_vertical, fate_flow):
    params = load_rf_profile("tiny")
    params.update(num_trees=TREES, max_depth=DEPTH, he_param={"kind": "paillier", "key_length": 1024})
    return train_vertical_rf(fate_flow, nsl_vertical, params, predict_test=True)


def details(predictions: pd.DataFrame) -> np.ndarray:
    parsed = [ast.literal_eval(d) if isinstance(d, str) else d for d in predictions["predict_detail"]]
    return np.array([[float(d[str(c)]) for c in range(N_CLASSES)] for d in parsed])


def joined(folder: Path, split: str) -> pd.DataFrame:
    a = pd.read_csv(folder / "A" / f"{split}.csv")
    b = pd.read_csv(folder / "B" / f"{split}.csv")
    return a.merge(b, on="id")


@pytest.fixture(scope="module")
def balanced_run(nsl_vertical, fate_flow):
    params = load_rf_profile("tiny")
    params.update(num_trees=TREES, max_depth=DEPTH, class_weight="balanced",
                  he_param={"kind": "paillier", "key_length": 1024})
    return train_vertical_rf(fate_flow, nsl_vertical, params, predict_test=False)


def reference_probabilities(folder: Path, train_order: np.ndarray, test_order: np.ndarray,
                            class_weight: str = "none"):
    """The plaintext forest on A's then B's columns, rows in the order the federated forest used."""
    train = joined(folder, "train").set_index("id").loc[train_order]
    test = joined(folder, "test").set_index("id").loc[test_order]
    features = [c for c in train.columns if c != "label"]
    edges = fit_bin_edges(train[features].to_numpy(float), 32)
    params = ForestParams(n_trees=TREES, max_depth=DEPTH, min_samples_split=2, min_samples_leaf=1,
                          tree_feature_fraction=0.8, node_max_features="sqrt", seed=42, class_weight=class_weight)
    forest = PlaintextForest(params, N_CLASSES).fit(
        apply_bins(train[features].to_numpy(float), edges), train["label"].to_numpy(), bin_counts(edges))
    return (forest.predict_proba(apply_bins(train[features].to_numpy(float), edges)),
            forest.predict_proba(apply_bins(test[features].to_numpy(float), edges)),
            test["label"].to_numpy())


def in_sample_order(predictions: pd.DataFrame) -> pd.DataFrame:
    return predictions.sort_values("extend_sid", kind="stable").reset_index(drop=True)


def test_paillier_forest_equals_the_plaintext_reference(paillier_run, nsl_vertical):
    train = in_sample_order(paillier_run.train_predictions)
    test = in_sample_order(paillier_run.test_predictions)
    ref_train, ref_test, test_labels = reference_probabilities(
        nsl_vertical, train["id"].astype(int).to_numpy(), test["id"].astype(int).to_numpy())
    np.testing.assert_allclose(details(train), ref_train, atol=1e-9)
    federated_acc = (details(test).argmax(axis=1) == test_labels).mean()
    reference_acc = (ref_test.argmax(axis=1) == test_labels).mean()
    assert abs(federated_acc - reference_acc) <= 0.02
    assert federated_acc > 0.85


def test_a_class_balanced_paillier_forest_equals_the_balanced_reference_and_leans_to_rare_classes(
        balanced_run, paillier_run, nsl_vertical):
    # the class weights ride inside the encrypted class vectors: the same forest as in plaintext
    train = in_sample_order(balanced_run.train_predictions)
    ref_train, _, _ = reference_probabilities(
        nsl_vertical, train["id"].astype(int).to_numpy(), joined(nsl_vertical, "test")["id"].to_numpy(), "balanced")
    np.testing.assert_allclose(details(train), ref_train, atol=1e-9)
    # and it is not the unweighted forest: the rare classes (R2L, U2R) get more of the probability
    plain = details(in_sample_order(paillier_run.train_predictions))
    assert details(train)[:, 3:].mean() > 2 * plain[:, 3:].mean()


def test_predictions_carry_every_class_probability(paillier_run):
    test = paillier_run.test_predictions
    assert {"predict_result", "predict_score", "predict_detail"} <= set(test.columns)
    probs = details(test)
    assert probs.shape == (500, N_CLASSES)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert (probs.argmax(axis=1) == test["predict_result"].astype(int).to_numpy()).all()


def query_metrics(fate_flow, job_id, role, party):
    url = (f"{fate_flow.flow.url}/v2/output/metric/query?job_id={job_id}&role={role}"
           f"&party_id={fate_flow.party_id(party)}&task_name=rf_0")
    with urllib.request.urlopen(url, timeout=30) as response:
        body = json.loads(response.read())
    assert body["code"] == 0, body
    metrics = {}
    for metric in body["data"]:  # step metrics come as one entry per step
        metrics.setdefault(metric["name"], []).append(metric)
    return metrics


def test_metrics_reach_fate_flow_and_each_party_sees_only_its_own_importance(paillier_run, fate_flow, nsl_vertical):
    manifest = json.loads((nsl_vertical / "manifest.json").read_text())
    guest = query_metrics(fate_flow, paillier_run.train_job_id, "guest", "A")
    host = query_metrics(fate_flow, paillier_run.train_job_id, "host", "B")
    arbiter = query_metrics(fate_flow, paillier_run.train_job_id, "arbiter", "C")
    steps = sorted(point["step"] for m in guest["tree_seconds"] for point in m["data"])
    assert steps == list(range(TREES))
    assert guest["train_summary"][0]["data"]["cipher"] == "paillier"
    a_columns = set(manifest["parties"]["A"]["splits"]["train"]["columns"]) - {"label"}
    b_columns = set(manifest["parties"]["B"]["splits"]["train"]["columns"])
    assert set(guest["feature_importance"][0]["data"]) == a_columns
    assert set(host["feature_importance"][0]["data"]) == b_columns
    assert "feature_importance" not in arbiter
    assert arbiter["arbiter_summary"][0]["data"]["decrypted_cells"] > 0
    evaluation = paillier_run.evaluation[0]["data"]["rf_0"]["train_set"]
    assert {m["metric"] for m in evaluation} >= {"multi_accuracy"}


# ------------------------------------------------------------------------------ privacy
def sent_by(repo_root: Path, job_id: str, role: str, party_id: str):
    root = audit_root(repo_root / ".fate" / "audit")
    messages = sent_in_job(root, job_id, role, party_id)
    assert messages, f"no audit trail of {role} {party_id} for job {job_id} under {root}"
    return messages


def arrays_in(value):
    """Every numpy array and number inside a message."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from arrays_in(v)
    elif isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (int, float, np.integer, np.floating)) for v in value):
            yield np.asarray(value)
        else:
            for v in value:
                yield from arrays_in(v)
    elif isinstance(value, (int, float, np.integer, np.floating)):
        yield np.asarray([value])


def test_what_each_party_sends_reveals_no_labels_features_or_thresholds(paillier_run, fate_flow, repo_root,
                                                                       nsl_vertical):
    ids = {party: fate_flow.party_id(party) for party in "ABC"}
    job, predict_job = paillier_run.train_job_id, paillier_run.predict_job_id
    from_a = sent_by(repo_root, job, "guest", ids["A"]) + sent_by(repo_root, predict_job, "guest", ids["A"])
    from_b = sent_by(repo_root, job, "host", ids["B"]) + sent_by(repo_root, predict_job, "host", ids["B"])
    from_c = sent_by(repo_root, job, "arbiter", ids["C"])
    train = joined(nsl_vertical, "train")
    labels = train["label"].to_numpy()
    a_cols = [c for c in pd.read_csv(nsl_vertical / "A" / "train.csv", nrows=1).columns if c not in ("id", "label")]
    b_cols = [c for c in pd.read_csv(nsl_vertical / "B" / "train.csv", nrows=1).columns if c != "id"]

    # A's labels leave A only encrypted: the per-sample message is a Paillier ciphertext vector
    encrypted = [m for m in from_a if m["name"] == "encrypted_labels"]
    assert len(encrypted) == 1 and isinstance(encrypted[0]["value"], bytes)
    assert len(as_ciphertexts(encrypted[0]["value"])) == len(labels)
    for message in from_a:
        for array in arrays_in(message["value"]):
            if array.size == len(labels):
                assert not np.array_equal(np.sort(array), np.sort(labels)), f"labels in A's {message['name']}"
    # no raw feature column of A or B leaves its owner
    for sender, frame_cols, messages in (("A", a_cols, from_a), ("B", b_cols, from_b)):
        columns = [np.sort(train[c].to_numpy(float)) for c in frame_cols]
        for message in messages:
            for array in arrays_in(message["value"]):
                if array.size == len(train) and np.issubdtype(array.dtype, np.number):
                    flat = np.sort(array.astype(float).ravel())
                    assert not any(np.array_equal(flat, col) for col in columns if np.unique(col).size > 2), \
                        f"a raw feature column of {sender} in {message['name']}"
    # B's thresholds stay with B: no non-integer threshold value appears in anything B sends
    host_model = paillier_run_host_thresholds(fate_flow, job)
    b_values = {float(v) for m in from_b for a in arrays_in(m["value"]) for v in np.ravel(a)}
    leaked = {t for t in host_model if t != int(t) and t in b_values}
    assert not leaked, f"host thresholds found in B's messages: {sorted(leaked)[:5]}"
    # C receives no per-sample ciphertext and no per-sample array: only aggregated histograms
    names_from_a_to_c = {m["name"] for m in from_a if ("arbiter", ids["C"]) in m["to"]}
    assert names_from_a_to_c == {"forest_meta", "level_plan", "guest_gains"}
    for m in from_b:
        if ("arbiter", ids["C"]) in m["to"]:
            assert m["name"] == "host_histogram"
            value = m["value"]
            expected = -(-len(value["occupied"]) // value["cells_per_ciphertext"])
            assert len(as_ciphertexts(value["cells"])) == expected < len(labels)
    for m in from_a:
        if ("arbiter", ids["C"]) in m["to"]:
            for array in arrays_in(m["value"]):
                assert array.size < len(labels), f"a per-sample array in A's {m['name']} to C"
    # C sends only the public key and split decisions
    assert {m["name"] for m in from_c} == {"label_cipher", "winners", "host_splits"}
    spec = [m for m in from_c if m["name"] == "label_cipher"][0]["value"]
    assert set(spec) == {"kind", "key_length", "pk", "coder", "n_classes", "field_bits"}


def test_class_weights_show_b_nothing_new_and_c_only_their_scale(balanced_run, paillier_run, fate_flow, repo_root):
    ids = {party: fate_flow.party_id(party) for party in "AB"}
    weighted = sent_by(repo_root, balanced_run.train_job_id, "guest", ids["A"])
    plain = sent_by(repo_root, paillier_run.train_job_id, "guest", ids["A"])

    def to_b(messages, name):
        return [m["value"] for m in messages if m["name"] == name and ("host", ids["B"]) in m["to"]]

    # the same kinds of message reach B; the bootstrap B sees is the same draw, label- and weight-blind
    assert {m["name"] for m in weighted if ("host", ids["B"]) in m["to"]} == \
        {m["name"] for m in plain if ("host", ids["B"]) in m["to"]}
    plans = to_b(weighted, "tree_plan"), to_b(plain, "tree_plan")
    assert len(plans[0]) == TREES and all(np.array_equal(w["weights"], p["weights"]) for w, p in zip(*plans))
    # the weights ride inside the ciphertexts: one per sample, as without them
    assert len(as_ciphertexts(to_b(weighted, "encrypted_labels")[0])) == len(as_ciphertexts(
        to_b(plain, "encrypted_labels")[0]))
    meta = [m["value"] for m in weighted if m["name"] == "forest_meta"][0]
    assert meta["weight_scale"] == 16 and meta["field_bits"] > [m["value"] for m in plain
                                                                if m["name"] == "forest_meta"][0]["field_bits"]


def as_ciphertexts(wire: bytes):
    """Paillier ciphertexts from their wire form (raises if the bytes are anything else)."""
    from fate_utils.paillier import CiphertextVector

    vector = CiphertextVector.__new__(CiphertextVector)
    vector.__setstate__(wire)
    return vector


def paillier_run_host_thresholds(fate_flow, job_id):
    """B's split thresholds, from B's own model output (what B keeps to itself)."""
    from fate_client.flow_sdk import FlowClient

    client = FlowClient(ip=fate_flow.flow.host, port=fate_flow.flow.http_port, version="v2")
    response = client.output.query_model(job_id=job_id, role="host", party_id=fate_flow.party_id("B"), task_name="rf_0")
    assert response["code"] == 0, response
    model = next(iter(response["data"].values())) if "thresholds" not in response["data"] else response["data"]
    model = model if "thresholds" in model else next(iter(model.values()))
    return {float(v[1]) for tree in model["thresholds"] for v in tree.values()}


def test_the_forest_benchmark_counts_each_partys_bytes_from_the_audit_trail(paillier_run, fate_flow, repo_root):
    from benchmarks.bench_rf import markdown_table
    from fedids.audit_view import bytes_sent_by_role

    by_role = bytes_sent_by_role(paillier_run.train_job_id)
    assert by_role is not None and set(by_role) == {"guest", "host", "arbiter"}
    root = audit_root(repo_root / ".fate" / "audit")
    for party, role in (("A", "guest"), ("B", "host"), ("C", "arbiter")):
        files = [f for folder in root.glob(f"{paillier_run.train_job_id}_*")
                 for f in (folder / f"{role}_{fate_flow.party_id(party)}").glob("*.pkl")]
        assert sum(by_role[role].values()) == sum(f.stat().st_size for f in files) > 0
    assert {"encrypted_labels", "partition"} <= set(by_role["guest"]) and "host_histogram" in by_role["host"]
    table = markdown_table({"classes": ["normal"], "models": {"federated_rf_paillier": {
        "accuracy": 1.0, "macro_f1": 1.0, "weighted_f1": 1.0, "auc_ovr_macro": 1.0, "train_seconds": 1.0,
        "per_tree_seconds": 0.2, "recall_per_class": {"normal": 1.0}, "sent_bytes": by_role}}})
    guest_row = next(line for line in table.splitlines() if line.startswith("| federated_rf_paillier | guest |"))
    assert f"| {sum(by_role['guest'].values()):,} |" in guest_row
    largest = max(by_role["guest"], key=by_role["guest"].get)
    assert f"{largest} {by_role['guest'][largest]:,}" in guest_row
