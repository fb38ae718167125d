"""File edits and their undo (ops/fileedit.py) on a fake root: the old bytes go back only over swapctl's own
bytes, an admin's later edit survives, a directory swapctl made is 0755 and goes again, and a keyed file's
key is set back to the value that was in force before (sysctl.d: its last line; tmpfiles.d: its first)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from swapctl.core.plan import UndoContext
from swapctl.ops.fstab import fstab_set
from swapctl.ops.vm_set import PERSIST_FILE, SysctlPersist
from swapctl.ops.zswap_set import PERSIST_FILE as ZSWAP_FILE
from swapctl.ops.zswap_set import ZswapPersist
from tests.fakes import fake_host, make_root

LINE = "/swapfile none swap defaults 0 0"


@pytest.fixture
def env(tmp_path: Path):
    root = make_root(tmp_path / "root")
    return root, fake_host(root)


def applied(host, step):
    record = step.snapshot(host)
    step.apply(host, record)
    return record


def test_undo_puts_the_old_bytes_back_over_swapctls_own_edit(env) -> None:
    root, host = env
    before = (root / "etc/fstab").read_bytes()
    step = fstab_set("/swapfile", LINE)
    record = applied(host, step)
    assert (root / "etc/fstab").read_text().endswith(LINE + "\n")
    ctx = UndoContext()
    step.undo(host, record, ctx)
    assert (root / "etc/fstab").read_bytes() == before and ctx.notes == []


def test_undo_over_an_admins_later_edit_keeps_it_and_takes_back_only_swapctls_line(env) -> None:
    # the compare-and-swap: the old bytes would wipe out the admin's line
    root, host = env
    before = (root / "etc/fstab").read_text()
    step = fstab_set("/swapfile", LINE)
    record = applied(host, step)
    with open(root / "etc/fstab", "a") as fh:
        fh.write("/dev/sdb1 none swap sw 0 0\n")
    ctx = UndoContext()
    step.undo(host, record, ctx)
    assert (root / "etc/fstab").read_text() == before + "/dev/sdb1 none swap sw 0 0\n"
    assert any("edited since" in n for n in ctx.notes)


def test_an_undo_of_an_edit_never_applied_or_already_undone_changes_nothing_and_says_nothing(env) -> None:
    root, host = env
    before = (root / "etc/fstab").read_bytes()
    step = fstab_set("/swapfile", LINE)
    record = step.snapshot(host)  # a crash between the journal's intent and the write
    ctx = UndoContext()
    step.undo(host, record, ctx)
    step.undo(host, record, ctx)
    assert (root / "etc/fstab").read_bytes() == before and ctx.notes == []


def test_apply_refuses_a_file_that_changed_since_its_snapshot(env) -> None:
    root, host = env
    step = fstab_set("/swapfile", LINE)
    record = step.snapshot(host)
    (root / "etc/fstab").write_text("# edited by hand in between\n")
    with pytest.raises(RuntimeError, match="changed while swapctl was editing it"):
        step.apply(host, record)
    assert (root / "etc/fstab").read_text() == "# edited by hand in between\n"


def test_a_directory_made_for_the_file_is_0755_and_goes_again_with_the_undo(env) -> None:
    root, host = env
    assert not (root / "etc/sysctl.d").exists()
    old_umask = os.umask(0o022)
    try:
        step = SysctlPersist(path=PERSIST_FILE, settings={"vm.swappiness": 10})
        record = applied(host, step)
    finally:
        os.umask(old_umask)
    assert record["made_parent"] is True
    assert stat.S_IMODE((root / "etc/sysctl.d").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / PERSIST_FILE.lstrip("/")).stat().st_mode) == 0o644
    step.undo(host, record, UndoContext())
    assert not (root / "etc/sysctl.d").exists()


def test_an_edit_that_leaves_no_file_makes_no_directory_for_it(env) -> None:
    root, host = env
    step = SysctlPersist(path=PERSIST_FILE, settings={"vm.swappiness": None})  # drop a line nobody wrote
    record = applied(host, step)
    assert record["made_parent"] is True and record["new"] is None
    assert not (root / "etc/sysctl.d").exists()


def test_a_directory_that_was_there_stays_after_the_undo(env) -> None:
    root, host = env
    (root / "etc/sysctl.d").mkdir()
    step = SysctlPersist(path=PERSIST_FILE, settings={"vm.swappiness": 10})
    record = applied(host, step)
    assert record["made_parent"] is False
    step.undo(host, record, UndoContext())
    assert (root / "etc/sysctl.d").is_dir() and not (root / PERSIST_FILE.lstrip("/")).exists()


# --- KeyedLinesEdit.revert: the value in force before, by each grammar's rule ---------------------------------
def _record(old: str | None) -> dict:
    return {"old": old, "new": None, "new_sha256": None, "made_parent": False}


def test_a_sysctl_d_revert_sets_the_key_back_to_its_last_line_before_which_is_the_one_in_force() -> None:
    # sysctl applies a file's lines in order: of "= 5" then "= 6", 6 was in force
    step = SysctlPersist(path=PERSIST_FILE, settings={"vm.swappiness": 10})
    old = "vm.swappiness = 5\nvm.swappiness = 6\n"
    current = "vm.swappiness = 10\n# the admin, later\n"
    assert step.revert(current, _record(old)) == "vm.swappiness = 6\n# the admin, later\n"


def test_a_tmpfiles_d_revert_sets_the_key_back_to_its_first_line_before_which_is_the_one_in_force() -> None:
    # systemd-tmpfiles uses the first line for a path and ignores later ones
    step = ZswapPersist(path=ZSWAP_FILE, settings={"max_pool_percent": "30"})
    p = "/sys/module/zswap/parameters/max_pool_percent"
    old = f"w {p} - - - - 20\nw {p} - - - - 25\n"
    current = f"w {p} - - - - 30\n# the admin, later\n"
    assert step.revert(current, _record(old)) == f"w {p} - - - - 20\n# the admin, later\n"


def test_a_revert_drops_a_key_that_had_no_line_and_a_file_that_was_only_swapctls() -> None:
    step = SysctlPersist(path=PERSIST_FILE, settings={"vm.swappiness": 10})
    assert step.revert("vm.swappiness = 10\nvm.page-cluster = 3\n", _record("vm.page-cluster = 3\n")) == (
        "vm.page-cluster = 3\n"
    )
    assert step.revert(SysctlPersist.header + "vm.swappiness = 10\n", _record(None)) is None
    kept = step.revert(SysctlPersist.header + "vm.swappiness = 10\nvm.page-cluster = 1\n", _record(None))
    assert kept == SysctlPersist.header + "vm.page-cluster = 1\n"  # the admin's line since: not ours to drop


# --- links: swapctl's own file must be a regular file; fstab may be a link, edited where it leads ------------
def _refusal(host, step) -> str:
    from swapctl.core.errors import Refused

    with pytest.raises(Refused) as err:
        step.check(host)
    return err.value.message


def test_swapctls_own_file_as_a_link_or_not_a_file_is_refused_before_anything_changes(env) -> None:
    root, host = env
    conf = root / PERSIST_FILE.lstrip("/")
    conf.parent.mkdir(parents=True)
    step = SysctlPersist(path=PERSIST_FILE, settings={"vm.swappiness": 10})
    os.symlink("/dev/null", conf)
    assert "is masked (a link to /dev/null); swapctl edits only its own regular file there" in _refusal(host, step)
    conf.unlink()
    os.symlink("/etc/sysctl.conf", conf)
    assert "is a symbolic link to /etc/sysctl.conf;" in _refusal(host, step)
    conf.unlink()
    conf.mkdir()
    assert "is not a regular file; swapctl will not write it" in _refusal(host, step)


def test_an_fstab_link_that_leads_nowhere_or_to_no_file_is_refused(env) -> None:
    root, host = env
    (root / "etc/fstab").unlink()
    os.symlink("fstab.gone", root / "etc/fstab")
    step = fstab_set("/swapfile", LINE)
    assert "is a link to /etc/fstab.gone, which is missing" in _refusal(host, step)
    (root / "etc/fstab.gone").mkdir()
    assert "is a link to /etc/fstab.gone, which is not a regular file" in _refusal(host, step)


def test_the_record_names_the_file_written_only_when_a_link_led_there(env) -> None:
    root, host = env
    assert "target" not in fstab_set("/swapfile", LINE).snapshot(host)
    (root / "etc/fstab").rename(root / "etc/fstab.real")
    os.symlink("fstab.real", root / "etc/fstab")
    assert fstab_set("/swapfile", LINE).snapshot(host)["target"] == "/etc/fstab.real"


def test_an_undo_leaves_a_file_that_a_link_replaced_since_and_says_why(env) -> None:
    from swapctl.core.errors import Refused

    root, host = env
    step = fstab_set("/swapfile", LINE)
    record = applied(host, step)
    (root / "etc/fstab").rename(root / "etc/fstab.moved")
    os.symlink("fstab.moved", root / "etc/fstab")
    with pytest.raises(Refused, match="is a symbolic link now"):
        step.check_undo(host, record, UndoContext())
    step.check_undo(host, record, UndoContext(force=True))
    ctx = UndoContext(force=True)
    step.undo(host, record, ctx)
    assert (root / "etc/fstab.moved").read_text().endswith(LINE + "\n")  # left as it is
    assert any("is a symbolic link now" in n and "left as it is" in n for n in ctx.notes)


def test_an_undo_through_a_link_goes_only_where_the_link_still_leads(env) -> None:
    root, host = env
    (root / "etc/fstab").rename(root / "etc/fstab.real")
    os.symlink("fstab.real", root / "etc/fstab")
    step = fstab_set("/swapfile", LINE)
    record = applied(host, step)
    step.check_undo(host, record, UndoContext())
    (root / "etc/fstab").unlink()
    os.symlink("fstab.other", root / "etc/fstab")
    ctx = UndoContext()
    step.undo(host, record, ctx)
    assert any("no longer leads to /etc/fstab.real" in n for n in ctx.notes)
    assert (root / "etc/fstab.real").read_text().endswith(LINE + "\n")
    (root / "etc/fstab").unlink()
    os.symlink("fstab.real", root / "etc/fstab")
    (root / "etc/fstab.real").unlink()
    (root / "etc/fstab.real").mkdir()
    ctx = UndoContext()
    step.undo(host, record, ctx)
    assert any("/etc/fstab.real is not a regular file now" in n for n in ctx.notes)


def test_a_journal_entry_for_another_file_or_with_a_bad_record_is_refused() -> None:
    params = {"path": PERSIST_FILE, "settings": {"vm.swappiness": 10}}
    record = {"old": None, "new": "x\n", "new_sha256": "0" * 64, "made_parent": False}
    assert SysctlPersist.invalid(params, record) is None
    assert "never edits '/etc/sysctl.conf'" in (
        SysctlPersist.invalid({**params, "path": "/etc/sysctl.conf"}, None) or ""
    )
    assert SysctlPersist.invalid({**params, "settings": "x"}, None)  # the schema's own finding is kept
    for digest in ("0" * 63, "g" * 64, "A" * 64, 7):
        assert SysctlPersist.invalid(params, {**record, "new_sha256": digest}), digest


def test_a_kind_without_a_line_level_revert_gives_the_old_text_back() -> None:
    from swapctl.ops.fileedit import FileEdit

    class Whole(FileEdit):
        kind = "test-whole-file"

    assert Whole(path="/etc/x").revert("edited since\n", _record("as it was\n")) == "as it was\n"
    with pytest.raises(NotImplementedError):
        Whole(path="/etc/x").transform(None)


def test_a_rollback_is_refused_before_any_undo_when_the_file_has_grown_past_what_swapctl_reads(env) -> None:
    # otherwise the other steps would be undone and this one fail half way
    root, host = env
    step = fstab_set("/swapfile", LINE)
    record = applied(host, step)
    with open(root / "etc/fstab", "a") as fh:
        fh.write("#" * (1 << 20) + "\n")
    from swapctl.core.errors import Refused

    with pytest.raises(Refused, match="is larger than 1 MiB"):
        step.check_undo(host, record, UndoContext())


def test_a_new_keyed_file_starts_with_its_header() -> None:
    from swapctl.ops.fileedit import KeyedLinesEdit

    step = SysctlPersist(path=PERSIST_FILE, settings={"vm.swappiness": 10})
    assert step.transform(None) == SysctlPersist.header + "vm.swappiness = 10\n"
    assert step.transform("# mine") == "# mine\nvm.swappiness = 10\n"  # a last line without its newline gets one
    assert step.transform("# a\n# b") == "# a\n# b\nvm.swappiness = 10\n"  # the last line, not the first
    assert step.undo_description() == "restore /etc/sysctl.d/90-swapctl.conf"
    with pytest.raises(NotImplementedError):
        KeyedLinesEdit.parse("vm.swappiness = 1")
    with pytest.raises(NotImplementedError):
        KeyedLinesEdit.render("vm.swappiness", 1)
