"""zram and zswap read from this machine's kernel: what `zram status` and `zswap get` say is what sysfs says,
and no read-only command ever opens /sys/class/zram-control/hot_add (reading it creates a device)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import privileged
from tests.system.conftest import RealSwapctl

HOT_ADD = "/sys/class/zram-control/hot_add"
READ_ONLY = (["list"], ["zram", "status"], ["zswap", "get"], ["vm", "get"], ["watermarks"], ["numa"])


def swapctl(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swapctl", *argv], capture_output=True, text=True, timeout=60)


@privileged
@pytest.mark.skipif(not Path(HOT_ADD).exists(), reason="this kernel has no zram-control (zram not loaded)")
@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (scripts/install-test-deps)")
@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_no_read_only_command_opens_hot_add(argv: list[str], tmp_path: Path) -> None:
    devices = sorted(n for n in os.listdir("/sys/block") if n.startswith("zram"))
    trace = tmp_path / "trace"
    proc = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", str(trace),
         sys.executable, "-m", "swapctl", *argv, "-o", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    opened = trace.read_text()
    assert "zram-control" not in opened
    assert "/sys/block/" in opened or argv[0] not in ("zram", "list"), "the trace saw no sysfs read at all"
    assert sorted(n for n in os.listdir("/sys/block") if n.startswith("zram")) == devices


@privileged
@pytest.mark.skipif(not Path("/sys/block/zram0").exists(), reason="no zram0 on this machine")
def test_zram_status_is_what_sysfs_says() -> None:
    doc = json.loads(swapctl("-o", "json", "zram", "status", "zram0").stdout)
    (dev,) = doc["data"]["devices"]
    sysfs = Path("/sys/block/zram0")
    assert dev["disksize"] == int((sysfs / "disksize").read_text())
    words = (sysfs / "comp_algorithm").read_text().split()
    assert dev["algorithms"] == [w.strip("[]") for w in words]
    assert f"[{dev['algorithm']}]" in words
    fields = (sysfs / "mm_stat").read_text().split()
    assert dev["orig_data_size"] == int(fields[0]) and dev["mem_used_total"] == int(fields[2])


@privileged
@pytest.mark.skipif(not Path("/sys/module/zswap/parameters").is_dir(), reason="this kernel has no zswap")
def test_zswap_get_is_what_the_module_parameters_say() -> None:
    data = json.loads(swapctl("-o", "json", "zswap", "get").stdout)["data"]
    params = Path("/sys/module/zswap/parameters")
    assert data["parameters"] == {p.name: p.read_text().strip() for p in sorted(params.iterdir())}
    assert data["enabled"] == ((params / "enabled").read_text().strip() == "Y")
    release = os.uname().release
    if release.startswith("6.18"):
        assert "zpool" in data["missing"], data["missing"]


# --- zram create, resize, remove, rollback on the real kernel ----------------------------------------------
BLOCK = Path("/sys/block")
HOT_REMOVE = "/sys/class/zram-control/hot_remove"


def _zram_names() -> set[str]:
    return {n for n in os.listdir(BLOCK) if n.startswith("zram")}


def _zram_swaps() -> dict[str, int]:
    """zram areas in /proc/swaps, by device name, with their priority."""
    lines = Path("/proc/swaps").read_text().splitlines()[1:]
    return {f.split()[0][5:]: int(f.split()[4]) for f in lines if f.startswith("/dev/zram")}


def _sysfs(name: str, attr: str) -> str:
    return (BLOCK / name / attr).read_text().strip()


def _algorithm(name: str) -> str:
    return next(w[1:-1] for w in _sysfs(name, "comp_algorithm").split() if w.startswith("["))


@pytest.fixture
def zram_guard(work) -> Iterator[set[str]]:  # noqa: ANN001 - the system conftest's Workspace
    """Every zram device as it was: afterwards a zram area the test swapped on is off, a device it set up is
    reset with its algorithm back, and a device it added is hot-removed. Yields the devices there before."""
    if not Path(HOT_ADD).exists():
        pytest.skip("this kernel has no zram-control (zram not loaded)")
    before = _zram_names()
    swaps_before = _zram_swaps()
    if any(_sysfs(n, "initstate") == "1" for n in before) or swaps_before:
        pytest.skip("a zram device is already in use on this machine; the zram tests need them all free")
    algorithms = {n: _algorithm(n) for n in before}
    try:
        yield before
    finally:
        for name in _zram_swaps():
            subprocess.run(["swapoff", f"/dev/{name}"], check=False)
        for name in sorted(_zram_names()):
            if _sysfs(name, "initstate") == "1":
                (BLOCK / name / "reset").write_text("1")
            if name in algorithms and _algorithm(name) != algorithms[name]:
                (BLOCK / name / "comp_algorithm").write_text(algorithms[name])
            if name not in before:
                Path(HOT_REMOVE).write_text(name[4:])
    assert _zram_names() == before
    assert all(_sysfs(n, "initstate") == "0" and _algorithm(n) == algorithms[n] for n in before)


def test_zram_create_resize_remove_on_a_free_device(work, zram_guard: set[str]) -> None:  # noqa: ANN001
    name = min(zram_guard, key=lambda n: int(n[4:]), default=None)
    if name is None:
        pytest.skip("no zram device to set up")
    sw = RealSwapctl(work.state_dir)
    r, doc = sw.json("zram", "create", "--device", "auto", "--size", "64M", "--algorithm", "lz4")
    assert r.returncode == 0, r
    assert doc["data"]["device"] == f"/dev/{name}" and doc["changed"]
    assert [a["step"] for a in doc["actions"]] == ["zram-setup", "zram-mkswap", "swapon"]
    assert _sysfs(name, "disksize") == str(64 << 20) and _algorithm(name) == "lz4"
    assert _zram_swaps() == {name: 100}
    assert _zram_names() == zram_guard, "a free device was there: nothing may be hot-added"

    r, again = sw.json("zram", "create", "--size", "64M", "--algorithm", "lz4")
    assert r.returncode == 0 and not again["changed"] and again["actions"] == [], r
    r, listed = sw.json("list")
    (area,) = [a for a in listed["data"]["areas"] if a["path"] == f"/dev/{name}"]
    assert area["type"] == "zram" and area["priority"] == 100

    r, resized = sw.json("zram", "resize", name, "--size", "96M")
    assert r.returncode == 0, r
    assert _sysfs(name, "disksize") == str(96 << 20) and _algorithm(name) == "lz4" and _zram_swaps() == {name: 100}

    r, removed = sw.json("zram", "remove", f"/dev/{name}")
    assert r.returncode == 0, r
    assert [a["step"] for a in removed["actions"]] == ["swapoff", "zram-reset"]
    assert _zram_swaps() == {} and _sysfs(name, "initstate") == "0"
    assert name in _zram_names(), "a device swapctl did not add stays"
    # Rolling the remove back sets the device up again, as it was, and swaps it on.
    r = sw("rollback", removed["transaction"])
    assert r.returncode == 0, r
    assert _sysfs(name, "disksize") == str(96 << 20) and _algorithm(name) == "lz4" and _zram_swaps() == {name: 100}


def test_zram_create_gives_the_kernel_the_algorithms_level_and_dictionary(work, zram_guard: set[str]) -> None:  # noqa: ANN001
    """The kernel takes the words (it shows none back): the device is set up with them and swaps; resize and
    rollback set it up again with them."""
    name = min(zram_guard, key=lambda n: int(n[4:]), default=None)
    if name is None or not (BLOCK / name / "algorithm_params").exists():
        pytest.skip("no zram device with algorithm_params (Linux 6.13+)")
    if "lz4" not in _sysfs(name, "comp_algorithm").replace("[", " ").replace("]", " ").split():
        pytest.skip("this kernel's zram has no lz4")
    dictionary = work.root / "lz4.dict"
    dictionary.write_bytes(b"swapctl zram dictionary " * 170)
    sw = RealSwapctl(work.state_dir)
    words = f"level=5 dict={dictionary}"
    r, doc = sw.json(
        "zram", "create", "--device", name, "--size", "64M", "--algorithm", "lz4", "--algorithm-params", words
    )
    assert r.returncode == 0, r
    assert doc["actions"][0]["description"] == f"set up /dev/{name}: 64 MiB, lz4 ({words})"
    assert _algorithm(name) == "lz4" and _zram_swaps() == {name: 100}
    r, _ = sw.json("zram", "resize", name, "--size", "96M")
    assert r.returncode == 0, r
    assert _sysfs(name, "disksize") == str(96 << 20) and _zram_swaps() == {name: 100}
    r, removed = sw.json("zram", "remove", name)
    assert r.returncode == 0 and _zram_swaps() == {}, r
    r = sw("rollback", removed["transaction"])
    assert r.returncode == 0, r
    assert _sysfs(name, "disksize") == str(96 << 20) and _zram_swaps() == {name: 100}


def test_zram_create_on_a_new_device_is_undone_on_failure_and_by_rollback(work, zram_guard: set[str]) -> None:  # noqa: ANN001
    sw = RealSwapctl(work.state_dir)
    new = f"zram{min(set(range(len(zram_guard) + 1)) - {int(n[4:]) for n in zram_guard})}"
    # The swapon fails (injected): the set-up is reset and the added device removed again.
    r = sw("zram", "create", "--device", new, "--size", "32M", fault="swapon:*:before:fail")
    assert r.returncode == 1, r
    assert "every change was rolled back" in r.stderr
    assert _zram_names() == zram_guard and _zram_swaps() == {}

    r, doc = sw.json("zram", "create", "--device", new, "--size", "min(ram / 64, 48)", "--priority", "7")
    assert r.returncode == 0, r
    assert doc["actions"][0]["step"] == "zram-hot-add"
    assert doc["data"]["size_rule"]["expression"] == "min(ram / 64, 48)"
    assert _sysfs(new, "disksize") == str(48 << 20) and _zram_swaps() == {new: 7}
    r = sw("rollback", doc["transaction"])
    assert r.returncode == 0, r
    assert _zram_names() == zram_guard and _zram_swaps() == {}

    # A device swapctl added is hot-removed by `zram remove`.
    r, doc = sw.json("zram", "create", "--device", new, "--size", "32M")
    assert r.returncode == 0, r
    r, removed = sw.json("zram", "remove", new)
    assert r.returncode == 0, r
    assert [a["step"] for a in removed["actions"]] == ["swapoff", "zram-reset", "zram-hot-remove"]
    assert _zram_names() == zram_guard


# --- zswap set on the real kernel ----------------------------------------------------------------------------
ZSWAP = Path("/sys/module/zswap/parameters")
ZSWAP_KEYS = ("enabled", "compressor", "max_pool_percent")


@pytest.fixture
def zswap_guard(work) -> Iterator[dict[str, str]]:  # noqa: ANN001
    """zswap's parameters as they were, put back whatever the test did."""
    if not ZSWAP.is_dir():
        pytest.skip("this kernel has no zswap")
    before = {k: (ZSWAP / k).read_text().strip() for k in ZSWAP_KEYS}
    try:
        yield before
    finally:
        for key in ("compressor", "max_pool_percent", "enabled"):
            if (ZSWAP / key).read_text().strip() != before[key]:
                (ZSWAP / key).write_text(before[key])
    assert {k: (ZSWAP / k).read_text().strip() for k in ZSWAP_KEYS} == before


def test_zswap_set_writes_reads_back_and_rolls_back(work, zswap_guard: dict[str, str]) -> None:  # noqa: ANN001
    sw = RealSwapctl(work.state_dir)
    if zswap_guard["enabled"] != "N":
        pytest.skip("zswap is enabled on this machine; the test starts from it disabled")
    swapfile = str(work.swapdir / "zswap-backing")
    assert sw("create", swapfile, "--size", "16M", "--no-persist").returncode == 0
    compressor = "lzo-rle" if zswap_guard["compressor"] != "lzo-rle" else "lzo"
    pool = "15" if zswap_guard["max_pool_percent"] != "15" else "16"
    r, doc = sw.json("zswap", "set", "enabled=Y", f"compressor={compressor}", f"max_pool_percent={pool}")
    assert r.returncode == 0, r
    assert {k: (ZSWAP / k).read_text().strip() for k in ZSWAP_KEYS} == {
        "enabled": "Y",
        "compressor": compressor,
        "max_pool_percent": pool,
    }
    r = sw("rollback", doc["transaction"])
    assert r.returncode == 0, r
    assert {k: (ZSWAP / k).read_text().strip() for k in ZSWAP_KEYS} == zswap_guard
    assert sw("remove", swapfile).returncode == 0


def test_apply_sets_up_zram_and_zswap_in_one_transaction_and_rolls_both_back(
    work,  # noqa: ANN001
    zram_guard: set[str],
    zswap_guard: dict[str, str],
) -> None:
    if zswap_guard["enabled"] != "N":
        pytest.skip("zswap is enabled on this machine; the test starts from it disabled")
    sw = RealSwapctl(work.state_dir)
    pool = "17" if zswap_guard["max_pool_percent"] != "17" else "18"
    spec = work.root / "state.yaml"
    spec.write_text(f"zram:\n  - size: 40M\n    priority: 50\nzswap:\n  max_pool_percent: {pool}\npersist: false\n")
    r, doc = sw.json("apply", str(spec))
    assert r.returncode == 0, r
    (name,) = [n for n, prio in _zram_swaps().items() if prio == 50]
    assert _sysfs(name, "disksize") == str(40 << 20) and (ZSWAP / "max_pool_percent").read_text().strip() == pool
    r, again = sw.json("apply", str(spec))
    assert r.returncode == 0 and not again["changed"], r
    assert sw("rollback", doc["transaction"]).returncode == 0
    assert _zram_swaps() == {} and _zram_names() == zram_guard
    assert {k: (ZSWAP / k).read_text().strip() for k in ZSWAP_KEYS} == zswap_guard


# --- the reclaim-stress check says when zram or zswap took the pages ---------------------------------------
def _stress(sw: RealSwapctl) -> dict:
    r = sw("-o", "json", "stress", "--memory-limit", "48M", "--size", "96M", "--duration", "2", timeout=120)
    assert r.returncode in (0, 4), r
    return json.loads(r.stdout)["data"]


def test_stress_reports_the_pages_zram_took(work, zram_guard: set[str]) -> None:  # noqa: ANN001
    sw = RealSwapctl(work.state_dir)
    r, doc = sw.json("zram", "create", "--size", "160M", "--priority", "32000")
    assert r.returncode == 0, r
    areas = {a["path"]: a for a in _stress(sw)["swap_areas"]}
    zram_area = areas[doc["data"]["device"]]
    assert zram_area["type"] == "zram" and zram_area["took"] > 0, areas


def test_stress_reports_the_pages_zswap_stored(work, zswap_guard: dict[str, str]) -> None:  # noqa: ANN001
    if zswap_guard["enabled"] != "N":
        pytest.skip("zswap is enabled on this machine; the test starts from it disabled")
    sw = RealSwapctl(work.state_dir)
    swapfile = str(work.swapdir / "zswap-stress")
    assert sw("create", swapfile, "--size", "192M", "--priority", "32000", "--no-persist").returncode == 0
    assert sw("zswap", "set", "enabled=Y").returncode == 0
    data = _stress(sw)
    assert data["swap"]["zswpout"] > 0, data["swap"]
    assert sw("zswap", "set", "enabled=N").returncode == 0
    assert sw("remove", swapfile).returncode == 0
