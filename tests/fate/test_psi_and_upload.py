"""Upload two parties' tables to a real FATE Flow and run reader + psi between them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_upload.fate_upload import FlowTables, TableRef, TableUpload, UploadError, table_meta, upload_tables
from pipelines.psi_check import run_psi_check

pytestmark = pytest.mark.fate


def write_party_csv(path, ids, n_features, with_label, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"id": ids})
    if with_label:
        frame["label"] = rng.integers(0, 3, len(ids))
    for j in range(n_features):
        frame[f"x{j}"] = rng.random(len(ids)).round(5)
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def two_party_tables(tmp_path_factory, fate_flow, test_namespace):
    """Guest ids 0..59 with labels, host ids 20..99 without: 40 shared ids."""
    folder = tmp_path_factory.mktemp("psi")
    guest = TableUpload(
        file=write_party_csv(folder / "guest.csv", range(0, 60), 3, with_label=True, seed=1),
        table=TableRef(test_namespace, "psi_guest"),
        meta=table_meta("id", "label"),
        expected_rows=60,
    )
    host = TableUpload(
        file=write_party_csv(folder / "host.csv", range(20, 100), 4, with_label=False, seed=2),
        table=TableRef(test_namespace, "psi_host"),
        meta=table_meta("id", None),
        expected_rows=80,
    )
    tables = FlowTables(fate_flow.flow)
    report = upload_tables(tables, [guest, host])
    assert report.uploaded == [guest.table, host.table]
    return tables, guest, host


def test_uploaded_tables_hold_every_row(two_party_tables):
    tables, guest, host = two_party_tables
    assert tables.count(guest.table) == 60
    assert tables.count(host.table) == 80


def test_psi_pipeline_finds_exactly_the_shared_ids(two_party_tables, fate_flow):
    _, guest, host = two_party_tables
    result = run_psi_check(fate_flow, guest.table, host.table)
    assert result.guest_input_rows == 60
    assert result.intersect_rows == 40
    assert result.job_id


def test_uploading_the_same_tables_again_changes_nothing(two_party_tables):
    tables, guest, host = two_party_tables
    report = upload_tables(tables, [guest, host])
    assert report.uploaded == []
    assert report.unchanged == [guest.table, host.table]


def test_table_from_other_data_is_refused_without_force(two_party_tables):
    tables, guest, _ = two_party_tables
    other = TableUpload(guest.file, guest.table, guest.meta, expected_rows=61)
    with pytest.raises(UploadError, match=r"already exists in FATE with 60 rows.*--force"):
        upload_tables(tables, [other])
    assert tables.count(guest.table) == 60


def test_failed_upload_leaves_no_table_of_the_set_behind(tmp_path, fate_flow, test_namespace):
    tables = FlowTables(fate_flow.flow)
    good = TableUpload(
        file=write_party_csv(tmp_path / "good.csv", range(30), 2, with_label=True, seed=3),
        table=TableRef(test_namespace, "all_or_nothing_good"),
        meta=table_meta("id", "label"),
        expected_rows=30,
    )
    # FATE stores 20 rows, the manifest promised 25: the set must not stay half uploaded.
    short = TableUpload(
        file=write_party_csv(tmp_path / "short.csv", range(20), 2, with_label=False, seed=4),
        table=TableRef(test_namespace, "all_or_nothing_short"),
        meta=table_meta("id", None),
        expected_rows=25,
    )
    with pytest.raises(UploadError, match=r"holds 20 rows in FATE after upload.*has 25"):
        upload_tables(tables, [good, short])
    assert tables.count(good.table) is None
    assert tables.count(short.table) is None
