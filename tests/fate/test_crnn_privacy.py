"""What the federated CRNN sends, read from the audit trail of one real FATE job.

A and B are homo_nn's clients, C its arbiter (conf/parties.yaml, pipeline homo_crnn). One
FedProx epoch of the tiny profile (one aggregation round) on the small NSL-KDD data set of
tests/fate/conftest.py; every object each party's homo_nn task pushed (FedIDS's runner, FATE's
homo trainer and FATE's secure aggregation, all in that process) is read back from
``FEDIDS_AUDIT_DIR`` (fedids/audit.py) and checked against docs/privacy.md ("Federated CRNN").
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List, Tuple

import numpy as np
import pandas as pd
import pytest

from fedids.audit import audit_root, sent_in_job
from pipelines.homo_crnn import train_homo_crnn

pytestmark = pytest.mark.fate

AGG = "fedavg"  # FATE's FedAVG names its aggregator "fedavg" (FedProx shares its server side)
SETUP, ROUND, LOSS_ROUND = "default.train", "default.train.aggregation-0", "default.train.loss_aggregation-0"
# (message name, federation tag, destination) of everything a client sends in a one-round job;
# "peer" = the other client
CLIENT_SENDS = {
    ("agg_type", SETUP, "arbiter"),
    (f"local_weight_{AGG}_0", SETUP, "arbiter"),
    (f"{AGG}_model_dh_pubkey", SETUP, "peer"),
    (f"{AGG}_loss_dh_pubkey", SETUP, "peer"),
    ("fed_para_0", SETUP, "arbiter"),
    (f"{AGG}_model_mixed_client_values", ROUND, "arbiter"),
    (f"{AGG}_loss_mixed_client_values", LOSS_ROUND, "arbiter"),
}
# (message name, federation tag) of everything the arbiter sends, to each client
ARBITER_SENDS = {(f"agg_weight_{AGG}_0", SETUP), ("agg_loss_0", SETUP), (f"{AGG}_model_aggregated_values", ROUND),
                 (f"{AGG}_loss_aggregated_values", LOSS_ROUND)}
FED_PARA_KEYS = {"num_train_epochs", "max_steps", "num_update_steps_per_epoch", "epochs_trained",
                 "steps_trained_in_current_epoch", "max_aggregation", "aggregate_freq", "aggregation_strategy",
                 "can_aggregate_loss"}
# The fractional parts of a masked upload lie on a grid of 2^-33 in (-1.2, 1.2); a raw value that is
# a float32 (grid 2^-24 in [0.5, 1)) lies on it too, so one of ~50,000 fractions equals one of ~1,500
# raw values by chance in about one run of a hundred (seen once in CI; none in 70 rounds x 7 million
# values of a paper-profile job). A leaked row or column would put tens to thousands there.
CHANCE_HITS = 2
MASK_RANGE = 1e7  # fate_utils' RandomMix draws each pairwise mask uniformly from (-1e7, 1e7)


@pytest.fixture(scope="module")
def trail(nsl_horizontal, fate_flow, one_epoch, repo_root):
    run = train_homo_crnn(fate_flow, nsl_horizontal, one_epoch, predict_test=False)
    roles = fate_flow.roles("homo_crnn")
    assert roles.hosts == ["B"] and (roles.guest, roles.arbiter) == ("A", "C")
    party = {"A": ("guest", fate_flow.party_id("A")), "B": ("host", fate_flow.party_id("B")),
             "C": ("arbiter", fate_flow.party_id("C"))}
    root = audit_root(repo_root / ".fate" / "audit")
    sent = {name: sent_in_job(root, run.train_job_id, role, pid) for name, (role, pid) in party.items()}
    for name, messages in sent.items():
        assert messages, (f"no audit trail of {name} for job {run.train_job_id} under {root}: does FATE Flow run "
                          "with FEDIDS_AUDIT_DIR (./standalone_deploy.sh sets it)?")
    return SimpleNamespace(run=run, sent=sent, party=party, manifest=run_manifest(nsl_horizontal), root=root)


def run_manifest(data_dir) -> Dict[str, Any]:
    return json.loads((data_dir / "manifest.json").read_text())


def destination(trail, sender: str, to: Tuple[str, str]) -> str:
    if to == trail.party["C"]:
        return "arbiter"
    peer = {"A": "B", "B": "A"}.get(sender)
    if peer and to == trail.party[peer]:
        return "peer"
    return f"{to[0]}_{to[1]}"


def named(messages: List[Dict[str, Any]], name: str) -> List[Dict[str, Any]]:
    return [m for m in messages if m["name"] == name]


def numbers_in(value: Any) -> Iterator[np.ndarray]:
    """Every array and number inside a message; fails on a type it cannot look into."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from numbers_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from numbers_in(v)
    elif isinstance(value, (bool, int, float, np.number)):
        yield np.asarray(value)
    elif not isinstance(value, (str, bytes, type(None))):
        raise AssertionError(f"a message carries a {type(value).__name__} the audit test cannot inspect")


def masked_upload(message: Dict[str, Any]) -> Tuple[List[np.ndarray], List[np.ndarray], float]:
    """(fractional parts, integer parts, weight) of one client's masked upload."""
    pairs, weight = message["value"]
    return [np.asarray(d, float) for d, _ in pairs], [np.asarray(i, float) for _, i in pairs], weight


def train_rows(trail, client: str) -> int:
    return int(trail.manifest["parties"][client]["splits"]["train"]["rows"])


# ---------------------------------------------------------------------------------------------
def test_clients_send_only_these_kinds_to_the_arbiter_and_key_agreement_to_each_other(trail):
    for client in ("A", "B"):
        messages = trail.sent[client]
        assert all(len(m["to"]) == 1 for m in messages)
        kinds = {(m["name"], m["tag"], destination(trail, client, m["to"][0])) for m in messages}
        assert kinds == CLIENT_SENDS, f"{client} sent {sorted(kinds ^ CLIENT_SENDS)} unexpectedly (or not)"
        assert len(messages) == len(CLIENT_SENDS)  # each kind once: one aggregation round
        # the only client-to-client traffic: one X25519 public key per aggregator (model, loss)
        keys = [m["value"] for m in messages if destination(trail, client, m["to"][0]) == "peer"]
        assert len(keys) == 2 and all(isinstance(k, bytes) and len(k) == 32 for k in keys) and keys[0] != keys[1]
    a_keys = {m["value"] for m in trail.sent["A"] if m["name"].endswith("dh_pubkey")}
    b_keys = {m["value"] for m in trail.sent["B"] if m["name"].endswith("dh_pubkey")}
    assert not a_keys & b_keys
    # the arbiter answers the clients only, each client once with each of these kinds
    clients = [trail.party["A"], trail.party["B"]]
    for to in clients:
        assert sorted((m["name"], m["tag"]) for m in trail.sent["C"] if m["to"] == [to]) == sorted(ARBITER_SENDS)
    assert len(trail.sent["C"]) == 2 * len(ARBITER_SENDS)


def test_no_message_carries_a_clients_rows_or_labels(trail, nsl_horizontal):
    for client in ("A", "B"):
        frame = pd.read_csv(nsl_horizontal / trail.manifest["parties"][client]["splits"]["train"]["file"])
        labels = frame["label"].to_numpy()
        features = frame.drop(columns=["id", "label"]).to_numpy(float)
        n_rows, n_feat = features.shape
        # raw values a leak would carry (as the CSV's float64 or the model input's float32); integers
        # (0, 1, category codes) aside, which a mask's integer part may hit by chance
        raw = np.unique(np.concatenate([features.ravel(), features.astype(np.float32).astype(float).ravel()]))
        raw = raw[raw != np.trunc(raw)]
        assert raw.size > 100
        checked = 0
        for message in trail.sent[client]:
            for array in numbers_in(message["value"]):
                assert not (array.ndim and array.shape[0] == n_rows and array.size in (n_rows, n_rows * n_feat)), \
                    f"a per-row array of shape {array.shape} in {client}'s {message['name']}"
                if array.size == n_rows:
                    assert not np.array_equal(np.sort(array.ravel()), np.sort(labels)), f"labels in {message['name']}"
                if array.size > 1:  # vectors; every scalar a client sends is pinned in the last test
                    hits = np.isin(array.astype(float).ravel(), raw)
                    assert hits.sum() <= CHANCE_HITS, f"{hits.sum()} raw feature values of {client} in {message['name']}"
                    checked += array.size
        # what a client uploads is the size of the model (fraction and integer part), not of its data
        assert checked == 2 * trail.run.parameter_count


def test_the_arbiter_receives_masked_models_whose_masks_cancel_in_the_sum(trail):
    decimal, integer, weight = {}, {}, {}
    for client in ("A", "B"):
        [upload] = named(trail.sent[client], f"{AGG}_model_mixed_client_values")
        decimal[client], integer[client], weight[client] = masked_upload(upload)
    aggregated = named(trail.sent["C"], f"{AGG}_model_aggregated_values")
    assert sorted(m["to"][0] for m in aggregated) == sorted([trail.party["A"], trail.party["B"]])
    model = [np.asarray(p, float) for p in aggregated[0]["value"]]
    for a, b in zip(model, aggregated[1]["value"]):  # both clients get the same global model back
        np.testing.assert_array_equal(a, b)
    assert [p.shape for p in model] == [p.shape for p in decimal["A"]] == [p.shape for p in integer["B"]]
    assert sum(p.size for p in model) == trail.run.parameter_count
    assert max(np.abs(p).max() for p in model) < 10.0  # a model's weights

    # the masks cancel: FATE's MixAggregate sums fractions and integer parts apart, then divides
    for i, p in enumerate(model):
        total = (decimal["A"][i] + decimal["B"][i]) + (integer["A"][i] + integer["B"][i])
        np.testing.assert_allclose(total / (weight["A"] + weight["B"]), p, rtol=0, atol=1e-12)

    # one client's upload is not its model: pure mask in the integer part, magnitudes ~ 1e6
    for client in ("A", "B"):
        ints = np.concatenate([p.ravel() for p in integer[client]])
        fracs = np.concatenate([p.ravel() for p in decimal[client]])
        scaled = weight[client] * np.concatenate([p.ravel() for p in model])
        assert np.array_equal(ints, np.trunc(ints)) and np.abs(ints).max() < MASK_RANGE
        assert np.median(np.abs(ints + fracs - scaled)) > 1e6
        assert np.abs(fracs).max() < 2.0
        # known limit (docs/privacy.md): the fractional part is w*theta + frac(mask), and frac(mask)
        # has the sign of the integer part C sees: C knows each coordinate of w*theta to within a
        # unit interval on a known side. One epoch moves theta by ~lr*steps, so against the global
        # model the shift still lies in (0, 1) times that sign.
        shift = np.sign(ints) * (fracs - scaled)
        assert (shift > -0.05).all() and (shift < 1.05).all()
        assert 0.4 < shift.mean() < 0.6


def test_besides_the_masked_model_and_loss_the_arbiter_learns_row_counts_and_the_schedule(trail):
    n = {client: train_rows(trail, client) for client in ("A", "B")}
    share = {client: n[client] / (n["A"] + n["B"]) for client in n}
    batch = trail.run.params["batch_size"]
    losses = {}
    for client, party in (("A", trail.party["A"]), ("B", trail.party["B"])):
        sent = trail.sent[client]
        assert [m["value"] for m in named(sent, "agg_type")] == ["secure_aggregate"]
        # the sample count goes in clear (FATE's weighted_mean): the client's number of training rows
        assert [m["value"] for m in named(sent, f"local_weight_{AGG}_0")] == [n[client]]
        # C answers each client its share n_i / sum(n), which the client then sends with every upload
        [answer] = [m for m in named(trail.sent["C"], f"agg_weight_{AGG}_0") if m["to"] == [party]]
        assert answer["value"] == pytest.approx(share[client], abs=1e-12)
        assert masked_upload(named(sent, f"{AGG}_model_mixed_client_values")[0])[2] == answer["value"]
        # the training schedule, which restates the row count in batches
        [para] = named(sent, "fed_para_0")
        assert set(para["value"]) == FED_PARA_KEYS
        assert para["value"]["num_update_steps_per_epoch"] == math.ceil(n[client] / batch)
        assert (para["value"]["max_aggregation"], para["value"]["num_train_epochs"]) == (1, 1)
        # the epoch's training loss, masked like the model, with the same weight
        fracs, ints, weight = masked_upload(named(sent, f"{AGG}_loss_mixed_client_values")[0])
        assert len(fracs) == 1 and fracs[0].size == 1 and weight == answer["value"]
        assert abs(float(ints[0])) > 1e3  # masked
        losses[client] = (float(fracs[0]), float(ints[0]), weight)
    assert all(m["value"] is True for m in named(trail.sent["C"], "agg_loss_0"))
    # C learns the weighted mean loss, and sends it back to both clients
    mean_loss = ((losses["A"][0] + losses["B"][0]) + (losses["A"][1] + losses["B"][1])) / (
        losses["A"][2] + losses["B"][2])
    for message in named(trail.sent["C"], f"{AGG}_loss_aggregated_values"):
        assert float(np.asarray(message["value"][0])) == pytest.approx(mean_loss, abs=1e-12)
    assert 0.0 < mean_loss < 10.0


def test_fedids_audit_show_summarises_this_jobs_trail_party_by_party(trail, capsys):
    """What an analyst sees with `fedids audit show JOB`: every name each party sent, how often, to whom."""
    from fedids.audit_view import summarize_job
    from fedids.cli import main

    groups = summarize_job(trail.root, trail.run.train_job_id)
    for name, (role, pid) in trail.party.items():
        counts: Dict[str, int] = {}
        for message in trail.sent[name]:
            counts[message["name"]] = counts.get(message["name"], 0) + 1
        shown = {g.name: g.count for g in groups if g.party == f"{role}_{pid}"}
        assert shown == counts
    masked = next(g for g in groups if g.party == "guest_{}".format(trail.party["A"][1])
                  and g.name == f"{AGG}_model_mixed_client_values")
    assert masked.to == [("arbiter", str(trail.party["C"][1]))] and "ndarray float64" in masked.value
    assert main(["audit", "--root", str(trail.root), "show", trail.run.train_job_id]) == 0
    assert f"{AGG}_model_mixed_client_values" in capsys.readouterr().out
