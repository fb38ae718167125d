from __future__ import annotations

from pathlib import Path

import pytest

from swapctl.system.procfs import (
    mount_for,
    parse_meminfo,
    parse_mountinfo,
    parse_pressure,
    parse_swaps,
    parse_vmstat,
    unescape_octal,
)


def test_swaps_names_with_space_and_tab_are_decoded(fixtures: Path) -> None:
    areas = parse_swaps((fixtures / "this-machine/proc/swaps").read_text())
    assert [a.path for a in areas] == ["/var/tmp/cap swap\ttab", "/var/tmp/capswap2"]
    assert areas[0].size == 16380 * 1024 and areas[0].priority == 5
    assert areas[1].priority == -2 and areas[1].type == "file"


@pytest.mark.parametrize(
    "name,path,kind,prio",
    [
        ("digitalocean-tutorial__add-swap__pre-4.14__proc_swaps", "/swapfile", "file", -1),
        ("prometheus_node_exporter__collector_fixtures_proc_swaps", "/dev/zram0", "partition", 100),
        ("prometheus_procfs__testdata_fixtures.ttar__fixtures_proc_swaps", "/dev/dm-2", "partition", -2),
    ],
)
def test_swaps_from_other_kernels_parse(fixtures: Path, name: str, path: str, kind: str, prio: int) -> None:
    (area,) = parse_swaps((fixtures / "public" / name).read_text())
    assert (area.path, area.type, area.priority) == (path, kind, prio)


def test_a_deleted_swap_file_is_recognised() -> None:
    text = "Filename\tType\tSize\tUsed\tPriority\n/var/tmp/x\\040(deleted)   file  100 0 -2\n"
    (area,) = parse_swaps(text)
    assert area.path == "/var/tmp/x (deleted)" and area.deleted


def test_octal_escapes_round_trip_backslash() -> None:
    assert unescape_octal(r"a\134b\012c") == "a\\b\nc"


def test_meminfo_values_are_bytes_and_node_files_parse(fixtures: Path) -> None:
    mem = parse_meminfo((fixtures / "this-machine/proc/meminfo").read_text())
    assert mem["MemTotal"] > 1 << 30 and mem["MemTotal"] % 1024 == 0
    node = parse_meminfo(
        (
            fixtures / "public/performancecopilot_pcp__qa_linux_meminfo-root-007.tgz__"
            "sys_devices_system_node_node1_meminfo"
        ).read_text()
    )
    assert node["MemTotal"] > 0 and "MemFree" in node


def test_every_public_meminfo_has_memtotal(fixtures: Path) -> None:
    files = sorted((fixtures / "public").glob("*proc_meminfo"))
    assert files
    for f in files:
        assert parse_meminfo(f.read_text())["MemTotal"] > 0, f.name


def test_mountinfo_picks_the_deepest_mount() -> None:
    text = (
        "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
        "30 22 0:40 / /var/tmp/my\\040mnt rw - btrfs /dev/loop0 rw,compress=zstd\n"
        "31 22 0:41 / /dev/shm rw - tmpfs tmpfs rw\n"
    )
    mounts = parse_mountinfo(text)
    assert mount_for("/var/tmp/my mnt/sw", mounts).fstype == "btrfs"
    assert mount_for("/var/tmp/my mntx", mounts).fstype == "ext4"
    assert mount_for("/dev/shm/x", mounts).fstype == "tmpfs"
    assert "compress=zstd" in mount_for("/var/tmp/my mnt", mounts).options


def test_the_machines_own_mountinfo_parses() -> None:
    mounts = parse_mountinfo(Path("/proc/self/mountinfo").read_text())
    assert mount_for("/", mounts) is not None


def test_vmstat_and_pressure(fixtures: Path) -> None:
    vm = parse_vmstat((fixtures / "this-machine/proc/vmstat").read_text())
    assert "pswpout" in vm and "pgscan_kswapd" in vm
    psi = parse_pressure(
        (fixtures / "public/performancecopilot_pcp__qa_linux_pressure-root-001.tgz__proc_pressure_memory").read_text()
    )
    assert psi["full"]["avg10"] == pytest.approx(57.59) and psi["some"]["total"] == 3559632828
