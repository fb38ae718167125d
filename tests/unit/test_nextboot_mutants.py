"""What the next boot applies, in the corners the mutation run found untested (docs/TESTING.md): nested braces and
literal alternatives in a systemd glob key, globs over the directory level, a brace-named sysctl.d file that
matches nothing, a ".." in a procps glob, a doubled "-" exclusion, a linked sysctl.d directory under systemd, a
file the reader may not read, and `vm set`'s simulated file in an /etc/sysctl.d that does not exist yet. Each test
asserts what `vm get` shows: the value at boot and the file it comes from, or the warning."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from swapctl.ops import nextboot
from swapctl.ops.nextboot import PROCPS, SYSTEMD
from tests.fakes import fake_host, make_root

KNOBS = {"swappiness": (0, 200), "page-cluster": (0, 31), "watermark_scale_factor": (1, 3000)}


@pytest.fixture
def tree(tmp_path: Path):
    root = make_root(tmp_path / "root")
    for knob in KNOBS:
        (root / "proc/sys/vm" / knob).write_text("0\n")
    (root / "proc/sys/kernel").mkdir(parents=True, exist_ok=True)
    (root / "proc/sys/kernel/swappiness").write_text("0\n")  # not a vm knob: a glob over levels finds it too

    def put(path: str, text: str) -> Path:
        p = root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    return root, fake_host(root), put


def at_boot(host, tool: str, knob: str = "swappiness") -> tuple[int | None, str | None]:
    """(value, file) the next boot leaves in the knob under `tool`, as `vm get` shows them."""
    b = nextboot.next_boot(host, KNOBS)[tool][knob]
    return b.value, b.source.file if b.source else None


# --- braces in a systemd glob key (GLOB_BRACE) --------------------------------------------------------------
def test_a_nested_brace_before_a_comma_in_a_systemd_glob_key_expands_every_alternative(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/50-b.conf", "vm.{{swappi,watermark_s}*,page-cluster} = 5\n")
    for knob in KNOBS:
        assert at_boot(host, SYSTEMD, knob) == (5, "/etc/sysctl.d/50-b.conf"), knob
    # procps does not expand braces in keys: the pattern names no file
    assert at_boot(host, PROCPS) == (None, None)


@pytest.mark.parametrize(
    "pattern, expanded",
    [
        ("a{{b,c},d}e", ["abe", "ace", "ade"]),
        ("{{a,b}x,c}", ["ax", "bx", "c"]),
    ],
)
def test_a_nested_brace_before_a_comma_expands_as_glibc_does(pattern: str, expanded: list[str]) -> None:
    assert nextboot.expand_braces(pattern) == expanded


def test_a_literal_alternative_beside_a_glob_in_a_systemd_key_sets_the_knob_it_names(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/50-b.conf", "vm.{swappiness,nosuch,page-clust?r} = 7\n")
    assert at_boot(host, SYSTEMD) == (7, "/etc/sysctl.d/50-b.conf")
    assert at_boot(host, SYSTEMD, "page-cluster") == (7, "/etc/sysctl.d/50-b.conf")
    assert at_boot(host, SYSTEMD, "watermark_scale_factor") == (None, None)


# --- a glob over the directory level ------------------------------------------------------------------------
def test_a_glob_in_the_directory_part_of_a_key_reaches_the_vm_knob_under_it(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/50-g.conf", "*.swappiness = 9\n*/page-cluster = 3\n")
    for tool in nextboot.TOOLS:
        assert at_boot(host, tool) == (9, "/etc/sysctl.d/50-g.conf"), tool
        assert at_boot(host, tool, "page-cluster") == (3, "/etc/sysctl.d/50-g.conf"), tool
        assert at_boot(host, tool, "watermark_scale_factor") == (None, None)


def test_procps_resolves_dot_dot_in_a_glob_key_and_systemd_refuses_it(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/50-g.conf", "kernel/../vm/swap* = 11\n")
    assert at_boot(host, PROCPS) == (11, "/etc/sysctl.d/50-g.conf")
    assert at_boot(host, SYSTEMD) == (None, None)


# --- sysctl.d file names procps globs -----------------------------------------------------------------------
def test_a_brace_named_file_whose_alternatives_are_all_missing_is_read_as_itself_by_procps(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/{40-gone,41-gone}.conf", "vm.swappiness = 41\n")
    for tool in nextboot.TOOLS:
        assert at_boot(host, tool) == (41, "/etc/sysctl.d/{40-gone,41-gone}.conf"), tool


# --- exclusions ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("exclusion", ["-vm.swappiness", "--vm.swappiness", "-vm/swappiness  "])
def test_an_exclusion_keeps_a_procps_glob_off_the_key_however_many_dashes(tree, exclusion: str) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-x.conf", f"{exclusion}\n")
    put("/etc/sysctl.d/20-g.conf", "vm.swap* = 10\nvm.page-clust* = 2\n")
    assert at_boot(host, PROCPS) == (None, None)
    assert at_boot(host, PROCPS, "page-cluster") == (2, "/etc/sysctl.d/20-g.conf")


# --- systemd resolves the directories' links ----------------------------------------------------------------
def test_systemd_names_a_file_in_a_linked_sysctl_d_by_the_directory_the_link_leads_to(tree) -> None:
    root, host, put = tree
    put("/srv/conf/sysctl.d/50-x.conf", "vm.swappiness = 12\n")
    os.symlink("../srv/conf/sysctl.d", root / "etc/sysctl.d")
    assert at_boot(host, SYSTEMD) == (12, "/srv/conf/sysctl.d/50-x.conf")
    assert at_boot(host, PROCPS) == (12, "/etc/sysctl.d/50-x.conf")  # procps opens the name as it is


def test_a_merged_usr_lib_link_reads_each_vendor_file_once(tree) -> None:
    root, host, put = tree
    put("/usr/lib/sysctl.d/50-v.conf", "vm.swappiness = 13\n")
    os.symlink("usr/lib", root / "lib")
    b = nextboot.next_boot(host, KNOBS)[SYSTEMD]["swappiness"]
    assert [(w.file, w.text) for w in b.writes] == [("/usr/lib/sysctl.d/50-v.conf", "13")]


# --- a file the reader may not read -------------------------------------------------------------------------
def test_vm_get_warns_once_of_a_file_it_may_not_read_and_leaves_it_out(cli, root: Path, host) -> None:
    (root / "proc/sys/vm/swappiness").write_text("60\n")
    conf = root / "etc/sysctl.d/50-secret.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("vm.swappiness = 5\n")
    real = host.read_bytes

    def read_bytes(path: str, **kw):  # what a non-root user meets on a 0600 file (the tests run as root)
        if path == "/etc/sysctl.d/50-secret.conf":
            raise PermissionError(13, "Permission denied")
        return real(path, **kw)

    host.read_bytes = read_bytes
    r = cli("-o", "json", "vm", "get", "swappiness")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    (row,) = doc["data"]["settings"]
    assert (row["boot_value"], row["boot_source"]) == (60, "kernel default")
    warned = [w for w in doc["warnings"] if "cannot read /etc/sysctl.d/50-secret.conf (permission denied)" in w]
    assert len(warned) == 1, doc["warnings"]  # read by both appliers, said once


# --- vm set's simulated file, before /etc/sysctl.d exists ---------------------------------------------------
def test_vm_set_persist_with_no_etc_sysctl_d_yet_sees_its_own_file_win_over_an_earlier_vendor_file(
    cli, root: Path
) -> None:
    (root / "proc/sys/vm/swappiness").write_text("60\n")
    vendor = root / "usr/lib/sysctl.d/10-vendor.conf"
    vendor.parent.mkdir(parents=True)
    vendor.write_text("vm.swappiness = 60\n")
    assert not (root / "etc/sysctl.d").exists()
    r = cli("-o", "json", "vm", "set", "swappiness=10", "--persist", "--dry-run")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert not any("wins at boot" in w for w in doc["warnings"]), doc["warnings"]
    # and a later vendor file is named, with the new file simulated all the same
    (root / "usr/lib/sysctl.d/99-late.conf").write_text("vm.swappiness = 70\n")
    doc = json.loads(cli("-o", "json", "vm", "set", "swappiness=10", "--persist", "--dry-run").stdout)
    assert [w for w in doc["warnings"] if "wins at boot" in w] == [
        "/usr/lib/sysctl.d/99-late.conf also sets vm.swappiness = 70 and is applied after "
        "/etc/sysctl.d/90-swapctl.conf (by systemd-sysctl and sysctl --system), so it wins at boot"
    ]


# --- systemd's lines: blank lines, stray one-character lines, keys of separators alone, NULs, 1 MiB --------
def test_blank_lines_stray_characters_and_empty_keys_are_skipped_by_both(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/50-x.conf", "\n  \nx\n-\n= 5\n. = 6\n/ = 7\nvm.swappiness = 3\n\n")
    for tool in nextboot.TOOLS:
        assert at_boot(host, tool) == (3, "/etc/sysctl.d/50-x.conf"), tool
        assert at_boot(host, tool, "page-cluster") == (None, None)


def test_after_a_nul_a_newline_starts_a_line_of_its_own_for_systemd(tree) -> None:
    # read_line_full(): nothing joins a NUL, so "\0\n" is two endings and the next setting is on line 3
    _, host, put = tree
    put("/etc/sysctl.d/50-x.conf", "vm.page-cluster = 1\0\nvm.swappiness = 4\n")
    boot = nextboot.next_boot(host, KNOBS)
    assert boot[SYSTEMD]["swappiness"].as_dict()["line"] == 3
    assert boot[PROCPS]["swappiness"].as_dict()["line"] == 2  # procps: the NUL ends line 1's text only
    assert boot[SYSTEMD]["page-cluster"].value == boot[PROCPS]["page-cluster"].value == 1


def test_a_line_longer_than_1_mib_ends_systemds_reading_and_the_value_before_it_stays(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/50-x.conf", "vm.swappiness = 5\n#" + "x" * (1 << 20) + "\nvm.swappiness = 6\n")
    assert at_boot(host, SYSTEMD) == (5, "/etc/sysctl.d/50-x.conf")
    assert at_boot(host, PROCPS) == (6, "/etc/sysctl.d/50-x.conf")  # procps reads lines of any length


# --- which applier: a running machine without systemd -------------------------------------------------------
def test_a_running_machine_without_run_systemd_system_boots_with_procps() -> None:
    class Live:  # the BootFiles of this machine's own root (at_root), where systemd did not boot
        at_root = True

        @staticmethod
        def is_dir(path: str) -> bool:
            assert path == "/run/systemd/system"
            return False

    assert nextboot.detect_applier(Live()) == (PROCPS, "no /run/systemd/system (not booted with systemd)")  # type: ignore[arg-type]
