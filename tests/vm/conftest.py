"""Fixtures of the QEMU lane: kernels per series (skipping with the reason when they cannot be had), a guest
factory that always stops its guests, boot times, and the guest's console attached to a failing test's report."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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

    def start(series: str, nodes_mib: tuple[int, ...] = (512,), cmdline: str = "", disk: Path | None = None,
              boot_apply: bool = False, cpus: int = 1, bare_cgroup: bool = False) -> Guest:
        kern = _kernel(series)
        if disk is None:
            disk = harness.make_disk(tmp_path / f"disk{len(guests)}.img")
        guest = Guest(kern, Topology(tuple(nodes_mib), cpus=cpus, cmdline=cmdline), disk, boot_apply=boot_apply,
                      bare_cgroup=bare_cgroup, workdir=tmp_path / f"guest{len(guests)}")
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
    path = os.environ.get("SWAPCTL_VM_TIMES")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps({"test": nodeid, "kernel": guest.kernel.release, "accel": guest.accel,
                                 "nodes_mib": list(guest.topology.nodes_mib), "cmdline": guest.topology.cmdline,
                                 "boot_s": round(guest.boot_seconds, 2), "at": time.time()}) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    guests = getattr(item, "_vm_guests", None)
    if rep.failed and guests:
        for i, g in enumerate(guests):
            rep.sections.append((f"guest {i} console ({g.kernel.release}, {g.topology})", g.console_tail(80)))
