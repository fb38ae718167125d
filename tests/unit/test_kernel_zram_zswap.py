"""zram's sysfs texts as the kernel prints and reads them (kernel/zram.py): stat lines, the algorithm list, the
compression ratio and the algorithm_params words swapctl passes; zswap's parameters by release and the values
`zswap set` takes (kernel/zswap.py)."""

from __future__ import annotations

import pytest

from swapctl.kernel import zram, zswap


def test_a_stat_line_is_named_by_position_and_a_newer_kernels_extra_fields_are_ignored() -> None:
    assert zram.parse_stat("1 2 3 4 5", zram.IO_STAT) == {
        "failed_reads": 1,
        "failed_writes": 2,
        "invalid_io": 3,
        "notify_free": 4,
    }
    assert zram.parse_stat(" ".join(["7"] * 32), zram.BD_STAT) == {"bd_count": 7, "bd_reads": 7, "bd_writes": 7}
    assert zram.parse_stat("9" * 20, ("n",)) == {"n": int("9" * 20)}


@pytest.mark.parametrize("text", ["", "   ", " ".join(["1"] * 33), "1 -2", "1 x", "\u0661", "9" * 21])
def test_anything_else_is_no_stat_line(text: str) -> None:
    with pytest.raises(ValueError):
        zram.parse_stat(text, zram.IO_STAT)


def test_the_selected_algorithm_is_the_bracketed_one() -> None:
    assert zram.parse_algorithms("[lzo-rle] lzo lz4") == ("lzo-rle", ["lzo-rle", "lzo", "lz4"])
    assert zram.parse_algorithms("lzo [zstd]\n") == ("zstd", ["lzo", "zstd"])
    assert zram.parse_algorithms("lzo []") == (None, ["lzo", "[]"])  # nothing in the brackets: no name
    assert zram.parse_algorithms("[x]") == ("x", ["x"])


def test_the_ratio_is_pages_per_compressed_byte_and_none_before_anything_is_compressed() -> None:
    assert zram.ratio(300, 100) == 3.0 and zram.ratio(1, 3) == 0.33
    assert zram.ratio(100, 0) is None and zram.ratio(0, 1) == 0.0


@pytest.mark.parametrize(
    "text, words",
    [
        ("level=3", ["level=3"]),
        ("level=-2147483648, dict=/etc/zstd.dict", ["level=-2147483648", "dict=/etc/zstd.dict"]),
        ("level=2147483647", ["level=2147483647"]),
    ],
)
def test_algorithm_params_are_the_words_the_kernel_is_given(text: str, words: list[str]) -> None:
    assert zram.parse_algorithm_params(text) == words


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "is empty"),
        ("level", "is not key=value"),
        ("level=", "is not key=value"),
        ("algo=zstd", "has no parameter 'algo'"),
        ("level=1 level=2", "gives level twice"),
        ("level=2147483648", "is not a whole number"),
        ("level=-2147483649", "is not a whole number"),
        ("level=1.5", "is not a whole number"),
        ("dict=etc/d", "is not an absolute path"),
        ("dict=/etc/../d", "is not an absolute path"),
        ("dict=/etc/..", "is not an absolute path"),
    ],
)
def test_algorithm_params_swapctl_would_not_pass_are_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        zram.parse_algorithm_params(text)


# --- zswap's parameters by release, and the values `zswap set` takes --------------------------------------------
@pytest.mark.parametrize(
    "name, first, gone",
    [
        ("enabled", (3, 11, 0), None),
        ("compressor", (3, 11, 0), None),
        ("max_pool_percent", (3, 11, 0), None),
        ("zpool", (4, 2, 0), (6, 18, 0)),
        ("same_filled_pages_enabled", (4, 16, 0), (6, 11, 0)),
        ("accept_threshold_percent", (5, 6, 0), None),
        ("shrinker_enabled", (6, 8, 0), None),
    ],
)
def test_a_zswap_parameter_exists_from_its_first_release_until_the_one_that_dropped_it(name, first, gone) -> None:
    def has(version) -> bool:
        return name in {p.name for p in zswap.expected(version)}

    before = (first[0], first[1] - 1, 999) if first[1] else (first[0] - 1, 99, 999)
    assert has(first) and not has(before)
    assert zswap.absence(name, before) == f"not on this kernel (from {first[0]}.{first[1]})"
    assert zswap.absence(name, first) is None
    if gone is None:
        assert has((99, 0, 0))
    else:
        assert has((gone[0], gone[1] - 1, 999)) and not has(gone)
        assert zswap.absence(name, gone) == f"not on this kernel (gone in {gone[0]}.{gone[1]})"


@pytest.mark.parametrize(
    "name, value, read_back",
    [
        ("enabled", " yes ", "Y"),
        ("shrinker_enabled", "0", "N"),
        ("max_pool_percent", "100", "100"),
        ("accept_threshold_percent", "007", "7"),
        ("compressor", "lz4-generic_2", "lz4-generic_2"),
        ("compressor", "a" * 63, "a" * 63),
    ],
)
def test_a_zswap_value_is_normalised_as_the_kernel_reads_it_back(name: str, value: str, read_back: str) -> None:
    assert zswap.normalise(name, value) == read_back


@pytest.mark.parametrize(
    "name, value",
    [("enabled", "maybe"), ("max_pool_percent", "101"), ("max_pool_percent", "-1"), ("compressor", "a" * 64)]
    + [("compressor", ""), ("compressor", "lz4 x"), ("zpool", "z\u00e9")],
)
def test_a_zswap_value_the_parameter_does_not_take_is_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        zswap.normalise(name, value)
