"""Reading and pruning the audit trail (fedids/audit.py) for an operator: `fedids audit`.

The trail answers "what exactly did our FATE site send?"; this module lets a security analyst ask
it without writing code: which jobs have a trail, what each party sent in a job (message names,
destinations, how many, how many bytes, what kind of value), and removing old trails, which are
never removed otherwise (a 70-epoch CRNN job leaves about 170 MB, the `paper` forest about 110 MB).

Layout read here (written by fedids/audit.py): ``ROOT/<job_id>_<task>_<i>_<j>/<role>_<party_id>/
<seq>_<name>.pkl``, each file a pickled ``{name, tag, to, value}``. Only the first file of each
message name is unpickled (to say where it went and what it holds); counts and bytes come from
the file listing, so a large trail is summarised in seconds. The files are pickles written by this
site's own FATE tasks: read only trails of your own site.
"""

from __future__ import annotations

import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np


class AuditError(Exception):
    """The trail asked for is not there; the message names the folder looked in."""


@dataclass(frozen=True)
class JobTrail:
    """One FATE job's trail at this site."""

    job_id: str
    folders: List[Path]      # one per task session of the job
    parties: List[str]       # role_partyid folders that sent something
    messages: int
    bytes: int


@dataclass(frozen=True)
class SentMessages:
    """Every message one party sent under one name in one task of a job."""

    task: str
    party: str
    name: str
    to: List[Tuple[str, str]]
    tag: str
    count: int
    bytes: int
    value: str               # what the first one holds, e.g. "ndarray float64 (50309,)"


def _job_id(folder: Path) -> str:
    return folder.name.split("_", 1)[0]


def _message_name(path: Path) -> str:
    return path.stem.split("_", 1)[1] if "_" in path.stem else path.stem


def _job_folders(root: Path) -> Dict[str, List[Path]]:
    if not root.is_dir():
        raise AuditError(f"no audit trail at {root} (FEDIDS_AUDIT_DIR, or .fate/audit of ./standalone_deploy.sh)")
    jobs: Dict[str, List[Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        jobs.setdefault(_job_id(folder), []).append(folder)
    return jobs


def list_trails(root: Path) -> List[JobTrail]:
    """Every job with a trail under ``root``, oldest first (FATE job ids start with their time)."""
    trails = []
    for job_id, folders in sorted(_job_folders(Path(root)).items()):
        files = [f for folder in folders for f in folder.glob("*/*.pkl")]
        parties = sorted({f.parent.name for f in files})
        trails.append(JobTrail(job_id, folders, parties, len(files), sum(f.stat().st_size for f in files)))
    return trails


def describe_value(value: Any, depth: int = 0) -> str:
    """A short, content-free description of a sent object: its kind, dtype and shape, not its numbers
    (strings, booleans and small ints are shown: they are settings such as the aggregation type)."""
    if isinstance(value, np.ndarray):
        return f"ndarray {value.dtype} {tuple(value.shape)}"
    if type(value).__module__.startswith("torch") and hasattr(value, "shape"):
        return f"tensor {str(getattr(value, 'dtype', '')).replace('torch.', '')} {tuple(value.shape)}"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)):
        return type(value).__name__
    if isinstance(value, str):
        return f"str {value[:24]!r}" if len(value) <= 24 else f"str of {len(value)} characters"
    if isinstance(value, (bytes, bytearray)):
        return f"{type(value).__name__} of {len(value)}"
    if isinstance(value, (list, tuple)):
        if not value or depth >= 3:
            return f"{type(value).__name__}[{len(value)}]"
        parts = [describe_value(v, depth + 1) for v in value]
        kinds = list(dict.fromkeys(parts))
        if len(kinds) == 1:
            return f"{type(value).__name__}[{len(value)}] of {kinds[0]}"
        if len(value) <= 4:
            return ("(" if isinstance(value, tuple) else "[") + ", ".join(parts) + (")" if isinstance(value, tuple) else "]")
        return f"{type(value).__name__}[{len(value)}] of {len(kinds)} kinds, e.g. {kinds[0]}"
    if isinstance(value, dict):
        if depth >= 2:
            return f"dict of {len(value)} keys"
        items = list(value.items())[:6]
        more = ", ..." if len(value) > 6 else ""
        return "{" + ", ".join(f"{k}: {describe_value(v, depth + 1)}" for k, v in items) + more + "}"
    return f"{type(value).__module__}.{type(value).__qualname__}"


def summarize_job(root: Path, job_id: str) -> List[SentMessages]:
    """What each party of this site sent in ``job_id``, grouped by task, party and message name in the
    order first sent."""
    folders = _job_folders(Path(root)).get(job_id)
    if not folders:
        raise AuditError(f"no audit trail of job {job_id} under {root}; `fedids audit list` shows the jobs there")
    groups: List[SentMessages] = []
    for folder in folders:
        for party in sorted(p for p in folder.iterdir() if p.is_dir()):
            by_name: Dict[str, List[Path]] = {}
            for path in sorted(party.glob("*.pkl")):
                by_name.setdefault(_message_name(path), []).append(path)
            for name, paths in by_name.items():
                with open(paths[0], "rb") as handle:
                    first = pickle.load(handle)
                groups.append(SentMessages(
                    task=folder.name.split("_", 1)[1] if "_" in folder.name else folder.name, party=party.name,
                    name=name, to=[tuple(p) for p in first.get("to", [])], tag=str(first.get("tag", "")),
                    count=len(paths), bytes=sum(p.stat().st_size for p in paths),
                    value=describe_value(first.get("value"))))
    return groups


def default_trail_root() -> Path:
    """Where this site's trail is: FEDIDS_AUDIT_DIR, else .fate/audit of ./standalone_deploy.sh."""
    from fedids.audit import audit_root
    from fedids.paths import project_root

    return audit_root(project_root() / ".fate" / "audit")


def bytes_sent_by_role(job_id: str, root: Optional[Path] = None) -> Optional[Dict[str, Dict[str, int]]]:
    """Bytes each role sent in ``job_id``, per message name (pickled objects, as FATE's federation
    carries them); None when this site keeps no trail of the job (e.g. FEDIDS_AUDIT_DIR=off)."""
    try:
        groups = summarize_job(root or default_trail_root(), job_id)
    except AuditError:
        return None
    by_role: Dict[str, Dict[str, int]] = {}
    for g in groups:
        names = by_role.setdefault(g.party.split("_", 1)[0], {})
        names[g.name] = names.get(g.name, 0) + g.bytes
    return by_role


def prune_trails(root: Path, keep: int, dry_run: bool = False) -> List[JobTrail]:
    """Remove the trails of every job but the newest ``keep``; return what was (or would be) removed."""
    if keep < 0:
        raise ValueError(f"--keep must be 0 or more, got {keep}")
    trails = list_trails(Path(root))
    removed = trails[:max(len(trails) - keep, 0)]
    if not dry_run:
        for trail in removed:
            for folder in trail.folders:
                shutil.rmtree(folder)
    return removed


def largest_messages(bytes_by_name: Mapping[str, Any], count: int = 3) -> List[Tuple[str, int]]:
    """The ``count`` message names that carried the most bytes (from ``bytes_sent_by_role``), largest first."""
    sizes = [(str(n), int(b)) for n, b in (bytes_by_name or {}).items() if isinstance(b, (int, float))]
    return sorted(sizes, key=lambda item: -item[1])[:count]


def format_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:,.0f} B" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GB"


def trail_lines(trails: Sequence[JobTrail]) -> List[str]:
    lines = [f"{'job':<24} {'parties':<40} {'messages':>9} {'size':>10}"]
    lines += [f"{t.job_id:<24} {', '.join(t.parties):<40} {t.messages:>9} {format_bytes(t.bytes):>10}" for t in trails]
    return lines


def sent_lines(groups: Sequence[SentMessages]) -> List[str]:
    lines: List[str] = []
    for task, party in dict.fromkeys((g.task, g.party) for g in groups):
        lines.append(f"{party} in task {task}:")
        for g in (g for g in groups if (g.task, g.party) == (task, party)):
            to = ", ".join(f"{role} {pid}" for role, pid in g.to) or "-"
            lines.append(f"  {g.name:<36} to {to:<16} x{g.count:<5} {format_bytes(g.bytes):>10}  {g.value}")
    return lines
