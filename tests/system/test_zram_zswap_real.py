"""zram and zswap read from this machine's kernel: what `zram status` and `zswap get` say is what sysfs says,
and no read-only command ever opens /sys/class/zram-control/hot_add (reading it creates a device)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import privileged

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
