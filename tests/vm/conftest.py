"""Fixtures of the QEMU lanes: kernels per series (skipping with the reason when they cannot be had), guest and
boot-lane machine factories that always stop their guests, boot times and retries, and the guests' consoles
attached to a failing test's report."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.vm import bootlane as bl
from tests.vm import harness
from tests.vm.harness import Guest, Kernel, Topology, Unavailable

_kernels: dict[str, Kernel | str] = {}


def _kernel(series: str) -> Kernel:
    if series not in _kernels:
        try:
            harness.check_host()
            _kernels[series] = harness.fetch_kernel(series)
        except Unavailable as exc:
            _kernels[series] = str(exc)
        except Exception as exc:  # noqa: BLE001 - an apt or network failure is a skip, not an error
            _kernels[series] = f"kernel {series} cannot be had: {exc}"
    got = _kernels[series]
    if isinstance(got, str):
        pytest.skip(got)
    return got


@pytest.fixture(scope="session")
def kernel_for() -> Callable[[str], Kernel]:
    """kernel_for("6.1") -> the unpacked Debian kernel of that series, or the test skips with the reason."""
    return _kernel


BootFn = Callable[..., Guest]


@pytest.fixture
def boot(request, tmp_path: Path) -> Iterator[BootFn]:
    """boot(series, nodes_mib=(512,), cmdline="", disk=None, boot_apply=False) -> a running Guest.

    The guest is killed at teardown; its disk image stays in tmp_path for a second boot within the test."""
    guests: list[Guest] = []
    request.node._vm_guests = guests

    def start(
        series: str,
        nodes_mib: tuple[int, ...] = (512,),
        cmdline: str = "",
        disk: Path | None = None,
        boot_apply: bool = False,
        cpus: int = 1,
        bare_cgroup: bool = False,
        swap_disk_mib: int = 0,
        swap_disk_bps: int = 0,
    ) -> Guest:
        kern = _kernel(series)
        if disk is None:
            disk = harness.make_disk(tmp_path / f"disk{len(guests)}.img")
        swap_disk = None
        if swap_disk_mib:
            swap_disk = tmp_path / f"swapdisk{len(guests)}.img"
            with open(swap_disk, "wb") as fh:
                fh.truncate(swap_disk_mib << 20)
        guest = Guest(
            kern,
            Topology(tuple(nodes_mib), cpus=cpus, cmdline=cmdline),
            disk,
            boot_apply=boot_apply,
            bare_cgroup=bare_cgroup,
            workdir=tmp_path / f"guest{len(guests)}",
            swap_disk=swap_disk,
            swap_disk_bps=swap_disk_bps,
        )
        guests.append(guest)
        try:
            guest.start()
        except Unavailable as exc:
            pytest.skip(str(exc))
        _record_boot(request.node.nodeid, guest)
        return guest

    yield start
    for g in guests:
        g.kill()


def _record_boot(nodeid: str, guest: Guest) -> None:
    # Boot times per guest, for the lane's report (one JSON line each; SWAPCTL_VM_TIMES names the file).
    _times(
        {
            "test": nodeid,
            "kernel": guest.kernel.release,
            "accel": guest.accel,
            "nodes_mib": list(guest.topology.nodes_mib),
            "cmdline": guest.topology.cmdline,
            "boot_s": round(guest.boot_seconds, 2),
            "attempts": guest.boot_attempts,
        }
    )


def _times(record: dict) -> None:
    path = os.environ.get("SWAPCTL_VM_TIMES")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps({**record, "at": time.time()}) + "\n")


# ---- the boot lane: real Debian userland with systemd (tests/vm/bootlane.py) -----------------------------

_bootlane_kernels: dict[str, Kernel | str] = {}
_bootlane_parts: dict[str, str | None] = {}  # variant -> None when ready, else why not (a skip reason)


def _bootlane_kernel(series: str) -> Kernel:
    if series not in _bootlane_kernels:
        try:
            bl.check_host()
            _bootlane_kernels[series] = harness.fetch_kernel(series)
        except Unavailable as exc:
            _bootlane_kernels[series] = str(exc)
        except Exception as exc:  # noqa: BLE001 - an apt or network failure is a skip, not an error
            _bootlane_kernels[series] = f"kernel {series} cannot be had: {exc}"
    got = _bootlane_kernels[series]
    if isinstance(got, str):
        pytest.skip(got)
    return got


def _bootlane_ready(variant: str, payload: str) -> None:
    """Build (once per session, and only when the cache lacks it) the image and swapctl for the guest."""
    key = f"{variant}/{payload}"
    if key not in _bootlane_parts:
        try:
            info = bl.image(variant)
            if info.build_seconds is not None:
                _times({"image": info.path.name, "build_s": round(info.build_seconds, 1), "used_mib": info.used_mib})
            bl.swapctl_payload(payload)
            _bootlane_parts[key] = None
        except Unavailable as exc:
            _bootlane_parts[key] = str(exc)
    reason = _bootlane_parts[key]
    if reason:
        pytest.skip(reason)


@pytest.fixture
def bootlane(request, tmp_path: Path) -> Iterator[Callable[..., bl.Machine]]:
    """bootlane(series, variant="base", memory_mib=1024, cpus=2, cmdline="", payload=bl.PAYLOAD) -> a Machine.

    The machine's disk is a fresh overlay on the cached image; machine.boot() returns a running guest (retried
    when it fails before its agent is ready), and again after a poweroff or power cut. Guests are killed at
    teardown; each boot's time and attempts go to SWAPCTL_VM_TIMES and the report."""
    machines: list[bl.Machine] = []
    request.node._vm_machines = machines

    def make(
        series: str,
        variant: str = "base",
        memory_mib: int = 1024,
        cpus: int = 2,
        cmdline: str = "",
        payload: str = bl.PAYLOAD,
    ) -> bl.Machine:
        kern = _bootlane_kernel(series)
        _bootlane_ready(variant, payload)
        m = bl.Machine(
            kern,
            tmp_path / f"machine{len(machines)}",
            variant=variant,
            memory_mib=memory_mib,
            cpus=cpus,
            cmdline=cmdline,
            payload=payload,
        )
        machines.append(m)
        return m

    yield make
    for m in machines:
        m.close()
        for b in m.boots:
            _times(
                {
                    "test": request.node.nodeid,
                    "lane": "boot",
                    "variant": m.variant,
                    "kernel": b.kernel,
                    "accel": b.accel,
                    "boot": b.number,
                    "boot_s": round(b.seconds, 2),
                    "attempts": b.attempts,
                    "ended": b.ended,
                }
            )


def _retries_of(item) -> list[str]:
    lines = []
    for g in getattr(item, "_vm_guests", None) or []:
        lines += [
            f"{g.kernel.release} {g.topology}: attempt {i + 1} failed: {f}" for i, f in enumerate(g.boot_failures)
        ]
    for m in getattr(item, "_vm_machines", None) or []:
        for b in m.boots:
            lines += [f"{b.kernel} boot {b.number}: attempt {i + 1} failed: {f}" for i, f in enumerate(b.failures)]
    return lines


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        # Every retried boot is in the report, passed tests included (junit keeps the properties too).
        retries = _retries_of(item)
        if retries:
            rep.sections.append(("vm boot retries", "\n".join(retries)))
            item.user_properties.append(("vm_boot_retries", len(retries)))
    if not rep.failed:
        return
    for i, g in enumerate(getattr(item, "_vm_guests", None) or []):
        rep.sections.append((f"guest {i} console ({g.kernel.release}, {g.topology})", g.console_tail(80)))
    for i, m in enumerate(getattr(item, "_vm_machines", None) or []):
        if m.guest is not None:
            rep.sections.append(
                (
                    f"boot-lane machine {i} console ({m.kernel.release}, {m.variant}, boot "
                    f"{m.guest.record.number}: {m.guest.record.ended})",
                    m.guest.console_tail(80),
                )
            )


def pytest_terminal_summary(terminalreporter) -> None:
    if harness.RETRY_LOG:
        terminalreporter.section("vm boot retries")
        for line in harness.RETRY_LOG:
            terminalreporter.write_line(line)
