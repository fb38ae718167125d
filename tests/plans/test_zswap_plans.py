"""One zswap parameter written and undone on a fake root (ops/zswap_set.py ZswapWrite): the kernel's refusal
and a value it reads back otherwise fail the step, and an undo restores only while the value is swapctl's."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from swapctl.core.errors import OperationFailed, Refused, UsageError
from swapctl.core.plan import UndoContext
from swapctl.ops.zswap_set import ZswapWrite, parse
from tests.fakes import fake_host, make_root

PARAMS = "sys/module/zswap/parameters"


@pytest.fixture
def env(tmp_path: Path):
    root = make_root(tmp_path / "root")
    (root / PARAMS).mkdir(parents=True)
    (root / PARAMS / "enabled").write_text("N\n")
    return root, fake_host(root)


def enabled(root: Path) -> str:
    return (root / PARAMS / "enabled").read_text().strip()


def step() -> ZswapWrite:
    return ZswapWrite(name="enabled", value="Y", planned_old="N")


def test_a_write_is_read_back_and_described_both_ways(env) -> None:
    root, host = env
    s = step()
    record = s.snapshot(host)
    assert record == {"old": "N"} and s.apply(host, record) is None and enabled(root) == "Y"
    assert s.describe() == "set zswap enabled: N -> Y" and s.undo_description() == "restore zswap enabled to N"
    assert ZswapWrite.runtime is True  # a reboot resets it


def test_a_value_already_in_force_when_its_turn_came_is_skipped(env) -> None:
    root, host = env
    (root / PARAMS / "enabled").write_text("Y\n")
    s = step()
    assert s.apply(host, s.snapshot(host)) == "skipped"


def test_the_kernels_refusal_and_a_different_read_back_fail_the_step(env, monkeypatch) -> None:
    root, host = env
    s = step()
    record = s.snapshot(host)

    def refuse(path: str, value: str) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(host, "write_sysctl", refuse)
    with pytest.raises(OperationFailed, match="the kernel refused zswap enabled=Y: Invalid argument"):
        s.apply(host, record)
    monkeypatch.setattr(host, "write_sysctl", lambda path, value: None)  # taken, but nothing changes
    with pytest.raises(OperationFailed, match="wrote zswap enabled=Y, but it reads back N"):
        s.apply(host, record)


def test_a_parameter_that_cannot_be_read_is_refused_at_the_check(env) -> None:
    root, host = env
    (root / PARAMS / "enabled").unlink()
    with pytest.raises(OperationFailed, match="zswap enabled cannot be read"):
        step().check(host)


def test_an_undo_restores_the_old_value_only_while_it_is_still_swapctls(env) -> None:
    root, host = env
    s = step()
    record = s.snapshot(host)
    s.apply(host, record)
    s.check_undo(host, record, UndoContext())
    s.undo(host, record, UndoContext())
    assert enabled(root) == "N"
    s.undo(host, record, UndoContext())  # already undone: nothing to do
    assert enabled(root) == "N"
    s.apply(host, record)
    (root / PARAMS / "enabled").write_text("1\n")  # someone else, since
    with pytest.raises(Refused, match="zswap enabled is now 1, not Y as swapctl wrote it"):
        s.check_undo(host, record, UndoContext())
    with pytest.raises(Refused):
        s.undo(host, record, UndoContext())
    s.check_undo(host, record, UndoContext(same_boot=False))  # a later boot: nothing to check or do
    s.undo(host, record, UndoContext(same_boot=False))
    assert enabled(root) == "1"
    s.undo(host, record, UndoContext(force=True))
    assert enabled(root) == "N"


@pytest.mark.parametrize(
    "texts, why",
    [
        ([], "nothing to set"),
        (["enabled"], "is not NAME=VALUE"),
        (["colour=Y"], "zswap has no parameter 'colour'"),
        (["enabled=maybe"], "zswap enabled='maybe': enabled takes Y or N"),
    ],
)
def test_zswap_set_refuses_what_it_cannot_set(texts: list[str], why: str) -> None:
    with pytest.raises(UsageError, match=why):
        parse(texts)


def test_zswap_set_reads_names_and_values_as_the_kernel_reads_them_back() -> None:
    assert parse([" enabled =yes", "max_pool_percent=020"]) == {"enabled": "Y", "max_pool_percent": "20"}


def _plan(host, *texts: str, force: bool = False):
    from swapctl.ops.zswap_set import build_set_plan

    return build_set_plan(host, list(texts), persist=False, force=force)


@pytest.fixture
def zswap_host(env):
    root, host = env
    for name, value in (("max_pool_percent", "20"), ("compressor", "lzo"), ("shrinker_enabled", "Y")):
        (root / PARAMS / name).write_text(value + "\n")
    return root, host


def test_enabling_with_no_swap_area_is_refused_unless_forced_and_then_warned(zswap_host) -> None:
    _, host = zswap_host
    with pytest.raises(Refused, match="zswap enabled with no active swap area stores nothing"):
        _plan(host, "enabled=Y")
    forced = _plan(host, "enabled=Y", force=True)
    assert [s.params["name"] for s in forced.steps] == ["enabled"]
    assert any("stores nothing" in w for w in forced.warnings)


def test_enabled_is_written_last_when_switched_on_and_first_when_switched_off(zswap_host) -> None:
    root, host = zswap_host
    on = _plan(host, "enabled=Y", "max_pool_percent=30", "compressor=lz4", force=True)
    assert [s.params["name"] for s in on.steps] == ["max_pool_percent", "compressor", "enabled"]  # else as given
    (root / PARAMS / "enabled").write_text("Y\n")
    off = _plan(host, "max_pool_percent=30", "enabled=N")
    assert [s.params["name"] for s in off.steps] == ["enabled", "max_pool_percent"]
    assert any("disabling zswap does not empty its pool" in w for w in off.warnings)


def test_a_value_already_in_force_gets_no_step_and_says_so(zswap_host) -> None:
    _, host = zswap_host
    plan = _plan(host, "max_pool_percent=20", "shrinker_enabled=N")
    assert [s.params["name"] for s in plan.steps] == ["shrinker_enabled"]
    assert [(r["name"], r["changed"]) for r in plan.data["settings"]] == [
        ("max_pool_percent", False),
        ("shrinker_enabled", True),
    ]
    assert not any("disabling" in w for w in plan.warnings)
