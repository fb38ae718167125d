"""`zswap set` where the mutation run found no test (docs/TESTING.md): who may change zswap, a kernel without it,
the pool warning only when zswap really goes from on to off, the lines of swapctl's tmpfiles.d file that are not
its own, a forged journal entry, the --diff values, and an undo with nothing to undo."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from swapctl.core.errors import OperationFailed, Refused
from swapctl.core.plan import Step, StepRecordError, UndoContext
from swapctl.ops.zswap_set import PERSIST_FILE, ZswapWrite, build_set_plan, own_line
from tests.cli.test_zram_zswap_cli import swaps, zswap_params
from tests.fakes import fake_host

PARAMS = "/sys/module/zswap/parameters"


@pytest.fixture
def zroot(root: Path) -> Path:
    zswap_params(root)
    (root / "swapfile").write_bytes(b"")
    swaps(root, "/swapfile                               file\t\t1048572\t\t0\t\t-2")
    return root


def param(root: Path, name: str) -> str:
    return (root / PARAMS.lstrip("/") / name).read_text().strip()


# --- refusals before anything is read or written ----------------------------------------------------------
def test_a_user_who_is_not_root_is_refused_before_anything_changes(cli, zroot: Path) -> None:
    r = cli("zswap", "set", "max_pool_percent=30", host_override=fake_host(zroot, uid=1000))
    assert r.exit_code == 3 and "changing zswap needs root" in r.output, r.output
    assert param(zroot, "max_pool_percent") == "20"


def test_a_kernel_without_zswap_is_refused(cli, root: Path) -> None:
    r = cli("zswap", "set", "max_pool_percent=30")
    assert r.exit_code == 3 and "this kernel has no zswap" in r.output, r.output


# --- the warning that the pool stays ------------------------------------------------------------------------
def test_the_pool_warning_comes_only_when_zswap_goes_from_on_to_off(zroot: Path) -> None:
    host = fake_host(zroot)
    pool = "disabling zswap does not empty its pool"
    # already off: setting enabled=N changes nothing, and there is no pool to keep
    plan = build_set_plan(host, ["enabled=N"], persist=False, force=False)
    assert plan.steps == [] and not any(pool in w for w in plan.warnings)
    # on, and another parameter changed: zswap stays on
    (zroot / PARAMS.lstrip("/") / "enabled").write_text("Y\n")
    plan = build_set_plan(host, ["max_pool_percent=30"], persist=False, force=False)
    assert [s.describe() for s in plan.steps] == ["set zswap max_pool_percent: 20 -> 30"]
    assert not any(pool in w for w in plan.warnings)
    plan = build_set_plan(host, ["enabled=N"], persist=False, force=False)
    assert any(pool in w for w in plan.warnings)


# --- swapctl's tmpfiles.d file: only its own lines are its own ---------------------------------------------
@pytest.mark.parametrize(
    "line",
    [
        "w /sys/kernel/mm/transparent_hugepage/enabled - - - - never",  # a w line, another file's "enabled"
        f"f {PARAMS}/enabled - - - - Y",  # not a write of an existing file
        f"w {PARAMS}/enabled - - - - Y extra",  # eight fields
        f"w {PARAMS}/enabled - - - -",  # six fields
    ],
)
def test_a_line_that_is_not_a_zswap_w_line_is_not_swapctls(line: str) -> None:
    assert own_line(line) is None


def test_persist_replaces_its_zswap_line_and_keeps_a_w_line_of_another_enabled(cli, zroot: Path) -> None:
    thp = "w /sys/kernel/mm/transparent_hugepage/enabled - - - - never\n"
    path = zroot / PERSIST_FILE.lstrip("/")
    path.parent.mkdir(parents=True)
    path.write_text(thp + f"w+ {PARAMS}/enabled - - - - N\n")
    assert own_line(f"w+ {PARAMS}/enabled - - - - N") == ("enabled", "N")
    doc = json.loads(cli("-o", "json", "zswap", "set", "enabled=Y", "--persist").stdout)
    assert path.read_text() == thp + f"w {PARAMS}/enabled - - - - Y\n"
    assert cli("rollback", doc["transaction"]).exit_code == 0
    assert path.read_text() == thp + f"w+ {PARAMS}/enabled - - - - N\n"


# --- a forged journal entry is refused, never acted on ------------------------------------------------------
@pytest.mark.parametrize(
    "kind, params, record",
    [
        ("zswap-write", {"name": "enabled", "value": "Y; reboot", "planned_old": "N"}, {"old": "N"}),
        ("zswap-write", {"name": "enabled", "value": "Y", "planned_old": "N"}, {"old": "N\nY"}),
        ("zswap-write", {"name": "enabled", "value": "", "planned_old": "N"}, {"old": "N"}),
        ("zswap-write", {"name": "enabled", "value": "Y" * 64, "planned_old": "N"}, {"old": "N"}),
        ("zswap-persist", {"path": PERSIST_FILE, "settings": [["enabled", "Y"]]}, None),
        ("zswap-persist", {"path": PERSIST_FILE, "settings": {"../../../etc/shadow": "Y"}}, None),
        ("zswap-persist", {"path": PERSIST_FILE, "settings": {"enabled": "Y - - - - x\nw /etc/x"}}, None),
    ],
)
def test_a_forged_zswap_journal_entry_is_refused(kind: str, params: dict, record: dict | None) -> None:
    with pytest.raises(StepRecordError):
        Step.from_record({"kind": kind, "params": params}, record)


def test_the_entries_swapctl_writes_pass_the_same_checks() -> None:
    write = {"name": "compressor", "value": "lzo-rle", "planned_old": "lzo"}
    assert Step.from_record({"kind": "zswap-write", "params": write}, {"old": "lzo"}).describe() == (
        "set zswap compressor: lzo -> lzo-rle"
    )
    persist = {"path": PERSIST_FILE, "settings": {"enabled": "Y", "max_pool_percent": "25"}}
    assert Step.from_record({"kind": "zswap-persist", "params": persist}).describe() == (
        f"persist zswap enabled=Y, max_pool_percent=25 in {PERSIST_FILE}"
    )


# --- --diff: each value before and after --------------------------------------------------------------------
def test_a_dry_run_diff_shows_each_parameter_before_and_after(cli, zroot: Path) -> None:
    r = cli("-o", "json", "zswap", "set", "max_pool_percent=30", "compressor=lzo", "--dry-run", "--diff")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["diff"] == {
        "files": [],
        "values": [{"what": "zswap max_pool_percent", "before": "20", "after": "30"}],
    }
    assert param(zroot, "max_pool_percent") == "20"


# --- an undo with nothing left to undo writes nothing -----------------------------------------------------
def test_an_undo_of_a_value_already_back_writes_nothing(zroot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = fake_host(zroot)
    s = ZswapWrite(name="compressor", value="zstd", planned_old="lzo")
    record = {"old": "lzo"}  # someone (or an earlier rollback) already put lzo back

    def refuse(path: str, value: str) -> None:  # e.g. the compressor's module has gone since
        raise OSError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(host, "write_sysctl", refuse)
    s.check_undo(host, record, UndoContext())
    s.undo(host, record, UndoContext())
    assert param(zroot, "compressor") == "lzo"
    (zroot / PARAMS.lstrip("/") / "compressor").write_text("zstd\n")  # still swapctl's: the write is tried
    with pytest.raises(OperationFailed, match="the kernel refused zswap compressor=lzo"):
        s.undo(host, record, UndoContext())
    (zroot / PARAMS.lstrip("/") / "compressor").write_text("lz4\n")  # someone else's value: refused
    with pytest.raises(Refused):
        s.undo(host, record, UndoContext())
