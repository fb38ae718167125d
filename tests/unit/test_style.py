"""The house rules the tools can check: ruff (lint and format) and mypy (strict in core/ and kernel/) are clean,
here as in CI, so a change that breaks them fails the suite rather than a later reader."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed beside this Python (pip install -e '.[test]')")
    return found


@pytest.mark.parametrize("argv", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_ruff_is_clean(argv: list[str]) -> None:
    done = subprocess.run([tool("ruff"), *argv], cwd=TOP, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean() -> None:
    done = subprocess.run([tool("mypy")], cwd=TOP, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
