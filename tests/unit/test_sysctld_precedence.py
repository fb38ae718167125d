"""Which persisted file wins for a key, under `sysctl --system` (procps) and systemd-sysctl, over a fake
tree of sysctl.d directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swapctl.ops import sysctld
from swapctl.ops.sysctld import PROCPS, SYSTEMD
from tests.fakes import fake_host, make_root

KEY = "vm.swappiness"


@pytest.fixture
def tree(tmp_path: Path):
    root = make_root(tmp_path / "root")

    def put(path: str, text: str) -> Path:
        p = root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    return root, fake_host(root), put


def winner(host, tool: str, key: str = KEY) -> tuple[str | None, str | None]:
    p = sysctld.persisted(host, [key], tool)[key]
    return p.file, p.value


def test_nothing_persisted_means_no_value_under_either_tool(tree) -> None:
    _, host, _ = tree
    for tool in sysctld.TOOLS:
        assert winner(host, tool) == (None, None)


def test_files_apply_in_basename_order_so_the_last_name_wins_whatever_its_directory(tree) -> None:
    _, host, put = tree
    put("/usr/lib/sysctl.d/99-vendor.conf", "vm.swappiness = 30\n")
    put("/etc/sysctl.d/10-admin.conf", "vm.swappiness = 10\n")
    put("/run/sysctl.d/50-runtime.conf", "vm.swappiness = 50\n")
    for tool in sysctld.TOOLS:
        assert winner(host, tool) == ("/usr/lib/sysctl.d/99-vendor.conf", "30")
    p = sysctld.persisted(host, [KEY], PROCPS)[KEY]
    assert [s["file"] for s in p.shadowed] == ["/etc/sysctl.d/10-admin.conf", "/run/sysctl.d/50-runtime.conf"]


def test_a_file_in_etc_shadows_the_same_name_in_run_usr_local_lib_usr_lib_and_lib(tree) -> None:
    _, host, put = tree
    for d in ("/run", "/usr/local/lib", "/usr/lib", "/lib"):
        put(f"{d}/sysctl.d/60-tune.conf", f"vm.swappiness = 1{len(d)}\n")
    put("/etc/sysctl.d/60-tune.conf", "vm.swappiness = 7\n")
    for tool in sysctld.TOOLS:
        assert winner(host, tool) == ("/etc/sysctl.d/60-tune.conf", "7")


def test_directory_priority_is_etc_then_run_then_usr_local_lib_then_usr_lib(tree) -> None:
    _, host, put = tree
    put("/usr/lib/sysctl.d/60-tune.conf", "vm.swappiness = 4\n")
    put("/usr/local/lib/sysctl.d/60-tune.conf", "vm.swappiness = 3\n")
    put("/run/sysctl.d/60-tune.conf", "vm.swappiness = 2\n")
    for tool in sysctld.TOOLS:
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
    for tool in sysctld.TOOLS:
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
    put("/etc/sysctl.d/30-mix.conf", "# vm.swappiness = 1\n; vm.swappiness = 2\n  vm/swappiness=3\n"
        "-vm.swappiness   =   4  \nnot an assignment\n")
    for tool in sysctld.TOOLS:
        assert winner(host, tool) == ("/etc/sysctl.d/30-mix.conf", "4")


def test_an_explicit_key_beats_a_glob_even_when_the_glob_comes_later(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-explicit.conf", "vm.swappiness = 10\n")
    put("/etc/sysctl.d/90-glob.conf", "vm.swap* = 99\n")
    for tool in sysctld.TOOLS:
        assert winner(host, tool) == ("/etc/sysctl.d/10-explicit.conf", "10")
        assert winner(host, tool, "vm.page-cluster") == (None, None)


def test_a_glob_alone_sets_the_keys_it_matches(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/90-glob.conf", "vm.swap* = 99\n")
    for tool in sysctld.TOOLS:
        assert winner(host, tool) == ("/etc/sysctl.d/90-glob.conf", "99")


def test_a_later_exclusion_cancels_an_earlier_value_for_systemd_but_not_for_procps(tree) -> None:
    _, host, put = tree
    put("/etc/sysctl.d/10-set.conf", "vm.swappiness = 10\n")
    put("/etc/sysctl.d/20-exclude.conf", "-vm.swappiness\n")
    assert winner(host, SYSTEMD) == (None, None)
    assert winner(host, PROCPS) == ("/etc/sysctl.d/10-set.conf", "10")


def test_boot_tool_is_systemd_sysctl_only_on_a_machine_booted_with_systemd(tree) -> None:
    root, host, _ = tree
    assert sysctld.boot_tool(host) == PROCPS
    (root / "run/systemd/system").mkdir(parents=True)
    assert sysctld.boot_tool(host) == SYSTEMD


def test_overrides_simulate_a_new_file_without_writing_it(tree) -> None:
    root, host, put = tree
    put("/etc/sysctl.d/95-later.conf", "vm.swappiness = 95\n")
    sim = {"/etc/sysctl.d/90-swapctl.conf": "vm.swappiness = 10\n"}
    p = sysctld.persisted(host, [KEY], SYSTEMD, overrides=sim)[KEY]
    assert (p.file, p.value) == ("/etc/sysctl.d/95-later.conf", "95")
    assert list(p.shadowed) == [{"file": "/etc/sysctl.d/90-swapctl.conf", "line": 1, "value": 10}]
    assert not (root / "etc/sysctl.d/90-swapctl.conf").exists()
