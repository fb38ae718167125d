"""What swap the next boot turns on (`list`'s at_boot): fstab's swap lines as swapon -a takes them, and the
devices zram-generator makes, merged from its files as zram-generator merges them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swapctl.ops import bootswap
from tests.fakes import systemd_init

DEBIAN_DEFAULT = "# This config file enables a /dev/zram0 swap device\n[zram0]\n"  # bookworm's shipped file


def generator(root: Path, main: str | None = DEBIAN_DEFAULT, **drop_ins: str) -> None:
    binary = root / "usr/lib/systemd/system-generators/zram-generator"
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text("#!/bin/false\n")
    systemd_init(root)
    if main is not None:
        (root / "etc/systemd").mkdir(parents=True, exist_ok=True)
        (root / "etc/systemd/zram-generator.conf").write_text(main)
    for name, text in drop_ins.items():
        d = root / "etc/systemd/zram-generator.conf.d"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.conf").write_text(text)


def test_fstab_swap_lines_in_order_with_their_priority_and_line() -> None:
    text = (
        "# comment\n"
        "UUID=abcd / ext4 defaults 0 1\n"
        "/swapfile none swap pri=5,discard=once 0 0\n"
        "/spare none swap noauto 0 0\n"
        "/dev/vdb2 none swap defaults 0 0\n"
    )
    got = bootswap.fstab_areas(text)
    assert [(a["source"], a["priority"], a["discard"], a["line"]) for a in got] == [
        ("/swapfile", 5, "once", 3),
        ("/dev/vdb2", None, None, 5),
    ]
    assert all(a["via"] == "fstab" and a["file"] == "/etc/fstab" for a in got)


def test_without_zram_generator_installed_its_config_makes_nothing(host, root: Path) -> None:
    (root / "etc/systemd").mkdir(parents=True)
    (root / "etc/systemd/zram-generator.conf").write_text("[zram0]\n")
    assert bootswap.zram_generator_areas(host) == []


def test_debians_default_file_makes_zram0_of_half_the_ram_up_to_4_gib_at_priority_100(host, root: Path) -> None:
    generator(root)
    mem_total_kib = int(next(x for x in (root / "proc/meminfo").read_text().split("\n") if "MemTotal" in x).split()[1])
    [zram0] = bootswap.zram_generator_areas(host)
    assert zram0["source"] == "/dev/zram0" and zram0["priority"] == 100
    assert zram0["size"] == int(min(mem_total_kib / 1024 / 2, 4096) * (1 << 20))
    assert zram0["file"] == "/etc/systemd/zram-generator.conf" and zram0["algorithm"] is None


def test_a_drop_in_overrides_the_main_file_key_by_key_and_owns_the_device(host, root: Path) -> None:
    generator(
        root,
        "[zram0]\ncompression-algorithm = lz4\nswap-priority = 10\n",
        **{"90-swapctl": "[zram0]\nzram-size = 512\n; a comment\n[zram1]\nzram-size = 64\nswap-priority = 7\n"},
    )
    got = {a["source"]: a for a in bootswap.zram_generator_areas(host)}
    assert got["/dev/zram0"]["size"] == 512 << 20
    assert got["/dev/zram0"]["priority"] == 10 and got["/dev/zram0"]["algorithm"] == "lz4"
    assert got["/dev/zram0"]["file"] == "/etc/systemd/zram-generator.conf.d/90-swapctl.conf"
    assert (got["/dev/zram1"]["size"], got["/dev/zram1"]["priority"]) == (64 << 20, 7)


@pytest.mark.parametrize(
    "section",
    ["[zram0]\nmount-point = /var/tmp\n", "[zram0]\nzram-size = 0\n", "[zram0]\nzram-size = ram / 0 +\n"],
    ids=["a filesystem", "size 0", "a broken size"],
)
def test_devices_zram_generator_does_not_make_swap(host, root: Path, section: str) -> None:
    generator(root, section)
    assert bootswap.zram_generator_areas(host) == []


def test_systemd_zram_0_on_the_kernel_command_line_turns_it_off(host, root: Path) -> None:
    generator(root)
    (root / "proc/cmdline").write_text("root=/dev/vda ro systemd.zram=0 quiet\n")
    assert bootswap.zram_generator_areas(host) == []


def test_list_shows_the_next_boot_and_a_generator_device_as_persisted(cli, root: Path) -> None:
    generator(root)
    (root / "etc/fstab").write_text("/swapfile none swap pri=5 0 0\n")
    swaps = (root / "proc/swaps").read_text()
    (root / "proc/swaps").write_text(swaps + "/dev/zram0                              partition\t1048572\t0\t100\n")
    r = cli("-o", "json", "list")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)["data"]
    assert [(a["source"], a["via"], a["priority"]) for a in d["at_boot"]] == [
        ("/swapfile", "fstab", 5),
        ("/dev/zram0", "zram-generator", 100),
    ]
    assert [(a["path"], a["persisted"]) for a in d["areas"]] == [("/dev/zram0", True)]
    text = " ".join(cli("list").stdout.split())
    assert "at the next boot: /swapfile (priority 5; /etc/fstab line 1), /dev/zram0 (priority 100;" in text


def test_list_says_when_the_next_boot_turns_on_no_swap(cli) -> None:
    r = cli("list")
    assert "at the next boot: no swap" in r.stdout


def test_host_memory_limit_keeps_the_device_off_a_machine_with_more_ram(host, root: Path) -> None:
    generator(root, "[zram0]\nhost-memory-limit = 2048\n[zram1]\nhost-memory-limit = none\n")
    assert [a["source"] for a in bootswap.zram_generator_areas(host)] == ["/dev/zram1"]


def test_zram_status_names_the_file_that_owns_each_device(host, root: Path) -> None:
    from swapctl.ops import zram

    generator(root, "[zram0]\n", **{"90-swapctl": "[zram1]\nzram-size = 64\n", "50-x": "[zram0]\nzram-size = 9\n"})
    assert zram.boot_owners(host) == {
        "zram0": "/etc/systemd/zram-generator.conf.d/50-x.conf",
        "zram1": "/etc/systemd/zram-generator.conf.d/90-swapctl.conf",
    }
