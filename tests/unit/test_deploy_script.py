"""standalone_deploy.sh: its help, its syntax, and the exact docker commands of --docker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "standalone_deploy.sh"


def run(*args: str, env_extra=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, env=env, cwd=str(REPO)
    )


def test_script_is_valid_bash_with_strict_mode():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    assert "set -euo pipefail" in SCRIPT.read_text()


def test_help_lists_every_command():
    result = run("--help")
    assert result.returncode == 0
    for command in ("up", "status", "down", "toy", "test", "demo", "--docker", "--dry-run"):
        assert command in result.stdout


def test_unknown_command_fails_with_usage():
    result = run("deploy-everything")
    assert result.returncode != 0
    assert "unknown command 'deploy-everything'" in result.stderr


def test_docker_dry_run_prints_the_exact_commands_without_docker(tmp_path):
    # PATH without docker: a dry run must not need it.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    result = run("--docker", "--dry-run", "demo", "--profile", "tiny", env_extra={"PATH": f"{fake_bin}:/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    image = "federatedai/standalone_fate:2.2.0"
    port = os.environ.get("FEDIDS_FLOW_HTTP_PORT", "9380")
    assert lines[0] == f"docker pull {image}"
    assert lines[1] == "docker rm -f fedids_standalone_fate"
    assert lines[2] == (
        f"docker run -d --name fedids_standalone_fate -p 8080:8080 -p {port}:9380 "
        f"-v {REPO}:/workspace/fedids {image}"
    )
    # the project goes into the image's own FATE environment with the image's pip
    assert lines[3] == (
        "docker exec fedids_standalone_fate bash -c 'source /data/projects/fate/bin/init_env.sh "
        "&& python -m pip install -e /workspace/fedids'"
    )
    assert lines[4] == (
        "docker exec fedids_standalone_fate bash -c 'source /data/projects/fate/bin/init_env.sh "
        "&& cd /workspace/fedids && fedids demo --profile tiny'"
    )
    assert len(lines) == 5
    assert "FATE Board: http://127.0.0.1:8080" in result.stderr


def test_port_taken_by_another_program_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        # a second grpc port that is free; the http port is taken by this test's socket
        result = run(
            "up",
            env_extra={"FEDIDS_FLOW_HTTP_PORT": str(port), "FEDIDS_FLOW_GRPC_PORT": str(port + 1)},
        )
    assert result.returncode != 0
    assert f"port {port}" in result.stderr and "taken by another program" in result.stderr
    assert "FEDIDS_FLOW_HTTP_PORT" in result.stderr
