"""The /proc/zoneinfo parser over every captured format, a synthetic 8-node 256-CPU file, and bad input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from swapctl.system.zoneinfo import ZoneinfoError, parse_zoneinfo
from tests.fakes import FIXTURES
from tests.pairs import pairs
from tests.synth_zoneinfo import render_zoneinfo, synth_zones

ALL = sorted(FIXTURES.glob("**/*zoneinfo"))
PUBLIC = FIXTURES / "public"


def _read(pattern: str) -> str:
    (path,) = [p for p in PUBLIC.glob(pattern) if p.name.endswith("zoneinfo")]
    return path.read_text()


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_captured_zoneinfo_parses_into_consistent_zones(path: Path) -> None:
    text = path.read_text()
    zones = parse_zoneinfo(text)
    assert len(zones) == text.count("\nNode ") + (1 if text.startswith("Node ") else 0)
    for z in zones:
        assert z.min <= z.low <= z.high
        assert z.managed <= z.present <= z.spanned
        if z.present:
            assert z.start_pfn is not None and z.nr_cpus >= 1
        # nr_free_pages is the same counter as "pages free" when both are printed
        if "nr_free_pages" in z.stats:
            assert z.stats["nr_free_pages"] == z.free
    widths = {len(z.protection) for z in zones}
    assert len(widths) == 1 and widths.pop() >= 2


def test_kernel_6_12_shows_promo_boost_cma_and_node_stats_in_the_first_populated_zone() -> None:
    text = (FIXTURES / "kernel-recordings/6.12/n2-1g-1g/step0/root/proc/zoneinfo").read_text()
    zones = {z.key: z for z in parse_zoneinfo(text)}
    dma32 = zones["0/DMA32"]
    assert (dma32.free, dma32.min, dma32.low, dma32.high, dma32.promo, dma32.boost) == (
        237856,
        8131,
        10163,
        12195,
        14227,
        0,
    )
    assert (dma32.spanned, dma32.present, dma32.managed, dma32.cma) == (258048, 258048, 244285, 0)
    assert zones["0/DMA"].protection == (0, 947, 947, 947, 947)
    assert zones["0/DMA"].node_stats is not None and zones["0/DMA32"].node_stats is None
    # node 1's DMA zone is empty: its per-node stats are printed in DMA32
    assert zones["1/DMA"].node_stats is None and zones["1/DMA32"].node_stats["nr_active_anon"] >= 0
    assert zones["0/Movable"].min == 32 and zones["0/Movable"].managed == 0
    assert [z.index for z in zones.values()][:5] == [0, 1, 2, 3, 4]


def test_kernel_6_1_has_boost_but_no_promo() -> None:
    zones = parse_zoneinfo((FIXTURES / "kernel-recordings/6.1/n1-512m/step0/root/proc/zoneinfo").read_text())
    assert all(z.promo is None and z.boost == 0 for z in zones)


def test_kernel_6_18_pagesets_with_high_min_high_max_are_counted_not_parsed_as_fields() -> None:
    zones = parse_zoneinfo((FIXTURES / "this-machine/proc/zoneinfo").read_text())
    populated = [z for z in zones if z.present]
    assert populated and all(z.nr_cpus == 2 and z.unreclaimable is False for z in populated)
    assert all("high_min" not in z.stats and "high_max" not in z.extra for z in zones)


def test_kernel_4_11_ppc64_omits_empty_zones_and_prints_node_scanned() -> None:
    zones = parse_zoneinfo(_read("lkml_2017-04-05*"))
    assert [(z.node, z.name) for z in zones] == [(0, "DMA"), (1, "Movable")]
    assert zones[0].boost is None and zones[0].cma is None
    assert zones[0].extra["node_scanned"] == 0 and zones[1].unreclaimable is True
    # the index places Movable after DMA even though node 1 lists no other zone
    assert zones[1].index > zones[0].index


def test_old_pcp_format_with_all_unreclaimable_scanned_and_no_per_node_stats() -> None:
    zones = parse_zoneinfo(_read("performancecopilot_pcp__qa_linux_meminfo-root-001*"))
    assert [z.name for z in zones] == ["DMA", "DMA32", "Normal"]
    assert zones[0].unreclaimable is True and zones[0].extra["scanned"] == 0
    assert zones[0].extra["inactive_ratio"] == 1 and zones[0].nr_cpus == 8
    assert all(z.node_stats is None for z in zones)


def test_a_counter_printed_without_its_name_is_skipped() -> None:
    # meminfo-root-006 has a bare "176096" line among the per-node stats (vmstat_text one entry short)
    zones = parse_zoneinfo(_read("performancecopilot_pcp__qa_linux_meminfo-root-006*"))
    assert zones[0].free == 3975 and zones[0].node_stats["nr_written"] == 17146999


def test_two_node_pcp_capture_without_empty_zones_keeps_node_1_normal_at_its_zone_index() -> None:
    zones = parse_zoneinfo(_read("performancecopilot_pcp__qa_linux_meminfo-root-002*"))
    normal1 = zones[-1]
    assert (normal1.node, normal1.name, normal1.index) == (1, "Normal", 2)


def test_a_synthetic_8_node_256_cpu_zoneinfo_parses_exactly_and_fast() -> None:
    expected = synth_zones(8)
    text = render_zoneinfo(expected, 256)
    start = time.perf_counter()
    zones = parse_zoneinfo(text)
    elapsed = time.perf_counter() - start
    assert len(zones) == 40
    for got, want in pairs(zones, expected):
        assert (got.node, got.name) == (want.node, want.name)
        for k in ("free", "min", "low", "high", "promo", "boost", "spanned", "present", "managed"):
            assert getattr(got, k) == getattr(want, k), (got.key, k)
        assert got.protection == want.protection
        assert got.nr_cpus == (256 if want.present else 0)
    # a generous bound (measured ~3 ms): only catches a parser that walks every pageset line in Python
    assert elapsed < 0.5


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "no 'Node N, zone NAME'"),
        ("hello world\n", "no 'Node N, zone NAME'"),
        ("\x00\x01\x02binary", "binary"),
        ("garbage first\nNode 0, zone DMA\n  pages free 1\n", "before the first zone"),
        ("Node 0, zone DMA\n  pages free     abc\n", "not a count"),
        ("Node 0, zone DMA\n  pages free     3\n        min      1\n", "missing"),
        (
            "Node 0, zone DMA\n  pages free 3\n  min 1\n low 1\n high 1\n spanned 0\n present 0\n managed 0\n"
            "  protection: 0, 0\n",
            "malformed protection",
        ),
        ("Node 0, zone DMA\n  pages free 3\n  min 1 2 3\n", "unexpected line"),
    ],
)
def test_malformed_zoneinfo_raises_a_value_error_naming_the_problem(text: str, words: str) -> None:
    with pytest.raises(ZoneinfoError, match=words) as info:
        parse_zoneinfo(text)
    assert isinstance(info.value, ValueError)


def test_a_file_cut_inside_the_pagesets_is_reported_as_truncated() -> None:
    text = (FIXTURES / "kernel-recordings/6.12/n2-1g-1g/step0/root/proc/zoneinfo").read_text()
    cut = text.index("    cpu: 1")
    with pytest.raises(ZoneinfoError, match="truncated"):
        parse_zoneinfo(text[:cut])


def test_a_file_cut_inside_a_populated_zone_before_its_pagesets_is_reported_as_truncated() -> None:
    text = (FIXTURES / "kernel-recordings/6.12/n2-1g-1g/step0/root/proc/zoneinfo").read_text()
    cut = text.index("numa_hit", text.index("zone    DMA32"))
    with pytest.raises(ZoneinfoError, match="truncated"):
        parse_zoneinfo(text[:cut])


def test_a_file_cut_at_a_zone_boundary_is_caught_when_the_kernel_lists_every_zone() -> None:
    text = (FIXTURES / "kernel-recordings/6.12/n2-1g-1g/step0/root/proc/zoneinfo").read_text()
    cut = text.index("Node 1, zone    DMA32")
    with pytest.raises(ZoneinfoError, match="node 1 lists 1 of 5 zones"):
        parse_zoneinfo(text[:cut])
