"""The docker route installs FedIDS into FATE's official image, which ships Python 3.8."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT_DIRS = ["fedids", "data_upload", "rf_component", "crnn_component", "pipelines", "benchmarks", "report", "tests"]


def test_code_is_valid_for_python_38_per_ruff():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    result = subprocess.run(
        [ruff, "check", "--target-version", "py38", "--output-format", "concise",
         *[d for d in PROJECT_DIRS if (REPO / d).is_dir()]],
        cwd=str(REPO), capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_declared_python_floor_is_38():
    text = (REPO / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.8"' in text
    assert 'target-version = "py38"' in text
