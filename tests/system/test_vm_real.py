"""vm tuning against the real kernel: real /proc/sys/vm writes (swappiness, zone_reclaim_mode,
watermark_scale_factor; never min_free_kbytes), all-or-none with a real EINVAL, undo and rollback,
concurrent runs, and a persisted value checked against the real procps and systemd-sysctl (the full resolver
oracle is test_sysctl_peers.py). Every value a test touches is put back in a finalizer."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapctl.core.errors import OperationFailed, Refused
from swapctl.core.journal import Journal
from swapctl.core.plan import Plan, Step, UndoContext, execute
from swapctl.ops.vm_set import PERSIST_FILE, SysctlWrite, build_set_plan
from swapctl.system.host import Host
from swapctl.system.paths import SysPaths
from tests.conftest import privileged
from tests.pairs import pairs
from tests.system.conftest import RealSwapctl
from tests.system.sysctl_peers import PEERS, last_values_on_this_machine
from tests.system.sysctl_peers import unavailable as peers_unavailable

pytestmark = privileged

VM = Path("/proc/sys/vm")
TOUCHED = ("swappiness", "zone_reclaim_mode", "watermark_scale_factor", "page-cluster", "vfs_cache_pressure")
PERSIST = Path(PERSIST_FILE)


def read(name: str) -> int:
    return int((VM / name).read_text())


# /proc/sys/vm is one for the whole machine: two test runs at once (a developer's and CI's, or this file and
# another real-sysctl test) would each record the other's temporary value as "before" and restore it. Every
# real-sysctl test takes this lock for its whole life, from recording the values to restoring them.
REAL_SYSCTL_LOCK = Path("/var/tmp/swapctl-real-sysctl-tests.lock")


@pytest.fixture
def vm_guard() -> Iterator[dict[str, int]]:
    """The values as found; whatever a test leaves changed is written back (under the machine-wide lock)."""
    fd = os.open(REAL_SYSCTL_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        before = {name: read(name) for name in TOUCHED}
        yield before
        for name, value in before.items():
            if read(name) != value:
                (VM / name).write_text(str(value))
        assert {name: read(name) for name in TOUCHED} == before
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@pytest.fixture
def state_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="swapctl-vmtest-", dir="/var/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def real_host(state_dir: Path) -> Host:
    return Host(paths=SysPaths(Path("/"), state_dir))


def journal_for(host: Host) -> Journal:
    return Journal(host.paths.state_dir, boot_id=host.boot_id(), kernel=host.kernel_release())


def other(value: int, lo: int, hi: int) -> int:
    """A value in lo..hi that differs from value (so a write really changes something)."""
    return value + 5 if value + 5 <= hi else max(lo, value - 5)


def test_real_writes_are_read_back_and_undone_through_the_journal(vm_guard, state_dir) -> None:
    host = real_host(state_dir)
    journal = journal_for(host)
    swp = other(vm_guard["swappiness"], 0, 200)
    wsf = other(vm_guard["watermark_scale_factor"], 1, 1000)
    zrm = 1 if vm_guard["zone_reclaim_mode"] != 1 else 0
    plan = build_set_plan(
        host,
        [f"swappiness={swp}", f"zone_reclaim_mode={zrm}", f"watermark_scale_factor={wsf}"],
        persist=False,
        force=False,
    )
    out = execute(plan, host, journal)
    assert out.changed and (read("swappiness"), read("zone_reclaim_mode"), read("watermark_scale_factor")) == (
        swp,
        zrm,
        wsf,
    )
    assert [r["read_back"] for r in plan.data["settings"]] == [swp, zrm, wsf]
    (tx,) = journal.transactions()
    assert tx.boot_id == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    # The undo path rollback takes: rebuild each step from the journal, check (CAS), undo, newest first.
    for s in reversed(tx.steps):
        step = Step.from_record(s.step)
        step.check_undo(host, s.record, UndoContext())
        step.undo(host, s.record, UndoContext())
    assert {k: read(k) for k in ("swappiness", "zone_reclaim_mode", "watermark_scale_factor")} == {
        k: vm_guard[k] for k in ("swappiness", "zone_reclaim_mode", "watermark_scale_factor")
    }


def test_real_undo_refuses_a_value_someone_else_changed_since(vm_guard, state_dir) -> None:
    host = real_host(state_dir)
    journal = journal_for(host)
    swp = other(vm_guard["swappiness"], 0, 200)
    execute(build_set_plan(host, [f"swappiness={swp}"], persist=False, force=False), host, journal)
    meddled = other(swp, 0, 200) if other(swp, 0, 200) != vm_guard["swappiness"] else swp + 1
    (VM / "swappiness").write_text(str(meddled))
    ((tx_step,),) = [tx.steps for tx in journal.transactions()]
    step = Step.from_record(tx_step.step)
    with pytest.raises(Refused) as exc:
        step.check_undo(host, tx_step.record, UndoContext())
    assert str(meddled) in exc.value.message and str(swp) in exc.value.message
    assert read("swappiness") == meddled


class OneKeyFails(Host):
    """The real Host, except that writing one key fails (to make the second write of a plan fail)."""

    failing = "watermark_scale_factor"

    def write_sysctl(self, path: str, value: str) -> None:
        if path.endswith("/" + self.failing):
            raise OSError(5, "Input/output error (injected)", path)
        super().write_sysctl(path, value)


def test_a_failed_second_write_restores_the_first_on_the_real_kernel(vm_guard, state_dir) -> None:
    host = OneKeyFails(paths=SysPaths(Path("/"), state_dir))
    journal = journal_for(host)
    swp = other(vm_guard["swappiness"], 0, 200)
    plan = build_set_plan(host, [f"swappiness={swp}", "watermark_scale_factor=50"], persist=False, force=False)
    with pytest.raises(OperationFailed):
        execute(plan, host, journal)
    assert read("swappiness") == vm_guard["swappiness"]
    assert read("watermark_scale_factor") == vm_guard["watermark_scale_factor"]
    assert journal.transactions()[-1].status == "aborted"


def test_a_value_the_real_kernel_rejects_mid_plan_rolls_back_the_earlier_write(vm_guard, state_dir) -> None:
    host = real_host(state_dir)
    journal = journal_for(host)
    zrm = 1 if vm_guard["zone_reclaim_mode"] != 1 else 0
    # Bypass swapctl's validation to see the kernel's own EINVAL (swappiness 201 is over 200).
    plan = Plan(
        "vm set",
        [
            SysctlWrite(name="zone_reclaim_mode", value=zrm, mode="set", planned_old=-1),
            SysctlWrite(name="swappiness", value=201, mode="set", planned_old=-1),
        ],
    )
    with pytest.raises(OperationFailed) as exc:
        execute(plan, host, journal)
    assert "refused vm.swappiness=201" in exc.value.message
    assert read("zone_reclaim_mode") == vm_guard["zone_reclaim_mode"]
    assert read("swappiness") == vm_guard["swappiness"]


def test_the_cli_sets_and_rolls_back_with_the_real_binary(vm_guard, state_dir) -> None:
    swapctl = RealSwapctl(state_dir)
    swp = other(vm_guard["swappiness"], 0, 200)
    r, doc = swapctl.json("vm", "set", f"vm.swappiness={swp}")
    assert r.returncode == 0, r
    assert doc["changed"] and doc["data"]["settings"][0]["read_back"] == swp == read("swappiness")
    r, doc = swapctl.json("vm", "get", "swappiness")
    assert doc["data"]["settings"][0]["value"] == swp
    r, doc = swapctl.json("vm", "set", f"swappiness={swp}")
    assert r.returncode == 0 and doc["changed"] is False
    r = swapctl("rollback")
    assert r.returncode == 0, r
    assert read("swappiness") == vm_guard["swappiness"]


def test_persist_on_the_real_machine_writes_90_swapctl_conf_and_rollback_removes_it(vm_guard, state_dir) -> None:
    if PERSIST.exists():
        pytest.skip(f"{PERSIST} already exists on this machine; not touching it")
    swapctl = RealSwapctl(state_dir)
    swp = other(vm_guard["swappiness"], 0, 200)
    try:
        r, doc = swapctl.json("vm", "set", f"swappiness={swp}", "--persist")
        assert r.returncode == 0, r
        assert f"vm.swappiness = {swp}\n" in PERSIST.read_text()
        r, doc = swapctl.json("vm", "get", "swappiness")
        row = doc["data"]["settings"][0]
        assert row["persisted"]["procps"]["file"] in (str(PERSIST), "/etc/sysctl.conf")
        # The real procps and systemd-sysctl, run on a copy of this machine's files (chroot, stand-in /proc/sys),
        # agree on the next boot.
        if (reason := peers_unavailable()) is None:
            real = last_values_on_this_machine(["vm.swappiness"])
            for peer in PEERS.values():
                assert real[peer.name]["vm.swappiness"] == row["persisted"][peer.name]["text"], peer.name
        else:
            print(f"peers not checked: {reason}")
        r = swapctl("rollback")
        assert r.returncode == 0, r
        assert not PERSIST.exists() and read("swappiness") == vm_guard["swappiness"]
    finally:
        PERSIST.unlink(missing_ok=True)


def test_concurrent_runs_all_land_and_each_transaction_rolls_back_in_turn(vm_guard, state_dir) -> None:
    base = vm_guard["swappiness"]
    values = [v for v in range(11, 40) if v != base][:6]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWAPCTL_")}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "swapctl",
                "--state-dir",
                str(state_dir),
                "-o",
                "json",
                "vm",
                "set",
                f"swappiness={v}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd="/",
        )
        for v in values
    ]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert all(rc == 0 for rc, _, _ in results), results
    docs = [json.loads(out) for _, out, _ in results]
    assert all(d["changed"] and d["transaction"] for d in docs)
    journal_file = state_dir / "journal.jsonl"
    lines = journal_file.read_text().splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)  # whole lines only, no interleaving
    txs = Journal(state_dir).transactions()
    assert len(txs) == len(values) and all(tx.status == "committed" for tx in txs)
    # The runs were serialised: each one's old value is the value the previous one wrote.
    olds = [tx.steps[0].record["old"] for tx in txs]
    news = [tx.steps[0].step["params"]["value"] for tx in txs]
    assert olds[0] == base and olds[1:] == news[:-1] and read("swappiness") == news[-1]
    swapctl = RealSwapctl(state_dir)
    for tx, old in pairs(reversed(txs), reversed(olds)):
        r = swapctl("rollback", tx.id)
        assert r.returncode == 0, r
        assert read("swappiness") == old
    assert read("swappiness") == base


# --- the kernel's reading of a boot value (kernel/procsys.py), on the real kernel --------------------------
PARSE_CASES = [
    "10 # note",
    "010",
    "0x1f",
    "0X10",
    "08",
    "+1",
    "1_0",
    " 5 ",
    "-1",
    "1e3",
    "99999999999",
    "",
    "10\r",
    "10\v",
    "10\tx",
    "0x",
    "07",
    "   ",
    "12abc",
    "9" * 21,
    "0" * 25 + "7",
    "33 44",
    "1.5",
    "201",
    "200",
    "0",
    "-0",
    "00",
    "0x0",
    "\t7",
    # the sign counts among proc_get_long's 21 characters; a raw 0xA0 byte is a space to the kernel
    "-" + "0" * 19,
    "-" + "0" * 20,
    "\udca07",
    "\u00a07",
]


def test_the_kernel_reads_a_written_value_as_swapctl_predicts(vm_guard) -> None:
    from swapctl.kernel import procsys

    # swappiness stands for every vm int knob: all are proc_dointvec_minmax; its range is the same on 6.18.
    for text in PARSE_CASES:
        (VM / "swappiness").write_text("60")
        fd = os.open(VM / "swappiness", os.O_WRONLY | os.O_TRUNC)
        data, accepted = (text + "\n").encode("utf-8", "surrogateescape"), True
        try:
            while data:  # as stdio does: what the kernel did not take is offered again
                data = data[os.write(fd, data) :]
        except OSError:
            accepted = False
        finally:
            os.close(fd)
        predicted = procsys.accepts(text, 0, 200)
        if accepted:
            assert predicted == read("swappiness"), (text, predicted)
        else:
            assert not isinstance(predicted, int), (text, predicted)
