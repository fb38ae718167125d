from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swapctl.core.errors import UsageError
from swapctl.core.units import format_bytes, parse_size, round_up_pages


@pytest.mark.parametrize(
    "text,expected",
    [
        ("512M", 512 << 20),
        ("8G", 8 << 30),
        ("1.5GiB", 3 << 29),
        ("1048576K", 1 << 30),
        ("4096", 4096),
        ("2g", 2 << 30),
        ("1 MiB", 1 << 20),
        ("1MB", 10**6),
        ("64k", 64 << 10),
        # every unit once: binary without B or with iB, decimal with B (--size 8GB is 8 * 10**9, not 8 GiB)
        ("512B", 512),
        ("3KB", 3 * 10**3),
        ("8GB", 8 * 10**9),
        ("2TB", 2 * 10**12),
        ("1PB", 10**15),
        ("2T", 2 << 40),
        ("3TiB", 3 << 40),
        ("1P", 1 << 50),
        ("1PiB", 1 << 50),
        ("5KiB", 5 << 10),
        ("0.5K", 512),
        ("1.0001K", 1025),  # a fraction of a byte rounds up, never down to a smaller area
    ],
)
def test_sizes_are_read_as_admins_write_them(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text", ["", "abc", "-1G", "0", "0M", "1X", "1.2.3G", "G", "1e9", "9" * 40, "1KBB", "1GIBS", "1ib"]
)
def test_bad_sizes_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_size(text)


def test_sizes_round_up_to_whole_pages() -> None:
    assert round_up_pages(1, 4096) == 4096
    assert round_up_pages(8192, 4096) == 8192
    assert round_up_pages(8193, 4096) == 12288


@given(st.integers(min_value=1, max_value=1 << 50))
def test_any_plain_byte_count_parses_to_itself(n: int) -> None:
    assert parse_size(str(n)) == n


@given(st.text(max_size=20))
def test_the_size_parser_never_crashes(text: str) -> None:
    try:
        assert parse_size(text) > 0
    except UsageError:
        pass


# What each unit means, written out independently of the parser's tables (util-linux's size parser).
UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}
UNITS.update({f"{u}iB": f for u, f in UNITS.items() if u not in ("", "B")})
UNITS.update({"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15})


@given(
    st.integers(min_value=1, max_value=1000),
    st.integers(min_value=0, max_value=999),
    st.sampled_from(sorted(UNITS)),
    st.booleans(),
    st.booleans(),
)
def test_any_number_with_any_unit_is_that_many_bytes_rounded_up(
    whole: int, thousandths: int, unit: str, lower: bool, space: bool
) -> None:
    # not only "does not crash": the value must be the number times the unit, a fraction of a byte rounded up
    text = f"{whole}.{thousandths:03d}{' ' if space else ''}{unit.lower() if lower else unit}"
    expected = -(-(whole * 1000 + thousandths) * UNITS[unit] // 1000)
    assert parse_size(text) == expected


def test_the_largest_size_is_2_to_the_60_and_one_byte_more_is_refused() -> None:
    assert parse_size("1024P") == 1 << 60
    with pytest.raises(UsageError, match="too large"):
        parse_size("1025P")
    with pytest.raises(UsageError, match="too large"):
        parse_size(str((1 << 60) + 1))


def test_binary_units_in_tables() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1536 << 20) == "1.5 GiB"
    assert format_bytes(64 << 20) == "64 MiB"


@pytest.mark.parametrize(
    "n,expected",
    [
        (1048572 << 10, "1 GiB"),  # a 1 GiB swap file in /proc/swaps: 1 GiB less its header page
        ((1 << 20) - 1, "1 MiB"),  # 1048575 bytes rounds to 1024.0 KiB, which is 1 MiB
        ((1 << 10) - 1, "1023 B"),  # bytes are never rounded up into the next unit
        (1023 << 10, "1023 KiB"),
        (-((1 << 30) - 1), "-1 GiB"),
    ],
)
def test_a_size_that_rounds_to_1024_of_a_unit_is_shown_in_the_next_unit(n: int, expected: str) -> None:
    assert format_bytes(n) == expected


def test_a_size_written_with_thousands_of_digits_is_read_exactly_or_refused_without_a_crash() -> None:
    # Python's int() refuses strings past 4,300 digits: the parser must never hand it one.
    assert parse_size("0" * 5000 + "16M") == 16 << 20
    assert parse_size("1." + "0" * 5000 + "1K") == 1025  # a hair over 1 KiB: the byte is rounded up
    assert parse_size("2." + "0" * 5000 + "K") == 2048
    with pytest.raises(UsageError, match="too large"):
        parse_size("9" * 5000)
