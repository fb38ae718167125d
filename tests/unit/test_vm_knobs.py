"""The vm knob table: ranges by kernel version (checked against what real kernels accepted), key
normalisation, the assignment parser (with property tests), and the min_free_kbytes formulas."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swapctl.core.errors import UsageError
from swapctl.kernel import knobs, mm
from swapctl.kernel.knobs import INT_MAX, KNOBS, LOWER, RAISE, SET
from swapctl.kernel.version import parse_release
from swapctl.ops import vm
from swapctl.system.memory import thp_mode

RECORDINGS = Path("kernel-recordings")


# --- ranges -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("4.19.0-20-amd64", (0, 100)),
        ("5.7.19", (0, 100)),
        ("5.8.0", (0, 200)),
        ("6.18.44-fc-v657", (0, 200)),
    ],
)
def test_swappiness_accepts_up_to_200_from_linux_5_8_and_100_before(release, expected) -> None:
    assert KNOBS["swappiness"].kernel_range(parse_release(release)) == expected


@pytest.mark.parametrize(
    ("release", "mainline", "possible"),
    [
        ("4.6.0", (1, 1000), (1, 1000)),
        ("5.14.21", (1, 1000), (1, 1000)),
        # 5.15's stable series took the 3000 ceiling in 2022 (mainline: 5.17): a 5.15 or 5.16 build may have either
        ("5.15.0-1034-azure", (1, 1000), (1, 3000)),
        ("5.16.20", (1, 1000), (1, 3000)),
        ("5.17.0", (1, 3000), (1, 3000)),
        ("6.12.117+deb12-amd64", (1, 3000), (1, 3000)),
    ],
)
def test_watermark_scale_factor_ceiling_rose_from_1000_to_3000_in_5_17_and_in_5_15_stable(
    release, mainline, possible
) -> None:
    knob, version = KNOBS["watermark_scale_factor"], parse_release(release)
    assert knob.kernel_range(version) == mainline
    assert knob.possible_range(version) == knob.accepted_range(version) == possible
    doubt = knob.doubt_about(2000, version)
    assert (doubt is not None) == (mainline != possible), doubt
    assert knob.doubt_about(500, version) is None


def test_zone_reclaim_mode_and_vfs_cache_pressure_took_negative_values_before_5_12() -> None:
    for name in ("zone_reclaim_mode", "vfs_cache_pressure"):
        assert KNOBS[name].kernel_range((5, 11, 0))[0] < 0
        assert KNOBS[name].kernel_range((5, 12, 0))[0] == 0
        assert KNOBS[name].doubt((5, 10, 0)) and not KNOBS[name].doubt((5, 12, 0))
    # swapctl never takes a negative or a meaningless bit, whatever the kernel.
    assert KNOBS["zone_reclaim_mode"].accepted_range((5, 4, 0)) == (0, 7)
    assert KNOBS["vfs_cache_pressure"].accepted_range((5, 4, 0)) == (0, INT_MAX)


def test_page_cluster_is_capped_at_31_by_the_kernel_from_6_2_and_by_swapctl_before() -> None:
    knob = KNOBS["page-cluster"]
    assert knob.kernel_range((6, 1, 0)) == (0, INT_MAX)
    assert knob.kernel_range((6, 2, 0)) == (0, 31)
    assert knob.accepted_range((5, 10, 0)) == (0, 31)


def test_an_unknown_kernel_gets_the_newest_ranges() -> None:
    assert KNOBS["swappiness"].kernel_range(None) == (0, 200)
    assert parse_release("") is None


@pytest.mark.parametrize(
    ("release", "version"),
    [
        ("6.12.117+deb12-amd64", (6, 12, 117)),
        ("5.7.0-rc1", (5, 7, 0)),
        ("6.6", (6, 6, 0)),
        ("4.19.0-20-amd64", (4, 19, 0)),
        ("6.18.44-fc-v657\n", (6, 18, 44)),
        ("3.10.0-1160.el7.x86_64", (3, 10, 0)),
        ("6.1.x", (6, 1, 0)),
        ("", None),
        ("junk", None),
        ("6", None),
        ("\uff16.\uff11", None),
        (None, None),
    ],
)
def test_one_reader_turns_an_osrelease_into_a_three_part_version(release, version) -> None:
    # Three parts always: a (5, 7) compared with a (5, 7, 0) boundary would sort before it.
    assert parse_release(release) == version


def _validation(fixtures: Path) -> list[dict]:
    return json.loads((fixtures / RECORDINGS / "6.1/n1-512m/validation.json").read_text())


def test_the_validator_agrees_with_what_a_real_6_1_kernel_accepted_except_where_swapctl_is_stricter(
    fixtures: Path,
) -> None:
    release = (fixtures / RECORDINGS / "6.1/n1-512m/step0/root/proc/sys/kernel/osrelease").read_text().strip()
    version = parse_release(release)
    records = _validation(fixtures)
    assert records, "validation.json is empty"
    stricter = []
    for rec in records:
        text = f"{rec['key']}={rec['value']}"
        try:
            knobs.parse_assignments([text], version, release)
            ours = True
        except UsageError:
            ours = False
        kernel = rec["rc"] == 0
        if ours != kernel:
            stricter.append(text)
            assert kernel and not ours, f"swapctl accepts {text} which Linux {release} rejected"
    # The only place swapctl refuses what 6.1 took: zone_reclaim_mode's meaningless bit 8.
    assert stricter == ["zone_reclaim_mode=8"]


# --- keys ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(KNOBS))
def test_every_knob_is_accepted_bare_and_with_the_vm_prefix(name: str) -> None:
    assert knobs.knob_named(name) is KNOBS[name]
    assert knobs.knob_named(f"vm.{name}") is KNOBS[name]


@pytest.mark.parametrize(
    "text",
    [
        "../../kernel/panic",
        "vm/swappiness",
        "vm.../swappiness",
        "kernel.panic",
        "vm.vm.swappiness",
        "Swappiness",
        "swappiness ",
        "",
        "vm.",
        "page_cluster",
        "vm.overcommit_memory",
        "/proc/sys/vm/swappiness",
    ],
)
def test_anything_but_a_known_key_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as exc:
        knobs.knob_named(text)
    assert exc.value.code == 2


def test_a_near_miss_key_gets_a_did_you_mean_hint() -> None:
    with pytest.raises(UsageError) as exc:
        knobs.knob_named("swapiness")
    assert "did you mean swappiness" in (exc.value.hint or "")


# --- the parser ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "mode", "value"),
    [
        ("swappiness=10", SET, 10),
        ("vm.swappiness=10", SET, 10),
        ("min_free_kbytes=>65536", RAISE, 65536),
        ("min_free_kbytes=<4096", LOWER, 4096),
        ("swappiness= 7 ", SET, 7),
        ("swappiness=+5", SET, 5),
        ("swappiness=010", SET, 10),
    ],
)
def test_assignments_parse_to_key_mode_and_decimal_value(text, mode, value) -> None:
    a = knobs.parse_assignment(text)
    assert (a.mode, a.value) == (mode, value)


@pytest.mark.parametrize(
    "text",
    [
        "swappiness",
        "swappiness=",
        "swappiness=>",
        "swappiness=abc",
        "swappiness=0x10",
        "swappiness=1.5",
        "swappiness=1 0",
        "=10",
        "swappiness==10",
        "swappiness=>=10",
    ],
)
def test_malformed_assignments_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        knobs.parse_assignment(text)


def test_one_bad_assignment_rejects_the_whole_command_naming_key_value_and_range() -> None:
    with pytest.raises(UsageError) as exc:
        knobs.parse_assignments(["swappiness=10", "watermark_scale_factor=3001"], (6, 12), "6.12.0")
    assert "vm.watermark_scale_factor=3001" in exc.value.message and "1-3000" in exc.value.message


def test_a_key_given_twice_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="more than once"):
        knobs.parse_assignments(["swappiness=10", "vm.swappiness=20"], (6, 12))


def test_zone_reclaim_mode_above_7_is_refused_with_swapctls_reason() -> None:
    with pytest.raises(UsageError) as exc:
        knobs.parse_assignments(["zone_reclaim_mode=8"], (6, 1))
    assert "0-7" in exc.value.message and "bits" in exc.value.message


keys = st.sampled_from([k for name in KNOBS for k in (name, f"vm.{name}")])
ops = st.sampled_from(["=", "=>", "=<"])


@given(keys, ops, st.integers(min_value=-(2**40), max_value=2**40))
def test_property_any_well_formed_assignment_parses_back_to_what_was_written(key, op, n) -> None:
    a = knobs.parse_assignment(f"{key}{op}{n}")
    assert a.knob is knobs.knob_named(key)
    assert a.value == n
    assert a.mode == {"=": SET, "=>": RAISE, "=<": LOWER}[op]
    assert knobs.parse_assignment(a.text) == a  # the canonical text round-trips


@given(
    keys, st.integers(min_value=-(2**33), max_value=2**33), st.sampled_from([(4, 19), (5, 10), (6, 1), (6, 18), None])
)
def test_property_range_check_accepts_exactly_the_values_inside_the_accepted_range(key, n, version) -> None:
    knob = knobs.knob_named(key)
    lo, hi = knob.accepted_range(version)
    try:
        knobs.parse_assignments([f"{key}={n}"], version)
        accepted = True
    except UsageError:
        accepted = False
    exists = knob.since is None or version is None or version >= knob.since  # no such file before it
    assert accepted == (exists and lo <= n <= hi)


@given(st.text(alphabet=string.printable, max_size=30))
def test_property_arbitrary_text_either_parses_to_a_known_knob_or_is_a_usage_error(text: str) -> None:
    try:
        a = knobs.parse_assignment(text)
    except UsageError:
        return
    assert a.knob.name in KNOBS
    assert text.partition("=")[0].strip() in (a.knob.name, a.knob.key)


@pytest.mark.parametrize("release", ["5.7.0", "5.7.19-amd64", "5.6.19", "6.6.0"])
def test_vm_get_estimates_the_boot_min_free_kbytes_with_the_rule_of_the_running_kernel(
    fixtures: Path, tmp_path: Path, release: str
) -> None:
    # 5.7 raised the clamp of the default from 64 MiB to 256 MiB, which shows on a machine with 400 GB of
    # lowmem; vm get must read the kernel's version as the watermark model does, boundary releases included.
    import re

    from tests.fakes import fake_host, make_root

    root = make_root(tmp_path / "root", osrelease=release)
    text = (fixtures / "this-machine/proc/zoneinfo").read_text()
    normal = text.index("zone   Normal")
    big = re.sub(r"managed\s+\d+", "managed  100000000", text[normal:], count=1)
    (root / "proc/zoneinfo").write_text(text[:normal] + big)
    host = fake_host(root)
    state = vm.read_state(host)
    thp = thp_mode(host) != "never"
    want = mm.default_min_free_kbytes(state.memory.zones, host.page_size, thp, kernel_version=release).kernel
    assert state.min_free.kernel_default == want
    assert (want > 65536) == (not release.startswith("5.6"))


def test_vm_get_of_a_snapshot_uses_the_snapshots_page_size_not_this_machines(fixtures: Path, tmp_path: Path) -> None:
    # A ppc64 machine with 64 KiB pages, read on this 4 KiB one: the defaults are in kB of ITS pages.
    from swapctl.system.zoneinfo import parse_zoneinfo
    from tests.fakes import fake_host, make_root

    text = (
        fixtures / "public/lkml_2017-04-05_reza-arbab_make-movable-onlining-suck-less__4.11-rc5_ppc64_2node"
        "__proc_zoneinfo"
    ).read_text()
    managed = sum(z.managed for z in parse_zoneinfo(text))
    root = make_root(
        tmp_path / "root", osrelease="4.11.0-rc5", meminfo=f"MemTotal: {managed * 64} kB\nMemFree: {managed * 32} kB\n"
    )
    (root / "proc/zoneinfo").write_text(text)
    host = fake_host(root)
    state = vm.read_state(host)
    want = mm.default_min_free_kbytes(state.memory.zones, 65536, False, kernel_version="4.11.0")
    assert state.min_free.kernel_default == want.kernel
    assert state.min_free.basis_kb == mm.buffer_pages(state.memory.zones) * 64


INT = (-(2**31), 2**31 - 1)


@pytest.mark.parametrize(
    "name, version, kernel, possible",
    [
        ("swappiness", (5, 7, 99), (0, 100), (0, 100)),
        ("swappiness", (5, 8, 0), (0, 200), (0, 200)),
        ("watermark_scale_factor", (4, 6, 0), (1, 1000), (1, 1000)),
        ("watermark_scale_factor", (5, 14, 99), (1, 1000), (1, 1000)),
        ("watermark_scale_factor", (5, 15, 0), (1, 1000), (1, 3000)),  # the 2022 stable update, or not
        ("watermark_scale_factor", (5, 16, 99), (1, 1000), (1, 3000)),
        ("watermark_scale_factor", (5, 17, 0), (1, 3000), (1, 3000)),
        ("zone_reclaim_mode", (5, 11, 99), INT, INT),
        ("zone_reclaim_mode", (5, 12, 0), (0, INT[1]), (0, INT[1])),
        ("vfs_cache_pressure", (5, 11, 0), INT, INT),
        ("vfs_cache_pressure", (5, 12, 0), (0, INT[1]), (0, INT[1])),
        ("page-cluster", (6, 1, 99), (0, INT[1]), (0, INT[1])),
        ("page-cluster", (6, 2, 0), (0, 31), (0, 31)),
        ("watermark_boost_factor", (5, 0, 0), (0, INT[1]), (0, INT[1])),
        ("min_free_kbytes", (3, 10, 0), (0, INT[1]), (0, INT[1])),
    ],
)
def test_each_knobs_range_changes_at_the_release_that_changed_it(name, version, kernel, possible) -> None:
    knob = KNOBS[name]
    assert knob.kernel_range(version) == kernel
    assert knob.possible_range(version) == possible
    uncertain = {
        ("watermark_scale_factor", (5, 15, 0)),
        ("watermark_scale_factor", (5, 16, 99)),
        ("zone_reclaim_mode", (5, 11, 99)),  # a stable update may refuse a negative value
        ("vfs_cache_pressure", (5, 11, 0)),
    }
    assert (knob.doubt(version) is not None) == ((name, version) in uncertain)


def test_a_value_only_some_builds_take_draws_a_doubt_and_one_all_take_none() -> None:
    wsf = KNOBS["watermark_scale_factor"]
    assert wsf.doubt_about(1000, (5, 15, 0)) is None and wsf.doubt_about(1, (5, 15, 0)) is None
    doubt = wsf.doubt_about(1001, (5, 15, 0))
    assert doubt and doubt.startswith("vm.watermark_scale_factor=1001: Linux 5.15 and 5.16 take up to 3000")
    assert wsf.doubt_about(1001, (5, 17, 0)) is None and wsf.doubt_about(1001, None) is None
    zrm = KNOBS["zone_reclaim_mode"]
    assert zrm.doubt_about(-1, (5, 11, 0)) is None  # INT_MIN.. is the mainline range there
    assert zrm.doubt(None) is None and zrm.kernel_range(None) == (0, INT[1])
    assert zrm.accepted_range((5, 11, 0)) == (0, 7)  # the policy: three bits
    assert KNOBS["watermark_scale_factor"].since == (4, 6, 0)


@pytest.mark.parametrize(
    "texts, why",
    [
        (["swappiness"], "'swappiness' is not an assignment"),
        (["swappiness="], "vm.swappiness has an empty value"),
        (["swappiness=0x10"], "vm.swappiness='0x10' is not a decimal integer"),
        (["swappiness=\u0661"], "is not a decimal integer"),
        (["swappiness=" + "1" * 20], "is out of range: it has 20 digits"),
        (["swappiness=10", "vm.swappiness=20"], "vm.swappiness is assigned more than once"),
        (["watermark_scale_factor=10"], "does not exist before Linux 4.6.0 (this kernel is 4.4.0)"),
        (["swappiness=201"], "vm.swappiness=201 is out of range: Linux 4.4.0 accepts 0-100"),
        (["zone_reclaim_mode=8"], "swapctl accepts 0-7 (only bits 1, 2 and 4 mean anything)"),
        ([], "nothing to set"),
    ],
)
def test_an_assignment_that_cannot_be_made_is_a_usage_error_saying_why(texts: list[str], why: str) -> None:
    import re

    with pytest.raises(UsageError, match=re.escape(why)):
        knobs.parse_assignments(texts, (4, 4, 0), "4.4.0")


def test_nineteen_digits_are_read_and_the_range_decides() -> None:
    (a,) = knobs.parse_assignments(["min_free_kbytes=" + "0" * 30 + "65536"], (6, 1, 0))
    assert a.value == 65536  # leading zeros are no digits of the value
    with pytest.raises(UsageError, match="accepts 0-2147483647"):
        knobs.parse_assignments(["min_free_kbytes=" + "9" * 19], (6, 1, 0))
    assert knobs.parse_assignments(["swappiness=0", "page-cluster=31"], (6, 1, 0))[1].value == 31


def test_the_values_the_kernel_boots_with() -> None:
    defaults = {k: knob.default for k, knob in KNOBS.items()}
    assert defaults == {
        "min_free_kbytes": None,  # computed from memory (kernel/mm.py)
        "swappiness": 60,
        "zone_reclaim_mode": 0,
        "watermark_scale_factor": 10,
        "watermark_boost_factor": 15000,
        "vfs_cache_pressure": 100,
        "page-cluster": 3,
    }
    assert KNOBS["watermark_boost_factor"].since == (5, 0, 0)
