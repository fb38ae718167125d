"""`zram status`, `zswap get` and what `list` says of zram and zswap, on fake machines built like the real
sysfs (this machine's files: 6.18, zram0 with lzo-rle, lzo and lz4, zswap built in)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes import SWAPS_HEADER

GIB = 1 << 30
MM = "  4096000  1024000  1200128        0  1200128       10        2        3        1\n"


def zram_device(root: Path, name: str = "zram0", *, disksize: int = GIB, mm: str = MM, io: str = "0 0 0 0\n") -> None:
    d = root / "sys/block" / name
    d.mkdir(parents=True)
    (d / "disksize").write_text(f"{disksize}\n")
    (d / "initstate").write_text("1\n" if disksize else "0\n")
    (d / "comp_algorithm").write_text("lzo-rle lzo [lz4] \n")
    (d / "mm_stat").write_text(mm)
    (d / "io_stat").write_text(io)


def swaps(root: Path, *lines: str) -> None:
    (root / "proc/swaps").write_text(SWAPS_HEADER + "".join(line + "\n" for line in lines))


def zswap_params(root: Path, **values: str) -> None:
    d = root / "sys/module/zswap/parameters"
    d.mkdir(parents=True)
    base = {"enabled": "N", "compressor": "lzo", "max_pool_percent": "20", "accept_threshold_percent": "90"}
    base["shrinker_enabled"] = "N"
    for k, v in {**base, **values}.items():
        (d / k).write_text(v + "\n")


def test_zram_status_names_every_field_and_joins_the_swap_area(cli, root: Path) -> None:
    zram_device(root)
    swaps(root, "/dev/zram0                              partition\t1048572\t\t8000\t\t100")
    doc = json.loads(cli("-o", "json", "zram", "status").stdout)
    (dev,) = doc["data"]["devices"]
    assert dev["device"] == "/dev/zram0" and dev["disksize"] == GIB and dev["algorithm"] == "lz4"
    assert dev["orig_data_size"] == 4096000 and dev["compr_data_size"] == 1024000 and dev["ratio"] == 4.0
    assert dev["mem_used_total"] == 1200128
    assert dev["pages"] == {"same_pages": 10, "pages_compacted": 2, "huge_pages": 3, "huge_pages_since": 1}
    assert dev["swap"] == {"size": 1048572 * 1024, "used": 8000 * 1024, "priority": 100}
    table = cli("zram", "status")
    assert table.exit_code == 0
    row = next(line for line in table.stdout.splitlines() if "/dev/zram0" in line)
    assert row.split()[:4] == ["/dev/zram0", "1", "GiB", "lz4"] and "4.00" in row
    assert "swap Used counts the swap slots" in table.stdout


def test_zram_status_of_an_unknown_device_is_one_line_and_exit_2(cli, root: Path) -> None:
    zram_device(root)
    r = cli("zram", "status", "zram7")
    assert r.exit_code == 2
    assert r.stderr.splitlines()[0] == "swapctl: error: no zram device 'zram7' (this machine has: zram0)"


def test_a_device_with_a_damaged_stat_line_is_shown_with_the_problem_named(cli, root: Path) -> None:
    zram_device(root, mm="garbage here\n", io="1 2\n")
    doc = json.loads(cli("-o", "json", "zram", "status").stdout)
    (dev,) = doc["data"]["devices"]
    assert dev["orig_data_size"] is None and any("mm_stat" in p for p in dev["problems"])
    assert dev["io"] == {"failed_reads": 1, "failed_writes": 2}


def test_zswap_get_shows_the_kernels_parameters_and_explains_the_missing_ones(cli, root: Path) -> None:
    zswap_params(root)
    meminfo = (root / "proc/meminfo").read_text() + "Zswap:              2048 kB\nZswapped:           8192 kB\n"
    (root / "proc/meminfo").write_text(meminfo)
    (root / "proc/vmstat").write_text("nr_free_pages 1\nzswpin 5\nzswpout 40\nzswpwb 2\n")
    doc = json.loads(cli("-o", "json", "zswap", "get").stdout)["data"]
    assert doc["parameters"]["compressor"] == "lzo" and doc["enabled"] is False
    assert doc["missing"]["zpool"] == "not on this kernel (gone in 6.18)"
    assert doc["pool"] == {"size": 2048 * 1024, "stored": 8192 * 1024, "ratio": 4.0}
    assert doc["counters"] == {"zswpin": 5, "zswpout": 40, "zswpwb": 2}
    table = cli("zswap", "get").stdout
    assert "gone in 6.18" in table and "pool: 2 MiB holding 8 MiB (ratio 4.00)" in table


def test_zswap_enabled_without_swap_says_it_stores_nothing(cli, root: Path) -> None:
    zswap_params(root, enabled="Y")
    doc = json.loads(cli("-o", "json", "zswap", "get").stdout)["data"]
    assert doc["enabled"] is True and "no swap area is active" in doc["notes"][0]


def test_a_kernel_without_zswap_says_so(cli, root: Path) -> None:
    assert json.loads(cli("-o", "json", "zswap", "get").stdout)["data"]["available"] is False


def test_list_shows_zram_as_zram_with_its_memory_cost(cli, root: Path) -> None:
    zram_device(root)
    swaps(root, "/dev/zram0                              partition\t1048572\t\t8000\t\t100")
    doc = json.loads(cli("-o", "json", "list").stdout)
    (area,) = doc["data"]["areas"]
    assert area["type"] == "zram" and area["memory"] == 1200128
    assert doc["warnings"] == []


@pytest.mark.parametrize(("zram_prio", "warned"), [(5, True), (10, True), (11, False)])
def test_list_warns_when_zram_is_not_above_disk_swap(cli, root: Path, zram_prio: int, warned: bool) -> None:
    zram_device(root)
    (root / "swapfile").write_bytes(b"")
    swaps(
        root,
        "/swapfile                               file\t\t1048572\t\t0\t\t10",
        f"/dev/zram0                              partition\t1048572\t\t0\t\t{zram_prio}",
    )
    warnings = json.loads(cli("-o", "json", "list").stdout)["warnings"]
    hits = [w for w in warnings if "not above /swapfile" in w]
    assert bool(hits) == warned, warnings
    if warned:
        assert "fix: swapon -p 100 /dev/zram0" in hits[0]


@pytest.mark.parametrize("enabled", ["Y", "N"])
def test_list_warns_when_zswap_compresses_in_front_of_zram(cli, root: Path, enabled: str) -> None:
    zram_device(root)
    zswap_params(root, enabled=enabled)
    swaps(root, "/dev/zram0                              partition\t1048572\t\t0\t\t100")
    warnings = json.loads(cli("-o", "json", "list").stdout)["warnings"]
    assert any("compressed twice" in w for w in warnings) == (enabled == "Y"), warnings


def test_list_warns_when_two_files_on_one_filesystem_share_a_priority(cli, root: Path) -> None:
    for name in ("a.swap", "b.swap", "c.swap"):
        (root / name).write_bytes(b"")
    swaps(
        root,
        "/a.swap                                 file\t\t1024\t\t0\t\t5",
        "/b.swap                                 file\t\t1024\t\t0\t\t5",
        "/c.swap                                 file\t\t1024\t\t0\t\t6",
    )
    warnings = json.loads(cli("-o", "json", "list").stdout)["warnings"]
    shared = [w for w in warnings if "on one device" in w]
    assert len(shared) == 1 and "/a.swap and /b.swap" in shared[0] and "priority 5" in shared[0], warnings
