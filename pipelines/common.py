"""What every FedIDS pipeline needs: a FateFlowPipeline with the parties of conf/ set.

Pipelines say who runs what; party ids and the FATE Flow address come from conf/parties.yaml,
so the same pipeline runs on standalone and on a cluster.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, TypeVar

from fedids.config import PartiesConfig, PipelineRoles
from fedids.flow import use_flow

# FATE Flow answers these while a job is still running (standalone's sqlite is busy under load);
# fate_client's job monitor takes them for a failed job and stops watching it.
TRANSIENT_FLOW_ERRORS = ("database is locked", "BusyError", "Connection refused", "Read timed out",
                         "RemoteDisconnected")
FINAL_JOB_STATES = ("success", "failed", "canceled")

T = TypeVar("T")


def role_party_ids(cfg: PartiesConfig, roles: PipelineRoles) -> Dict[str, Any]:
    """FATE party ids per role, in the shape FateFlowPipeline.set_parties takes."""
    ids: Dict[str, Any] = {"guest": cfg.party_id(roles.guest)}
    if roles.hosts:
        hosts: List[str] = [cfg.party_id(h) for h in roles.hosts]
        ids["host"] = hosts[0] if len(hosts) == 1 else hosts
    if roles.arbiter is not None:
        ids["arbiter"] = cfg.party_id(roles.arbiter)
    return ids


def new_pipeline(cfg: PartiesConfig, pipeline: str):
    """A FateFlowPipeline bound to the configured FATE Flow, with the pipeline's parties."""
    use_flow(cfg.flow)
    from fate_client.pipeline import FateFlowPipeline

    return FateFlowPipeline().set_parties(**role_party_ids(cfg, cfg.roles(pipeline)))


def data_parties(cfg: PartiesConfig, roles: PipelineRoles) -> Dict[str, Any]:
    """runtime_parties of a task the data parties run (guest and hosts, if any; not the arbiter)."""
    parties: Dict[str, Any] = {"guest": cfg.party_id(roles.guest)}
    if roles.hosts:
        parties["host"] = [cfg.party_id(h) for h in roles.hosts]
    return parties


def reader_task(name: str, cfg: PartiesConfig, pipeline: str, tables: Dict[str, Any]):
    """A Reader task that reads each data party's table (by party name) in its role of ``pipeline``."""
    from fate_client.pipeline.components.fate import Reader

    roles = cfg.roles(pipeline)
    reader = Reader(name, runtime_parties=data_parties(cfg, roles))
    reader.guest.task_parameters(namespace=tables[roles.guest].namespace, name=tables[roles.guest].name)
    for i, host in enumerate(roles.hosts):
        reader.hosts[i].task_parameters(namespace=tables[host].namespace, name=tables[host].name)
    return reader


def is_transient_flow_error(message: str) -> bool:
    """A FATE Flow answer that says the query failed, not the job."""
    return any(marker in message for marker in TRANSIENT_FLOW_ERRORS)


def wait_for_job(query: Callable[[], Dict[str, Any]], job_id: str, give_up_after_s: float = 900.0,
                 poll_s: float = 5.0, sleep: Callable[[float], None] = time.sleep) -> Dict[str, Any]:
    """Poll ``query`` (FlowClient.job.query for ``job_id``) until the job ends; its final party record.

    Transient answers (see TRANSIENT_FLOW_ERRORS) are retried for ``give_up_after_s`` seconds in a row;
    any other non-zero answer is raised with FATE Flow's message.
    """
    failing_since: Optional[float] = None
    waited = 0.0
    while True:
        response = query()
        # fate_client's FlowClient answers a refused connection itself, as {"code": 100, "retmsg": ...}
        code, message = response.get("code"), str(response.get("message") or response.get("retmsg") or "")
        if code == 0 and response.get("data"):
            failing_since = None
            records = response["data"]
            record = next((r for r in records if r.get("role") == "guest"), records[0])
            if str(record.get("status", "")).lower() in FINAL_JOB_STATES:
                return record
        elif is_transient_flow_error(message) or code is None:
            failing_since = waited if failing_since is None else failing_since
            if waited - failing_since > give_up_after_s:
                raise RuntimeError(f"FATE Flow did not answer about job {job_id} for {give_up_after_s:.0f} s: {message}")
        else:
            raise RuntimeError(f"FATE Flow cannot report job {job_id}: code {code}, {message}")
        sleep(poll_s)
        waited += poll_s


def read_through_busy_flow(read: Callable[[], T], give_up_after_s: float = 300.0, poll_s: float = 2.0,
                           sleep: Callable[[float], None] = time.sleep) -> T:
    """``read()`` of a finished job's outputs (metrics, data) through fate_client, retried while FATE
    Flow answers transiently (busy database, refused connection) for up to ``give_up_after_s``
    seconds; any other error, or the last transient one, is raised as it came."""
    waited = 0.0
    while True:
        try:
            return read()
        except Exception as exc:  # fate_client raises ValueError carrying FATE Flow's answer
            if not is_transient_flow_error(str(exc)) or waited >= give_up_after_s:
                raise
        sleep(poll_s)
        waited += poll_s


class _JobRecorder:
    """A fate_client pipeline callback that keeps the job id of the job it submits."""

    def __init__(self) -> None:
        self.job: Optional[Dict[str, Any]] = None

    def on_fit_begin(self, job_info: Optional[Dict[str, Any]] = None, **_: Any) -> None:
        self.job = job_info

    on_predict_begin = on_fit_begin


def run_job(pipeline, stage: str, give_up_after_s: float = 900.0) -> None:
    """``pipeline.fit()`` (stage ``train``) or ``.predict()`` that outlives a transient FATE Flow error.

    fate_client's monitor raises on the first failed status query and leaves the job running unwatched
    (seen: a 70-epoch homo_nn job abandoned on "database is locked" while CI shared the machine). Here
    the same job is watched to its end; a job that fails raises fate_client's own message (with job_id=).
    """
    recorder = _JobRecorder()
    pipeline.callback_handler.add_callback(recorder)
    try:
        pipeline.fit() if stage == "train" else pipeline.predict()
        return
    except ValueError as exc:
        if recorder.job is None or not is_transient_flow_error(str(exc)):
            raise
        job_id = recorder.job["job_id"]
        print(f"FATE Flow: {exc}; still watching job {job_id}")
    from fate_client.flow_sdk import FlowClient
    from fate_client.pipeline.conf.env_config import FlowConfig
    from fate_client.pipeline.entity.model_info import FateFlowModelInfo

    client = FlowClient(ip=FlowConfig.IP, port=FlowConfig.PORT, version=FlowConfig.VERSION)
    record = wait_for_job(lambda: _safe_query(client, job_id), job_id, give_up_after_s)
    status = str(record.get("status")).lower()
    if status != "success":
        raise ValueError(f"Job is {status}, please check out job_id={job_id} in fate_flow log directory")
    pipeline.model_info = FateFlowModelInfo(job_id=job_id, local_role=record["role"],
                                            local_party_id=str(record["party_id"]),
                                            model_id=recorder.job.get("model_id"),
                                            model_version=recorder.job.get("model_version"))


def _safe_query(client, job_id: str) -> Dict[str, Any]:
    """FlowClient.job.query, with a connection error turned into a transient answer."""
    try:
        return client.job.query(job_id=job_id)
    except Exception as exc:  # the HTTP layer failing is as transient as a busy database
        return {"code": None, "message": f"{type(exc).__name__}: {exc}"}
