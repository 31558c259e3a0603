from __future__ import annotations

import subprocess
import sys

from fedids.cli import EXIT_CONFIG_ERROR, main


def test_fedids_help_lists_existing_commands():
    result = subprocess.run([sys.executable, "-m", "fedids.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("config", "flow-status", "demo"):
        assert command in result.stdout


def test_demo_with_an_unknown_profile_exits_2_and_names_the_key(capsys):
    assert main(["demo", "--profile", "huge"]) == EXIT_CONFIG_ERROR
    assert "profiles.huge" in capsys.readouterr().err


def test_config_command_shows_roles(capsys):
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "party A: FATE party id 9999" in out
    assert "pipeline vertical_rf: guest=A host=B arbiter=C" in out


def test_config_error_exits_2_and_names_the_key(tmp_path, capsys):
    bad = tmp_path / "parties.yaml"
    bad.write_text("parties: {A: 1, B: 1}\nfate_flow: {host: h, http_port: 1}\npipelines: {}\n")
    assert main(["--parties", str(bad), "config"]) == EXIT_CONFIG_ERROR
    assert "parties.B" in capsys.readouterr().err
