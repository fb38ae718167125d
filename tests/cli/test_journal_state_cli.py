"""A state dir whose lock or journal is not a file swapctl made (a directory, a FIFO, a link): a refusal an admin
can act on (exit 3, one error line naming the path, a hint), never an internal error or an OS error's text."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

STATE = "var/lib/swapctl"


@pytest.fixture
def root(root: Path) -> Path:
    (root / "proc/sys/vm/swappiness").write_text("60\n")
    return root


def _make(path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        (path.parent / "elsewhere").write_text("")
        os.symlink(path.parent / "elsewhere", path)


@pytest.mark.parametrize("name", ["lock", "journal.jsonl"])
@pytest.mark.parametrize("kind", ["directory", "fifo", "link to a file"])
def test_a_lock_or_journal_that_is_not_a_regular_file_is_refused_with_exit_3_and_one_line(
    cli, root: Path, name: str, kind: str
) -> None:
    path = root / STATE / name
    _make(path, kind)
    result = cli("vm", "set", "swappiness=20")
    assert result.exit_code == 3, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == f"swapctl: error: {path} is not a regular file", result.stderr
    assert len(lines) == 2 and lines[1].startswith("hint: "), result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert (root / "proc/sys/vm/swappiness").read_text() == "60\n"  # refused before anything changed
    # Nothing journaled, and what was there is left as it was for the admin to look at.
    assert name == "journal.jsonl" or not (root / STATE / "journal.jsonl").exists()
    assert {"directory": path.is_dir, "fifo": path.is_fifo, "link to a file": path.is_symlink}[kind]()
    assert (root / STATE / "elsewhere").read_text() == "" if kind == "link to a file" else True
    assert not list(root.parent.glob("swapctl-crash-*"))  # no crash log (conftest points TMPDIR there)


def test_a_lock_that_is_a_directory_is_refused_in_the_json_envelope_too(cli, root: Path) -> None:
    _make(root / STATE / "lock", "directory")
    result = cli("-o", "json", "vm", "set", "swappiness=20")
    assert result.exit_code == 3, result.output
    env = json.loads(result.stdout)
    assert (env["ok"], env["changed"], env["transaction"]) == (False, False, None)
    assert env["error"]["message"] == f"{root / STATE / 'lock'} is not a regular file"
    assert env["error"]["code"] == 3 and "remove it" in env["error"]["hint"]
