"""`swapctl stress` on the real kernel: a small cgroup, a temporary swapfile, and nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swapctl.system.host import Host
from tests.conftest import privileged

pytestmark = privileged

CGROUP_ROOTS = [Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup")]
WORKER_MODULE = "swapctl.system.stress_worker"


def swapctl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swapctl", *args], capture_output=True, text=True, timeout=timeout)


def swapctl_cgroups() -> list[Path]:
    return [p for root in CGROUP_ROOTS if root.is_dir() for p in root.iterdir() if p.is_dir() and "swapctl" in p.name]


def worker_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if WORKER_MODULE.encode() in cmdline:
            pids.append(int(proc.name))
    return pids


def _stacks(pids: list[int]) -> str:
    """Where each process is stuck (state, wchan, kernel stack), for a failure report."""
    out = []
    for pid in pids:
        info = []
        for name in ("wchan", "stack"):
            try:
                info.append(Path(f"/proc/{pid}/{name}").read_text().strip())
            except OSError as exc:
                info.append(f"({name}: {exc})")
        try:
            state = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("State"))
        except (OSError, StopIteration):
            state = "State: gone"
        out.append(f"pid {pid} {state}\n" + "\n".join(info))
    return "\n\n".join(out)


def temp_files() -> list[Path]:
    return sorted(Path("/var/tmp").glob("swapctl-stress-*"))


def assert_nothing_left_behind() -> None:
    deadline = time.monotonic() + 3
    while worker_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert swapctl_cgroups() == []
    assert worker_pids() == []
    assert temp_files() == []


def other_swap_active(mine: str | None = None) -> bool:
    lines = Path("/proc/swaps").read_text().splitlines()[1:]
    return any(line.split()[0] != mine for line in lines if line.strip())


@pytest.fixture
def swapfile(request):
    """A 256 MiB swapfile under /var/tmp made with the raw tools; swapoff + rm in a finalizer, always."""
    path = Path(f"/var/tmp/swapctl-test-stress-{os.getpid()}.swap")

    def finalize() -> None:
        if str(path) in Path("/proc/swaps").read_text():
            subprocess.run(["swapoff", str(path)], check=False)
        path.unlink(missing_ok=True)

    request.addfinalizer(finalize)
    subprocess.run(["fallocate", "-l", "256M", str(path)], check=True)
    os.chmod(path, 0o600)
    subprocess.run(["mkswap", str(path)], check=True, capture_output=True)
    # A fixed high priority: the run's pages go to this file and other areas' automatic priorities stay as they are.
    subprocess.run(["swapon", "-p", "32000", str(path)], check=True)
    return path


@pytest.fixture
def leaves_nothing():
    assert swapctl_cgroups() == [], "a swapctl cgroup existed before the test"
    yield
    assert_nothing_left_behind()


def test_a_real_run_measures_swap_out_and_reclaim_scanning_and_leaves_nothing(swapfile, leaves_nothing):
    result = swapctl(
        "-o", "json", "stress", "--memory-limit", "48M", "--size", "96M", "--duration", "3", "--file-size", "16M"
    )
    doc = json.loads(result.stdout)
    assert result.returncode in (0, 4), result.stderr
    data = doc["data"]
    assert data["verdict"] in ("pass", "warn", "fail") and data["reasons"]
    assert data["vmstat_delta"]["pswpout"] > 0
    assert data["vmstat_delta"]["pgscan_anon"] > 0
    assert data["reclaim"]["driven_by"] in ("cgroup", "both")
    assert data["limit"] == 48 << 20 and 2.5 <= data["duration_s"] < 10
    assert data["cgroup"]["version"] in (1, 2) and data["cgroup"]["peak_usage"] <= 48 << 20
    assert data["touch"]["rate_pages_s"] > 0
    assert data["psi"]["some"]["stall_us"] >= 0
    if result.returncode == 0:
        assert data["verdict"] in ("pass", "warn")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_run_exits_130_and_cleans_up(swapfile, leaves_nothing, signum):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "swapctl",
            "stress",
            "--memory-limit",
            "48M",
            "--size",
            "96M",
            "--duration",
            "30",
            "--file-size",
            "8M",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        # Wait until the worker runs inside the cgroup, so the signal lands mid-run.
        while time.monotonic() < deadline:
            groups = swapctl_cgroups()
            if groups and (groups[0] / "cgroup.procs").read_text().split():
                break
            time.sleep(0.05)
        else:
            pytest.fail("the stress run never started its worker")
        time.sleep(1.0)
        proc.send_signal(signum)
        try:
            # Generous: the worker must die and its cgroup be emptied first, which waits on swap I/O in flight
            # (after the VM lane the disk can be busy for seconds).
            _, err = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail(f"swapctl did not stop within 90 s of signal {signum}:\n{_stacks([proc.pid, *worker_pids()])}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err


def test_a_run_without_swap_warns(leaves_nothing):
    if other_swap_active():
        pytest.skip("another swap area is active on this machine")
    # Within the limit for anonymous memory, so only the page cache is reclaimed: no OOM kill.
    result = swapctl(
        "-o", "json", "stress", "--memory-limit", "48M", "--size", "24M", "--file-size", "64M", "--duration", "2"
    )
    doc = json.loads(result.stdout)
    if doc["data"].get("swap", {}).get("active"):
        pytest.skip("another test enabled a swap area while this one started")
    assert result.returncode == 0, result.stderr
    assert doc["data"]["verdict"] == "warn"
    assert any("no swap" in r for r in doc["data"]["reasons"])
    assert any("no swap is active" in w for w in doc["warnings"])
    assert doc["data"]["vmstat_delta"]["pgscan_file"] > 0


def test_the_transient_cgroup_takes_its_limits_and_is_removed_with_its_tasks():
    from swapctl.system import cgroup

    ctl = Host().memory_controller()
    assert ctl is not None, "no memory controller on this machine"
    cg = cgroup.TransientCgroup.create(ctl, 32 << 20, 16 << 20)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert "swapctl" in cg.name
        limits = cg.limits()
        assert limits["memory"] == 32 << 20
        if ctl.has_memsw:
            assert limits["memsw"] == 48 << 20
        cg.add_pid(sleeper.pid)
        assert cg.pids() == [sleeper.pid]
        cg.remove()  # kills the sleeper first
        assert sleeper.wait(5) == -signal.SIGKILL
        assert not cg.path.exists()
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
        if cg.path.exists():
            cg.remove()


def test_a_group_left_by_a_dead_swapctl_is_found_as_stale():
    from swapctl.system import cgroup

    ctl = Host().memory_controller()
    dead = subprocess.Popen(["true"])
    dead.wait()
    path = ctl.mount / f"{cgroup.PREFIX}{dead.pid}-dead01"
    path.mkdir()
    try:
        stale = [g.path for g in cgroup.stale_groups(ctl)]
        assert path in stale
        assert ctl.mount / f"{cgroup.PREFIX}{os.getpid()}-alive1" not in stale
    finally:
        cgroup.TransientCgroup(ctl, path).remove()
    assert not path.exists()


def test_the_worker_dies_with_its_parent_and_asks_to_be_the_oom_victim():
    code = (
        "import sys, time\n"
        "from swapctl.system.stress_worker import WorkerProcess\n"
        "w = WorkerProcess.spawn(size=1 << 20, pattern='zero', file_size=0, file_dir='/var/tmp', "
        "max_seconds=30)\n"
        "w.wait_ready(10)\n"
        "print(w.pid, flush=True)\n"
        "time.sleep(30)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        assert Path(f"/proc/{pid}/oom_score_adj").read_text().strip() == "1000"
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{pid}").exists()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
