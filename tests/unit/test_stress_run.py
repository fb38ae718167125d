"""`swapctl stress` request checks, safety policy and run loop, on a fake root with a fake cgroup and worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from swapctl.core.errors import Interrupted, OperationFailed, Refused, UsageError
from swapctl.ops import stress as ops
from tests.fakes import FIXTURES, MEMINFO, fake_host, make_root

MiB = 1 << 20
SWAP_MEMINFO = MEMINFO.replace("SwapTotal:             0 kB", "SwapTotal:        262140 kB").replace(
    "SwapFree:              0 kB", "SwapFree:         262140 kB"
)


def add_memory_cgroup(root: Path, version: int = 1) -> Path:
    """Mount the memory controller in the fake root's mountinfo, as this VM (v1) or a v2 host does."""
    mountinfo = root / "proc/self/mountinfo"
    if version == 1:
        mount = root / "sys/fs/cgroup/memory"
        mount.mkdir(parents=True)
        for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
            (mount / name).write_text("9223372036854771712\n")
        line = "30 22 0:30 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
    else:
        mount = root / "sys/fs/cgroup"
        mount.mkdir(parents=True)
        (mount / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
        (mount / "cgroup.subtree_control").write_text("cpu io memory pids\n")  # as systemd leaves it
        line = "30 22 0:30 / /sys/fs/cgroup rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
    mountinfo.write_text(mountinfo.read_text() + line)
    return mount


def machine(tmp_path: Path, *, version: int | None = 1, meminfo: str = SWAP_MEMINFO):
    root = make_root(tmp_path / "root", meminfo=meminfo)
    for name in ("vmstat", "zoneinfo", "pressure"):
        src = FIXTURES / "this-machine" / "proc" / name
        if src.is_dir():
            (root / "proc" / name).mkdir()
            (root / "proc" / name / "memory").write_text((src / "memory").read_text())
        else:
            (root / "proc" / name).write_text(src.read_text())
    if version:
        add_memory_cgroup(root, version)
    return fake_host(root)


def req(host, **kw):
    args = {
        "memory_limit": "48M",
        "size": "96M",
        "duration": 0.3,
        "file_size": None,
        "pattern": "random",
        "max_direct_reclaim": 1000,
        "max_psi_full": 50.0,
        "allow_oom": False,
        "interval": 0.05,
    }
    args.update(kw)
    return ops.build_request(host, **args)


# --- validation ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw, text",
    [
        ({"size": "0"}, "greater than zero"),
        ({"size": "-5M"}, "not a size"),
        ({"memory_limit": "0"}, "greater than zero"),
        ({"file_size": "0"}, "greater than zero"),
        ({"duration": 0.0}, "greater than zero"),
        ({"duration": -3.0}, "greater than zero"),
        ({"duration": float("nan")}, "greater than zero"),
        ({"duration": 7200.0}, "longer than"),
        ({"pattern": "ones"}, "not one of random, zero, mixed"),
        ({"memory_limit": "1M"}, "below 8 MiB"),
        ({"max_direct_reclaim": -1}, "0 or more"),
        ({"max_psi_full": 101.0}, "percentage"),
    ],
)
def test_bad_requests_are_usage_errors(tmp_path, kw, text):
    host = machine(tmp_path)
    with pytest.raises(UsageError, match=text) as info:
        req(host, **kw)
    assert info.value.code == 2


def test_the_default_limit_is_a_small_share_of_memtotal_and_the_size_twice_that(tmp_path):
    host = machine(tmp_path)
    r = req(host, memory_limit=None, size=None)
    assert r.limit == 375 * MiB  # MemTotal 24576000 kB = 24000 MiB; / 64, in whole MiB
    assert r.size == 2 * r.limit
    assert ops.default_limit(256 * MiB) == 64 * MiB and ops.default_limit(1 << 40) == 1 << 30


# --- safety policy -------------------------------------------------------------------------------------
def test_a_machine_without_a_memory_controller_is_refused(tmp_path):
    host = machine(tmp_path, version=None)
    with pytest.raises(Refused, match="no memory cgroup controller"):
        ops.preflight(host, req(host))


def test_a_limit_above_a_quarter_of_memavailable_is_refused(tmp_path):
    host = machine(tmp_path)
    with pytest.raises(Refused, match="above 25% of MemAvailable") as info:
        ops.preflight(host, req(host, memory_limit="6G"))
    assert "--memory-limit 5737M" in info.value.hint


def test_a_file_size_above_half_the_free_space_of_var_tmp_is_refused(tmp_path):
    host = machine(tmp_path)
    with pytest.raises(Refused, match="free space"):
        ops.preflight(host, req(host, file_size="1P"))


def test_no_active_swap_warns_and_sets_no_swap_limit(tmp_path):
    host = machine(tmp_path, meminfo=MEMINFO)
    pre = ops.preflight(host, req(host))
    assert pre.swap_allowance is None
    assert any("no swap is active" in w for w in pre.warnings)


def test_the_run_may_use_at_most_half_of_the_free_swap(tmp_path):
    host = machine(tmp_path)
    pre = ops.preflight(host, req(host, size="512M"))
    assert pre.swap_allowance == 262140 * 1024 // 2 // 4096 * 4096
    assert any("expect the worker to be OOM-killed" in w for w in pre.warnings)


@pytest.mark.parametrize("version, limit_file", [(1, "memory.limit_in_bytes"), (2, "memory.max")])
def test_cgroup_v1_and_v2_are_detected_from_mountinfo(tmp_path, version, limit_file):
    host = machine(tmp_path, version=version)
    ctl = host.memory_controller()
    assert ctl is not None and ctl.version == version
    steps = ops.describe(req(host), ops.preflight(host, req(host)))
    assert limit_file in steps[0]["description"]


def test_a_cgroup2_mount_without_the_memory_controller_does_not_count(tmp_path):
    host = machine(tmp_path, version=2)
    (host.paths.real("/sys/fs/cgroup") / "cgroup.controllers").write_text("hugetlb\n")
    assert host.memory_controller() is None


def test_a_cgroup2_memory_controller_not_handed_to_child_groups_is_refused_with_the_fix(tmp_path):
    host = machine(tmp_path, version=2)
    (host.paths.real("/sys/fs/cgroup") / "cgroup.subtree_control").write_text("")
    with pytest.raises(Refused, match="not enabled for child groups") as err:
        ops.preflight(host, req(host))
    assert "+memory" in err.value.hint


# --- the run loop, with the cgroup and the worker faked at the Host seam -------------------------------
class FakeCgroup:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.members: list[int] = []
        self.removed = False
        self.oom = 0

    def add_pid(self, pid: int) -> None:
        self.members.append(pid)

    def pids(self) -> list[int]:
        return [] if self.removed else list(self.members)

    def limits(self) -> dict:
        return {"memory": 48 * MiB}

    def stat(self) -> dict:
        return {"rss": 1}

    def events(self) -> dict:
        return {"failcnt": 3, "usage": 48 * MiB, "max_usage": 48 * MiB, "oom_kill": self.oom}

    def pressure(self):
        return None

    def remove(self) -> None:
        self.removed = True


class FakeWorker:
    pid = 4242

    def __init__(
        self,
        *,
        crash_after: int | None = None,
        interrupt_after: int | None = None,
        oom_cgroup: FakeCgroup | None = None,
    ) -> None:
        self.calls = 0
        self.crash_after = crash_after
        self.interrupt_after = interrupt_after
        self.oom_cgroup = oom_cgroup
        self.status: int | None = None
        self.killed = self.stopped = self.went = False

    def wait_ready(self, timeout: float) -> dict:
        return {"event": "ready", "pid": self.pid}

    def go(self) -> None:
        self.went = True

    def reports(self, timeout: float = 0.0) -> list[dict]:
        import time

        self.calls += 1
        if self.interrupt_after is not None and self.calls > self.interrupt_after:
            raise KeyboardInterrupt
        if self.crash_after is not None and self.calls > self.crash_after:
            if self.oom_cgroup is not None:
                self.oom_cgroup.oom += 1
                self.status = -9
            else:
                self.status = 1
        time.sleep(min(timeout, 0.01))
        return [
            {"event": "filled"},
            {
                "event": "touch",
                "t": 0.1 * self.calls,
                "pages": 1000 * self.calls,
                "passes": self.calls,
                "rate": 10000.0,
            },
        ]

    def returncode(self) -> int | None:
        return self.status

    def stop(self) -> None:
        self.stopped = True

    def kill(self) -> None:
        self.killed = True

    def stderr_tail(self) -> str:
        return "MemoryError"


def wire(host, worker: FakeWorker, cg: FakeCgroup | None = None) -> FakeCgroup:
    cg = cg or FakeCgroup(host.paths.real("/sys/fs/cgroup/memory/swapctl-stress-1-abc"))
    host.stale_stress_cgroups = lambda controller: []
    host.create_stress_cgroup = lambda controller, limit, allowance: cg
    host.spawn_stress_worker = lambda **kw: worker
    return cg


def test_a_run_samples_until_the_duration_then_stops_the_worker_and_removes_the_cgroup(tmp_path):
    host = machine(tmp_path)
    worker = FakeWorker()
    cg = wire(host, worker)
    r = req(host)
    seen: list[dict] = []
    data = ops.run(host, r, ops.preflight(host, r), progress=seen.append)
    assert cg.members == [worker.pid] and worker.went
    assert worker.stopped and not worker.killed and cg.removed
    assert data["verdict"] in ("pass", "warn", "fail") and data["reasons"]
    assert data["duration_s"] >= 0.3 and len(data["samples"]) >= 6
    assert data["touch"]["filled"] and data["touch"]["pages"] > 0
    assert seen and seen[-1]["touch_rate"] == 10000.0


def test_ctrl_c_mid_run_kills_the_worker_and_removes_the_cgroup(tmp_path):
    host = machine(tmp_path)
    worker = FakeWorker(interrupt_after=3)
    cg = wire(host, worker)
    r = req(host)
    with pytest.raises(Interrupted) as info:
        ops.run(host, r, ops.preflight(host, r))
    assert info.value.code == 130
    assert worker.killed and cg.removed


def test_a_worker_crash_fails_the_run_and_still_cleans_up(tmp_path):
    host = machine(tmp_path)
    worker = FakeWorker(crash_after=2)
    cg = wire(host, worker)
    r = req(host, duration=5.0)
    with pytest.raises(OperationFailed, match="died early .*exit status 1.*MemoryError"):
        ops.run(host, r, ops.preflight(host, r))
    assert worker.killed and cg.removed


def test_an_oom_kill_of_the_worker_ends_the_run_with_a_failing_verdict(tmp_path):
    host = machine(tmp_path)
    cg = FakeCgroup(tmp_path / "cg")
    worker = FakeWorker(crash_after=2, oom_cgroup=cg)
    wire(host, worker, cg)
    r = req(host, duration=5.0)
    data = ops.run(host, r, ops.preflight(host, r))
    assert data["verdict"] == "fail" and data["oom"]["cgroup"] == 1
    assert data["worker"] == {"exit_status": -9, "died_early": True}
    assert data["duration_s"] < 5.0 and cg.removed


def test_a_worker_that_does_not_land_in_the_cgroup_fails_and_cleans_up(tmp_path):
    host = machine(tmp_path)
    worker = FakeWorker()
    cg = wire(host, worker)
    cg.add_pid = lambda pid: None
    r = req(host)
    with pytest.raises(OperationFailed, match="did not land"):
        ops.run(host, r, ops.preflight(host, r))
    assert worker.killed and cg.removed
