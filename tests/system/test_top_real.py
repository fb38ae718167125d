"""`swapctl top` on the real kernel: a child pushed into swap inside a small memory cgroup is found with the
swap its own /proc/PID/status shows, and its cgroup's own count is read."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.conftest import RealSwapctl, Workspace

V1 = Path("/sys/fs/cgroup/memory")
CHILD = (
    "b = bytearray(64 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\n"
    "print('ready', flush=True)\nimport time; time.sleep(60)\n"
)


def vm_swap(pid: int) -> int:
    line = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("VmSwap:"))
    return int(line.split()[1]) * 1024


@pytest.fixture
def swapped_child(work: Workspace) -> Iterator[tuple[int, str]]:
    """A child holding 64 MiB in a 24 MiB v1 memory cgroup, with a swap file to take the rest; all removed after."""
    if not (V1 / "memory.limit_in_bytes").exists():
        pytest.skip("needs the cgroup v1 memory controller at /sys/fs/cgroup/memory")
    sw = RealSwapctl(work.state_dir)
    swapfile = str(work.swapdir / "top")
    assert sw("create", swapfile, "--size", "128M", "--priority", "32000", "--no-persist").returncode == 0
    group = V1 / f"swapctl-test-top-{os.getpid()}"
    group.mkdir()
    child = None
    try:
        (group / "memory.limit_in_bytes").write_text(str(24 << 20))
        child = subprocess.Popen(
            [sys.executable, "-c", f"import os; open('{group}/cgroup.procs', 'w').write(str(os.getpid()))\n{CHILD}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        yield child.pid, f"/{group.name}"
    finally:
        if child is not None:
            child.kill()
            child.wait(timeout=30)
        deadline = time.monotonic() + 10
        while True:
            try:
                group.rmdir()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def test_top_finds_the_swapped_child_with_its_own_vmswap(work: Workspace, swapped_child: tuple[int, str]) -> None:
    pid, cgroup = swapped_child
    sw = RealSwapctl(work.state_dir)
    before = vm_swap(pid)
    r, doc = sw.json("top", "--limit", "0")
    assert r.returncode == 0, r
    row = next(r for r in doc["data"]["rows"] if r["pid"] == pid)
    assert before >= 32 << 20, f"the child did not swap ({before} bytes)"
    assert abs(row["swap"] - vm_swap(pid)) <= 4 << 20  # it sleeps: its swap hardly moves between the reads
    r, doc = sw.json("top", "--by", "cgroup", "--limit", "0")
    group = next(r for r in doc["data"]["rows"] if r["cgroup"] == cgroup)
    assert group["processes"] == 1 and group["swap"] >= 32 << 20
    if (V1 / "memory.memsw.usage_in_bytes").exists():  # memsw accounting is on (swapaccount=1)
        assert group["cgroup_source"] == "memory.memsw.usage_in_bytes - memory.usage_in_bytes"
        assert group["cgroup_swap"] >= 32 << 20
