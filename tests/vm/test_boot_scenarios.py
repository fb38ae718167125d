"""What swapctl persists is what a real systemd boot applies: each scenario changes the machine with swapctl,
records what swapctl says the next boot applies (`vm get`'s boot values, `list`'s at_boot, `zswap get`'s
at_boot), boots the disk again, and compares that with what the kernel runs (/proc/swaps with priorities,
/proc/sys/vm, zswap's parameters, /sys/block/zram*). A comparison is never retried.

The default lane runs the swap file scenario on 6.12 and the zram one on 6.1, without their last boots (the power
cut in vm set, the boot after zram remove); SWAPCTL_VM_FULL=1 runs both on both kernels, whole (docs/RELIABILITY.md
has the table of a full run). The CI's two cores hold no more boots."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.vm.test_bootlane_smoke import assert_booted

pytestmark = pytest.mark.vm

FULL = os.environ.get("SWAPCTL_VM_FULL") == "1"
BOTH = ("6.1", "6.12")
VM_KEYS = ("swappiness", "min_free_kbytes", "vfs_cache_pressure", "watermark_scale_factor", "zone_reclaim_mode")
VENDOR = "/etc/sysctl.d/99-zz-vendor.conf"  # another package's file, read after swapctl's 90-swapctl.conf
NEW_DEVICE = "new zram device"  # what list's at_boot calls the device a unit of swapctl's hot-adds at boot


def ok(res) -> dict:
    assert res.rc == 0, f"{res.cmd} exited {res.rc}\n{res.stdout}\n{res.stderr}"
    return res.json()


def prediction(guest) -> dict:
    """What swapctl says the next boot applies."""
    vm = ok(guest.swapctl("-o", "json", "vm", "get"))["data"]["settings"]
    areas = ok(guest.swapctl("-o", "json", "list"))["data"]["at_boot"]
    zswap = ok(guest.swapctl("-o", "json", "zswap", "get"))["data"]
    return {
        "vm": {s["key"].removeprefix("vm."): s["boot_value"] for s in vm if s["key"].removeprefix("vm.") in VM_KEYS},
        "swaps": sorted((a["source"], a["priority"]) for a in areas),
        "zswap": {k: v["value"] for k, v in zswap["at_boot"].items()},
    }


def running(guest) -> dict:
    """What the kernel runs now, read in one command: `grep . FILE...` prints FILE:VALUE for each."""
    files = [f"/proc/sys/vm/{k}" for k in VM_KEYS] + ["/sys/module/zswap/parameters/*"]
    out = guest.run(f"grep -H . {' '.join(files)}; cat /proc/swaps", check=True).stdout.splitlines()
    values = dict(line.split(":", 1) for line in out if line.startswith(("/proc/sys/vm/", "/sys/module/zswap/")))
    swaps = [line.split() for line in out if line.startswith("/") and ":" not in line]
    return {
        "vm": {k: int(values[f"/proc/sys/vm/{k}"]) for k in VM_KEYS},
        "swaps": sorted((f[0], int(f[4])) for f in swaps),
        "zswap": {p.rsplit("/", 1)[1]: v for p, v in values.items() if p.startswith("/sys/module/zswap/")},
    }


def assert_applied(predicted: dict, ran: dict, baseline: dict) -> None:
    """The boot ran what was predicted: an automatic swap priority (None) is a negative one, a zswap parameter
    nothing sets (None) is the value the first boot had, and a new zram device (a unit of swapctl's hot-adds its
    own) is one of the zram areas no prediction names, with its priority."""
    assert predicted["vm"] == ran["vm"], (predicted["vm"], ran["vm"])
    auto = [(src, "auto" if pri is None else pri) for src, pri in predicted["swaps"]]
    got = [(src, "auto" if pri < 0 else pri) for src, pri in ran["swaps"]]
    named = {src for src, _ in auto}
    new = sorted(str(pri) for src, pri in auto if src == NEW_DEVICE)
    made = sorted(str(pri) for src, pri in got if src.startswith("/dev/zram") and src not in named)
    assert new == made, (predicted["swaps"], ran)
    assert [a for a in auto if a[0] != NEW_DEVICE] == [g for g in got if g[0] in named], (predicted["swaps"], ran)
    want = {k: baseline["zswap"][k] if v is None else v for k, v in predicted["zswap"].items()}
    assert want == ran["zswap"], (predicted["zswap"], ran["zswap"])


def report(machine, what: str) -> None:
    boots = [{"boot": b.number, "seconds": round(b.seconds, 1), "ended": b.ended} for b in machine.boots]
    print(f"{machine.kernel.release} {what}: {json.dumps(boots)}", file=sys.stderr)


def pending(guest) -> list[dict]:
    return [t for t in ok(guest.swapctl("history", "-o", "json"))["data"]["transactions"] if t["status"] == "pending"]


@pytest.mark.parametrize("series", BOTH if FULL else ("6.12",))
def test_swap_file_sysctl_and_zswap_persisted_are_what_the_next_boot_applies(bootlane, series):
    machine = bootlane(series, memory_mib=2048)  # min_free_kbytes=>65536 is within 5% of lowmem from 2 GiB
    guest = machine.boot()
    assert_booted(guest)
    baseline = running(guest)
    # The next boot of an untouched machine runs what this one runs.
    assert_applied(prediction(guest), baseline, baseline)

    # 1. A swap file at priority 5, and two knobs persisted.
    ok(guest.swapctl("-o", "json", "create", "/swapfile", "--size", "256M", "--priority", "5"))
    ok(guest.swapctl("-o", "json", "vm", "set", "swappiness=33", "min_free_kbytes=>65536", "--persist"))
    # 2. Another package's file wins over swapctl's for one knob: swapctl says so when it persists.
    guest.run(f"echo 'vm.vfs_cache_pressure = 120' > {VENDOR}", check=True)
    said = ok(guest.swapctl("-o", "json", "vm", "set", "vfs_cache_pressure=80", "--persist"))
    assert any("99-zz-vendor.conf" in w for w in said["warnings"]), said["warnings"]
    # 3. zswap enabled with another compressor, persisted (tmpfiles.d). zram without zram-generator: zram0 (the
    # one the driver makes when it loads) through an udev rule and an fstab line, and a hot-added device through
    # a unit of swapctl's, which hot-adds its own at boot.
    ok(guest.swapctl("-o", "json", "zswap", "set", "enabled=Y", "compressor=lz4", "max_pool_percent=25", "--persist"))
    guest.run("modprobe zram num_devices=1", check=True)
    zram_args = ("-o", "json", "zram", "create", "--algorithm", "lz4")
    by_udev = ok(guest.swapctl(*zram_args, "--device", "zram0", "--size", "48M", "-p", "30", "--persist-via", "udev"))
    by_unit = ok(guest.swapctl(*zram_args, "--size", "64M", "--priority", "40", "--persist"))
    assert (by_udev["data"]["device"], by_unit["data"]["device"]) == ("/dev/zram0", "/dev/zram1")
    assert by_unit["data"]["persist_via"] == "systemd", by_unit["data"]
    predicted = prediction(guest)
    assert predicted["vm"]["swappiness"] == 33 and predicted["vm"]["vfs_cache_pressure"] == 120
    assert predicted["swaps"] == [("/dev/zram0", 30), ("/swapfile", 5), (NEW_DEVICE, 40)], predicted
    assert predicted["zswap"]["enabled"] == "Y" and predicted["zswap"]["compressor"] == "lz4"
    guest.poweroff()

    guest = machine.boot()
    assert_booted(guest)
    ran = running(guest)
    assert_applied(predicted, ran, baseline)
    made = next(src for src, pri in ran["swaps"] if pri == 40)  # the unit's device: zram1, after udev's zram0
    sizes = guest.run(
        f"cat /sys/block/zram0/disksize /sys/block/zram0/comp_algorithm /sys/block/{made[5:]}/disksize "
        f"/sys/block/{made[5:]}/comp_algorithm",
        check=True,
    ).stdout.split("\n")
    assert int(sizes[0]) == 48 << 20 and "[lz4]" in sizes[1] and int(sizes[2]) == 64 << 20 and "[lz4]" in sizes[3]
    listed = {a["path"]: a["persisted"] for a in ok(guest.swapctl("-o", "json", "list"))["data"]["areas"]}
    assert listed[made] is True and listed["/dev/zram0"] is True, listed
    found = guest.swapctl("-o", "json", "doctor", "--interval", "0").json()["data"]["findings"]
    assert "zram-unit-not-running" not in {f["id"] for f in found}, found  # the unit ran and recorded its device

    # 4. Remove the swap file and both zram devices, roll back the zswap and vm changes: the next boot has none
    # of it (the vendor file stays, not being swapctl's).
    ok(guest.swapctl("-o", "json", "zram", "remove", "zram0"))
    ok(guest.swapctl("-o", "json", "zram", "remove", made))
    guest.run(
        f"test ! -e /sys/block/{made[5:]} && ! ls /etc/systemd/system/swapctl-zram-* /etc/udev/rules.d/*swapctl*"
        " 2>/dev/null && ! grep -q zram /etc/fstab",
        check=True,
    )  # the unit's device hot-removed, files gone
    ok(guest.swapctl("-o", "json", "remove", "/swapfile"))
    history = ok(guest.swapctl("history", "-o", "json"))["data"]["transactions"]
    for txn in history:  # newest first
        if txn["command"].startswith(("vm set", "zswap set")) and txn["rolled_back_by"] is None:
            ok(guest.swapctl("-o", "json", "rollback", txn["id"]))
    guest.run("test ! -e /swapfile", check=True)
    predicted = prediction(guest)
    assert predicted["swaps"] == [] and set(predicted["zswap"].values()) == {None}
    assert predicted["vm"] == {**baseline["vm"], "vfs_cache_pressure": 120}

    # 5a. A power cut in the middle of create --persist (after its fstab line is written).
    guest.run_and_lose_power(
        "SWAPCTL_TEST_FAULT=fstab-set:*:after:kill swapctl create /swapfile2 --size 64M; echo o > /proc/sysrq-trigger"
    )
    guest = machine.boot()
    assert_booted(guest)  # systemd did not hang on, or fail, the half-made area
    ran = running(guest)
    assert ran["vm"] == predicted["vm"] and ran["zswap"] == baseline["zswap"]
    assert [s for s, _ in ran["swaps"]] in ([], ["/swapfile2"]), ran["swaps"]
    [txn] = pending(guest)
    assert txn["command"].startswith("create"), txn
    ok(guest.swapctl("-o", "json", "rollback"))
    guest.run("test ! -e /swapfile2 && ! grep -q swapfile2 /etc/fstab", check=True)
    assert pending(guest) == [] and prediction(guest)["swaps"] == []

    if not FULL:  # the busybox lane cuts vm set's power at the same point (test_power_loss_vm.py)
        report(machine, "swap file, sysctl, zswap")
        return
    # 5b. A power cut in the middle of vm set --persist (after 90-swapctl.conf is written).
    guest.run_and_lose_power(
        "SWAPCTL_TEST_FAULT=sysctl-persist:*:after:kill swapctl vm set swappiness=77 --persist; "
        "echo o > /proc/sysrq-trigger"
    )
    guest = machine.boot()
    assert_booted(guest)
    swappiness = running(guest)["vm"]["swappiness"]
    assert swappiness in (77, baseline["vm"]["swappiness"]), swappiness  # whichever whole file survived
    [txn] = pending(guest)
    assert "vm" in txn["command"], txn
    ok(guest.swapctl("-o", "json", "rollback"))
    assert pending(guest) == []
    assert prediction(guest)["vm"] == {**baseline["vm"], "vfs_cache_pressure": 120}
    report(machine, "swap file, sysctl, zswap")
    guest.power_cut()


@pytest.mark.parametrize("series", BOTH if FULL else ("6.1",))
def test_a_zram_device_persisted_for_zram_generator_is_what_the_next_boot_sets_up(bootlane, series):
    machine = bootlane(series, variant="zram")
    guest = machine.boot()
    assert_booted(guest)
    baseline = running(guest)
    before = prediction(guest)
    # Debian's own /etc/systemd/zram-generator.conf makes zram0 at zram-generator's priority.
    assert before["swaps"] == [("/dev/zram0", 100)] == baseline["swaps"], (before, baseline)

    ok(
        guest.swapctl(
            "-o", "json", "zram", "create", "--size", "64M", "--algorithm", "lz4", "--priority", "50", "--persist"
        )
    )
    status = {d["device"]: d for d in ok(guest.swapctl("-o", "json", "zram", "status"))["data"]["devices"]}
    assert status["/dev/zram1"]["boot_file"] == "/etc/systemd/zram-generator.conf.d/90-swapctl.conf", status
    predicted = prediction(guest)
    assert predicted["swaps"] == [("/dev/zram0", 100), ("/dev/zram1", 50)], predicted
    guest.poweroff()

    guest = machine.boot()
    assert_booted(guest)
    assert_applied(predicted, running(guest), baseline)
    dev = guest.run("cat /sys/block/zram1/disksize /sys/block/zram1/comp_algorithm", check=True).stdout.split("\n")
    assert int(dev[0]) == 64 << 20 and "[lz4]" in dev[1], dev

    ok(guest.swapctl("-o", "json", "zram", "remove", "zram1"))
    predicted = prediction(guest)
    assert predicted["swaps"] == [("/dev/zram0", 100)], predicted
    if FULL:
        guest.poweroff()
        guest = machine.boot()
        assert_booted(guest)
        assert_applied(predicted, running(guest), baseline)
    report(machine, "zram-generator")
    guest.power_cut()
