"""The audit recorder (fedids/audit.py) and the byte counter (crnn_component/traffic.py) both
wrap FATE's ``_parties._push`` in a CRNN task process: whichever is installed first, each must
still see every message, and starting the audit twice must not record anything twice."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from fate.arch.context import _parties

from crnn_component import traffic
from fedids import audit
from tests.unit.audit_fakes import fate_like_push, send


@pytest.mark.parametrize("order", ["counter_then_audit", "audit_then_counter"])
def test_recorder_and_byte_counter_compose_in_either_order(clean_process, order):
    fed = clean_process.federation
    if order == "counter_then_audit":  # CRNNRunner: __init__ counts, set_context audits
        counter = traffic.install()
        folder = audit.start_audit(clean_process.ctx)
    else:
        folder = audit.start_audit(clean_process.ctx)
        counter = traffic.install()
    assert folder == clean_process.root / fed.session_id / "guest_9999"
    chain, push = [], _parties._push
    while push is not None:
        chain.append(push)
        push = getattr(push, "__wrapped__", None)
    assert len(chain) == 3 and chain[-1] is fate_like_push  # both wrappers, one each, over FATE's push

    payloads = [np.arange(5.0), b"\x01" * 32, {"max_aggregation": 1}]
    send(fed, "fedavg_model_mixed_client_values", payloads[0])
    send(fed, "fedavg_model_dh_pubkey", payloads[1], to=[("host", "10000")], tag="homo_nn_0.train")
    send(fed, "fed_para_0", payloads[2])

    records = list(audit.read_audit(folder))
    assert [r["name"] for r in records] == ["fedavg_model_mixed_client_values", "fedavg_model_dh_pubkey", "fed_para_0"]
    assert records[1]["to"] == [("host", "10000")] and records[1]["tag"] == "homo_nn_0.train"
    np.testing.assert_array_equal(records[0]["value"], payloads[0])
    assert records[1]["value"] == payloads[1] and records[2]["value"] == payloads[2]
    assert counter.sent_messages == 3 == len(fed.delivered)
    assert counter.sent_bytes == sum(len(v) for *_, v in fed.delivered)
    assert [pickle.loads(v) for *_, v in fed.delivered][1:] == payloads[1:]


def test_starting_twice_records_once_and_continues_the_sequence(clean_process):
    folder = audit.start_audit(clean_process.ctx)
    send(clean_process.federation, "a", 1)
    assert audit.start_audit(clean_process.ctx) == folder
    send(clean_process.federation, "b", 2)
    assert sorted(p.name for p in folder.iterdir()) == ["000000_a.pkl", "000001_b.pkl"]
    assert len(clean_process.federation.delivered) == 2
    job_id = clean_process.federation.session_id.split("_")[0]
    assert [m["value"] for m in audit.sent_in_job(clean_process.root, job_id, "guest", "9999")] == [1, 2]
    assert audit.sent_in_job(clean_process.root, job_id, "host", "9999") == []


def test_off_records_nothing_and_leaves_push_alone(clean_process, monkeypatch):
    monkeypatch.setenv(audit.AUDIT_ENV, "off")
    assert audit.start_audit(clean_process.ctx) is None
    assert _parties._push is fate_like_push
    assert audit.audit_root(clean_process.root / "default") == clean_process.root / "default"
