"""Smoke test of the boot lane: a real Debian userland boots with systemd on each kernel, runs swapctl on its own
python3, keeps its disk across a clean poweroff, and the zram-generator image comes up with zram0 as swap; and in
both lanes a kernel panic before userspace is ready is retried, printed, and boots the same disk."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import uuid

import pytest

import swapctl
from tests.vm import bootlane as bl
from tests.vm import harness
from tests.vm.harness import REPO

pytestmark = pytest.mark.vm

SERIES = ("6.1", "6.12")
# The default lane's scenarios (tests/vm/test_boot_scenarios.py) boot each kernel's systemd guest and run swapctl on
# its python3 already: the smoke of each runs with SWAPCTL_VM_FULL=1.
SMOKE = pytest.mark.skipif(
    os.environ.get("SWAPCTL_VM_FULL") != "1",
    reason="SWAPCTL_VM_FULL=1: the default lane's boot scenarios boot both kernels' systemd guests",
)
# Units allowed to have failed at boot, each with why. None today: a degraded boot for any other unit fails.
ALLOWED_FAILED: dict[str, str] = {}


def assert_booted(guest) -> None:
    """systemd finished booting: running, or degraded only by units listed in ALLOWED_FAILED."""
    state = guest.run("systemctl is-system-running --wait", timeout=180).stdout.strip()
    failed = [
        line.split()[0]
        for line in guest.run("systemctl --failed --no-legend --plain").stdout.splitlines()
        if line.strip()
    ]
    print(
        f"boot {guest.record.number} on {guest.ready['release']}: {state} after {guest.boot_seconds:.1f}s, "
        f"failed units: {failed or 'none'}",
        file=sys.stderr,
    )
    unexpected = [u for u in failed if u not in ALLOWED_FAILED]
    if unexpected:
        logs = guest.run("journalctl -b --no-pager -n 40 " + " ".join(f"-u {u}" for u in unexpected)).stdout
        pytest.fail(f"systemd is {state}: {', '.join(unexpected)} failed\n{logs}")
    assert state in ("running", "degraded"), f"systemd is {state!r} after the agent started"


@SMOKE
@pytest.mark.parametrize("series", SERIES)
def test_a_debian_guest_boots_systemd_runs_swapctl_on_its_own_python_and_keeps_its_disk_across_a_poweroff(
    bootlane, series
):
    machine = bootlane(series)
    guest = machine.boot()
    assert guest.ready["release"] == machine.kernel.release
    assert_booted(guest)
    print(guest.run("systemd-analyze").stdout.strip(), file=sys.stderr)

    py = guest.run("python3 --version", check=True)
    assert py.stdout.startswith("Python 3."), py.stdout
    # swapctl runs on the guest's own interpreter: the host's venv and checkout are not there to fall back on.
    assert guest.run(f"test ! -e {REPO}/.venv && test ! -e {REPO}/swapctl").rc == 0
    where = guest.run('command -v swapctl && head -1 "$(command -v swapctl)"', check=True).stdout.split()
    assert where[:2] == ["/usr/local/bin/swapctl", "#!/bin/sh"], where
    ver = guest.swapctl("--version")
    assert ver.rc == 0 and ver.stdout.strip() == f"swapctl {swapctl.__version__}", ver

    res = guest.swapctl("-o", "json", "vm", "get")
    assert res.rc == 0, res.stdout + res.stderr
    env = res.json()
    assert env["ok"] is True and env["data"]["kernel"] == machine.kernel.release, env
    swappiness = int(guest.run("cat /proc/sys/vm/swappiness", check=True).stdout)
    got = {s["key"]: s for s in env["data"]["settings"]}
    assert got["vm.swappiness"]["value"] == swappiness, got["vm.swappiness"]

    # The kernel's modules are there to load: zram (a module in Debian's kernels) and a zswap compressor.
    guest.run(
        "modprobe zram num_devices=1 && test -b /dev/zram0 && modprobe lz4 "
        "&& echo lz4 > /sys/module/zswap/parameters/compressor",
        check=True,
    )

    marker = uuid.uuid4().hex
    guest.run(f"echo {marker} > /var/lib/bootlane-smoke", check=True)
    first_boot_id = guest.ready["boot_id"]
    guest.poweroff()
    assert machine.boots[0].ended == "poweroff"

    guest = machine.boot()
    assert guest.ready["boot_id"] != first_boot_id
    assert guest.run("cat /var/lib/bootlane-smoke", check=True).stdout.strip() == marker
    assert_booted(guest)
    guest.run_and_lose_power("echo o > /proc/sysrq-trigger")
    assert not guest.alive and machine.boots[1].ended == "power cut"
    print(
        json.dumps(
            [
                {"boot": b.number, "seconds": round(b.seconds, 1), "attempts": b.attempts, "ended": b.ended}
                for b in machine.boots
            ]
        ),
        file=sys.stderr,
    )


@SMOKE
@pytest.mark.parametrize("series", SERIES)
def test_the_zram_generator_image_boots_with_zram0_as_swap(bootlane, series):
    machine = bootlane(series, variant="zram")
    guest = machine.boot()
    assert_booted(guest)
    swaps = guest.run("cat /proc/swaps", check=True).stdout
    assert "/dev/zram0" in swaps, swaps
    guest.run("systemctl is-active systemd-zram-setup@zram0.service dev-zram0.swap", check=True)
    guest.power_cut()
    assert machine.boots[0].ended == "power cut"


# With no initramfs init to run the kernel looks for a root device, finds none and panics: a real kernel failure
# before userspace, like the `Oops: int3 ... sched_clock_cpu` that a 6.12 guest once had under TCG.
PANIC = "rdinit=/nonexistent"
RETRY_SAID = "boot attempt 1 of 3 failed before userspace was ready, retrying"


def forget_retries(before: int) -> None:
    # Injected on purpose: kept out of the session's summary, which lists the retries that real flakes caused.
    del harness.RETRY_LOG[before:]


@pytest.mark.skipif(
    os.environ.get("SWAPCTL_VM_FULL") != "1",
    reason="SWAPCTL_VM_FULL=1: two boots for the harness's own retry (the busybox lane's retry runs by default)",
)
def test_a_boot_lane_panic_before_the_agent_is_retried_on_the_disk_as_it_was(bootlane, monkeypatch, capsys):
    machine = bootlane("6.12")
    guest = machine.boot()
    guest.run("echo kept > /var/lib/bootlane-retry", check=True)
    guest.poweroff()

    real = bl.Guest._argv

    def panic_on_the_first_attempt(self, accel):
        argv = real(self, accel)
        if self.workdir.name == "boot2":  # the next attempt's workdir is boot2.attempt2
            argv[argv.index("-append") + 1] += f" {PANIC}"
        return argv

    monkeypatch.setattr(bl.Guest, "_argv", panic_on_the_first_attempt)
    before = len(harness.RETRY_LOG)
    guest = machine.boot()
    record = machine.boots[1]
    assert record.attempts == 2 and "Kernel panic" in record.failures[0], record
    assert RETRY_SAID in capsys.readouterr().err
    assert guest.run("cat /var/lib/bootlane-retry", check=True).stdout == "kept\n"
    forget_retries(before)
    guest.power_cut()


def test_a_guest_of_the_busybox_lane_that_panics_before_its_init_is_ready_is_retried(boot, monkeypatch, capsys):
    real = harness.Guest._boot_once
    calls: list[int] = []

    def panic_on_the_first_attempt(self, initrd):
        calls.append(1)
        if len(calls) > 1:
            return real(self, initrd)
        saved = self.topology
        self.topology = dataclasses.replace(saved, cmdline=f"{saved.cmdline} {PANIC}".strip())
        try:
            return real(self, initrd)
        finally:
            self.topology = saved

    monkeypatch.setattr(harness.Guest, "_boot_once", panic_on_the_first_attempt)
    before = len(harness.RETRY_LOG)
    guest = boot("6.12")
    assert guest.boot_attempts == 2 and "Kernel panic" in guest.boot_failures[0], guest.boot_failures
    assert RETRY_SAID in capsys.readouterr().err
    assert guest.run("echo ok", check=True).stdout == "ok\n"
    forget_retries(before)
