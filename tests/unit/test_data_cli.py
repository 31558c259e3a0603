"""`fedids data prepare` as registered by add_data_commands: exit codes and messages."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from data_upload.cli import EXIT_DATA_ERROR, add_data_commands

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run(argv) -> int:
    parser = argparse.ArgumentParser(prog="fedids")
    add_data_commands(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_prepare_writes_the_tables_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "out"
    code = run(["data", "prepare", "--dataset", "unsw-nb15", "--data-dir", str(FIXTURES / "unsw-nb15"),
                "--layout", "vertical", "--out", str(out), "--drop-id-fraction", "0.25", "--seed", "3",
                "--normalize", "zscore", "--quiet"])  # fmt: skip
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["preprocessing"]["normalize"] == "zscore" and manifest["seed"] == 3
    printed = capsys.readouterr().out
    assert "prepared unsw-nb15 (vertical, protocol official)" in printed
    assert "A (guest) train: 12 rows, 21 features, label" in printed
    assert "B (host) train: 12 rows, 21 features, no label" in printed
    assert "expected PSI intersection" in printed


def test_data_error_goes_to_stderr_with_exit_code_2(tmp_path, capsys):
    code = run(["data", "prepare", "--dataset", "cic-ids2017", "--data-dir", str(FIXTURES / "cic-ids2017"),
                "--layout", "horizontal", "--protocol", "split", "--out", str(tmp_path / "o"), "--quiet"])  # fmt: skip
    assert code == EXIT_DATA_ERROR == 2
    err = capsys.readouterr().err
    assert err.startswith("data error: ")
    assert "Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.csv, line 3, column 'Flow Bytes/s'" in err
    assert "--nonfinite drop" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["--layout", "sideways"],
        ["--layout", "vertical", "--drop-id-fraction", "1.5"],
        ["--layout", "vertical", "--clients", "0"],
    ],
)
def test_invalid_option_values_are_usage_errors(tmp_path, extra):
    argv = [
        "data",
        "prepare",
        "--dataset",
        "nsl-kdd",
        "--data-dir",
        str(tmp_path),
        "--out",
        str(tmp_path / "o"),
        *extra,
    ]
    with pytest.raises(SystemExit) as exit_info:
        run(argv)
    assert exit_info.value.code == 2


def test_data_without_subcommand_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        run(["data"])
    assert exit_info.value.code == 2
