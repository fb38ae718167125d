"""Power cut in the middle of `swapctl create --persist` and `vm set --persist`; the same disk booted again."""

from __future__ import annotations

import os
import re

import pytest

pytestmark = pytest.mark.vm

SERIES = "6.1"
OLD_FSTAB = (
    "# /etc/fstab of a swapctl test guest\n"
    "# <file system> <mount point> <type> <options> <dump> <pass>\n"
    "tmpfs /mnt tmpfs defaults,noauto 0 0\n"
)
OLD_SYSCTL = "# hand-written before swapctl\nvm.swappiness = 33\n"
SWAPFILE = "/var/swap/sw1"
FULL = os.environ.get("SWAPCTL_VM_FULL") == "1"


def cut_power(guest, cmd: str) -> None:
    # sysrq o powers off at once: nothing is synced, the guest's dirty page cache never reaches the disk.
    guest.run_and_lose_power(f"{cmd}; echo o > /proc/sysrq-trigger")


def read(guest, path: str) -> str:
    res = guest.run(f"cat {path}")
    assert res.rc == 0, f"{path} is missing after the power cut: {res.stderr}"
    return res.stdout


def active_swaps(guest) -> list[str]:
    return [line.split()[0] for line in read(guest, "/proc/swaps").splitlines()[1:]]


def pending_transactions(guest) -> list[dict]:
    res = guest.swapctl("history", "-o", "json")
    assert res.rc == 0, res.stderr
    return [t for t in res.json()["data"]["transactions"] if t["status"] == "pending"]


def assert_fstab_whole(text: str) -> bool:
    """The old fstab, or the old one plus exactly swapctl's line; True when the line is there."""
    if text == OLD_FSTAB:
        return False
    assert text.startswith(OLD_FSTAB), f"fstab lost or mangled its old lines:\n{text!r}"
    added = text[len(OLD_FSTAB) :].splitlines()
    assert len(added) == 1 and text.endswith("\n"), f"fstab has a partial or extra line:\n{text!r}"
    assert added[0].split() == [SWAPFILE, "none", "swap", "defaults", "0", "0"], added
    return True


def assert_sysctl_whole(text: str) -> bool:
    """The old file, or a whole new one in which every line is a comment or `key = value`; True when new."""
    if text == OLD_SYSCTL:
        return False
    assert text.endswith("\n"), f"90-swapctl.conf was cut short:\n{text!r}"
    values = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            m = re.fullmatch(r"\s*([\w.]+)\s*=\s*(\S+)\s*", line)
            assert m, f"90-swapctl.conf has a broken line {line!r}:\n{text!r}"
            values[m.group(1)] = m.group(2)
    assert values.get("vm.swappiness") == "77", text
    return True


# The default lane cuts create's power on a systemd guest (tests/vm/test_boot_scenarios.py) and vm set's here;
# SWAPCTL_VM_FULL=1 makes both cuts on both, here at more points and with a third boot.
ON_SYSTEMD = pytest.mark.skipif(
    not FULL, reason="SWAPCTL_VM_FULL=1: the default lane cuts power at this point on systemd (test_boot_scenarios)"
)
CREATE_POINTS = ["fstab-set:*:after:kill"] + (["swapon:*:after:kill", "mkswap:*:after:kill"] if FULL else [])


@ON_SYSTEMD
@pytest.mark.parametrize("fault", CREATE_POINTS)
def test_a_power_cut_during_create_persist_leaves_fstab_whole_and_rollback_restores_it(boot, tmp_path, fault):
    from tests.vm.harness import make_disk

    disk = make_disk(tmp_path / "disk.img", fstab=OLD_FSTAB)
    guest = boot(SERIES, (512,), disk=disk, boot_apply=True)
    cut_power(guest, f"SWAPCTL_TEST_FAULT={fault} swapctl create {SWAPFILE} -s 48M --persist")

    guest = boot(SERIES, (512,), disk=disk, boot_apply=True)
    assert_fstab_whole(read(guest, "/etc/fstab"))
    pending = pending_transactions(guest)
    assert len(pending) == 1 and pending[0]["command"].startswith("create"), pending

    res = guest.swapctl("rollback", "-o", "json")
    assert res.rc == 0, res.stdout + res.stderr
    assert read(guest, "/etc/fstab") == OLD_FSTAB
    assert SWAPFILE not in active_swaps(guest)
    assert guest.run(f"test -e {SWAPFILE}").rc != 0, "rollback left the swap file behind"
    assert pending_transactions(guest) == []

    if not FULL:
        return
    # The state rollback left is what the next boot sees too.
    guest.poweroff()
    guest = boot(SERIES, (512,), disk=disk, boot_apply=True)
    assert read(guest, "/etc/fstab") == OLD_FSTAB
    assert active_swaps(guest) == []


SYSCTL_POINTS = ["sysctl-persist:*:after:kill"] + (["sysctl-write:*:after:kill"] if FULL else [])


@pytest.mark.parametrize("fault", SYSCTL_POINTS)
def test_a_power_cut_during_vm_set_persist_leaves_sysctl_d_whole_and_rollback_restores_it(boot, tmp_path, fault):
    from tests.vm.harness import make_disk

    disk = make_disk(tmp_path / "disk.img", sysctl_d={"90-swapctl.conf": OLD_SYSCTL})
    guest = boot(SERIES, (512,), disk=disk, boot_apply=True)
    assert read(guest, "/proc/sys/vm/swappiness").strip() == "33", "the guest's boot did not apply sysctl.d"
    cut_power(guest, f"SWAPCTL_TEST_FAULT={fault} swapctl vm set vm.swappiness=77 --persist")

    guest = boot(SERIES, (512,), disk=disk, boot_apply=True)
    conf = "/etc/sysctl.d/90-swapctl.conf"
    is_new = assert_sysctl_whole(read(guest, conf))
    # The boot applied whichever whole file survived.
    assert read(guest, "/proc/sys/vm/swappiness").strip() == ("77" if is_new else "33")
    pending = pending_transactions(guest)
    assert len(pending) == 1 and "vm" in pending[0]["command"], pending

    res = guest.swapctl("rollback", "-o", "json")
    assert res.rc == 0, res.stdout + res.stderr
    assert read(guest, conf) == OLD_SYSCTL
    assert pending_transactions(guest) == []

    if not FULL:
        return
    guest.poweroff()
    guest = boot(SERIES, (512,), disk=disk, boot_apply=True)
    assert read(guest, conf) == OLD_SYSCTL
    assert read(guest, "/proc/sys/vm/swappiness").strip() == "33"


@pytest.mark.skipif(not FULL, reason="SWAPCTL_VM_FULL=1: power cuts at timed points (four more boots each)")
@pytest.mark.parametrize("delay_ms", [150, 400, 900, 1600])
def test_a_power_cut_at_a_timed_point_of_create_persist_is_recovered_by_rollback(boot, tmp_path, delay_ms):
    from tests.vm.harness import make_disk

    disk = make_disk(tmp_path / "disk.img", fstab=OLD_FSTAB)
    guest = boot(SERIES, (512,), disk=disk, boot_apply=True)
    guest.run_and_lose_power(
        f"(sleep {delay_ms / 1000}; echo o > /proc/sysrq-trigger) & "
        f"swapctl create {SWAPFILE} -s 48M --persist; sleep 30"
    )
    guest = boot(SERIES, (512,), disk=disk, boot_apply=True)
    has_line = assert_fstab_whole(read(guest, "/etc/fstab"))
    pending = pending_transactions(guest)
    if pending:
        res = guest.swapctl("rollback", "-o", "json")
        assert res.rc == 0, res.stdout + res.stderr
        assert read(guest, "/etc/fstab") == OLD_FSTAB
        assert SWAPFILE not in active_swaps(guest)
    else:
        # Committed before the cut (or never begun): fstab must agree with the journal.
        hist = guest.swapctl("history", "-o", "json").json()["data"]["transactions"]
        committed = any(t["status"] == "committed" for t in hist)
        assert has_line == committed, (hist, has_line)
