"""`swapctl watermarks --what-if` against the marks a real kernel sets after the write, on NUMA guests."""

from __future__ import annotations

import os
import re

import pytest

pytestmark = pytest.mark.vm

# (kernel series, MiB per node, kernel command line): two nodes on 6.1 and four on 6.12, each with a movable zone;
# with SWAPCTL_VM_FULL=1 one, two and four on both (the default lane leaves one node to
# tests/system/test_watermarks_real.py on this machine's own kernel: CI's fifteen minutes hold no more boots).
FULL = os.environ.get("SWAPCTL_VM_FULL") == "1"
GUESTS = [
    *([("6.1", (512,), "")] if FULL else []),
    ("6.1", (512, 512), "movablecore=256M"),
    *([("6.1", (256, 256, 256, 256), "movablecore=384M")] if FULL else []),
    *([("6.12", (512,), "")] if FULL else []),
    *([("6.12", (512, 512), "movablecore=256M")] if FULL else []),
    ("6.12", (256, 256, 256, 256), "movablecore=384M"),
]


def kernel_marks(zoneinfo: str) -> dict[tuple[int, str], dict[str, int]]:
    """/proc/zoneinfo parsed here, apart from swapctl's parser: (node, zone) -> min/low/high/promo minus boost."""
    zones: dict[tuple[int, str], dict[str, int]] = {}
    cur = None
    for line in zoneinfo.splitlines():
        m = re.match(r"Node (\d+), zone\s+(\S+)", line)
        if m:
            cur = zones.setdefault((int(m.group(1)), m.group(2)), {})
            continue
        f = line.split()
        if cur is not None and len(f) == 2 and f[0] in ("min", "low", "high", "promo", "boost", "managed"):
            cur.setdefault(f[0], int(f[1]))  # the first occurrence: per-zone lines come before pagesets
    out = {}
    for key, z in zones.items():
        if z.get("managed", 0) == 0:
            continue  # an empty zone: the kernel prints marks it never uses
        boost = z.get("boost", 0)
        out[key] = {k: z[k] - boost for k in ("min", "low", "high", "promo") if k in z}
    return out


def predicted_marks(view: dict, printed: dict) -> dict[tuple[int, str], dict[str, int]]:
    """swapctl's prediction, limited to the marks the kernel prints (6.1 computes promo but does not print it)."""
    out = {}
    for z in view["data"]["zones"]:
        if z["managed"] == 0:
            continue
        key = (z["node"], z["zone"])
        out[key] = {k: v for k, v in z["predicted"].items() if v is not None and k in printed.get(key, {})}
    return out


def sysctl(guest, key: str) -> int:
    return int(guest.run(f"cat /proc/sys/vm/{key}", check=True).stdout)


def predict_then_write(guest, key: str, value: int) -> tuple[dict, dict]:
    view = guest.swapctl("watermarks", "--what-if", f"{key}={value}", "-o", "json")
    assert view.rc == 0, view.stderr
    res = guest.swapctl("vm", "set", f"{key}={value}", "-o", "json")
    if res.rc == 3 and key == "min_free_kbytes":
        # swapctl's 5%-of-lowmem limit; the value is still modest for the guest, so write it anyway.
        res = guest.swapctl("vm", "set", f"{key}={value}", "--force", "-o", "json")
    assert res.rc == 0, res.stderr
    assert sysctl(guest, key) == value
    actual = kernel_marks(guest.run("cat /proc/zoneinfo", check=True).stdout)
    return predicted_marks(view.json(), actual), actual


@pytest.mark.parametrize(
    "series,nodes,cmdline", GUESTS, ids=[f"{s}-n{len(n)}{'-movable' if c else ''}" for s, n, c in GUESTS]
)
def test_what_if_predicts_the_kernels_watermarks_to_the_page(boot, series, nodes, cmdline):
    guest = boot(series, nodes, cmdline, cpus=min(len(nodes), 2))
    before = kernel_marks(guest.run("cat /proc/zoneinfo", check=True).stdout)
    assert {n for n, _ in before} == set(range(len(nodes))), "the guest does not have the NUMA nodes asked for"
    if cmdline:
        assert any(z == "Movable" for _, z in before), "movablecore= gave no populated movable zone"

    # Lower min_free_kbytes to an odd value (the min/4 gap rules at the default scale factor) ...
    mfk = sysctl(guest, "min_free_kbytes") * 2 // 3 + 1
    predicted, actual = predict_then_write(guest, "min_free_kbytes", mfk)
    assert predicted == actual
    assert actual != before, "the write changed no watermark: the test would prove nothing"

    # ... then raise watermark_scale_factor, so managed x factor / 10000 rules the gap instead.
    predicted, actual2 = predict_then_write(guest, "watermark_scale_factor", 137)
    assert predicted == actual2
    assert actual2 != actual
