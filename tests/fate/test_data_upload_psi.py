"""A prepared vertical split of real NSL-KDD, uploaded with `fedids data upload`, then PSI
through FATE Flow: FATE finds exactly the shared ids the manifest promises."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from data_upload.fate_upload import FlowTables, TableRef
from data_upload.prepare import prepare
from data_upload.upload import TABLES_FILE
from pipelines.psi_check import run_psi_check

pytestmark = pytest.mark.fate


@pytest.fixture(scope="module")
def prepared_vertical(tmp_path_factory, repo_root):
    data_dir = repo_root.parent / "shared" / "datasets" / "nsl-kdd"
    if not data_dir.is_dir():
        pytest.fail(f"the real NSL-KDD files are expected in {data_dir}")
    out = tmp_path_factory.mktemp("prepared") / "nsl_vertical"
    manifest = prepare(
        "nsl-kdd", str(data_dir), "vertical", "paper", str(out),
        subset_size=1200, drop_id_fraction=0.1, seed=7, show_progress=False,
    )
    return out, manifest


def fedids(*args):
    return subprocess.run([sys.executable, "-m", "fedids.cli", *args], capture_output=True, text=True, timeout=900)


def test_upload_then_psi_finds_the_manifest_intersection(prepared_vertical, fate_flow):
    out, manifest = prepared_vertical
    assert set(manifest["parties"]) == {"A", "B"}

    result = fedids("data", "upload", "--manifest", str(out))
    assert result.returncode == 0, result.stderr
    record = json.loads((out / TABLES_FILE).read_text())
    tables = FlowTables(fate_flow.flow)
    for party, splits in record["parties"].items():
        for split, table in splits.items():
            assert table["rows"] == manifest["parties"][party]["splits"][split]["rows"]
            assert tables.count(TableRef(table["namespace"], table["name"])) == table["rows"]
            assert table["name"].startswith(f"vertical_paper_{party}_{split}_")

    guest = record["parties"]["A"]["train"]
    host = record["parties"]["B"]["train"]
    psi = run_psi_check(fate_flow, TableRef(guest["namespace"], guest["name"]), TableRef(host["namespace"], host["name"]))
    assert psi.intersect_rows == manifest["expected_intersection"]["train"]
    assert psi.guest_input_rows == manifest["parties"]["A"]["splits"]["train"]["rows"]
    assert psi.intersect_rows < psi.guest_input_rows  # the dropped ids gave PSI real work

    again = fedids("data", "upload", "--manifest", str(out))
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("left unchanged") == 4


def test_upload_refuses_a_table_edited_after_prepare(prepared_vertical, fate_flow, tmp_path):
    import shutil

    out, _ = prepared_vertical
    copy = tmp_path / "edited"
    shutil.copytree(out, copy)
    with open(copy / "B" / "train.csv", "a") as handle:
        handle.write("999999,0.5\n")
    result = fedids("data", "upload", "--manifest", str(copy))
    assert result.returncode == 2
    assert "B/train.csv" in result.stderr and "SHA-256" in result.stderr
