"""Upload party tables to FATE Flow, all or nothing, and check their row counts there.

FATE Flow's upload is one job per table (about 8-15 s each in standalone). A prepared data
set is several tables; a half-uploaded set is worse than none, because a pipeline would
train on a stale table for one party and a fresh one for another. So: tables that already
exist with the expected row count are left alone (re-running is a no-op), and if any upload
fails every table this call created is deleted again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from fedids.config import FlowAddress

TERMINAL_JOB_STATES = ("success", "failed", "canceled", "timeout")


class UploadError(RuntimeError):
    """An upload to FATE Flow failed; the message names the table, the file and the job."""


@dataclass(frozen=True)
class TableRef:
    """A table in FATE's storage."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class TableUpload:
    """One CSV to upload: its file, where it goes, FATE's meta, and the rows it must have."""

    file: str
    table: TableRef
    meta: Dict[str, Any]
    expected_rows: int


@dataclass
class UploadReport:
    """What an upload call did, table by table."""

    uploaded: List[TableRef] = field(default_factory=list)
    unchanged: List[TableRef] = field(default_factory=list)
    job_ids: Dict[str, str] = field(default_factory=dict)


def table_meta(id_column: str, label_column: Optional[str], weight_column: Optional[str] = None) -> Dict[str, Any]:
    """FATE's dataframe meta for a CSV with a header: match id, label and sample weight only when given."""
    meta: Dict[str, Any] = {"delimiter": ",", "dtype": "float64", "match_id_name": id_column}
    if label_column is not None:
        meta.update({"label_name": label_column, "label_type": "int64"})
    if weight_column is not None:
        meta.update({"weight_name": weight_column, "weight_type": "float64"})
    return meta


class FlowTables:
    """The table operations FedIDS needs from FATE Flow's client API."""

    def __init__(self, flow: FlowAddress, job_timeout_s: float = 1800.0) -> None:
        from fate_client.flow_sdk import FlowClient

        self._client = FlowClient(ip=flow.host, port=flow.http_port, version="v2")
        self._flow = flow
        self._job_timeout_s = job_timeout_s

    def count(self, table: TableRef) -> Optional[int]:
        """Rows of the table in FATE, or None when FATE has no such table."""
        response = self._client.table.query(namespace=table.namespace, name=table.name)
        if response.get("code") != 0:
            return None
        return int(response["data"].get("count", 0))

    def delete(self, table: TableRef) -> None:
        self._client.table.delete(namespace=table.namespace, name=table.name)

    def submit_csv(self, upload: TableUpload) -> str:
        """Submit the upload job of one CSV (with header) without waiting; return the job id."""
        response = self._client.data.upload_file(
            file=upload.file,
            head=True,
            partitions=4,
            meta=upload.meta,
            extend_sid=True,
            namespace=upload.table.namespace,
            name=upload.table.name,
        )
        if response.get("code") != 0 or "job_id" not in response:
            raise UploadError(
                f"FATE Flow at {self._flow.url} refused the upload of {upload.file} to {upload.table}: "
                f"{response.get('message', response)}"
            )
        return str(response["job_id"])

    def expect_success(self, upload: TableUpload, job_id: str) -> None:
        """Wait for an upload job; raise UploadError naming the file, table and job unless it succeeded."""
        status = self.wait_for_job(job_id)
        if status != "success":
            raise UploadError(
                f"upload of {upload.file} to {upload.table} ended with status '{status}' (FATE job {job_id}); "
                f"see FATE Flow's logs of job {job_id} (standalone: .fate/flow/logs/{job_id}/)"
            )

    def wait_for_job(self, job_id: str, poll_s: float = 0.5) -> str:
        """Poll FATE Flow until the job ends; return its final status."""
        deadline = time.monotonic() + self._job_timeout_s
        while time.monotonic() < deadline:
            response = self._client.job.query(job_id=job_id)
            jobs = response.get("data") or []
            if jobs and jobs[0].get("status") in TERMINAL_JOB_STATES:
                return str(jobs[0]["status"])
            time.sleep(poll_s)
        return "timeout"


def upload_tables(
    tables: FlowTables,
    uploads: List[TableUpload],
    force: bool = False,
    on_progress: Optional[Callable[[str], None]] = None,
) -> UploadReport:
    """Upload every table or none; leave tables that already hold the expected rows alone.

    With ``force`` existing tables are replaced. Without it, a table that exists with another
    row count is an error (it belongs to another preparation of the data).
    """
    say = on_progress or (lambda message: None)
    report = UploadReport()
    todo: List[TableUpload] = []
    for upload in uploads:
        existing = tables.count(upload.table)
        if existing is None or force:
            todo.append(upload)
        elif existing == upload.expected_rows:
            report.unchanged.append(upload.table)
            say(f"{upload.table}: already in FATE with {existing} rows, left unchanged")
        else:
            raise UploadError(
                f"table {upload.table} already exists in FATE with {existing} rows, but {upload.file} has "
                f"{upload.expected_rows}; it was made from other data. Re-run with --force to replace it."
            )
    created: List[TableRef] = []
    submitted: List[Tuple[TableUpload, str]] = []
    try:
        # every job is submitted first, then awaited: FATE Flow runs them side by side, which
        # hides its per-job start-up (most of an upload's time for tables of this size)
        for upload in todo:
            if tables.count(upload.table) is not None:
                say(f"{upload.table}: replacing (--force)")
                tables.delete(upload.table)
            say(f"{upload.table}: uploading {upload.file}")
            created.append(upload.table)
            submitted.append((upload, tables.submit_csv(upload)))
        for upload, job_id in submitted:
            tables.expect_success(upload, job_id)
            rows = tables.count(upload.table)
            if rows != upload.expected_rows:
                raise UploadError(
                    f"table {upload.table} holds {rows} rows in FATE after upload, but {upload.file} has "
                    f"{upload.expected_rows} (FATE job {job_id}); check the file for malformed lines"
                )
            report.uploaded.append(upload.table)
            report.job_ids[str(upload.table)] = job_id
            say(f"{upload.table}: {rows} rows in FATE (job {job_id})")
    except BaseException:
        for _, job_id in submitted:  # let running uploads end before their tables are removed
            try:
                tables.wait_for_job(job_id)
            except Exception:  # noqa: BLE001 - best effort; the original error matters
                pass
        for table in created:
            try:
                tables.delete(table)
            except Exception:  # noqa: BLE001 - best effort clean-up; the original error matters
                pass
        raise
    return report
