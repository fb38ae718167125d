"""What `kernel/knobs.py` promises that tests/unit/test_vm_knobs.py left unchecked (the mutation run found them):
the `keys` and `values_only` checks every command that takes assignments shares, a knob at exactly its first
release, the wording at the very edge of what the kernel takes, and how an uncertain window widens a range."""

from __future__ import annotations

import re

import pytest

from swapctl.core.errors import UsageError
from swapctl.kernel import knobs
from swapctl.kernel.knobs import INT_MAX, INT_MIN, KNOBS, LOWER, RAISE, SET, Knob


def results(texts: list[str], version=(6, 1, 0), release: str = "6.1.0", **kw) -> list[str]:
    """What check_assignments says of each text: its assignment's text, or its error's message."""
    return [
        item.message if isinstance(item, UsageError) else item.text
        for item in knobs.check_assignments(texts, version, release, **kw)
    ]


# --- keys and values_only: `watermarks --what-if` takes two keys and plain values ------------------------------
def test_a_key_outside_the_ones_a_command_takes_is_refused_with_the_commands_words_and_keys() -> None:
    keys = ("min_free_kbytes", "watermark_scale_factor")
    assert results(["min_free_kbytes=65536", "swappiness=10"], keys=keys, outside="has no effect on watermarks") == [
        "vm.min_free_kbytes=65536",
        "vm.swappiness has no effect on watermarks",
    ]
    (err,) = [e for e in knobs.check_assignments(["swappiness=10"], None, keys=keys) if isinstance(e, UsageError)]
    assert err.message == "vm.swappiness cannot be given here"
    assert err.hint == "keys: min_free_kbytes, watermark_scale_factor"


def test_without_a_key_list_every_knob_is_taken() -> None:
    assert results(["swappiness=10", "page-cluster=0"]) == ["vm.swappiness=10", "vm.page-cluster=0"]


def test_raise_or_lower_only_is_refused_where_a_value_is_needed_and_taken_by_default() -> None:
    texts = ["swappiness=>10", "page-cluster=<2", "vfs_cache_pressure=50"]
    assert results(texts) == ["vm.swappiness=>10", "vm.page-cluster=<2", "vm.vfs_cache_pressure=50"]
    said = list(knobs.check_assignments(texts, (6, 1, 0), values_only=True))
    assert [getattr(s, "message", None) for s in said[:2]] == [
        "vm.swappiness=>10 only raises or lowers: this needs a value",
        "vm.page-cluster=<2 only raises or lowers: this needs a value",
    ]
    assert [getattr(s, "hint", None) for s in said[:2]] == ["write vm.swappiness=10", "write vm.page-cluster=2"]
    assert isinstance(said[2], knobs.Assignment) and (said[2].mode, said[2].value) == (SET, 50)
    with pytest.raises(UsageError, match="only raises or lowers"):
        knobs.parse_assignments(["swappiness=>10"], (6, 1, 0), values_only=True)
    (a,) = knobs.parse_assignments(["swappiness=>10"], (6, 1, 0))
    assert (a.mode, a.target(5), a.target(20)) == (RAISE, 10, 20)
    (b,) = knobs.parse_assignments(["swappiness=<10"], (6, 1, 0))
    assert (b.mode, b.target(5), b.target(20)) == (LOWER, 5, 10)


def test_each_bad_assignment_is_said_and_the_good_ones_still_parse() -> None:
    texts = ["swappiness=10", "bogus=1", "swappiness=20", "page-cluster=99", "vfs_cache_pressure=3"]
    assert results(texts) == [
        "vm.swappiness=10",
        "'bogus' is not a vm sysctl swapctl manages",
        "vm.swappiness is assigned more than once",
        "vm.page-cluster=99 is out of range: swapctl accepts 0-31 (it is a shift count; 2^31 pages is already "
        "beyond any swap device)",
        "vm.vfs_cache_pressure=3",
    ]


# --- a knob's first release --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, first, before",
    [("watermark_scale_factor", (4, 6, 0), (4, 5, 99)), ("watermark_boost_factor", (5, 0, 0), (4, 20, 17))],
)
def test_a_knob_is_taken_from_exactly_its_first_release_and_refused_before(name, first, before) -> None:
    shown = ".".join(map(str, first))
    assert results([f"{name}=10"], first, shown) == [f"vm.{name}=10"]
    assert results([f"{name}=10"], before, "4.5.99") == [
        f"vm.{name} does not exist before Linux {shown} (this kernel is 4.5.99)"
    ]
    assert results([f"{name}=10"], before, "") == [
        f"vm.{name} does not exist before Linux {shown} (this kernel is older)"
    ]
    assert results([f"{name}=10"], None, "") == [f"vm.{name}=10"]  # an unknown kernel: the newest table


# --- the wording at the edge: "swapctl accepts" (its policy) or "Linux accepts" (the kernel's range) ------------
@pytest.mark.parametrize(
    "text, version, said",
    [
        # The kernel takes the very edge of its range; swapctl's policy refuses it, and says why.
        (f"zone_reclaim_mode={INT_MAX}", (6, 1, 0), "swapctl accepts 0-7 (only bits 1, 2 and 4 mean anything)"),
        (f"vfs_cache_pressure={INT_MIN}", (5, 10, 0), "swapctl accepts 0-2147483647 (a negative pressure is"),
        (f"zone_reclaim_mode={INT_MIN}", (5, 10, 0), "swapctl accepts 0-7 (only bits"),
        # One past it: the kernel itself refuses.
        (f"vfs_cache_pressure={INT_MIN - 1}", (5, 10, 0), "Linux 5.10.0 accepts 0-2147483647"),
        ("swappiness=201", (6, 1, 0), "Linux 6.1.0 accepts 0-200"),
        ("watermark_scale_factor=0", (6, 1, 0), "Linux 6.1.0 accepts 1-3000"),
    ],
)
def test_a_value_out_of_range_says_whose_limit_it_is(text: str, version, said: str) -> None:
    release = ".".join(map(str, version))
    with pytest.raises(UsageError, match=re.escape(said)):
        knobs.parse_assignments([text], version, release)


def test_without_a_release_the_kernels_limit_is_this_kernels() -> None:
    with pytest.raises(UsageError, match=re.escape("vm.swappiness=201 is out of range: this kernel accepts 0-200")):
        knobs.check_range(KNOBS["swappiness"], 201, (6, 1, 0))


# --- an uncertain window widens the range both ways ------------------------------------------------------------
def test_an_uncertain_window_widens_the_range_down_as_well_as_up() -> None:
    # A made-up knob whose floor mainline 5.0 lowered from 10 to 5, and a 4.19 stable update lowered before it (the
    # table has no such knob now, but a window's low end means the same as its high end).
    knob = Knob(
        "x",
        "test",
        (10, 20),
        (((5, 0, 0), 5, 20),),
        uncertain=(((4, 19, 0), (5, 0, 0), 5, 20, "4.19 builds differ"),),
    )
    assert knob.kernel_range((4, 19, 0)) == (10, 20)
    assert knob.possible_range((4, 19, 0)) == knob.accepted_range((4, 19, 0)) == (5, 20)
    assert knob.possible_range((4, 18, 9)) == (10, 20)
    assert knob.possible_range((5, 0, 0)) == knob.possible_range(None) == (5, 20)
    assert knob.doubt_about(7, (4, 19, 0)) == "vm.x=7: 4.19 builds differ; the kernel will take it or refuse it"
    assert knob.doubt_about(12, (4, 19, 0)) is None and knob.doubt_about(7, (5, 0, 0)) is None
    knobs.check_range(knob, 5, (4, 19, 0))  # some build takes it: swapctl lets the kernel decide
    with pytest.raises(UsageError, match="Linux 4.18.9 accepts 10-20"):
        knobs.check_range(knob, 5, (4, 18, 9), "4.18.9")


@pytest.mark.parametrize("name", sorted(KNOBS))
def test_an_uncertain_window_only_ever_widens_what_mainline_takes(name: str) -> None:
    knob = KNOBS[name]
    for start, until, *_ in knob.uncertain:
        first = start or knob.since or (2, 6, 0)
        last = (until[0], until[1] - 1, 999) if until[1] else (until[0] - 1, 99, 999)
        for version in (first, last):
            lo, hi = knob.kernel_range(version)
            plo, phi = knob.possible_range(version)
            assert plo <= lo and hi <= phi and knob.doubt(version), (name, version)
        assert knob.possible_range(until) == knob.kernel_range(until) and knob.doubt(until) is None
