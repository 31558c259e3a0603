"""An audit trail of everything this party sends through FATE's federation.

A security analyst at any organisation can ask: what exactly did our FATE site send to the
others? When the environment of the party's FATE Flow sets ``FEDIDS_AUDIT_DIR``, every object
the hetero_random_forest task of that party pushes is also written, pickled, to
``$FEDIDS_AUDIT_DIR/<federation session>/<role>_<party_id>/<seq>_<name>.pkl`` (FATE Flow's
federation session id starts with the job id) with its destination and
federation tag. The privacy tests read these files to check what each party learns.
``./standalone_deploy.sh`` turns it on for the standalone FATE Flow (``.fate/audit``); set
``FEDIDS_AUDIT_DIR=off`` to turn it off.
"""

from __future__ import annotations

import itertools
import os
import pickle
from pathlib import Path
from typing import Any, Iterator, Optional

AUDIT_ENV = "FEDIDS_AUDIT_DIR"


def audit_dir_from_env() -> Optional[Path]:
    value = os.environ.get(AUDIT_ENV, "").strip()
    if not value or value.lower() == "off":
        return None
    return Path(value)


def start_audit(ctx: Any) -> Optional[Path]:
    """Wrap FATE's push in this task process so that every sent object is also recorded."""
    root = audit_dir_from_env()
    if root is None:
        return None
    from fate.arch.context import _parties

    local = ctx.federation.local_party
    folder = root / str(ctx.federation.session_id) / f"{local[0]}_{local[1]}"
    folder.mkdir(parents=True, exist_ok=True)
    original = getattr(_parties._push, "__wrapped__", _parties._push)
    counter = itertools.count()

    def recording_push(federation, computing, name, namespace, parties, value, **kwargs):
        record = {
            "name": name,
            "tag": namespace.federation_tag,
            "to": [(p[0], p[1]) for p in parties],
            "value": value,
        }
        with open(folder / f"{next(counter):06d}_{name}.pkl", "wb") as handle:
            pickle.dump(record, handle)
        return original(federation, computing, name, namespace, parties, value, **kwargs)

    recording_push.__wrapped__ = original  # type: ignore[attr-defined]
    _parties._push = recording_push
    return folder


def read_audit(folder: Path) -> Iterator[dict]:
    """The recorded messages of one party in one job, in the order they were sent."""
    for path in sorted(Path(folder).glob("*.pkl")):
        with open(path, "rb") as handle:
            yield pickle.load(handle)
