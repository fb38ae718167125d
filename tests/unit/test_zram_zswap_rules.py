"""zram's stat lines by field count, its algorithm list, and zswap's parameters by kernel version."""

from __future__ import annotations

import pytest

from swapctl.kernel import zram, zswap

# Real lines: 6.18 (9 fields, this machine), a 5.10 kernel (8: no huge_pages_since), a 4.19 kernel (7).
MM_6_18 = "  4096000  1024000  1200128        0  1200128       10        2        3        1\n"
MM_5_10 = "  4096000  1024000  1200128        0  1200128       10        2        3\n"
MM_4_19 = "  4096000  1024000  1200128        0  1200128       10        2\n"


@pytest.mark.parametrize(("line", "count"), [(MM_6_18, 9), (MM_5_10, 8), (MM_4_19, 7)])
def test_mm_stat_is_named_by_position_and_a_shorter_line_has_fewer_fields(line: str, count: int) -> None:
    parsed = zram.parse_stat(line, zram.MM_STAT)
    assert list(parsed) == list(zram.MM_STAT[:count])
    assert parsed["orig_data_size"] == 4096000 and parsed["mem_used_total"] == 1200128
    assert parsed["same_pages"] == 10


def test_a_newer_kernels_extra_fields_are_ignored_and_garbage_is_refused() -> None:
    assert zram.parse_stat("1 2 3 4 5", zram.IO_STAT) == {
        "failed_reads": 1,
        "failed_writes": 2,
        "invalid_io": 3,
        "notify_free": 4,
    }
    for bad in ("", "1 -2 3 4", "1 x 3", "1 ٣ 3", "1 " + "9" * 21):
        with pytest.raises(ValueError):
            zram.parse_stat(bad, zram.IO_STAT)


def test_the_selected_algorithm_is_the_one_in_brackets() -> None:
    assert zram.parse_algorithms("[lzo-rle] lzo lz4 \n") == ("lzo-rle", ["lzo-rle", "lzo", "lz4"])
    assert zram.parse_algorithms("lzo [zstd]\n") == ("zstd", ["lzo", "zstd"])
    assert zram.parse_algorithms("") == (None, [])


def test_the_ratio_is_stored_over_compressed_and_none_while_empty() -> None:
    assert zram.ratio(4096000, 1024000) == 4.0
    assert zram.ratio(0, 0) is None


@pytest.mark.parametrize(
    ("name", "version", "why"),
    [
        ("zpool", (6, 18, 0), "gone in 6.18"),
        ("zpool", (6, 17, 9), None),
        ("shrinker_enabled", (6, 7, 12), "from 6.8"),
        ("shrinker_enabled", (6, 8, 0), None),
        ("accept_threshold_percent", (5, 5, 19), "from 5.6"),
        ("same_filled_pages_enabled", (6, 11, 0), "gone in 6.11"),
        ("same_filled_pages_enabled", (6, 10, 14), None),
    ],
)
def test_a_missing_zswap_parameter_is_explained_by_the_release(name: str, version: tuple, why: str | None) -> None:
    got = zswap.absence(name, version)
    assert (got is None) if why is None else (why in (got or ""))
    assert (name in {p.name for p in zswap.expected(version)}) == (why is None)
