"""examples/ci/add-swap.sh, the CI step, run twice on the real kernel under a POSIX shell: the first run adds the
swap file, the second reports no change; a bad size fails the step with swapctl's exit code and message."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import privileged
from tests.system.conftest import FSTAB, Workspace

pytestmark = [privileged, pytest.mark.privileged]

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "ci" / "add-swap.sh"
PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1 << 20
# dash is the strictest POSIX shell commonly at hand (Debian's /bin/sh): a bashism fails there.
SHELL = shutil.which("dash") or "/bin/sh"


def add_swap(work: Workspace, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith(("SWAPCTL", "SWAP_", "GITHUB_"))}
    child.update(
        {
            "SWAP_PATH": str(work.swapdir / "ci-swap"),
            "SWAP_SIZE": "16M",
            "SWAPCTL": work.swapctl_binary(),
            "SWAPCTL_STATE_DIR": str(work.state_dir),
            "GITHUB_OUTPUT": str(tmp_path / "github_output"),
            "HOME": str(tmp_path),  # were it to pip-install, it would do so here, never in the real $HOME
        }
    )
    child.update(env)
    return subprocess.run(
        [SHELL, str(SCRIPT)],
        capture_output=True,
        text=True,
        env=child,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def test_the_ci_step_adds_swap_once_and_the_second_run_reports_no_change(work: Workspace, tmp_path: Path) -> None:
    path = work.swapdir / "ci-swap"

    first = add_swap(work, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    doc = json.loads(first.stdout)
    assert doc["command"] == "create" and doc["changed"] is True and doc["ok"] is True
    assert f"added {path} (16M)" in first.stderr
    area = work.swaps()[str(path)]
    assert area["type"] == "file" and area["size_kib"] * 1024 == 16 * MiB - PAGE
    # The default is --no-persist: a CI runner is thrown away, and a stale fstab line would outlive the file.
    # (Checked by line, not by bytes: other tests running at the same time may edit /etc/fstab.)
    fstab = FSTAB.read_text() if FSTAB.exists() else ""
    assert str(work.root) not in fstab, fstab
    inode = path.stat().st_ino

    second = add_swap(work, tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    doc = json.loads(second.stdout)
    assert doc["changed"] is False and doc["actions"] == []
    assert "nothing to do" in second.stderr
    again = work.swaps()[str(path)]
    # Not `used` or an automatic priority: other swap activity on the machine moves both.
    assert (again["type"], again["size_kib"]) == (area["type"], area["size_kib"])
    assert path.stat().st_ino == inode
    assert (tmp_path / "github_output").read_text() == "changed=true\nchanged=false\n"


def test_the_ci_step_fails_with_swapctls_exit_code_and_message_on_a_bad_size(work: Workspace, tmp_path: Path) -> None:
    r = add_swap(work, tmp_path, SWAP_SIZE="banana")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "swapctl: error: " in r.stderr and "hint: " in r.stderr and "Traceback" not in r.stderr
    assert "swapctl failed with exit 2" in r.stderr
    assert work.swaps() == {} and work.listing() == []
    assert not (tmp_path / "github_output").exists(), "a failed step reported an outcome"


def test_the_ci_step_rejects_a_persist_setting_it_does_not_know_before_running_swapctl(
    work: Workspace, tmp_path: Path
) -> None:
    r = add_swap(work, tmp_path, SWAP_PERSIST="maybe")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "SWAP_PERSIST must be yes or no" in r.stderr and r.stdout == ""
    assert work.swaps() == {} and not work.state_dir.exists()
