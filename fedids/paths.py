"""Where the project's files are: conf/ and the repository root."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The repository root (the project is installed editable: `pip install -e .`)."""
    return Path(__file__).resolve().parents[1]


def conf_dir() -> Path:
    """conf/ of the project, or FEDIDS_CONF_DIR when set (e.g. a copy for a cluster)."""
    override = os.environ.get("FEDIDS_CONF_DIR")
    return Path(override) if override else project_root() / "conf"
