"""`fedids audit` (fedids/audit_view.py): listing, showing and pruning trails written by the real
recorder (fedids/audit.py) through a FATE-like push; the same on a real FATE job's trail is checked
in tests/fate/test_crnn_privacy.py."""

from __future__ import annotations

import numpy as np
import pytest

from fedids import audit
from fedids.audit_view import AuditError, describe_value, largest_messages, list_trails, prune_trails, summarize_job
from fedids.cli import main
from tests.unit.audit_fakes import send

JOBS = ("202612040101010000001", "202612050202020000002", "202612050303030000003")


def record_job(process, job_id: str, rounds: int = 2) -> None:
    """One homo_nn-like task of ``job_id`` at guest 9999: a setting, a public key, masked model rounds."""
    fed = process.federation
    fed.session_id = f"{job_id}_homo_nn_0_0"
    audit.start_audit(process.ctx)
    send(fed, "agg_type", "secure_aggregate", tag="homo_nn_0.train")
    send(fed, "fedavg_model_dh_pubkey", b"k" * 32, to=[("host", "10000")], tag="homo_nn_0.train")
    for _ in range(rounds):
        send(fed, "fedavg_model_mixed_client_values", ([np.zeros((64, 3)), np.zeros(64)], 1.0))


@pytest.fixture
def three_jobs(clean_process):
    for job in JOBS:
        record_job(clean_process, job)
    return clean_process.root


def test_list_gives_every_job_oldest_first_with_its_parties_messages_and_bytes(three_jobs):
    trails = list_trails(three_jobs)
    assert [t.job_id for t in trails] == list(JOBS)
    for trail in trails:
        assert trail.parties == ["guest_9999"] and trail.messages == 4
        assert trail.bytes == sum(f.stat().st_size for f in trail.folders[0].glob("*/*.pkl")) > 2 * 64 * 4 * 8


def test_show_groups_what_a_party_sent_by_name_with_destination_count_and_kind(three_jobs):
    groups = {g.name: g for g in summarize_job(three_jobs, JOBS[1])}
    assert list(groups) == ["agg_type", "fedavg_model_dh_pubkey", "fedavg_model_mixed_client_values"]
    model = groups["fedavg_model_mixed_client_values"]
    assert (model.party, model.task, model.count, model.to) == ("guest_9999", "homo_nn_0_0", 2, [("arbiter", "10001")])
    assert model.value == "([ndarray float64 (64, 3), ndarray float64 (64,)], float)"
    assert groups["fedavg_model_dh_pubkey"].to == [("host", "10000")]
    assert groups["fedavg_model_dh_pubkey"].value == "bytes of 32"
    assert groups["agg_type"].value == "str 'secure_aggregate'"


def test_describe_value_says_kind_dtype_and_shape_but_no_numbers():
    assert describe_value(np.arange(6, dtype=np.int32).reshape(2, 3)) == "ndarray int32 (2, 3)"
    assert describe_value([np.zeros(4)] * 3) == "list[3] of ndarray float64 (4,)"
    assert describe_value({"cells": b"xyz", "n": 7}) == "{cells: bytes of 3, n: int}"
    assert describe_value(0.123456) == "float"
    assert describe_value("x" * 40) == "str of 40 characters"


def test_prune_keeps_the_newest_jobs_and_a_dry_run_removes_nothing(three_jobs):
    would = prune_trails(three_jobs, keep=1, dry_run=True)
    assert [t.job_id for t in would] == list(JOBS[:2])
    assert [t.job_id for t in list_trails(three_jobs)] == list(JOBS)
    removed = prune_trails(three_jobs, keep=1)
    assert [t.job_id for t in removed] == list(JOBS[:2])
    assert [t.job_id for t in list_trails(three_jobs)] == [JOBS[2]]


def test_show_of_an_unknown_job_names_the_folder_and_the_list_command(three_jobs):
    with pytest.raises(AuditError, match="no audit trail of job 1234 under .*fedids audit list"):
        summarize_job(three_jobs, "1234")


def test_audit_command_lists_shows_and_prunes(three_jobs, capsys):
    assert main(["audit", "--root", str(three_jobs), "list"]) == 0
    listed = capsys.readouterr().out
    assert all(job in listed for job in JOBS)
    assert main(["audit", "--root", str(three_jobs), "show", JOBS[0]]) == 0
    out = capsys.readouterr().out
    assert "guest_9999 in task homo_nn_0_0:" in out and "to host 10000" in out and "x2" in out
    assert main(["audit", "--root", str(three_jobs), "prune", "--keep", "2"]) == 0
    assert "removed the trails of 1 jobs" in capsys.readouterr().out
    assert main(["audit", "--root", str(three_jobs / "nowhere"), "list"]) == 2
    assert "no audit trail at" in capsys.readouterr().err


def test_largest_messages_are_the_heaviest_names_first_and_skip_non_numbers():
    sent = {"partition": 300, "encrypted_labels": 9000, "tree_plan": 500, "note": "n/a", "winners": 10}
    assert largest_messages(sent) == [("encrypted_labels", 9000), ("tree_plan", 500), ("partition", 300)]
    assert largest_messages({}) == []
