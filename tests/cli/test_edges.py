"""Edges found in review: what a dry run may not write, odd names, closed pipes, unreadable machines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from swapctl.core.journal import Journal
from swapctl.ops.swapfile import CreateFile
from tests.conftest import privileged
from tests.fakes import FIXTURES, make_root


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swapctl", *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


@pytest.mark.parametrize(
    "args",
    [
        # create's planner looks for a pending transaction itself; vm set's does not, so only the dry run's own
        # refusal in execute() stops it (a dry run predicts the real run, this refusal included)
        ["create", "/other", "--size", "16M", "--dry-run"],
        ["vm", "set", "swappiness=10", "--dry-run"],
    ],
    ids=["create", "vm set"],
)
def test_a_dry_run_with_a_pending_transaction_refuses_like_the_real_run_and_writes_nothing(cli, host, root, args):
    (root / "proc/sys/vm/swappiness").write_text("60\n")
    state = host.paths.state_dir
    j = Journal(state, boot_id=host.boot_id())
    with j.locked():
        tx = j.begin("create", {})
        j.intent(tx, 0, CreateFile(path="/swapfile", nocow=False), {})
    (state / "lock").unlink()
    os.chmod(state, 0o755)
    before = sorted(os.listdir(state)), (state / "journal.jsonl").read_bytes()
    result = cli(*args)
    assert result.exit_code == 3 and "pending" in result.stderr
    assert (sorted(os.listdir(state)), (state / "journal.jsonl").read_bytes()) == before
    assert (state.stat().st_mode & 0o777) == 0o755


def test_a_swap_name_with_brackets_is_shown_as_written(cli, root: Path) -> None:
    (root / "proc/swaps").write_text(
        (root / "proc/swaps").read_text() + "/swap[/]file                             file\t\t1020\t\t0\t\t-2\n"
    )
    result = cli("list")
    assert result.exit_code == 0 and "/swap[/]file" in result.stdout


def test_a_table_into_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    snapshot = FIXTURES / "kernel-recordings/6.12/n2-1g-1g/step0/root"
    proc = subprocess.run(
        f"{sys.executable} -m swapctl --root {snapshot} watermarks | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}",
        shell=True,
        capture_output=True,
        text=True,
        executable="/bin/bash",
    )
    assert proc.stdout.strip() == "0" and "Traceback" not in proc.stderr


def test_a_root_without_proc_is_refused_in_one_line(tmp_path: Path) -> None:
    result = run("--root", str(tmp_path), "list")
    assert result.returncode == 3 and result.stderr.startswith("swapctl: error: cannot access ")
    assert len(result.stderr.splitlines()) == 1


def test_a_usage_error_with_json_output_still_prints_the_envelope() -> None:
    result = run("-o", "json", "create", "/swapfile")
    doc = json.loads(result.stdout)
    assert result.returncode == 2 and doc["ok"] is False and doc["error"]["code"] == 2
    assert "--size" in doc["error"]["message"] and doc["command"] == "create"


def test_yaml_nested_beyond_reason_is_a_usage_error(cli, tmp_path: Path) -> None:
    f = tmp_path / "deep.yaml"
    f.write_text("vm: " + "[" * 5000 + "\n")
    result = cli("apply", str(f), "--dry-run")
    assert result.exit_code == 2 and "nested too deeply" in result.stderr


def test_apply_names_the_line_of_the_bad_vm_key_not_a_similar_one(cli, tmp_path: Path) -> None:
    f = tmp_path / "want.yaml"
    f.write_text("vm:\n  swappiness: 10\n  swappiness2: 5\n")
    result = cli("apply", str(f), "--dry-run")
    assert result.exit_code == 2 and "want.yaml:3:" in result.stderr


@pytest.fixture
def kernel_tool_shims(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """swapon/swapoff stand-ins first on PATH that only log their argv: a broken check cannot reach the kernel."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for tool in ("swapon", "swapoff"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\n')
        (bin_dir / tool).chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}, log


@privileged
@pytest.mark.parametrize(
    "argv",
    [
        ["create", "/swapfile", "--size", "16M"],
        ["create", "/swapfile", "--size", "16M", "--dry-run"],
        ["remove", "/active.swap"],
        ["stress", "--duration", "1"],
    ],
    ids=" ".join,
)
def test_a_root_tree_is_files_not_the_running_kernel(tmp_path: Path, kernel_tool_shims, argv: list[str]) -> None:
    # --root points at a test tree or an image: swapon there would make the live kernel swap to its file.
    env, log = kernel_tool_shims
    root = make_root(tmp_path / "root")
    (root / "active.swap").write_bytes(b"\0" * 4096)
    (root / "proc/swaps").write_text(
        (root / "proc/swaps").read_text() + "/active.swap                             file\t\t1020\t\t0\t\t-2\n"
    )
    before = sorted(str(p) for p in root.rglob("*"))
    proc = run("--root", str(root), "--state-dir", str(tmp_path / "state"), *argv, env=env)
    assert proc.returncode == 3, proc.stderr
    assert "not the running machine" in proc.stderr and len(proc.stderr.splitlines()) <= 2
    assert sorted(str(p) for p in root.rglob("*")) == before
    assert not log.exists()
