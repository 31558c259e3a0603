"""An audit trail of everything a FedIDS task of this party sends through FATE's federation.

A security analyst at any organisation can ask: what exactly did our FATE site send to the
others? When the environment of the party's FATE Flow sets ``FEDIDS_AUDIT_DIR``, every object
pushed from a FedIDS task process is also written, pickled, to
``$FEDIDS_AUDIT_DIR/<federation session>/<role>_<party_id>/<seq>_<name>.pkl`` (FATE Flow's
federation session id starts with the job id) with its destination and federation tag. The
tasks that record are the vertical forest (``rf_component/component.py``, every role) and the
federated CRNN (``crnn_component/runner.py``: clients and arbiter of homo_nn); the CRNN's trail
therefore holds what FATE's own homo trainer and secure aggregation send from that process.
The privacy tests (``tests/fate/test_vertical_rf.py``, ``tests/fate/test_crnn_privacy.py``)
read these files to check what each party learns. ``./standalone_deploy.sh`` turns it on for
the standalone FATE Flow (``.fate/audit``); set ``FEDIDS_AUDIT_DIR=off`` to turn it off. The
trail is not rotated: a CRNN job writes about 16 bytes per model parameter per client and
round, and as much again at the arbiter.

The recorder wraps ``fate.arch.context._parties._push`` once per process, over whatever
function is in place then (e.g. the byte counter of ``crnn_component/traffic.py``, which may
also wrap it later); each wrapper keeps the one below as ``__wrapped__`` and calls it, so every
wrapper sees every message whatever the order of installation.
"""

from __future__ import annotations

import itertools
import os
import pickle
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

AUDIT_ENV = "FEDIDS_AUDIT_DIR"
_MARK = "_fedids_audit"

_LOCK = threading.Lock()
_FOLDER: Optional[Path] = None
_SEQ: Iterator[int] = itertools.count()


def audit_dir_from_env() -> Optional[Path]:
    """The trail's root folder from ``FEDIDS_AUDIT_DIR``; None when unset or ``off``."""
    value = os.environ.get(AUDIT_ENV, "").strip()
    if not value or value.lower() == "off":
        return None
    return Path(value)


def audit_root(default: Path) -> Path:
    """Where a reader looks for trails: ``FEDIDS_AUDIT_DIR`` if set (and not off), else ``default``."""
    return audit_dir_from_env() or Path(default)


def _is_recorder(push: Callable[..., Any]) -> bool:
    """Whether the recorder is anywhere in this chain of ``__wrapped__`` functions."""
    seen = 0
    while push is not None and seen < 32:
        if getattr(push, _MARK, False):
            return True
        push = getattr(push, "__wrapped__", None)
        seen += 1
    return False


def _record(name: str, namespace: Any, parties: Any, value: Any) -> None:
    folder = _FOLDER
    if folder is None:
        return
    record = {"name": name, "tag": namespace.federation_tag, "to": [(p[0], p[1]) for p in parties], "value": value}
    with open(folder / f"{next(_SEQ):06d}_{name}.pkl", "wb") as handle:
        pickle.dump(record, handle, protocol=pickle.HIGHEST_PROTOCOL)


def start_audit(ctx: Any) -> Optional[Path]:
    """Record every object this task process sends from now on; return the trail's folder.

    Idempotent: a second call (another sub-context of the same task) keeps one recorder and one
    sequence, so nothing is recorded twice and no file is overwritten.
    """
    global _FOLDER, _SEQ
    root = audit_dir_from_env()
    if root is None:
        return None
    from fate.arch.context import _parties

    local = ctx.federation.local_party
    folder = root / str(ctx.federation.session_id) / f"{local[0]}_{local[1]}"
    folder.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        if _FOLDER != folder:
            _FOLDER = folder
            _SEQ = itertools.count(len(list(folder.glob("*.pkl"))))
        if not _is_recorder(_parties._push):
            below = _parties._push

            def recording_push(federation, computing, name, namespace, parties, value, **kwargs):
                _record(name, namespace, parties, value)
                return below(federation=federation, computing=computing, name=name, namespace=namespace,
                             parties=parties, value=value, **kwargs)

            recording_push.__wrapped__ = below  # type: ignore[attr-defined]
            setattr(recording_push, _MARK, True)
            _parties._push = recording_push
    return folder


def read_audit(folder: Path) -> Iterator[Dict[str, Any]]:
    """The recorded messages of one party in one task, in the order they were sent."""
    for path in sorted(Path(folder).glob("*.pkl")):
        with open(path, "rb") as handle:
            yield pickle.load(handle)


def sent_in_job(root: Path, job_id: str, role: str, party_id: str) -> List[Dict[str, Any]]:
    """Every message ``role`` ``party_id`` sent in job ``job_id`` (all its recorded tasks)."""
    folders = sorted(f for f in Path(root).glob(f"{job_id}_*") if (f / f"{role}_{party_id}").is_dir())
    return [m for folder in folders for m in read_audit(folder / f"{role}_{party_id}")]
