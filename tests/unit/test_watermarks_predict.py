"""__setup_per_zone_wmarks and lowmem_reserve, held against every step the real kernels recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swapctl.kernel.mm import (
    Zone,
    default_min_free_kbytes,
    lowmem_managed_pages,
    lowmem_reserve,
    mult_frac,
    predict,
    rule_name,
)
from swapctl.kernel.version import rules_version
from swapctl.system.zoneinfo import parse_zoneinfo
from tests.fakes import FIXTURES
from tests.pairs import pairs

RECORDINGS = FIXTURES / "kernel-recordings"


def _steps() -> list[tuple[Path, int]]:
    out = []
    for run in sorted(p for p in RECORDINGS.glob("*/*") if p.is_dir()):
        writes = json.loads((run / "writes.json").read_text())
        out.extend((run, int(n)) for n in sorted(writes, key=int))
    return out


def _root(run: Path, step: int) -> Path:
    return run / f"step{step}" / "root"


def _vm(root: Path, key: str) -> int:
    return int((root / "proc/sys/vm" / key).read_text())


def _zones(root: Path) -> list[Zone]:
    return parse_zoneinfo((root / "proc/zoneinfo").read_text())


STEPS = _steps()


def test_the_recordings_hold_steps_to_check() -> None:
    # 6 writes on 6.1 and 7 on 6.12: a glob that found nothing would make the next test vacuous
    assert len(STEPS) >= 13


@pytest.mark.parametrize("run, step", STEPS, ids=[f"{r.parent.name}/{r.name}/step{s}" for r, s in STEPS])
def test_prediction_from_the_previous_step_equals_what_the_kernel_set(run: Path, step: int) -> None:
    before, after = _root(run, step - 1), _root(run, step)
    release = (before / "proc/sys/kernel/osrelease").read_text().strip()
    writes = json.loads((run / "writes.json").read_text())[str(step)]
    mfk, wsf = _vm(after, "min_free_kbytes"), _vm(after, "watermark_scale_factor")
    assert str({"min_free_kbytes": mfk, "watermark_scale_factor": wsf}[writes["key"]]) == writes["value"]
    predicted = predict(_zones(before), mfk, wsf, release, 4096)
    shown = _zones(after)
    for z, p in pairs(shown, predicted):
        assert (p.min, p.low, p.high) == (z.min, z.low, z.high), z.key
        if z.promo is not None:
            assert p.promo == z.promo, z.key
        assert z.boost in (None, 0)  # a recompute resets the boost


@pytest.mark.parametrize("run, step", STEPS, ids=[f"{r.parent.name}/{r.name}/step{s}" for r, s in STEPS])
def test_protection_follows_lowmem_reserve_ratio_and_managed_pages(run: Path, step: int) -> None:
    root = _root(run, step)
    ratios = [int(x) for x in (root / "proc/sys/vm/lowmem_reserve_ratio").read_text().split()]
    zones = _zones(root)
    assert lowmem_reserve(zones, ratios) == [z.protection for z in zones]


def test_the_boot_time_marks_came_from_other_managed_counts_so_step0_is_not_its_own_prediction() -> None:
    # Why the prediction for step N uses step N-1's managed counts (the latest read) and not the counts the
    # printed marks were computed from: at boot the kernel computed the marks while managed was still
    # moving (init memory freed later); any write recomputes them from the managed counts of that moment.
    root = _root(RECORDINGS / "6.12/n2-1g-1g", 0)
    zones = _zones(root)
    pred = predict(zones, _vm(root, "min_free_kbytes"), _vm(root, "watermark_scale_factor"), "6.12", 4096)
    assert [p.min for p in pred] != [z.min for z in zones]
    # ... yet the total pages_min shared out is the same: only the split by managed pages moved
    assert abs(sum(p.min for p in pred) - sum(z.min for z in zones)) <= len(zones)


def test_the_4_11_ppc64_capture_is_reproduced_with_its_default_min_free_kbytes_and_64k_pages() -> None:
    (path,) = (FIXTURES / "public").glob("lkml_2017-04-05*zoneinfo")
    zones = parse_zoneinfo(path.read_text())
    default = default_min_free_kbytes(zones, 65536, False, 2, kernel_version="4.11.0-rc5")
    assert default.kernel == 8172 and default.khugepaged is None
    pred = predict(zones, default.kernel, 10, "4.11.0-rc5", 65536)
    assert [(p.min, p.low, p.high) for p in pred] == [(z.min, z.low, z.high) for z in zones]
    # a populated Movable zone shared pages_min before 6.6; from 6.6 it would be capped at managed/1024
    assert predict(zones, default.kernel, 10, "6.6.0", 65536)[1].min == 65536 // 1024


def _zone(node: int, name: str, index: int, managed: int) -> Zone:
    return Zone(
        node=node,
        name=name,
        index=index,
        free=managed,
        min=0,
        low=0,
        high=0,
        spanned=managed,
        present=managed,
        managed=managed,
        protection=(0,) * 5,
    )


def test_highmem_is_capped_and_its_proportional_share_still_sets_the_gap() -> None:
    zones = [_zone(0, "DMA", 0, 3000), _zone(0, "Normal", 1, 180000), _zone(0, "HighMem", 2, 300000)]
    pred = predict(zones, 4096, 10, "6.1.0", 4096)  # pages_min = 1024, lowmem = 183000
    assert lowmem_managed_pages(zones, "6.1.0") == 183000
    tmp = 1024 * 300000 // 183000
    assert pred[2].min == 128  # clamp(300000 // 1024 = 292, 32, 128)
    assert pred[2].low - pred[2].min == max(tmp >> 2, mult_frac(300000, 10, 10000))
    assert pred[1].min == 1024 * 180000 // 183000


def test_movable_counts_as_lowmem_before_6_6_and_is_capped_from_6_6() -> None:
    zones = [_zone(0, "DMA32", 1, 500000), _zone(0, "Normal", 2, 500000), _zone(0, "Movable", 3, 20000)]
    old = predict(zones, 65536, 10, "6.1.0", 4096)
    new = predict(zones, 65536, 10, "6.6.0", 4096)
    assert lowmem_managed_pages(zones, "6.5.9") == 1020000 and lowmem_managed_pages(zones, "6.6") == 1000000
    assert old[2].min == 16384 * 20000 // 1020000
    assert new[2].min == 32  # clamp(20000 // 1024 = 19, 32, 128)
    assert new[0].min == 16384 * 500000 // 1000000


def test_empty_zones_get_zero_or_the_capped_floor_like_the_kernel_prints() -> None:
    zones = [_zone(0, "DMA32", 1, 500000), _zone(0, "Normal", 2, 0), _zone(0, "Movable", 3, 0)]
    pred = predict(zones, 65536, 10, "6.12", 4096)
    assert (pred[1].min, pred[1].high) == (0, 0) and (pred[2].min, pred[2].low, pred[2].promo) == (32, 32, 32)


def test_before_4_6_the_classic_rule_sets_low_and_high_from_min() -> None:
    zones = [_zone(0, "DMA", 0, 3975), _zone(0, "DMA32", 1, 406974), _zone(0, "Normal", 2, 3594586)]
    pred = predict(zones, 16011, 10, "3.10.0", 4096)
    for p in pred:
        assert (p.low, p.high, p.promo) == (p.min + (p.min >> 2), p.min + (p.min >> 1), None)
    assert "classic" in rule_name("4.5.7") and "gap" in rule_name("4.6.0")
    # the PCP 3.x capture shows that shape in every zone
    (path,) = (FIXTURES / "public").glob("performancecopilot_pcp__qa_linux_meminfo-root-001*zoneinfo")
    for z in parse_zoneinfo(path.read_text()):
        assert (z.low, z.high) == (z.min + (z.min >> 2), z.min + (z.min >> 1))


def test_promo_exists_from_5_18_only() -> None:
    zones = [_zone(0, "Normal", 2, 1000000)]
    assert predict(zones, 65536, 10, "5.17.0", 4096)[0].promo is None
    p = predict(zones, 65536, 10, "5.18.0", 4096)[0]
    assert p.promo == p.high + (p.high - p.low)


def test_mult_frac_equals_floor_of_the_exact_product() -> None:
    for x in (0, 1, 9999, 10000, 10001, 244285, 257892, 2**40 + 12345):
        for n in (1, 10, 200, 1000, 3000):
            assert mult_frac(x, n, 10000) == x * n // 10000


def test_default_min_free_kbytes_matches_the_6_12_boot_value_raised_by_khugepaged() -> None:
    root = _root(RECORDINGS / "6.12/n2-1g-1g", 0)
    zones = _zones(root)
    d = default_min_free_kbytes(zones, 4096, True, 2, kernel_version="6.12.117")
    # three populated zones up to Normal (DMA, DMA32 on node 0, DMA32 on node 1) x 11 pageblocks x 2 MiB
    assert d.khugepaged == 3 * 11 * 512 * 4 == _vm(root, "min_free_kbytes") == d.effective
    assert default_min_free_kbytes(zones, 4096, False, 2).khugepaged is None


def test_default_min_free_kbytes_without_thp_is_the_square_root_rule_within_boot_drift() -> None:
    root = _root(RECORDINGS / "6.1/n1-512m", 0)
    d = default_min_free_kbytes(_zones(root), 4096, None, 1, kernel_version="6.1.0")
    # under 512 MiB of RAM THP is off at boot (the recording has no THP mode: unknown): the kernel's own
    # int_sqrt(16 * lowmem_kB), from managed counts ~1% smaller than today's
    assert d.khugepaged is None
    assert abs(d.kernel - _vm(root, "min_free_kbytes")) <= _vm(root, "min_free_kbytes") // 50
    assert default_min_free_kbytes(_zones(root), 4096, False, 1, kernel_version="6.1.0").khugepaged is None


def test_thp_enabled_after_boot_on_a_small_machine_raises_the_default_as_khugepaged_starts() -> None:
    # hugepage_init leaves THP off under 512 MiB, but `echo always > .../enabled` starts khugepaged, and
    # start_stop_khugepaged calls set_recommended_min_free_kbytes whatever the RAM: a mode that reads
    # always or madvise means the raise happened.
    zones = _zones(_root(RECORDINGS / "6.1/n1-512m", 0))
    raised = default_min_free_kbytes(zones, 4096, True, 1, kernel_version="6.1.0")
    assert raised.khugepaged is not None and raised.effective > raised.kernel


def test_default_min_free_kbytes_clamp_moved_from_65536_to_262144_in_5_7() -> None:
    huge = [_zone(0, "Normal", 2, 1 << 30)]
    assert default_min_free_kbytes(huge, 4096, False, kernel_version="5.6.0").kernel == 65536
    assert default_min_free_kbytes(huge, 4096, False, kernel_version="5.7.0").kernel == 262144


@pytest.mark.parametrize(
    "text, version",
    [("6.12.117+deb12-amd64", (6, 12, 117)), ("4.11.0-rc5", (4, 11, 0)), ("6.6", (6, 6, 0)), ("junk", (99, 0, 0))],
)
def test_kernel_versions_parse_from_osrelease(text: str, version: tuple[int, int, int]) -> None:
    assert rules_version(text) == version
