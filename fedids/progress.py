"""Progress of a multi-stage run: stage, FATE job id, running component, elapsed, a bar.

fate_client prints a line per second while a job runs ("Job id is ...", "Running task
homo_nn_0, time elapse: 0:00:12") and a dump of the whole job when it ends. Those lines are
read here (stdout redirected while a stage runs) and shown as one status line under a
progress bar of the stages; the dump is dropped. Stage timings and job ids are kept for
run.json.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

_JOB_ID = re.compile(r"Job id is (\d+)")
_TASK = re.compile(r"Running task (\S+), time elapse: ([0-9:]+)")


@dataclass
class StageRecord:
    name: str
    seconds: float = 0.0
    job_ids: List[str] = field(default_factory=list)
    status: str = "running"
    task: str = ""  # the FATE task (component instance) running last, e.g. rf_0


class _FateOutput(io.TextIOBase):
    """A stdout stand-in that turns fate_client's prints into status updates."""

    def __init__(self, stage: StageRecord, update) -> None:
        self.stage = stage
        self.update = update

    def write(self, text: str) -> int:
        for match in _JOB_ID.finditer(text):
            if match.group(1) not in self.stage.job_ids:
                self.stage.job_ids.append(match.group(1))
        for match in _TASK.finditer(text):
            self.stage.task = match.group(1)
        self.update()
        return len(text)


class StageProgress:
    """A rich progress bar over the run's stages; ``with progress.stage(name):`` times one stage."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.records: List[StageRecord] = []
        self.total = total
        self.enabled = enabled
        self._progress = None
        self._bar = None

    def __enter__(self) -> StageProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=Console(file=sys.stderr), transient=False)
            self._progress.__enter__()
            self._bar = self._progress.add_task("stages", total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def say(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message)
        else:
            print(message, file=sys.stderr)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[StageRecord]:
        record = StageRecord(name)
        self.records.append(record)
        started = time.perf_counter()
        sink = _FateOutput(record, lambda: self._describe(record, started))
        self._describe(record, started)
        try:
            with contextlib.redirect_stdout(sink):
                yield record
            record.status = "done"
        except BaseException:
            record.status = "failed"
            raise
        finally:
            record.seconds = time.perf_counter() - started
            if self._progress is not None:
                self._progress.update(self._bar, advance=1 if record.status == "done" else 0)
            jobs = f", FATE jobs {', '.join(record.job_ids)}" if record.job_ids else ""
            status = "[green]done[/]" if record.status == "done" else "[red]FAILED[/]"
            if self._progress is None:
                status = record.status
            self.say(f"{status} {name} ({record.seconds:.0f} s{jobs})")

    def _describe(self, record: StageRecord, started: float) -> None:
        if self._progress is None:
            return
        job = f" | job {record.job_ids[-1]}" if record.job_ids else ""
        component = f" | {record.task}" if record.task else ""
        self._progress.update(self._bar, description=f"{record.name}{job}{component} | "
                                                     f"{time.perf_counter() - started:.0f} s")

    def as_dicts(self, logs_root: Optional[str] = None) -> List[Dict[str, Any]]:
        """The stages for run.json, with each job's log folder."""
        out = []
        for r in self.records:
            entry: Dict[str, Any] = {"name": r.name, "seconds": round(r.seconds, 3), "status": r.status,
                                     "job_ids": list(r.job_ids)}
            if logs_root:
                entry["logs"] = [f"{logs_root}/{job}" for job in r.job_ids]
            out.append(entry)
        return out
