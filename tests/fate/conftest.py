"""Fixtures shared by the FATE-backed CRNN tests (test_homo_crnn.py, test_crnn_privacy.py)."""

from __future__ import annotations

import pytest

from crnn_component.config import load_crnn_profile
from data_upload.fate_upload import FlowTables


@pytest.fixture(scope="session")
def nsl_horizontal(tmp_path_factory, repo_root, fate_flow):
    """One small NSL-KDD horizontal data set (prepared with data_upload, 400 training rows per
    client, A holds no U2R row), uploaded once per session: every CRNN test job reads it."""
    from data_upload.prepare import prepare
    from data_upload.upload import upload_manifest

    out = tmp_path_factory.mktemp("crnn") / "nsl_horizontal"
    prepare("nsl-kdd", str(repo_root.parent / "shared" / "datasets" / "nsl-kdd"), "horizontal", "paper", str(out),
            subset_size=500, clients=2, seed=7, show_progress=False)
    upload_manifest(out, FlowTables(fate_flow.flow))
    return out


@pytest.fixture(scope="session")
def one_epoch():
    """The tiny CRNN profile cut to one epoch: one aggregation round, the shortest federated job."""
    return load_crnn_profile("tiny").with_overrides(epochs=1)
