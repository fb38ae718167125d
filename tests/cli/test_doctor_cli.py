"""`swapctl doctor` on fake machines: a healthy two-node machine (the 6.12 QEMU recording, with encrypted swap, a
cgroup well under its limit, no pressure) shows no finding and exits 0; each test breaks one thing and shows
that its finding appears, with the numbers and the files they came from, and that the run exits 4 (warning or
above) or 0 (info). The sleep and the clock are fake: no test waits."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from swapctl.ops import doctor as ops
from tests.fakes import FIXTURES, SWAPS_HEADER

BASE = FIXTURES / "kernel-recordings/6.12/n2-1g-1g/step0/root"
ONE_NODE = FIXTURES / "this-machine"
TX = "20261202T071214-c310"
GiB, MiB = 1 << 30, 1 << 20


def write(root: Path, path: str, text: str) -> Path:
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def swaps(root: Path, *areas: tuple[str, str, int, int, int]) -> None:
    """proc/swaps with (path, type, size KiB, used KiB, priority) rows, and meminfo's Swap lines to match."""
    body = "".join(f"{p:<40}{t}\t\t{size}\t\t{used}\t\t{prio}\n" for p, t, size, used, prio in areas)
    write(root, "/proc/swaps", SWAPS_HEADER + body)
    total = sum(a[2] for a in areas)
    free = total - sum(a[3] for a in areas)
    meminfo(root, SwapTotal=total, SwapFree=free)


def meminfo(root: Path, **kb: int) -> None:
    path = root / "proc/meminfo"
    text = path.read_text()
    for key, value in kb.items():
        text = re.sub(rf"^{key}:\s+\d+ kB$", f"{key}: {value:>15} kB", text, flags=re.M)
    path.write_text(text)


def block_device(root: Path, number: str, name: str, *, dm_uuid: str | None = None, slaves: tuple = ()) -> None:
    """sys/dev/block/MAJ:MIN and sys/class/block/NAME of a device; slaves: (number, name) beneath it."""
    for base in (f"/sys/dev/block/{number}", f"/sys/class/block/{name}"):
        write(root, f"{base}/dev", number + "\n")
        write(root, f"{base}/uevent", f"DEVNAME={name}\n")
        if dm_uuid is not None:
            write(root, f"{base}/dm/uuid", dm_uuid + "\n")
            write(root, f"{base}/dm/name", name + "\n")
        for s_number, s_name in slaves:
            write(root, f"{base}/slaves/{s_name}/dev", s_number + "\n")
            write(root, f"{base}/slaves/{s_name}/uevent", f"DEVNAME={s_name}\n")


def set_zone_free(root: Path, node: int, zone: str, pages: int) -> None:
    path = root / "proc/zoneinfo"
    text = path.read_text()
    head = re.search(rf"^Node {node}, zone +{zone}$", text, flags=re.M)
    assert head is not None
    at = text.index("  pages free", head.end())
    end = text.index("\n", at)
    path.write_text(text[:at] + f"  pages free     {pages}" + text[end:])


def cgroup(root: Path, name: str, **files: object) -> Path:
    d = root / "sys/fs/cgroup" / name.strip("/")
    d.mkdir(parents=True, exist_ok=True)
    for key, value in files.items():
        (d / key.replace("_", ".", 1)).write_text(f"{value}\n")
    return d


def healthy(root: Path) -> Path:
    """Nothing for doctor to say: encrypted swap barely used, a cgroup far below its limit, no pressure."""
    write(root, "/proc/self/mountinfo", "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n")
    write(root, "/proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    write(
        root,
        "/proc/pressure/memory",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    )
    swaps(root, ("/dev/dm-1", "partition", 1048572, 1024, -2))
    block_device(root, "253:1", "dm-1", dm_uuid="CRYPT-PLAIN-cryptswap", slaves=(("254:2", "vda2"),))
    block_device(root, "254:2", "vda2")
    block_device(root, "254:0", "vda")
    write(root, "/sys/module/zswap/parameters/enabled", "N\n")
    write(root, "/sys/module/zswap/parameters/compressor", "lzo\n")
    # cgroup v2 with the memory controller: one group, 100 MiB of its 1 GiB, nothing in swap
    write(
        root,
        "/proc/self/mountinfo",
        (root / "proc/self/mountinfo").read_text() + "30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n",
    )
    write(root, "/sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n")
    cgroup(
        root,
        "system.slice/db.service",
        memory_max=GiB,
        memory_high="max",
        memory_current=100 * MiB,
        **{"memory.swap.current": 0},
        memory_events="low 0\nhigh 0\nmax 0\noom 0\noom_kill 0",
    )
    return root


@pytest.fixture
def root(tmp_path: Path) -> Path:  # the conftest's `host` and `cli` run on this machine
    return healthy(shutil.copytree(BASE, tmp_path / "root"))


@pytest.fixture
def later(root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counters to add to /proc/vmstat before its second reading; the sleep moves a fake clock by exactly what
    it is asked, so the rates are the additions divided by --interval."""
    adds: dict[str, int] = {}
    now = [1000.0]
    vmstat = root / "proc/vmstat"

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if adds:
            text = vmstat.read_text()
            for key, n in adds.items():
                m = re.search(rf"^{key} (\d+)$", text, flags=re.M)
                text = (
                    text[: m.start()] + f"{key} {int(m.group(1)) + n}" + text[m.end() :] if m else text + f"{key} {n}\n"
                )
            vmstat.write_text(text)

    monkeypatch.setattr(time, "sleep", sleep)
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    return adds


def run(cli, *args: str, code: int | None = None) -> dict:  # noqa: ANN001
    r = cli("-o", "json", "doctor", *args)
    doc = json.loads(r.stdout)
    if code is not None:
        assert r.exit_code == code, r.output
    return doc


def findings(cli, *args: str, code: int | None = None) -> dict[str, list[dict]]:  # noqa: ANN001
    out: dict[str, list[dict]] = {}
    for f in run(cli, *args, code=code)["data"]["findings"]:
        out.setdefault(f["id"], []).append(f)
    return out


def evidence(f: dict) -> dict[str, tuple]:
    return {e["name"].strip(): (e["value"], e["source"]) for e in f["evidence"]}


# --- the healthy machine ----------------------------------------------------------------------------------
def test_a_healthy_machine_has_no_finding_and_exits_0(cli, later) -> None:  # noqa: ANN001
    later["pswpout"] = 0
    doc = run(cli, code=0)
    assert doc["ok"] is True and doc["error"] is None
    d = doc["data"]
    assert d["findings"] == [] and d["worst"] is None and d["failed"] is False
    assert d["interval"] == 1.0 and d["rates"]["pswpout"] == 0
    assert d["not_checked"] == []
    r = cli("doctor")
    assert r.exit_code == 0
    assert "no findings" in r.stdout


def test_list_says_each_area_is_encrypted_or_not(cli, root: Path) -> None:  # noqa: ANN001
    swaps(
        root,
        ("/dev/dm-1", "partition", 1048572, 0, -2),
        ("/dev/vda3", "partition", 1048572, 0, -3),
        ("/swapfile", "file", 1048572, 0, -4),
        ("/dev/sdz1", "partition", 1048572, 0, -5),
    )
    block_device(root, "254:3", "vda3")
    r = cli("-o", "json", "list")
    assert r.exit_code == 0, r.output
    areas = {a["path"]: a for a in json.loads(r.stdout)["data"]["areas"]}
    assert areas["/dev/dm-1"]["encrypted"] is True
    assert areas["/dev/dm-1"]["encryption"]["stack"] == [
        "dm-1 (253:1) dm-crypt CRYPT-PLAIN-cryptswap",
        "  vda2 (254:2) not dm-crypt",
    ]
    assert areas["/dev/vda3"]["encrypted"] is False
    assert areas["/swapfile"]["encrypted"] is False  # on ext4 /dev/vda (254:0 in mountinfo): no dm-crypt
    assert areas["/swapfile"]["encryption"]["device"] == "/dev/vda"
    assert areas["/dev/sdz1"]["encrypted"] is None  # sysfs does not show it


# --- one test per finding ---------------------------------------------------------------------------------
def test_no_swap(cli, root: Path) -> None:  # noqa: ANN001
    swaps(root)
    doc = run(cli, "--interval", "0", code=4)
    assert doc["ok"] is False and doc["error"]["code"] == 4 and "no-swap" in doc["error"]["message"]
    (f,) = {f["id"]: f for f in doc["data"]["findings"]}.values()
    assert f["id"] == "no-swap" and f["severity"] == "warning"
    ev = evidence(f)
    assert ev["SwapTotal"] == (0, "/proc/meminfo") and ev["swap areas"] == (0, "/proc/swaps")
    assert f["fix"][0] == "swapctl create /swapfile --size auto"


@pytest.mark.parametrize(("used_kb", "severity"), [(943_000, None), (944_000, "warning"), (1_028_000, "critical")])
def test_swap_nearly_full_at_90_and_98_percent(cli, root: Path, used_kb: int, severity: str | None) -> None:  # noqa: ANN001
    swaps(root, ("/dev/dm-1", "partition", 1048572, used_kb, -2))
    found = findings(cli, "--interval", "0", code=0 if severity is None else 4)
    if severity is None:
        assert "swap-nearly-full" not in found
        return
    (f,) = found["swap-nearly-full"]
    assert f["severity"] == severity
    ev = evidence(f)
    assert ev["SwapTotal"] == (1048572 * 1024, "/proc/meminfo")
    assert ev["SwapFree"] == ((1048572 - used_kb) * 1024, "/proc/meminfo")
    assert ev["/dev/dm-1 used"] == (used_kb * 1024, "/proc/swaps")


def test_swapping_now_says_how_fast_and_who_reclaims(cli, later) -> None:  # noqa: ANN001
    later.update(pswpout=2560, pswpin=256, pgscan_kswapd=3000, pgscan_anon=3000)  # over 2 s
    found = findings(cli, "--interval", "2", code=4)
    (f,) = found["swapping-now"]
    assert f["severity"] == "warning"  # 2816 pages/s of 4 KiB: 11 MiB/s
    ev = evidence(f)
    assert ev["pswpout"] == (1280.0, "/proc/vmstat, over 2.0 s")
    assert ev["pswpin"] == (128.0, "/proc/vmstat, over 2.0 s")
    assert ev["pgscan_kswapd"][0] == 1500.0 and ev["pgscan_direct"][0] == 0
    assert "reclaim by kswapd 100%" in f["summary"]
    assert "direct-reclaim" not in found  # kswapd alone: no task stalled


def test_a_trickle_of_swapping_is_info_and_exits_0(cli, later) -> None:  # noqa: ANN001
    later.update(pswpin=10)
    found = findings(cli, code=0)
    assert found["swapping-now"][0]["severity"] == "info"
    assert "no reclaim scanned" in found["swapping-now"][0]["summary"]


def test_interval_0_takes_one_reading_and_never_sleeps(cli, later, monkeypatch) -> None:  # noqa: ANN001
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    d = run(cli, "--interval", "0", code=0)["data"]
    assert slept == [] and d["rates"] is None and d["interval"] == 0
    assert {"check": "swapping-now, direct-reclaim", "why": "--interval 0 takes one reading: no rates"} in d[
        "not_checked"
    ]


def test_direct_scanning_without_a_counted_stall_is_direct_reclaim_too(cli, later) -> None:  # noqa: ANN001
    later.update(pgscan_direct=64)
    (f,) = findings(cli, code=4)["direct-reclaim"]
    assert evidence(f)["allocstall"][0] == 0 and evidence(f)["pgscan_direct"][0] == 64.0


def test_direct_reclaim(cli, later) -> None:  # noqa: ANN001
    later.update(allocstall_normal=5, pgscan_direct=1000, pgsteal_direct=800)
    (f,) = findings(cli, code=4)["direct-reclaim"]
    assert f["severity"] == "warning"
    ev = evidence(f)
    assert ev["allocstall"] == (5.0, "/proc/vmstat, over 1.0 s")
    assert ev["pgscan_direct"] == (1000.0, "/proc/vmstat, over 1.0 s")
    assert ev["watermark_scale_factor"] == (10, "/proc/sys/vm/watermark_scale_factor")
    assert "swapctl vm set watermark_scale_factor=200 --persist" in f["fix"]


@pytest.mark.parametrize(
    ("line", "severity"),
    [
        ("some avg10=9.90 avg60=2.00 avg300=0.50 total=1\nfull avg10=4.90 avg60=1.00 avg300=0.10 total=1", None),
        ("some avg10=25.00 avg60=8.00 avg300=2.00 total=1\nfull avg10=1.00 avg60=0.50 avg300=0.10 total=1", "warning"),
        ("some avg10=3.00 avg60=2.00 avg300=1.00 total=1\nfull avg10=1.00 avg60=5.00 avg300=0.10 total=1", "warning"),
        ("some avg10=3.00 avg60=12.00 avg300=1.00 total=1\nfull avg10=1.00 avg60=1.00 avg300=0.10 total=1", "warning"),
        ("some avg10=40.00 avg60=30.00 avg300=9.00 total=1\nfull avg10=22.0 avg60=9.00 avg300=2.0 total=1", "critical"),
    ],
)
def test_psi_memory(cli, root: Path, line: str, severity: str | None) -> None:  # noqa: ANN001
    write(root, "/proc/pressure/memory", line + "\n")
    found = findings(cli, "--interval", "0", code=0 if severity is None else 4)
    if severity is None:
        assert "psi-memory" not in found
        return
    (f,) = found["psi-memory"]
    assert f["severity"] == severity
    assert evidence(f)["some avg10"][1] == "/proc/pressure/memory"


def test_without_psi_the_check_is_listed_as_not_done(cli, root: Path) -> None:  # noqa: ANN001
    (root / "proc/pressure/memory").unlink()
    d = run(cli, "--interval", "0", code=0)["data"]
    assert sorted(c["check"] for c in d["not_checked"]) == ["psi-memory", "swapping-now, direct-reclaim"]


def test_numa_node_below_low_while_the_other_has_memory(cli, root: Path) -> None:  # noqa: ANN001
    set_zone_free(root, 1, "DMA32", 100)
    write(root, "/proc/sys/vm/zone_reclaim_mode", "4\n")
    found = findings(cli, "--interval", "0", code=4)
    (f,) = found["numa-node-below-low"]
    assert f["severity"] == "warning"
    assert f["summary"].startswith("node 1 below its low watermark while node 0 (")
    ev = evidence(f)
    assert ev["node 1 DMA32 free"] == (100, "/proc/zoneinfo")
    assert ev["node 1 DMA32 low"][0] > 100
    assert ev["zone_reclaim_mode"] == (4, "/proc/sys/vm/zone_reclaim_mode")
    assert ev["bit 4 (swap / unmap pages)"][0] == "on" and ev["bit 1 (zone reclaim on)"][0] == "off"
    assert f["fix"][0] == "swapctl vm set zone_reclaim_mode=0 --persist"
    assert "zone-reclaim-mode" in found


def test_a_node_below_low_with_no_roomy_node_is_not_the_numa_finding(cli, root: Path) -> None:  # noqa: ANN001
    set_zone_free(root, 0, "DMA32", 100)
    set_zone_free(root, 1, "DMA32", 100)
    assert "numa-node-below-low" not in findings(cli, "--interval", "0")


def test_zone_reclaim_mode_is_decoded_bit_by_bit(cli, root: Path) -> None:  # noqa: ANN001
    write(root, "/proc/sys/vm/zone_reclaim_mode", "3\n")
    (f,) = findings(cli, "--interval", "0", code=4)["zone-reclaim-mode"]
    assert f["severity"] == "warning" and "on 2 memory nodes" in f["summary"]
    ev = evidence(f)
    assert [ev[f"bit {b} ({t})"][0] for b, t in ((1, "zone reclaim on"), (2, "write out dirty pages"))] == ["on", "on"]
    assert ev["bit 4 (swap / unmap pages)"][0] == "off"
    write(root, "/sys/devices/system/node/has_memory", "0\n")  # one memory node: no effect, info
    (f,) = findings(cli, "--interval", "0")["zone-reclaim-mode"]
    assert f["severity"] == "info"


def test_cgroup_at_its_limit_that_swaps_while_the_machine_has_memory(cli, root: Path) -> None:  # noqa: ANN001
    d = cgroup(
        root,
        "system.slice/db.service",
        memory_current=1000 * MiB,
        **{"memory.swap.current": 200 * MiB},
        memory_events="low 0\nhigh 0\nmax 42\noom 0\noom_kill 0",
    )
    (f,) = findings(cli, "--interval", "0", code=4)["cgroup-at-limit-swapping"]
    assert f["severity"] == "warning" and f["subject"] == "/system.slice/db.service"
    ev = evidence(f)
    assert ev["current"] == (1000 * MiB, "/sys/fs/cgroup/system.slice/db.service/memory.current")
    assert ev["memory.max"] == (GiB, "/sys/fs/cgroup/system.slice/db.service/memory.max")
    assert ev["swap"] == (200 * MiB, "/sys/fs/cgroup/system.slice/db.service/memory.swap.current")
    assert ev["events max"] == (42, "/sys/fs/cgroup/system.slice/db.service/memory.events")
    assert f["fix"][0].startswith("systemctl set-property db.service MemoryMax=1200M")
    (d / "memory.swap.current").write_text("0\n")  # at the limit but nothing in swap: not this finding
    assert "cgroup-at-limit-swapping" not in findings(cli, "--interval", "0")


def test_a_cgroup_at_its_limit_is_not_blamed_when_the_machine_itself_is_short(cli, root: Path) -> None:  # noqa: ANN001
    cgroup(root, "system.slice/db.service", memory_current=1000 * MiB, **{"memory.swap.current": 200 * MiB})
    meminfo(root, MemAvailable=100000)  # under 10% of MemTotal
    assert "cgroup-at-limit-swapping" not in findings(cli, "--interval", "0")


def test_a_cgroup_v1_hierarchy_counts_memsw_minus_usage_as_swap(cli, root: Path) -> None:  # noqa: ANN001
    write(
        root,
        "/proc/self/mountinfo",
        "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
        "35 22 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n",
    )
    base = root / "sys/fs/cgroup/memory"
    write(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
    for name, limit, usage, memsw in (("batch", 512 * MiB, 510 * MiB, 600 * MiB), ("free", 9223372036854771712, 1, 1)):
        (base / name).mkdir()
        (base / name / "memory.limit_in_bytes").write_text(f"{limit}\n")
        (base / name / "memory.usage_in_bytes").write_text(f"{usage}\n")
        (base / name / "memory.memsw.usage_in_bytes").write_text(f"{memsw}\n")
        (base / name / "memory.failcnt").write_text("7\n")
    (f,) = findings(cli, "--interval", "0", code=4)["cgroup-at-limit-swapping"]
    assert f["subject"] == "/batch"
    ev = evidence(f)
    assert ev["swap"] == (90 * MiB, "/sys/fs/cgroup/memory/batch/memory.memsw.usage_in_bytes")
    assert ev["memory.max"] == (512 * MiB, "/sys/fs/cgroup/memory/batch/memory.limit_in_bytes")
    assert ev["events failcnt"][0] == 7


@pytest.mark.parametrize(
    ("value", "severity", "words"),
    [
        (30000, "warning", "under half the kernel's own value"),
        (150000, "warning", "above the safe limit"),
        (67584, None, ""),
    ],
)
def test_min_free_kbytes_far_from_the_default_or_above_the_safe_share(
    cli,
    root: Path,
    value: int,
    severity: str | None,
    words: str,  # noqa: ANN001
) -> None:
    write(root, "/proc/sys/vm/min_free_kbytes", f"{value}\n")
    write(root, "/etc/sysctl.d/90-swapctl.conf", f"vm.min_free_kbytes = {value}\n")  # persisted: no drift
    found = findings(cli, "--interval", "0", code=0 if severity is None else 4)
    if severity is None:
        assert "min-free-kbytes-unusual" not in found
        return
    (f,) = found["min-free-kbytes-unusual"]
    assert f["severity"] == severity and words in f["summary"]
    ev = evidence(f)
    assert ev["min_free_kbytes"] == (value, "/proc/sys/vm/min_free_kbytes")
    assert ev["safe limit"][0] == 101203  # 5% of the lowmem the zones manage
    assert ev["kernel default (estimated)"][1] == "/proc/zoneinfo managed pages"


def test_min_free_kbytes_well_above_the_default_but_safe_is_info(cli, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.fakes import fake_host

    big = shutil.copytree(ONE_NODE, tmp_path / "big")  # 23 GiB: the safe limit is far above 4x the default
    write(big, "/proc/sys/vm/min_free_kbytes", "300000\n")
    write(big, "/etc/sysctl.d/90-swapctl.conf", "vm.min_free_kbytes = 300000\n")
    r = cli("-o", "json", "doctor", "--interval", "0", host_override=fake_host(big))
    found = {f["id"]: f for f in json.loads(r.stdout)["data"]["findings"]}
    assert found["min-free-kbytes-unusual"]["severity"] == "info"
    assert "over four times" in found["min-free-kbytes-unusual"]["summary"]


@pytest.mark.parametrize(
    ("value", "first", "zswap", "expected"),
    [
        (0, "disk", "N", "warning"),
        (150, "disk", "N", "warning"),
        (150, "zram", "N", None),
        (150, "disk", "Y", None),
        (1, "disk", "N", None),
        (100, "disk", "N", None),
    ],
)
def test_swappiness_extreme(cli, root: Path, value: int, first: str, zswap: str, expected: str | None) -> None:  # noqa: ANN001
    write(root, "/proc/sys/vm/swappiness", f"{value}\n")
    write(root, "/etc/sysctl.d/90-swapctl.conf", f"vm.swappiness = {value}\n")
    write(root, "/sys/module/zswap/parameters/enabled", f"{zswap}\n")
    if first == "zram":
        swaps(root, ("/dev/zram0", "partition", 1048572, 0, 100), ("/dev/dm-1", "partition", 1048572, 0, -2))
    found = findings(cli, "--interval", "0")
    if expected is None:
        assert "swappiness-extreme" not in found
        return
    (f,) = found["swappiness-extreme"]
    assert f["severity"] == expected
    assert evidence(f)["swappiness"] == (value, "/proc/sys/vm/swappiness")


def test_swappiness_0_without_swap_is_only_the_no_swap_finding(cli, root: Path) -> None:  # noqa: ANN001
    swaps(root)
    write(root, "/proc/sys/vm/swappiness", "0\n")
    write(root, "/etc/sysctl.d/90-swapctl.conf", "vm.swappiness = 0\n")
    assert list(findings(cli, "--interval", "0")) == ["no-swap"]


def test_zram_priority_below_disk(cli, root: Path) -> None:  # noqa: ANN001
    swaps(root, ("/dev/dm-1", "partition", 1048572, 0, 5), ("/dev/zram0", "partition", 1048572, 0, 5))
    (f,) = findings(cli, "--interval", "0", code=4)["zram-priority-below-disk"]
    assert f["subject"] == "/dev/zram0"
    ev = evidence(f)
    assert ev["/dev/zram0 priority"] == (5, "/proc/swaps") and ev["/dev/dm-1 priority"] == (5, "/proc/swaps")
    assert f["fix"][0] == "swapoff /dev/zram0 && swapon -p 100 /dev/zram0"
    swaps(root, ("/dev/dm-1", "partition", 1048572, 0, 5), ("/dev/zram0", "partition", 1048572, 0, 100))
    assert "zram-priority-below-disk" not in findings(cli, "--interval", "0", code=0)


def test_zswap_in_front_of_zram(cli, root: Path) -> None:  # noqa: ANN001
    swaps(root, ("/dev/zram0", "partition", 1048572, 0, 100))
    write(root, "/sys/module/zswap/parameters/enabled", "Y\n")
    (f,) = findings(cli, "--interval", "0", code=4)["zswap-in-front-of-zram"]
    assert evidence(f)["zswap enabled"] == ("Y", "/sys/module/zswap/parameters/enabled")
    assert f["fix"] == ["swapctl zswap set enabled=N --persist"]
    write(root, "/sys/module/zswap/parameters/enabled", "N\n")
    assert "zswap-in-front-of-zram" not in findings(cli, "--interval", "0", code=0)


def test_zram_unit_not_running(cli, root: Path) -> None:  # noqa: ANN001
    from swapctl.ops import zram_boot

    swaps(root, ("/swapfile", "file", 1048572, 0, -2))
    write(root, "/etc/systemd/system/swapctl-zram-3.service", zram_boot.unit_text(3, zram_boot.Spec(1 << 26)))
    write(root, "/etc/systemd/system/swap.target.d/swapctl-zram-3.conf", "[Unit]\nWants=swapctl-zram-3.service\n")
    assert "zram-unit-not-running" not in findings(cli, "--interval", "0")  # not booted with systemd: cannot tell
    (root / "run/systemd/system").mkdir(parents=True)
    (f,) = findings(cli, "--interval", "0", code=4)["zram-unit-not-running"]
    assert f["subject"] == "/etc/systemd/system/swapctl-zram-3.service" and f["severity"] == "warning"
    assert evidence(f)["device it made this boot"] == (None, "/run/swapctl/zram-3")
    assert f["fix"][1] == "journalctl -b -u swapctl-zram-3.service"
    write(root, "/run/swapctl/zram-3", "zram1 added\n")
    assert "zram-unit-not-running" not in findings(cli, "--interval", "0")


def test_persisted_drift(cli, root: Path) -> None:  # noqa: ANN001
    write(root, "/proc/sys/vm/vfs_cache_pressure", "50\n")  # set by hand, persisted nowhere
    write(root, "/etc/sysctl.d/90-swapctl.conf", "vm.page-cluster = 0\n")  # persisted, not applied yet
    found = findings(cli, "--interval", "0", code=4)["persisted-drift"]
    by_key = {f["subject"]: f for f in found}
    assert set(by_key) == {"vm.vfs_cache_pressure", "vm.page-cluster"}
    f = by_key["vm.vfs_cache_pressure"]
    assert f["summary"] == "vm.vfs_cache_pressure is 50 now, 100 at the next boot (kernel default)"
    assert evidence(f)["vm.vfs_cache_pressure"] == (50, "/proc/sys/vm/vfs_cache_pressure")
    assert f["fix"][0] == "swapctl vm set vfs_cache_pressure=50 --persist   (keep what runs now)"
    assert evidence(by_key["vm.page-cluster"])["at the next boot"] == (0, "/etc/sysctl.d/90-swapctl.conf:1")


def journal(root: Path, *entries: dict) -> None:
    state = root / "var/lib/swapctl"
    state.mkdir(parents=True, mode=0o700, exist_ok=True)
    (state / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    (state / "journal.jsonl").chmod(0o600)


BEGIN = {"t": "begin", "tx": TX, "command": "vm set", "time": 1764656000.0, "boot_id": "", "kernel": "6.12", "meta": {}}
INTENT = {
    "t": "intent",
    "tx": TX,
    "seq": 0,
    "undo": {"old": 60},
    "step": {"kind": "sysctl-write", "params": {"name": "swappiness", "value": 10, "mode": "set", "planned_old": 60}},
}


def test_pending_transaction(cli, root: Path) -> None:  # noqa: ANN001
    journal(root, BEGIN, INTENT)
    (f,) = findings(cli, "--interval", "0", code=4)["pending-transaction"]
    assert f["severity"] == "critical" and f["subject"] == TX
    ev = evidence(f)
    assert ev["transaction"][0] == TX and ev["transaction"][1].endswith("var/lib/swapctl/journal.jsonl")
    assert ev["status"][0] == "pending" and ev["steps applied"][0] == "0 of 1"
    assert f["fix"][0] == f"swapctl rollback {TX}"
    journal(root, BEGIN, INTENT, {"t": "done", "tx": TX, "seq": 0}, {"t": "end", "tx": TX, "status": "committed"})
    assert "pending-transaction" not in findings(cli, "--interval", "0", code=0)


def test_a_damaged_journal_is_a_finding_not_a_failure_to_run(cli, root: Path) -> None:  # noqa: ANN001
    journal(root, BEGIN)
    (root / "var/lib/swapctl/journal.jsonl").write_text("{not json\n")
    (f,) = findings(cli, "--interval", "0", code=4)["journal-damaged"]
    assert f["severity"] == "critical" and "line 1" in f["meaning"]


def test_swap_not_encrypted_partition_file_and_unknown(cli, root: Path) -> None:  # noqa: ANN001
    swaps(
        root,
        ("/dev/vda3", "partition", 1048572, 0, -2),
        ("/swapfile", "file", 1048572, 0, -3),
        ("/dev/sdz1", "partition", 1048572, 0, -4),
        ("/dev/mapper/vg-swap", "partition", 1048572, 0, -5),
    )
    block_device(root, "254:3", "vda3")
    block_device(root, "253:3", "dm-3", dm_uuid="LVM-plain", slaves=(("254:4", "vda4"),))  # LVM, no crypt
    write(root, "/sys/class/block/dm-3/dm/name", "vg-swap\n")
    by = {f["subject"]: f for f in findings(cli, "--interval", "0", code=4)["swap-not-encrypted"]}
    assert by["/dev/mapper/vg-swap"]["severity"] == "warning"  # found by its /dev/mapper name in sysfs
    assert evidence(by["/dev/mapper/vg-swap"])["device"][0] == "/dev/dm-3"
    part, file, unknown = by["/dev/vda3"], by["/swapfile"], by["/dev/sdz1"]
    assert part["severity"] == file["severity"] == "warning" and unknown["severity"] == "info"
    assert evidence(part)["stack"] == ("vda3 (254:3) not dm-crypt", "/sys/dev/block/MAJ:MIN/{dm/uuid,slaves/}")
    assert "/etc/crypttab: cryptswap /dev/vda3 /dev/urandom swap,cipher=aes-xts-plain64,size=512" in part["fix"]
    assert evidence(file)["device"] == ("/dev/vda", "/proc/self/mountinfo")
    assert "ext4 /dev/vda" in file["meaning"]
    assert file["fix"][0].startswith("swapctl zram create")


def test_lvm_on_luks_is_encrypted_and_zram_is_not_at_rest(cli, root: Path) -> None:  # noqa: ANN001
    block_device(root, "253:2", "dm-2", dm_uuid="LVM-abcdef", slaves=(("253:1", "dm-1"),))
    # the LV's one slave is the crypt device (its own slaves are read from its entry under /sys/dev/block)
    for sub in ("sys/dev/block/253:2/slaves/dm-1", "sys/class/block/dm-2/slaves/dm-1"):
        shutil.rmtree(root / sub)
        shutil.copytree(root / "sys/dev/block/253:1", root / sub)
    swaps(root, ("/dev/dm-2", "partition", 1048572, 0, -2), ("/dev/zram0", "partition", 1048572, 0, 100))
    found = findings(cli, "--interval", "0", code=0)
    assert "swap-not-encrypted" not in found


# --- exit codes, ids, the table, bad input, reading once -------------------------------------------------
def test_every_id_is_one_of_the_documented_ones_and_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for i in ops.IDS:
        assert f"`{i}`" in readme, i


def test_each_proc_and_sys_file_is_read_once_and_vmstat_twice(cli, later, root: Path, monkeypatch) -> None:  # noqa: ANN001
    from swapctl.system import files

    reads: dict[str, int] = {}
    real = files.read_regular

    def counting(path, limit, shown=None):  # noqa: ANN001, ANN202
        inside = "/" + str(path.relative_to(root))
        reads[inside] = reads.get(inside, 0) + 1
        return real(path, limit, shown)

    monkeypatch.setattr(files, "read_regular", counting)
    swaps(root, ("/dev/zram0", "partition", 1048572, 0, 100), ("/swapfile", "file", 1048572, 0, -2))
    write(root, "/sys/block/zram0/disksize", f"{GiB}\n")
    write(root, "/sys/block/zram0/mm_stat", "0 0 0 0 0 0 0 0 0\n")
    later.update(pswpout=1)
    run(cli)
    system = {p: n for p, n in reads.items() if p.startswith(("/proc/", "/sys/"))}
    assert system.pop("/proc/vmstat") == 2
    assert {p: n for p, n in system.items() if n > 1} == {}
    assert "/proc/meminfo" in system and "/proc/zoneinfo" in system and "/proc/pressure/memory" in system
    assert "/sys/fs/cgroup/system.slice/db.service/memory.max" in system
    assert not any("hot_add" in p for p in reads)


def test_the_table_on_80_columns_has_one_block_per_finding(cli, root: Path, monkeypatch) -> None:  # noqa: ANN001
    from swapctl.cli import render

    swaps(root, ("/dev/vda3", "partition", 1048572, 1040000, -2))
    block_device(root, "254:3", "vda3")
    monkeypatch.setattr(render, "terminal_width", lambda: 80)
    r = cli("doctor", "--interval", "0")
    assert r.exit_code == 4
    lines = r.stdout.split("\n")
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    heads = [line for line in lines if re.match(r"^(CRITICAL|WARNING|INFO) +\S", line)]
    assert heads == ["CRITICAL  swap-nearly-full", "WARNING   swap-not-encrypted"]
    assert "    SwapTotal: 1 GiB   (/proc/meminfo)" in lines
    assert any(line.startswith("  fix: ") for line in lines)
    assert "2 findings: 1 critical, 1 warning" in r.stdout
    assert "2 findings at warning or above: swap-nearly-full, swap-not-encrypted" in r.stderr


@pytest.mark.parametrize("bad", ["abc", "-1", "61", "1e3", ""])
def test_a_bad_interval_is_one_line_and_exit_2(cli, bad: str) -> None:  # noqa: ANN001
    r = cli("doctor", "--interval", bad)
    assert r.exit_code == 2
    assert r.stderr.count("swapctl: error:") == 1 and "Traceback" not in r.output


def test_damaged_files_give_one_line_and_a_documented_code(cli, root: Path) -> None:  # noqa: ANN001
    (root / "proc/zoneinfo").write_text("Node 0, zone DMA\n  garbage\n")
    r = cli("doctor", "--interval", "0")
    assert r.exit_code == 2 and "swapctl: error:" in r.stderr and "Traceback" not in r.output
    (root / "proc/zoneinfo").unlink()  # a snapshot without it: the zone checks are not done, the rest are
    d = run(cli, "--interval", "0", code=0)["data"]
    assert "numa-node-below-low, min-free-kbytes-unusual" in [c["check"] for c in d["not_checked"]]
    write(root, "/proc/swaps", SWAPS_HEADER + "/dev/x partition notanumber 0 -2\n")
    r = cli("doctor", "--interval", "0")
    assert r.exit_code == 3 and r.stderr.count("swapctl: error:") == 1 and "Traceback" not in r.output
    write(root, "/proc/pressure/memory", "\x00\x01 garbage\n")  # parsed leniently: nothing to say
    write(root, "/proc/swaps", SWAPS_HEADER)
    assert run(cli, "--interval", "0")["data"]["findings"][0]["id"] == "no-swap"
