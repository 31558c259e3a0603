"""Shared fixtures. FATE-backed tests (marked `fate`) need a running FATE Flow:
`./standalone_deploy.sh test` starts one, runs everything, and stops it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fedids.config import PartiesConfig, load_parties
from fedids.flow import flow_is_up

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def parties_cfg() -> PartiesConfig:
    return load_parties()


@pytest.fixture(scope="session")
def fate_flow(parties_cfg: PartiesConfig) -> PartiesConfig:
    """The parties config, after checking that its FATE Flow answers (fails loudly if not)."""
    if not flow_is_up(parties_cfg.flow):
        pytest.fail(
            f"FATE Flow does not answer at {parties_cfg.flow.url}: FATE-backed tests need it. "
            "Run the suite with ./standalone_deploy.sh test (it starts FATE Flow), or start it "
            "with ./standalone_deploy.sh and run pytest again."
        )
    return parties_cfg


@pytest.fixture(scope="session")
def test_namespace() -> str:
    """A FATE namespace of this test session, so runs never see each other's tables."""
    return f"fedids_test_{time.strftime('%Y%m%d%H%M%S')}"
