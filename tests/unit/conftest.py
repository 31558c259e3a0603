"""Fixtures of the unit tests that more than one module uses."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fate.arch.context import _parties

from crnn_component import traffic
from fedids import audit
from tests.unit.audit_fakes import FakeFederation, fate_like_push


@pytest.fixture
def clean_process(monkeypatch, tmp_path):
    """A process state with FATE's push replaced by a fake and neither wrapper installed."""
    monkeypatch.setattr(_parties, "_push", fate_like_push)
    monkeypatch.setattr(traffic, "_COUNTER", None)
    monkeypatch.setattr(audit, "_FOLDER", None)
    monkeypatch.setenv(audit.AUDIT_ENV, str(tmp_path / "audit"))
    federation = FakeFederation()
    return SimpleNamespace(federation=federation, ctx=SimpleNamespace(federation=federation),
                           root=tmp_path / "audit")
