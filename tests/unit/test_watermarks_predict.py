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
    # pages_min 4002 shared by managed pages: 3, 406, 3591; then low = min * 5/4, high = min * 3/2 (no gap rule:
    # from 4.6 the same zones get min + 2x and 3x the gap)
    assert [(p.min, p.low, p.high, p.promo) for p in pred] == [
        (3, 3, 4, None),
        (406, 507, 609, None),
        (3591, 4488, 5386, None),
    ]
    assert [(p.low, p.high) for p in predict(zones, 16011, 10, "4.6.0", 4096)] == [(6, 9), (812, 1218), (7185, 10779)]
    assert "classic" in rule_name("4.5.7") and "gap" in rule_name("4.6.0")
    # the PCP 3.x capture shows that shape in every zone
    (path,) = (FIXTURES / "public").glob("performancecopilot_pcp__qa_linux_meminfo-root-001*zoneinfo")
    captured = [z for z in parse_zoneinfo(path.read_text()) if z.min]
    assert len(captured) >= 2
    for z in captured:
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
    # 4 TiB of 4 KiB pages: int_sqrt(16 * 4 TiB in kB) is exactly 262144, so the 5.7 clamp must be seen binding
    # on a larger machine (8 TiB: 370727 before the clamp), and the old one on a machine where it just binds.
    exact = [_zone(0, "Normal", 2, 1 << 30)]
    assert default_min_free_kbytes(exact, 4096, False, kernel_version="5.7.0").kernel == 262144
    huge = [_zone(0, "Normal", 2, 1 << 31)]
    assert default_min_free_kbytes(huge, 4096, False, kernel_version="5.6.0").kernel == 65536
    assert default_min_free_kbytes(huge, 4096, False, kernel_version="5.7.0").kernel == 262144
    # 256 GiB + 4 KiB: the square root is 65536 and a bit, clamped to 65536 before 5.7 only
    over = [_zone(0, "Normal", 2, (1 << 26) + 1)]
    assert default_min_free_kbytes(over, 4096, False, kernel_version="5.6.0").kernel == 65536
    assert default_min_free_kbytes(over, 4096, False, kernel_version="5.7.0").kernel == 65536
    small = [_zone(0, "DMA", 0, 1)]  # int_sqrt(16 * 4) = 8: raised to the floor of 128
    assert default_min_free_kbytes(small, 4096, False, kernel_version="6.1.0").kernel == 128


def test_khugepaged_raises_min_free_kbytes_by_at_most_5_percent_of_the_free_buffer_pages() -> None:
    # 1 GiB of 64 KiB pages (arm64, ppc64): 11 pageblocks of 512 MiB each would be 5.5 GiB, more than the
    # machine; set_recommended_min_free_kbytes caps it at 5% of (managed - high). vm set's safe limit is built
    # from this value, so a missing cap would let it allow a reserve larger than memory.
    from swapctl.kernel.mm import min_free_facts

    zone = _zone(0, "Normal", 2, 16384)
    zone.high = 384
    d = default_min_free_kbytes([zone], 65536, True, kernel_version="6.12.0")
    assert d.khugepaged == (16384 - 384) // 20 * 64 == 51200
    facts = min_free_facts([zone], 65536, "always", 1 << 20, (6, 12, 0))
    assert facts.khugepaged == 51200 and facts.safe_limit == 52428  # 5% of 1 GiB in kB, the larger one


@pytest.mark.parametrize("pages, raised", [(131072, True), (131071, False)], ids=["512 MiB", "512 MiB less a page"])
def test_with_the_thp_mode_unknown_khugepaged_counts_from_512_mib_of_ram(pages: int, raised: bool) -> None:
    # hugepage_init() turns THP off below 512 MiB; at 512 MiB exactly it stays on and khugepaged raises the value
    zones = [_zone(0, "DMA32", 1, pages)]
    d = default_min_free_kbytes(zones, 4096, None, kernel_version="6.1.0")
    assert (d.khugepaged is not None) is raised
    if raised:
        assert d.khugepaged == 11 * 512 * 4 and d.effective == d.khugepaged > d.kernel


@pytest.mark.parametrize(
    "free, state",
    [
        (99, "below_min"),
        (100, "below_low"),  # at min: not under it
        (149, "below_low"),
        (150, "between_low_high"),  # at low: kswapd is not woken, but once awake it goes on to high
        (199, "between_low_high"),
        (200, "above_high"),
    ],
)
def test_a_zone_state_is_where_its_free_pages_stand_against_min_low_and_high(free: int, state: str) -> None:
    from swapctl.kernel.mm import zone_state

    zone = _zone(0, "Normal", 2, 1000)
    zone.free, zone.min, zone.low, zone.high = free, 100, 150, 200
    assert zone_state(zone) == state
    zone.managed = 0
    assert zone_state(zone) == "empty"


@pytest.mark.parametrize(
    "text, version",
    [("6.12.117+deb12-amd64", (6, 12, 117)), ("4.11.0-rc5", (4, 11, 0)), ("6.6", (6, 6, 0)), ("junk", (99, 0, 0))],
)
def test_kernel_versions_parse_from_osrelease(text: str, version: tuple[int, int, int]) -> None:
    assert rules_version(text) == version


def test_without_a_lowmem_reserve_ratio_file_the_kernels_default_ratios_apply() -> None:
    # 256 for DMA and DMA32, 32 for Normal, 0 (no reserve) for HighMem and Movable (mm/page_alloc.c)
    zones = [
        _zone(0, "DMA", 0, 3975),
        _zone(0, "DMA32", 1, 406974),
        _zone(0, "Normal", 2, 1000000),
        _zone(0, "Movable", 3, 10000),
        _zone(1, "Normal", 1, 200000),  # a 32-bit node: Normal, HighMem, Movable
        _zone(1, "HighMem", 2, 300000),
        _zone(1, "Movable", 3, 7000),
        _zone(1, "DMA", 0, 0),  # no managed pages: no reserve whatever its ratio
    ]
    assert lowmem_reserve(zones) == [
        (0, 406974 // 256, 1406974 // 256, 1416974 // 256, 1416974 // 256),
        (0, 0, 1000000 // 256, 1010000 // 256, 1010000 // 256),
        (0, 0, 0, 10000 // 32, 10000 // 32),
        (0, 0, 0, 0, 0),
        (0, 0, 300000 // 32, 307000 // 32, 307000 // 32),
        (0, 0, 0, 0, 0),
        (0, 0, 0, 0, 0),
        (0, 0, 0, 0, 0),
    ]


def test_khugepaged_counts_every_zone_with_a_managed_page() -> None:
    # 2 + 9 pageblocks per populated zone up to Normal: a DMA zone of one page counts like any other
    zones = [_zone(0, "DMA", 0, 1), _zone(0, "Normal", 2, 1 << 20), _zone(0, "DMA32", 1, 0)]
    d = default_min_free_kbytes(zones, 4096, True, kernel_version="6.12.0")
    assert d.khugepaged == 2 * 11 * 512 * 4


def test_khugepaged_takes_the_node_count_only_when_no_zone_up_to_normal_is_populated() -> None:
    one = [_zone(0, "Normal", 2, 1 << 20)]
    assert default_min_free_kbytes(one, 4096, True, 2, kernel_version="6.12.0").khugepaged == 11 * 512 * 4
    # only HighMem populated (a capture that lists no lowmem zone): nothing free to raise the value from
    high_only = [_zone(0, "HighMem", 3, 1 << 20)]
    assert default_min_free_kbytes(high_only, 4096, True, kernel_version="6.12.0").khugepaged is None
    assert default_min_free_kbytes(high_only, 4096, True, 2, kernel_version="6.12.0").khugepaged is None


def test_khugepaged_counts_free_pages_above_each_zones_high_mark_and_only_raises_the_value() -> None:
    # a zone already past its high mark adds nothing (never less than nothing) to the 5% cap
    full = _zone(0, "DMA", 0, 100)
    full.high = 200
    roomy = _zone(0, "Normal", 2, 20019)
    d = default_min_free_kbytes([full, roomy], 4096, True, kernel_version="6.12.0")
    assert d.khugepaged == 20019 // 20 * 4 == 4000
    # a cap landing exactly on the kernel's own value raises nothing: khugepaged only ever raises it
    zone = _zone(0, "Normal", 2, 10000)
    zone.high = 6000
    d = default_min_free_kbytes([zone], 4096, True, kernel_version="6.12.0")
    assert d.kernel == 800 and (10000 - 6000) // 20 * 4 == 800
    assert d.khugepaged is None and d.effective == 800


def test_the_rule_names_say_when_promo_joins() -> None:
    assert "promo" not in rule_name("5.17.0") and "promo = high + g" in rule_name("5.18.0")


def test_a_reserve_ratio_list_shorter_than_the_zones_leaves_the_rest_at_their_defaults() -> None:
    # a capture without protection arrays: each node's array is as long as its highest zone index + 1
    zones = [_zone(0, "DMA", 0, 4000), _zone(0, "DMA32", 1, 399999), _zone(0, "Normal", 2, 32000)]
    for z in zones:
        z.protection = ()
    assert lowmem_reserve(zones, [100]) == [(0, 3999, 4319), (0, 0, 32000 // 256), (0, 0, 0)]


def test_a_reserve_sums_only_the_zones_that_exist_and_a_zone_of_one_page_has_one() -> None:
    # no DMA32 on this node; DMA has a single managed page and a ratio of 1
    zones = [_zone(0, "DMA", 0, 1), _zone(0, "Normal", 2, 32000)]
    for z in zones:
        z.protection = ()
    assert lowmem_reserve(zones, [1]) == [(0, 0, 32000), (0, 0, 0)]


@pytest.mark.parametrize(
    "mem_total_kb, managed, size",
    [
        (4 * 1000, 1000, 4096),
        (8 * 1000, 1000, 8192),  # loongarch, some mips
        (16 * 1000, 1000, 16384),  # arm64 with 16 KiB pages
        (64 * 1000, 1000, 65536),
        (int(4 * 1000 * 1.005), 1000, 4096),  # 0.5% off: still 4 KiB (MemTotal read a moment apart)
        (int(4 * 1000 * 1.02), 1000, None),  # 2% off: managed moved, no page size can be trusted
        (4, 1, 4096),
        (4, 0, None),
    ],
)
def test_the_page_size_is_memtotal_over_the_managed_pages_within_1_percent(
    mem_total_kb: int, managed: int, size: int | None
) -> None:
    from swapctl.kernel.mm import derive_page_size

    zones = [_zone(0, "Normal", 2, managed)]
    assert derive_page_size(zones, {"MemTotal": mem_total_kb * 1024}) == size
    assert derive_page_size(zones, {}) is None and derive_page_size(zones, None) is None


def test_zone_reclaim_mode_is_decoded_bit_by_bit() -> None:
    from swapctl.kernel.mm import decode_zone_reclaim_mode as decode

    assert decode(None) == {"value": None, "flags": [], "meaning": "unknown (no proc/sys/vm/zone_reclaim_mode)"}
    assert decode(0)["flags"] == [] and decode(0)["meaning"].startswith("off:")
    assert decode(1)["flags"] == ["zone reclaim on"] and decode(1)["meaning"].endswith("before using another node")
    assert decode(4)["flags"] == ["swap / unmap pages"]
    assert decode(4)["meaning"].endswith("another node, swapping and unmapping pages")
    seven = decode(7)
    assert seven["flags"] == ["zone reclaim on", "write out dirty pages", "swap / unmap pages"]
    assert "writing dirty pages, swapping" in seven["meaning"] and seven["value"] == 7
    assert decode(9)["flags"] == ["zone reclaim on", "unknown bits 0x8"]


def test_the_safe_limit_is_5_percent_of_lowmem_or_of_memtotal_when_that_is_smaller() -> None:
    from swapctl.kernel.mm import min_free_facts

    zones = [_zone(0, "Normal", 2, 262144)]  # 1 GiB of 4 KiB pages: 1048576 kB of lowmem
    lowmem = min_free_facts(zones, 4096, "never", 2 << 20, (6, 12, 0))
    assert (lowmem.basis_kb, lowmem.basis, lowmem.safe_limit) == (1 << 20, "lowmem managed by the kernel", 52428)
    assert lowmem.khugepaged is None and lowmem.thp == "never" and lowmem.kernel_default == 4096
    assert lowmem.boot_default == 4096
    same = min_free_facts(zones, 4096, "never", 1 << 20, (6, 12, 0))
    assert same.basis == "lowmem managed by the kernel"  # equal: either is honest, lowmem it is
    smaller = min_free_facts(zones, 4096, "never", 500000, (6, 12, 0))
    assert (smaller.basis_kb, smaller.basis, smaller.safe_limit) == (500000, "MemTotal", 25000)
    unknown = min_free_facts(zones, 4096, None, 0, (6, 12, 0))
    assert unknown.basis_kb == 1 << 20 and unknown.thp is None
    # THP on: khugepaged's raise is the boot default, and never above the limit
    raised = min_free_facts(zones, 4096, "madvise", 1 << 20, (6, 12, 0))
    assert raised.khugepaged == 11 * 512 * 4 == raised.boot_default and raised.safe_limit == 52428
    # a tiny machine: the kernel's own default (the floor of 128 kB) is above 5% and is the limit
    tiny = min_free_facts([_zone(0, "Normal", 2, 250)], 4096, "never", 1000, (6, 12, 0))
    assert (tiny.kernel_default, tiny.safe_limit) == (128, 128)
    nothing = min_free_facts([], 4096, None, 0, None)
    assert (nothing.kernel_default, nothing.khugepaged, nothing.safe_limit, nothing.basis) == (
        None,
        None,
        0,
        "MemTotal",
    )
    assert nothing.boot_default is None


@pytest.mark.parametrize("estimate, slack", [(1000, 64), (3200, 64), (3250, 65), (10000, 200)])
def test_the_estimate_of_the_kernels_own_value_may_be_off_by_2_percent_or_64_kb(estimate: int, slack: int) -> None:
    from swapctl.kernel.mm import estimate_slack

    assert estimate_slack(estimate) == slack
