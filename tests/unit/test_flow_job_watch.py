"""Watching a FATE job, and reading its outputs, through transient FATE Flow errors (pipelines/common.py),
with FATE Flow's answers replayed in order (the real path runs in every FATE-backed test)."""

from __future__ import annotations

import pytest

from pipelines.common import is_transient_flow_error, read_through_busy_flow, wait_for_job

BUSY = {"code": 6000, "message": "BusyError('BusyError: database is locked')"}


def _job(status: str) -> dict:
    return {"code": 0, "message": "success",
            "data": [{"role": "arbiter", "party_id": 10001, "status": status},
                     {"role": "guest", "party_id": 9999, "status": status}]}


def _replay(*answers):
    answers = list(answers)
    return lambda: answers.pop(0)


def test_a_busy_database_is_waited_out_and_the_guests_final_record_returned():
    slept = []
    record = wait_for_job(_replay(BUSY, BUSY, _job("running"), BUSY, _job("success")), "J1", sleep=slept.append,
                          poll_s=5)
    assert record == {"role": "guest", "party_id": 9999, "status": "success"}
    assert slept == [5, 5, 5, 5]


def test_flow_out_of_reach_as_fate_clients_own_answer_is_waited_out():
    refused = {"code": 100, "retmsg": "Connection refused, Please check if the fate flow service is started"}
    assert wait_for_job(_replay(refused, refused, _job("success")), "J1b", sleep=lambda s: None)["status"] == "success"


def test_a_failed_job_is_returned_as_failed_for_the_caller_to_raise():
    assert wait_for_job(_replay(_job("running"), _job("failed")), "J2", sleep=lambda s: None)["status"] == "failed"


def test_flow_silent_for_longer_than_the_limit_gives_up_naming_the_job():
    with pytest.raises(RuntimeError, match="did not answer about job J3 for 20 s: BusyError"):
        wait_for_job(lambda: BUSY, "J3", give_up_after_s=20, poll_s=5, sleep=lambda s: None)


def test_a_non_transient_flow_answer_is_raised_at_once_with_its_message():
    with pytest.raises(RuntimeError, match="cannot report job J4: code 1000, no job J4"):
        wait_for_job(_replay({"code": 1000, "message": "no job J4"}), "J4", sleep=lambda s: None)


def test_transient_errors_are_told_apart_from_failed_jobs():
    assert is_transient_flow_error(f"query job is failed, response={BUSY}")
    assert is_transient_flow_error("ConnectionError: ('Connection refused')")
    assert not is_transient_flow_error("Job is failed, please check out job_id=J5 in fate_flow log directory")


def _reads(*outcomes):
    """A fate_client read that raises or returns each outcome in turn."""
    outcomes = list(outcomes)

    def read():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    return read


def test_a_read_of_job_outputs_is_retried_while_flow_is_busy():
    slept = []
    busy = ValueError(f"query task=J6, role=guest, party_id=9999's output metrics is failed, response={BUSY}")
    assert read_through_busy_flow(_reads(busy, busy, [{"name": "summary"}]), sleep=slept.append,
                                  poll_s=2) == [{"name": "summary"}]
    assert slept == [2, 2]


def test_a_read_that_fails_for_another_reason_raises_at_once():
    with pytest.raises(KeyError, match="train_output_data"):
        read_through_busy_flow(_reads(KeyError("train_output_data")), sleep=lambda s: pytest.fail("slept"))


def test_a_read_busy_for_longer_than_the_limit_raises_flows_answer():
    busy = ValueError(f"output data is failed, response={BUSY}")
    with pytest.raises(ValueError, match="database is locked"):
        read_through_busy_flow(lambda: (_ for _ in ()).throw(busy), give_up_after_s=6, poll_s=2, sleep=lambda s: None)
