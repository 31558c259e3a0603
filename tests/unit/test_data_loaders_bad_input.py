"""Bad input files fail with a DataError naming the file and the line/column, and saying what to do."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import List

import numpy as np
import pytest

from data_upload.errors import DataError
from data_upload.loaders import load_kddcup99, load_nsl_kdd, load_unsw_nb15
from data_upload.schema import KDD_FEATURES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# A made-up NSL-KDD record (41 features, attack name, difficulty).
_BASE = (
    "0,tcp,http,SF,215,45076,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,0.00,0.00,1.00,0.00,0.00,"
    "0,0,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,normal,21"
).split(",")


def kdd_line(label: str = "normal", **features: object) -> str:
    fields = list(_BASE)
    fields[41] = label
    for name, value in features.items():
        fields[KDD_FEATURES.index(name)] = str(value)
    return ",".join(fields)


def write(path: Path, lines: List[str], compress: bool = False) -> Path:
    text = "\n".join(lines) + "\n"
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def good_lines(n: int = 6) -> List[str]:
    labels = ["normal", "neptune", "satan", "guess_passwd", "rootkit", "normal"]
    return [kdd_line(labels[i % len(labels)], src_bytes=100 + i) for i in range(n)]


def test_plain_and_gzip_files_load_the_same(tmp_path):
    plain = load_nsl_kdd(write(tmp_path / "t.txt", good_lines()))
    packed = load_nsl_kdd(write(tmp_path / "t.txt.gz", good_lines(), compress=True))
    assert plain.equals(packed)
    assert plain["traffic_class"].tolist() == ["normal", "DoS", "Probe", "R2L", "U2R", "normal"]
    assert "difficulty" not in plain.columns


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match="file not found") as err:
        load_nsl_kdd(tmp_path / "KDDTrain+.txt")
    assert err.value.file == str(tmp_path / "KDDTrain+.txt")
    assert "To fix" in str(err.value)


def test_line_with_too_many_fields_is_reported_with_its_line_number(tmp_path):
    lines = good_lines()
    lines[3] += ",extra"
    with pytest.raises(DataError) as err:
        load_nsl_kdd(write(tmp_path / "t.txt", lines))
    assert err.value.line == 4
    assert "has 44 fields, expected 43" in str(err.value)
    assert "t.txt, line 4" in str(err.value)


def test_line_with_too_few_fields_is_reported_with_its_line_number(tmp_path):
    lines = good_lines()
    lines[4] = ",".join(lines[4].split(",")[:-3])
    with pytest.raises(DataError) as err:
        load_nsl_kdd(write(tmp_path / "t.txt.gz", lines, compress=True))
    assert err.value.line == 5
    assert "has 40 fields, expected 43" in str(err.value)


def test_wrong_field_count_on_the_first_line_is_reported(tmp_path):
    lines = good_lines()
    lines[0] = lines[0] + ",1,2"
    with pytest.raises(DataError) as err:
        load_nsl_kdd(write(tmp_path / "t.txt", lines))
    assert err.value.line == 1


def test_line_numbers_count_blank_lines_like_an_editor(tmp_path):
    lines = good_lines()
    lines.insert(2, "")
    lines[5] = kdd_line(src_bytes="12x")
    with pytest.raises(DataError) as err:
        load_nsl_kdd(write(tmp_path / "t.txt", lines))
    assert (err.value.line, err.value.column) == (6, "src_bytes")


def test_text_in_a_numeric_column_names_the_column_line_and_value(tmp_path):
    lines = good_lines()
    lines[2] = kdd_line(dst_host_count="abc")
    with pytest.raises(DataError) as err:
        load_nsl_kdd(write(tmp_path / "t.txt", lines))
    assert err.value.line == 3
    assert err.value.column == "dst_host_count"
    assert "'abc' is not a number" in str(err.value)


@pytest.mark.parametrize(
    "value, shown", [("NaN", "NaN"), ("inf", "Infinity"), ("-Infinity", "-Infinity"), ("", "empty")]
)
def test_nan_or_infinity_is_reported_with_line_and_column(tmp_path, value, shown):
    lines = good_lines()
    lines[1] = kdd_line(serror_rate=value)
    with pytest.raises(DataError) as err:
        load_nsl_kdd(write(tmp_path / "t.txt", lines))
    assert (err.value.line, err.value.column) == (2, "serror_rate")
    assert shown in str(err.value)
    assert "nonfinite" in str(err.value)


def test_nonfinite_drop_removes_those_rows_and_clip_replaces_them(tmp_path):
    lines = good_lines()
    lines[1] = kdd_line(dst_bytes="inf")
    lines[2] = kdd_line(dst_bytes="NaN")
    lines[3] = kdd_line(dst_bytes="-inf")
    path = write(tmp_path / "t.txt", lines)

    dropped = load_nsl_kdd(path, nonfinite="drop")
    assert len(dropped) == 3
    assert dropped.attrs["sources"][0]["nonfinite_rows_dropped"] == 3

    clipped = load_nsl_kdd(path, nonfinite="clip")
    assert len(clipped) == 6
    assert clipped["dst_bytes"].tolist() == [45076.0, 45076.0, 0.0, 45076.0, 45076.0, 45076.0]
    assert np.isfinite(clipped["dst_bytes"]).all()


def test_empty_file_and_header_only_file_are_refused(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match="no data rows"):
        load_nsl_kdd(empty)
    header_only = tmp_path / "kdd.csv"
    header_only.write_text(",".join(KDD_FEATURES) + ",label\n")
    with pytest.raises(DataError, match="no data rows") as err:
        load_kddcup99(header_only)
    assert err.value.file == str(header_only)


def test_unknown_attack_names_are_listed_with_file_and_first_line(tmp_path):
    lines = good_lines(8)
    lines[2] = kdd_line("teleport")
    lines[5] = kdd_line("mindcontrol")
    lines[6] = kdd_line("teleport")
    path = write(tmp_path / "t.txt", lines)
    with pytest.raises(DataError) as err:
        load_nsl_kdd(path)
    message = str(err.value)
    assert "2 attack name(s) outside the nsl-kdd taxonomy" in message
    assert "'teleport' (t.txt, first on line 3)" in message
    assert "'mindcontrol' (t.txt, first on line 6)" in message
    assert "unknown_label" in message

    dropped = load_nsl_kdd(path, unknown_label="drop")
    assert len(dropped) == 5 and dropped.attrs["sources"][0]["unknown_label_rows_dropped"] == 3
    other = load_nsl_kdd(path, unknown_label="other")
    assert (other["traffic_class"] == "other").sum() == 3


def test_arff_file_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "KDDTrain+.arff"
    path.write_text("@relation 'KDDTrain'\n@attribute 'duration' real\n")
    with pytest.raises(DataError, match="ARFF"):
        load_nsl_kdd(path)


def test_kdd99_file_with_header_and_dotted_labels_loads(tmp_path):
    header = ",".join(KDD_FEATURES) + ",label"
    lines = [header] + [
        ",".join(kdd_line(lab).split(",")[:42]) for lab in ("smurf.", "normal.", "warezclient.")
    ]
    frame = load_kddcup99(write(tmp_path / "kdd.csv", lines))
    assert frame["traffic_class"].tolist() == ["DoS", "normal", "R2L"]
    assert frame["attack_name"].tolist() == ["smurf.", "normal.", "warezclient."]


def test_duplicate_sample_ids_are_reported_with_both_lines(tmp_path):
    source = (
        (FIXTURES / "unsw-nb15" / "UNSW_NB15_training-set.csv").read_bytes().decode("utf-8-sig").splitlines()
    )
    fields = source[5].split(",")
    fields[0] = source[2].split(",")[0]  # line 6 gets the id of line 3
    source[5] = ",".join(fields)
    path = tmp_path / "UNSW_NB15_training-set.csv"
    path.write_text("\n".join(source) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_unsw_nb15(path)
    assert (err.value.line, err.value.column) == (6, "id")
    assert "first on line 3" in str(err.value)


def test_header_without_a_required_column_is_refused(tmp_path):
    lines = (
        (FIXTURES / "unsw-nb15" / "UNSW_NB15_testing-set.csv").read_text(encoding="utf-8-sig").splitlines()
    )
    lines[0] = lines[0].replace("sbytes", "src_bytes")
    path = tmp_path / "UNSW_NB15_testing-set.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_unsw_nb15(path)
    assert err.value.line == 1
    assert "'src_bytes'" in str(err.value)


def test_folder_without_data_files_is_refused(tmp_path):
    with pytest.raises(DataError, match="no UNSW-NB15 CSV files"):
        load_unsw_nb15(tmp_path)
