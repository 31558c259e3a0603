"""A FATE job watched to its end while FATE Flow stops answering the client (pipelines/common.py
``run_job``).

fate_client's job monitor takes any failed status query for a failed job and stops watching a job
that goes on running (seen: a 70-epoch paper-profile homo_nn job abandoned on "BusyError: database
is locked"). Here the test's own fate_client talks to a real FATE Flow through a TCP forwarder that
it closes for a while once a one-epoch federated CRNN job runs: the monitor's queries are refused,
the FATE job (whose tasks talk to FATE Flow directly) runs on, and ``run_job`` must keep watching it
and return its results.

Why not lock FATE Flow's sqlite instead: that was tried (a 7 s EXCLUSIVE lock; peewee's APSW driver
waits 5 s). The monitor was resumed as intended, but FATE's own task workers met the lock too
("Request uri .../v2/worker/data/tracking/query failed: BusyError") and FATE failed the job, which
``run_job`` then reported as failed with its job id. FATE Flow standalone does not survive a
database locked for longer than 5 s; a FATE cluster keeps its records in MySQL.
"""

from __future__ import annotations

import dataclasses
import select
import socket
import socketserver
import threading
import time
from typing import List, Optional

import pytest

from fedids.config import FlowAddress
from pipelines.homo_crnn import train_homo_crnn

pytestmark = pytest.mark.fate

REFUSE_FOR_S = 15.0   # three of run_job's 5 s polls, and many of the monitor's 1 s ones


class _Forward(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        upstream = socket.create_connection(self.server.target, timeout=30)  # type: ignore[attr-defined]
        self.server.live.append(self.request)  # type: ignore[attr-defined]
        self.server.live.append(upstream)  # type: ignore[attr-defined]
        ends = [self.request, upstream]
        try:
            while True:
                readable, _, _ = select.select(ends, [], [], 1.0)
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.request else self.request).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()


class ClosableFlowForwarder:
    """A local TCP port that forwards to FATE Flow, and can refuse every connection for a while."""

    def __init__(self, target: FlowAddress) -> None:
        self.target = (target.host, target.http_port)
        self.port = 0
        self.server: Optional[socketserver.ThreadingTCPServer] = None

    def open(self) -> None:
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), _Forward)
        server.daemon_threads = True
        server.target, server.live = self.target, []  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.server = server

    def close(self) -> None:
        """Stop listening and cut every open connection: the client's next request is refused."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        for end in self.server.live:  # type: ignore[attr-defined]
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()
        self.server = None


def _running_job_ids(flow_client) -> set:
    answer = flow_client.job.query(status="running")
    return {r["job_id"] for r in answer.get("data") or []} if answer.get("code") == 0 else set()


def refuse_while_a_job_runs(forwarder: ClosableFlowForwarder, flow_client, before: set, stop: threading.Event,
                            outages: List[float]) -> None:
    """Once a job not in ``before`` runs (asked of FATE Flow directly), close the forwarder for
    REFUSE_FOR_S, then open it again on the same port."""
    while not stop.is_set() and not (_running_job_ids(flow_client) - before):
        time.sleep(0.5)
    if stop.is_set():
        return
    time.sleep(2.0)  # the monitor is watching by now
    forwarder.close()
    outages.append(time.time())
    stop.wait(REFUSE_FOR_S)
    forwarder.open()


def test_a_job_is_watched_to_its_end_while_flow_refuses_the_client(nsl_horizontal, fate_flow, one_epoch, capsys):
    from fate_client.flow_sdk import FlowClient

    direct = FlowClient(ip=fate_flow.flow.host, port=fate_flow.flow.http_port, version="v2")
    forwarder = ClosableFlowForwarder(fate_flow.flow)
    forwarder.open()
    through_forwarder = dataclasses.replace(fate_flow, flow=FlowAddress(fate_flow.flow.host, forwarder.port))
    stop, outages = threading.Event(), []
    refuser = threading.Thread(target=refuse_while_a_job_runs,
                               args=(forwarder, direct, _running_job_ids(direct), stop, outages), daemon=True)
    refuser.start()
    try:
        run = train_homo_crnn(through_forwarder, nsl_horizontal, one_epoch, predict_test=False)
    finally:
        stop.set()
        refuser.join(timeout=60)
        forwarder.close()

    out = capsys.readouterr().out
    assert outages, "FATE Flow was never out of the client's reach while the job ran"
    assert "still watching job" in out and any(m in out for m in ("Connection refused", "RemoteDisconnected")), out[-2000:]
    assert [p["epoch"] for p in run.curve] == [1]          # the job's results, read after it was resumed
    for client_name in ("A", "B"):
        assert len(run.train_predictions[client_name]) > 0
    final = direct.job.query(job_id=run.train_job_id)["data"]
    assert {r["status"] for r in final} == {"success"}
