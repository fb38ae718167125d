"""What the next boot writes to a vm sysctl under procps `sysctl --system` and systemd-sysctl, over a fake tree
of sysctl.d directories, and what the kernel keeps of it (the real peers check the same on hundreds of trees:
tests/system/test_sysctl_peers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swapctl.kernel import procsys
from swapctl.ops import nextboot
from swapctl.ops.nextboot import PROCPS, SYSTEMD
from tests.fakes import fake_host, make_root

KEY = "vm.swappiness"
KNOBS = {"swappiness": (0, 200), "page-cluster": (0, 31), "watermark_scale_factor": (1, 3000)}


@pytest.fixture
def tree(tmp_path: Path):
    root = make_root(tmp_path / "root")
    for knob in KNOBS:
        (root / "proc/sys/vm" / knob).write_text("0\n")

    def put(path: str, text: str) -> Path:
        p = root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    return root, fake_host(root), put


def boot(host, tool: str, key: str = KEY, overrides=None) -> nextboot.BootValue:
    return nextboot.next_boot(host, KNOBS, overrides=overrides)[tool][key.removeprefix("vm.")]


def winner(host, tool: str, key: str = KEY, overrides=None) -> tuple[str | None, str | None]:
    b = boot(host, tool, key, overrides)
    return (b.source.file, b.source.text) if b.source else (None, None)


def texts(host, tool: str, key: str = KEY) -> list[str]:
    return [w.text for w in boot(host, tool, key).writes]


def test_nothing_persisted_means_no_value_under_either_tool(tree) -> None:
    _, host, _ = tree
    for tool in nextboot.TOOLS:
        assert winner(host, tool) == (None, None)


def test_files_apply_in_basename_order_so_the_last_name_wins_whatever_its_directory(tree) -> None:
    _, host, put = tree
    put("/usr/lib/sysctl.d/99-vendor.conf", "vm.swappiness = 30\n")
    put("/etc/sysctl.d/10-admin.conf", "vm.swappiness = 10\n")
    put("/run/sysctl.d/50-runtime.conf", "vm.swappiness = 50\n")
    for tool in nextboot.TOOLS:
        assert winner(host, tool) == ("/usr/lib/sysctl.d/99-vendor.conf", "30")
    assert [w.file for w in boot(host, PROCPS).writes] == [
        "/etc/sysctl.d/10-admin.conf",
        "/run/sysctl.d/50-runtime.conf",
        "/usr/lib/sysctl.d/99-vendor.conf",
    ]


def test_a_file_in_etc_shadows_the_same_name_in_run_usr_local_lib_usr_lib_and_lib(tree) -> None:
    _, host, put = tree
    for d in ("/run", "/usr/local/lib", "/usr/lib", "/lib"):
        put(f"{d}/sysctl.d/60-tune.conf", f"vm.swappiness = 1{len(d)}\n")
    put("/etc/sysctl.d/60-tune.conf", "vm.swappiness = 7\n")
    for tool in nextboot.TOOLS:
        assert winner(host, tool) == ("/etc/sysctl.d/60-tune.conf", "7")


def test_directory_priority_is_etc_then_run_then_usr_local_lib_then_usr_lib(tree) -> None:
    _, host, put = tree
    put("/usr/lib/sysctl.d/60-tune.conf", "vm.swappiness = 4\n")
    put("/usr/local/lib/sysctl.d/60-tune.conf", "vm.swappiness = 3\n")
    put("/run/sysctl.d/60-tune.conf", "vm.swappiness = 2\n")
    for tool in nextboot.TOOLS:
        assert winner(host, tool) == ("/run/sysctl.d/60-tune.conf", "2")


def test_etc_sysctl_conf_comes_last_for_procps_and_not_at_all_for_systemd(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/99-zzz.conf", "vm.swappiness = 20\n")
    put("/etc/sysctl.conf", "vm.swappiness = 90\n")
    assert winner(host, PROCPS) == ("/etc/sysctl.conf", "90")
    assert winner(host, SYSTEMD) == ("/etc/sysctl.d/99-zzz.conf", "20")


def test_the_debian_99_sysctl_conf_link_makes_systemd_read_etc_sysctl_conf_too(tree) -> None:
    root, host, put = tree
    put("/etc/sysctl.conf", "vm.swappiness = 90\n")
    put("/etc/sysctl.d/50-a.conf", "vm.swappiness = 5\n")
    os.symlink("../sysctl.conf", root / "etc/sysctl.d/99-sysctl.conf")
    assert winner(host, SYSTEMD) == ("/etc/sysctl.d/99-sysctl.conf", "90")
    assert winner(host, PROCPS) == ("/etc/sysctl.conf", "90")


def test_a_link_to_dev_null_masks_the_vendor_file_of_the_same_name(tree) -> None:
    root, host, put = tree
    put("/usr/lib/sysctl.d/50-vendor.conf", "vm.swappiness = 33\n")
    (root / "etc/sysctl.d").mkdir(parents=True, exist_ok=True)
    os.symlink("/dev/null", root / "etc/sysctl.d/50-vendor.conf")
    for tool in nextboot.TOOLS:
        assert winner(host, tool) == (None, None)


def test_an_absolute_link_resolves_inside_the_machine_root_not_on_this_host(tree) -> None:
    root, host, put = tree
    put("/opt/tuning/vm.conf", "vm.swappiness = 12\n")
    (root / "etc/sysctl.d").mkdir(parents=True, exist_ok=True)
    os.symlink("/opt/tuning/vm.conf", root / "etc/sysctl.d/40-vm.conf")
    assert winner(host, PROCPS) == ("/etc/sysctl.d/40-vm.conf", "12")


def test_only_dot_conf_files_count_and_systemd_skips_hidden_ones(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/README.sysctl", "vm.swappiness = 1\n")
    put("/etc/sysctl.d/70-x.conf.bak", "vm.swappiness = 2\n")
    put("/etc/sysctl.d/.80-hidden.conf", "vm.swappiness = 3\n")
    put("/etc/sysctl.d/20-real.conf", "vm.page-cluster = 4\n")
    assert winner(host, SYSTEMD) == (None, None)
    assert winner(host, PROCPS) == ("/etc/sysctl.d/.80-hidden.conf", "3")
    assert winner(host, SYSTEMD, "vm.page-cluster") == ("/etc/sysctl.d/20-real.conf", "4")


def test_within_a_file_the_last_line_wins_and_slashes_dashes_comments_and_spacing_are_understood(tree) -> None:
    _, host, put = tree
    put(
        "/etc/sysctl.d/30-mix.conf",
        "# vm.swappiness = 1\n; vm.swappiness = 2\n  vm/swappiness=3\n-vm.swappiness   =   4  \nnot an assignment\n",
    )
    for tool in nextboot.TOOLS:
        assert winner(host, tool) == ("/etc/sysctl.d/30-mix.conf", "4")


def test_a_key_spelled_with_slashes_alone_is_understood(tree) -> None:
    # the first separator decides: "vm/swappiness" is already the /proc/sys path (no later dotted line to win)
    _, host, put = tree
    put("/etc/sysctl.d/30-slash.conf", "vm/swappiness = 3\n")
    for tool in nextboot.TOOLS:
        assert winner(host, tool) == ("/etc/sysctl.d/30-slash.conf", "3")
    # a "." after the first "/" is a path component, not a separator to swap
    put("/etc/sysctl.d/40-dot.conf", "vm/./page-cluster = 4\n")
    for tool in nextboot.TOOLS:
        assert winner(host, tool, "vm.page-cluster") == ("/etc/sysctl.d/40-dot.conf", "4")


def test_of_two_glob_lines_the_later_one_wins_in_either_tool(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-first.conf", "vm.swap* = 10\n")
    put("/etc/sysctl.d/20-second.conf", "vm.swap* = 20\n")
    for tool in nextboot.TOOLS:
        assert winner(host, tool) == ("/etc/sysctl.d/20-second.conf", "20")
    put("/etc/sysctl.d/30-third.conf", "vm.swappines? = 30\nvm.swappi* = 31\n")
    for tool in nextboot.TOOLS:
        assert winner(host, tool) == ("/etc/sysctl.d/30-third.conf", "31")


def test_of_two_different_values_for_one_key_systemd_writes_only_the_last(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-a.conf", "vm.swappiness = 1\nvm.swappiness = 2\n")
    assert texts(host, PROCPS) == ["1", "2"]
    assert texts(host, SYSTEMD) == ["2"]


def test_an_explicit_key_beats_a_glob_even_when_the_glob_comes_later(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-explicit.conf", "vm.swappiness = 10\n")
    put("/etc/sysctl.d/90-glob.conf", "vm.swap* = 99\n")
    for tool in nextboot.TOOLS:
        assert winner(host, tool) == ("/etc/sysctl.d/10-explicit.conf", "10")
        assert winner(host, tool, "vm.page-cluster") == (None, None)


def test_a_glob_alone_sets_the_keys_it_matches(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/90-glob.conf", "vm.swap* = 99\n")
    for tool in nextboot.TOOLS:
        assert winner(host, tool) == ("/etc/sysctl.d/90-glob.conf", "99")


def test_a_later_exclusion_cancels_an_earlier_value_for_systemd_but_not_for_procps(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-set.conf", "vm.swappiness = 10\n")
    put("/etc/sysctl.d/20-exclude.conf", "-vm.swappiness\n")
    assert winner(host, SYSTEMD) == (None, None)
    assert winner(host, PROCPS) == ("/etc/sysctl.d/10-set.conf", "10")


def test_the_applier_of_an_image_is_its_init_and_of_a_booted_machine_its_run_dir(tree) -> None:
    root, host, _ = tree
    assert nextboot.detect_applier(host)[0] == PROCPS
    (root / "usr/lib/systemd").mkdir(parents=True)
    (root / "usr/lib/systemd/systemd-sysctl").write_text("")
    assert nextboot.detect_applier(host) == (SYSTEMD, "/usr/lib/systemd/systemd-sysctl is there and no other init")
    (root / "sbin").mkdir()
    (root / "bin").mkdir()
    (root / "bin/busybox").write_text("")
    os.symlink("/bin/busybox", root / "sbin/init")
    assert nextboot.detect_applier(host)[0] == PROCPS
    (root / "sbin/init").unlink()
    os.symlink("../usr/lib/systemd/systemd", root / "sbin/init")
    (root / "usr/lib/systemd/systemd").write_text("")
    assert nextboot.detect_applier(host)[0] == SYSTEMD
    (root / "sbin/init").unlink()
    (root / "sbin/init").write_text("sysvinit")
    (root / "run/systemd/system").mkdir(parents=True)
    assert nextboot.detect_applier(host)[0] == SYSTEMD  # a snapshot of a machine that booted with systemd


def test_overrides_simulate_a_new_file_without_writing_it(tree) -> None:
    root, host, put = tree
    put("/etc/sysctl.d/95-later.conf", "vm.swappiness = 95\n")
    sim = {"/etc/sysctl.d/90-swapctl.conf": "vm.swappiness = 10\n"}
    b = boot(host, SYSTEMD, overrides=sim)
    assert (b.source.file, b.source.text) == ("/etc/sysctl.d/95-later.conf", "95")
    assert [(w.file, w.line, w.text) for w in b.writes] == [("/etc/sysctl.d/95-later.conf", 1, "95")]
    assert texts(host, PROCPS) == ["95"]
    assert [w.text for w in boot(host, PROCPS, overrides=sim).writes] == ["10", "95"]
    assert not (root / "etc/sysctl.d/90-swapctl.conf").exists()


# --- what the kernel keeps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, kept",
    [
        ("10", 10),
        ("010", 8),
        ("0x10", 16),
        ("0X1f", 31),
        (" 5 ", 5),
        ("10 # note", 10),
        ("10\tx", 10),
        ("33 44", 33),
        ("08", None),
        ("+1", None),
        ("1_0", None),
        ("-1", None),
        ("1e3", None),
        ("99999999999", None),
        ("", None),
        ("10\r", None),
        ("10\v", None),
        ("0x", None),
        ("12abc", None),
        ("9" * 21, None),
        ("0" * 25 + "7", None),
        ("1.5", None),
        ("500", None),
        ("-" + "0" * 19, 0),
        ("-" + "0" * 20, None),
        ("\udca07", 7),
        ("\u00a07", None),
    ],
)
def test_a_boot_value_is_read_as_the_kernel_reads_it(text: str, kept: int | None) -> None:
    got = procsys.accepts(text, 0, 200)
    assert (got if isinstance(got, int) else None) == kept, got


def test_a_value_the_kernel_rejects_leaves_procps_earlier_value_and_systemd_the_default(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-a.conf", "vm.swappiness = 30\n")
    put("/etc/sysctl.d/20-b.conf", "vm.swappiness = 500\n")
    b = boot(host, PROCPS)
    assert (b.value, b.source.file) == (30, "/etc/sysctl.d/10-a.conf")
    assert [(w.text, why) for w, why in b.rejected] == [("500", "500 is out of range (0-200)")]
    b = boot(host, SYSTEMD)  # one entry per key: 30 is never written, 500 is refused
    assert (b.value, b.source, [w.text for w in b.writes]) == (None, None, ["500"])


# --- lines, blanks and keys as each tool reads them ---------------------------------------------------------


def test_only_systemd_ends_a_line_at_a_carriage_return(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-a.conf", "vm.page-cluster = 2\rvm.swappiness = 7\n")
    assert texts(host, SYSTEMD) == ["7"] and texts(host, SYSTEMD, "vm.page-cluster") == ["2"]
    assert texts(host, PROCPS) == [] and texts(host, PROCPS, "vm.page-cluster") == ["2\rvm.swappiness = 7"]
    assert boot(host, PROCPS, "vm.page-cluster").value is None  # the kernel refuses "2\r..."


def test_a_form_feed_in_a_comment_ends_nothing_and_a_vertical_tab_is_blank_only_for_procps(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-a.conf", "# note\fvm.swappiness = 9\n\vvm.page-cluster = 1\n")
    assert texts(host, PROCPS) == [] and texts(host, SYSTEMD) == []
    assert texts(host, PROCPS, "vm.page-cluster") == ["1"] and texts(host, SYSTEMD, "vm.page-cluster") == []


def test_a_no_break_space_before_the_equals_sign_makes_the_line_fail_in_both(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-a.conf", "vm.swappiness\u00a0= 9\n")
    assert texts(host, PROCPS) == [] and texts(host, SYSTEMD) == []


@pytest.mark.parametrize(
    "spelling, procps, systemd",
    [
        ("vm/swappiness", True, True),
        ("/vm/swappiness", True, True),
        ("vm..swappiness", True, True),
        (".vm.swappiness", True, True),
        ("vm/swappiness/", False, True),
        ("vm.swappiness.", False, True),
        ("vm/./swappiness", True, True),
        ("kernel/../vm/swappiness", True, False),
        ("VM.SWAPPINESS", False, False),
    ],
)
def test_key_spellings_reach_the_file_as_each_tool_decides(tree, spelling: str, procps: bool, systemd: bool) -> None:
    _, host, put = tree
    (host.real("/proc/sys/kernel")).mkdir(parents=True, exist_ok=True)
    put("/etc/sysctl.d/10-a.conf", f"{spelling} = 9\n")
    assert (texts(host, PROCPS) == ["9"], texts(host, SYSTEMD) == ["9"]) == (procps, systemd)


def test_a_dash_with_a_space_after_it_works_only_for_systemd(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-a.conf", "- vm.swappiness = 9\n")
    assert texts(host, PROCPS) == [] and texts(host, SYSTEMD) == ["9"]


def test_a_dangling_link_or_a_directory_masks_the_same_name_lower_down(tree) -> None:
    root, host, put = tree
    put("/usr/lib/sysctl.d/50-v.conf", "vm.swappiness = 33\n")
    put("/usr/lib/sysctl.d/60-w.conf", "vm.page-cluster = 5\n")
    (root / "etc/sysctl.d").mkdir(parents=True, exist_ok=True)
    os.symlink("/nowhere", root / "etc/sysctl.d/50-v.conf")
    (root / "run/sysctl.d/60-w.conf").mkdir(parents=True)
    for tool in nextboot.TOOLS:
        assert texts(host, tool) == [] and texts(host, tool, "vm.page-cluster") == []


def test_globs_do_not_cross_a_slash_and_systemd_keeps_one_entry_per_key(tree) -> None:
    _, host, put = tree
    put(
        "/etc/sysctl.d/10-a.conf",
        "*swappiness = 1\nvm.swappiness = 2\nvm.page-cluster = 3\nvm.page-cluster = 4\nvm.page-cluster = 3\n",
    )
    assert texts(host, PROCPS) == ["2"] and texts(host, SYSTEMD) == ["2"]
    assert texts(host, PROCPS, "vm.page-cluster") == ["3", "4", "3"]
    assert texts(host, SYSTEMD, "vm.page-cluster") == ["3"]  # the last assignment, once


def test_an_explicit_key_suppresses_a_glob_in_procps_only_by_its_exact_spelling(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-a.conf", "vm.swap* = 1\n/vm/swappiness = 2\n")
    assert texts(host, PROCPS) == ["1", "2"]  # /proc/sys//vm/swappiness is not the glob's path
    assert texts(host, SYSTEMD) == ["2"]


# --- glob(3) as both tools use it: fnmatch() per name with FNM_PERIOD, and GLOB_BRACE ---------------------------
@pytest.mark.parametrize(
    "name, pattern, matches",
    [
        ("swappiness", "swap*", True),
        ("swapiness", "swap?iness", False),
        ("a.b", "a?b", True),
        (".hidden", "*", False),  # a leading "." only by a literal "."
        (".hidden", "?hidden", False),
        (".hidden", ".*", True),
        ("swappiness", "[!s]wappiness", False),
        ("twappiness", "[^s]wappiness", True),
        ("]x", "[]]x", True),  # "]" first is a member
        ("]", "[!]]", False),
        ("9", "[[:alpha:][:digit:]]", True),
        ("b", "[a[:digit:]c]", False),
        ("x", "[[:nope:]]", False),
        ("-", "[a-]", True),
        ("b", "[a-c]", True),
        ("d", "[a-c]", False),
        ("b", "[z-ab]", True),  # a reversed range holds nothing, and does not break the rest
        ("y", "[z-a]", False),
        ("y", "[!z-a]", True),
        ("[x", "[x", True),  # no closing "]": a literal "["
        ("a*b", "a\\*b", True),
        ("axb", "a\\*b", False),
        ("a*xb", "a\\*b", False),  # the escaped "*" is a "*", once
        ("!", "[!a]", True),  # the "!" negates; it is no member
        ("a", "[a-a]", True),
        ("]", "[a\\]]", True),  # an escape inside brackets
        ("a]", "[a\\]]", False),
        ("a\\", "a\\", False),  # a lone backslash at the end matches nothing
        ("a\nb", "a*b", True),
        ("ab", "a", False),
    ],
)
def test_a_glob_matches_a_name_as_glibcs_fnmatch_does(name: str, pattern: str, matches: bool) -> None:
    assert nextboot.name_matches(name, pattern) is matches


def test_the_glob_matcher_agrees_with_glibc_on_random_patterns() -> None:
    import ctypes
    import ctypes.util
    import random

    found = ctypes.util.find_library("c")
    libc = ctypes.CDLL(found) if found else None
    if libc is None or not hasattr(libc, "gnu_get_libc_version"):
        pytest.skip("needs glibc")
    rng = random.Random(22)
    pieces = ["a", "z", "]", "[", "\\", "!", "-", "*", "?", "^", ".", "[:alpha:]", "5"]
    for _ in range(3000):
        pattern = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 7)))
        name = "".join(rng.choice("az][\\!-*?^.5") for _ in range(rng.randint(1, 3)))
        expected = libc.fnmatch(pattern.encode(), name.encode(), 1 << 2) == 0  # FNM_PERIOD
        assert nextboot.name_matches(name, pattern) is expected, (name, pattern)


@pytest.mark.parametrize(
    "pattern, expanded",
    [
        ("a{b,c}d", ["abd", "acd"]),
        ("{a,b}{c,d}", ["ac", "ad", "bc", "bd"]),
        ("x{,y}", ["x", "xy"]),
        ("a{b,{c,d}}e", ["abe", "ace", "ade"]),
        ("a{b}c", ["abc"]),  # one alternative: its braces go too (glibc; bash would keep them)
        ("a{b{c,d}e}f", ["abcef", "abdef"]),
        ("{a}{b}", ["ab"]),
        ("{a,b", ["{a,b"]),  # unclosed
        ("a}b{c", ["a}b{c"]),
        ("plain", ["plain"]),
    ],
)
def test_braces_expand_as_glibcs_glob_brace_does(pattern: str, expanded: list[str]) -> None:
    assert nextboot.expand_braces(pattern) == expanded


def test_glob_characters_are_star_question_and_bracket() -> None:
    assert nextboot.is_glob("vm.swap*") and nextboot.is_glob("vm.?") and nextboot.is_glob("vm.[ab]")
    assert not nextboot.is_glob("vm.swappiness") and not nextboot.is_glob("vm.{a,b}")


def test_a_sysctl_d_file_named_with_braces_stands_for_the_files_it_expands_to(tree) -> None:
    # procps globs each name in the directory again (GLOB_BRACE | GLOB_NOCHECK)
    _, host, put = tree
    put("/etc/sysctl.d/50-x.conf", "vm.swappiness = 50\n")
    put("/etc/sysctl.d/{50-x}.conf", "vm.swappiness = 99\n")
    assert texts(host, PROCPS) == ["50", "50"]  # "{50-x}.conf" is read as "50-x.conf", which exists
    assert texts(host, SYSTEMD) == ["99"]  # systemd reads each name as it is: the later file's value


# --- how each tool splits a file into lines and a line into a setting ------------------------------------------
@pytest.mark.parametrize(
    "data, procps, systemd",
    [
        (b"a = 1\nb = 2", [(1, "a = 1\n"), (2, "b = 2")], [(1, "a = 1"), (2, "b = 2")]),  # no final newline
        (b"a = 1\n\nx\n", [(1, "a = 1\n"), (3, "x\n")], [(1, "a = 1"), (2, ""), (3, "x")]),  # numbers kept
        (b"a\0b = 1\nc = 2\n", [(1, "a"), (2, "c = 2\n")], [(1, "a"), (2, "b = 1"), (3, "c = 2")]),
        (b"\n\n", [], [(1, ""), (2, "")]),
        (b"a\n", [(1, "a\n")], [(1, "a")]),
        (
            b"k = 1\r\nj = 2\rl = 3\0m = 4\n\rn = 5\n\n",
            [(1, "k = 1\r\n"), (2, "j = 2\rl = 3"), (3, "\rn = 5\n")],
            [(1, "k = 1"), (2, "j = 2"), (3, "l = 3"), (4, "m = 4"), (5, "n = 5"), (6, "")],
        ),
    ],
)
def test_procps_ends_lines_at_newlines_and_a_nul_while_systemd_also_ends_them_at_cr(
    data: bytes, procps: list, systemd: list
) -> None:
    assert nextboot.procps_lines(data) == procps
    assert nextboot.systemd_lines(data) == systemd


@pytest.mark.parametrize(
    "text, key, value",
    [
        ("vm.swappiness = 1", "/proc/sys/vm/swappiness", "1"),
        (" vm.swappiness\t=\t4 \t", "/proc/sys/vm/swappiness", "4"),
        ("-vm.swappiness = 2", "/proc/sys/vm/swappiness", "2"),  # "-": ignore errors
        ("--vm.swappiness = 3", "/proc/sys/vm/swappiness", "3"),
        ("-vm.swappiness", "/proc/sys/vm/swappiness", None),  # an exclusion from globs
        ("vm.a=b=c", "/proc/sys/vm/a", "b=c"),
        ("vm.swappiness", None, None),  # no "=": not an assignment
        ("#x = 1", None, None),
        (";x = 1", None, None),
        ("  a", None, None),  # one character: too short
    ],
)
def test_a_procps_line_reads_as_a_setting(text: str, key: str | None, value: str | None) -> None:
    s = nextboot.procps_setting(text, "/etc/sysctl.d/x.conf", 7)
    if key is None:
        assert s is None
    else:
        assert s is not None and (s.key, s.value, s.file, s.line) == (key, value, "/etc/sysctl.d/x.conf", 7)


@pytest.mark.parametrize(
    "path, knob",
    [
        ("/proc/sys/vm/swappiness", "swappiness"),
        ("/proc/sys//vm/./swappiness", "swappiness"),
        ("/proc/sys/vm/../vm/swappiness", "swappiness"),  # procps simplifies "..": systemd refuses it
        ("/proc/sys/vm/swappiness/", None),  # a trailing "/" on a file fails
        ("/proc/sys/kernel/swappiness", None),
        ("/proc/sys/vm/swappiness/x", None),
        ("/proc/sys/vm/dirty_ratio", None),  # not a knob asked about
        ("/proc/sys/vm/watermark_scale_factor", "watermark_scale_factor"),
        ("/proc/sys/../sys/vm/swappiness", None),  # ".." may not leave /proc/sys
        ("/etc/vm/swappiness", None),
    ],
)
def test_a_write_reaches_a_knob_only_through_a_path_the_kernel_resolves_to_it(tree, path: str, knob) -> None:
    root, host, _ = tree
    (root / "proc/sys/vm/page-cluster").unlink()  # asked about, but this kernel lacks it
    knobs = {"swappiness", "watermark_scale_factor", "page-cluster"}
    assert nextboot.knob_of(host, path, knobs, simplify_dots=True) == knob
    assert nextboot.knob_of(host, "/proc/sys/vm/page-cluster", knobs, simplify_dots=True) is None
    if ".." in path:
        assert nextboot.knob_of(host, path, knobs, simplify_dots=False) is None


def test_procps_reads_a_file_named_like_a_glob_as_the_files_it_matches(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/51-a.conf", "vm.swappiness = 51\n")
    put("/etc/sysctl.d/52-b.conf", "vm.swappiness = 52\n")
    put("/etc/sysctl.d/5*.conf", "vm.swappiness = 99\n")
    put("/etc/sysctl.d/7[0-9].conf", "vm.swappiness = 7\n")  # matches nothing: read as itself
    put("/usr/lib/sysctl.d/.conf", "vm.page-cluster = 5\n")  # ".conf" alone is a name procps reads
    # in byte order "5*.conf" comes first and stands for itself and both others; "7[0-9].conf" for itself
    assert texts(host, PROCPS) == ["99", "51", "52", "51", "52", "7"]
    assert texts(host, PROCPS, "vm.page-cluster") == ["5"]
    assert texts(host, SYSTEMD) == ["7"] and texts(host, SYSTEMD, "vm.page-cluster") == []  # names as they are


def test_systemd_stops_reading_a_file_at_a_line_of_1_mib() -> None:
    long = b"x" * ((1 << 20) - 1)
    assert nextboot.systemd_lines(b"a = 1\n" + long + b"\nb = 2\n") == [(1, "a = 1"), (2, long.decode()), (3, "b = 2")]
    assert nextboot.systemd_lines(b"a = 1\n" + long + b"x\nb = 2\n") == [(1, "a = 1")]  # ENOBUFS: the rest is lost


def test_a_boot_value_shows_each_write_with_its_file_and_line(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/30-x.conf", "# x\nvm.swappiness = 3\n")
    doc = boot(host, PROCPS).as_dict()
    assert doc["writes"] == [{"file": "/etc/sysctl.d/30-x.conf", "line": 2, "text": "3"}]
