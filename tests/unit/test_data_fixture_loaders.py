"""UNSW-NB15 and CIC loaders on small hand-made files in the published layouts, quirks included.

The fixtures (tests/fixtures/README.md) reproduce: UNSW's UTF-8 byte-order mark, "-" service,
labels with spaces and the "Backdoors" spelling, ids restarting per file; CIC-IDS2017's header
names with leading spaces, the duplicated "Fwd Header Length", Infinity/NaN rates and the cp1252
dash in web-attack labels; CSE-CIC-IDS2018's Timestamp, repeated header rows inside the data and
the 84-column Tuesday file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data_upload.errors import DataError
from data_upload.loaders import (
    load_cic_ids2017,
    load_cse_cic_ids2018,
    load_dataset,
    load_unsw_nb15,
    LoadOptions,
)
from data_upload.schema import schema_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UNSW = FIXTURES / "unsw-nb15"
CIC2017 = FIXTURES / "cic-ids2017" / "MachineLearningCVE"
CIC2018 = FIXTURES / "cse-cic-ids2018"


def counts(frame):
    return {k: v for k, v in frame["traffic_class"].value_counts(sort=False).items() if v}


def test_unsw_folder_loads_both_files_with_bom_dash_service_and_spelling_variants():
    frame = load_unsw_nb15(UNSW)
    assert len(frame) == 16 + 12
    assert list(frame.columns[:4]) == ["dur", "proto", "service", "state"]  # BOM stripped, id not a feature
    assert "id" not in frame.columns and "label" not in frame.columns
    assert "-" not in set(frame["service"]) and "none" in set(frame["service"])
    assert counts(frame) == {
        "Normal": 7, "Generic": 3, "Exploits": 4, "Fuzzers": 3, "DoS": 2, "Reconnaissance": 2,
        "Analysis": 2, "Backdoor": 2, "Shellcode": 2, "Worms": 1,
    }  # fmt: skip
    assert list(frame["traffic_class"].cat.categories) == list(
        (
            "Normal",
            "Generic",
            "Exploits",
            "Fuzzers",
            "DoS",
            "Reconnaissance",
            "Analysis",
            "Backdoor",
            "Shellcode",
            "Worms",
        )
    )
    assert [s["rows_kept"] for s in frame.attrs["sources"]] == [16, 12]  # training set first


def test_unsw_single_file_keeps_schema_feature_order():
    frame = load_unsw_nb15(UNSW / "UNSW_NB15_testing-set.csv")
    assert list(frame.columns) == list(schema_for("unsw-nb15").features) + ["attack_name", "traffic_class"]
    assert frame["sbytes"].dtype.kind in "if"


def test_cic2017_refuses_infinity_by_default_naming_file_line_and_column():
    with pytest.raises(DataError) as err:
        load_cic_ids2017(CIC2017)
    assert err.value.file.endswith("Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.csv")
    assert (err.value.line, err.value.column) == (3, "Flow Bytes/s")


def test_cic2017_header_spaces_duplicate_column_and_dash_variants_are_handled():
    frame = load_cic_ids2017(CIC2017, nonfinite="drop")
    features = schema_for("cic-ids2017").features
    assert len(features) == 77 and list(frame.columns[:77]) == list(features)
    assert "Destination Port" in frame.columns and " Destination Port" not in frame.columns
    assert list(frame.columns).count("Fwd Header Length") == 1
    assert counts(frame) == {
        "BENIGN": 8, "PortScan": 2, "DDoS": 2, "Web Attack - Brute Force": 2, "Web Attack - XSS": 1,
        "Infiltration": 1, "Web Attack - Sql Injection": 1,
    }  # fmt: skip
    assert sum(s["nonfinite_rows_dropped"] for s in frame.attrs["sources"]) == 2


def test_cic2017_utf8_en_dash_copy_gives_the_same_class_as_the_cp1252_original(tmp_path):
    original = (CIC2017 / "Thursday-WorkingHours-Morning-WebAttacks.pcap_ISCX.csv").read_bytes()
    (tmp_path / "thursday-utf8.csv").write_bytes(original.decode("cp1252").encode("utf-8"))
    as_utf8 = load_cic_ids2017(tmp_path)
    as_cp1252 = load_cic_ids2017(CIC2017 / "Thursday-WorkingHours-Morning-WebAttacks.pcap_ISCX.csv")
    assert as_utf8["traffic_class"].tolist() == as_cp1252["traffic_class"].tolist()
    assert "Web Attack – Brute Force" in set(as_utf8["attack_name"])  # raw name kept as written


def test_cic2017_clip_replaces_infinity_by_column_max_and_nan_by_zero():
    raw = load_cic_ids2017(CIC2017, nonfinite="drop")
    clipped = load_cic_ids2017(CIC2017, nonfinite="clip")
    assert len(clipped) == len(raw) + 2
    rates = clipped["Flow Bytes/s"].to_numpy()
    assert np.isfinite(rates).all()
    assert rates.max() == raw["Flow Bytes/s"].max()
    assert (rates == 0).sum() == 1  # the NaN row


def test_cse2018_drops_repeated_headers_timestamp_and_tuesday_identifier_columns():
    frame = load_cse_cic_ids2018(CIC2018, nonfinite="drop")
    sources = {Path(s["file"]).name: s for s in frame.attrs["sources"]}
    assert sources["Friday-16-02-2018_TrafficForML_CICFlowMeter.csv"]["repeated_header_rows_dropped"] == 2
    assert sources["Wednesday-14-02-2018_TrafficForML_CICFlowMeter.csv"]["repeated_header_rows_dropped"] == 1
    assert len(frame) == 5 + 4 + 6
    for column in ("Timestamp", "Flow ID", "Src IP", "Src Port", "Dst IP"):
        assert column not in frame.columns
    assert frame["Dst Port"].dtype.kind == "i"  # numeric again once the header rows are gone
    assert set(frame["Protocol"]) == {"6", "17"}  # categorical, as text
    assert counts(frame) == {
        "Benign": 6, "DDoS attacks-LOIC-HTTP": 2, "DoS attacks-Hulk": 2, "FTP-BruteForce": 2,
        "SSH-Bruteforce": 2, "DoS attacks-SlowHTTPTest": 1,
    }  # fmt: skip


def test_cse2018_line_numbers_count_the_repeated_header_rows():
    with pytest.raises(DataError) as err:
        load_cse_cic_ids2018(CIC2018 / "Wednesday-14-02-2018_TrafficForML_CICFlowMeter.csv")
    assert (err.value.line, err.value.column) == (9, "Flow Byts/s")


def test_cic_file_of_the_other_year_is_refused_at_the_header():
    with pytest.raises(DataError, match="unexpected column") as err:
        load_cic_ids2017(CIC2018 / "Friday-16-02-2018_TrafficForML_CICFlowMeter.csv")
    assert err.value.line == 1


def test_load_dataset_dispatches_by_name_with_binary_classes():
    frame = load_dataset("unsw-nb15", UNSW, LoadOptions(classes="binary"))
    assert counts(frame) == {"normal": 7, "attack": 21}
