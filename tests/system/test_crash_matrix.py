"""Crash consistency and fault injection on the real kernel: every mutating command killed (SIGKILL) or made to
fail at every step, before and after its apply, through the real CLI in a child process; the machine must end
as it was (after `swapctl rollback` for a kill, by itself for a failure). Figures: docs/RELIABILITY.md."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from swapctl.core.journal import Journal
from tests.conftest import privileged
from tests.figures import report
from tests.system.conftest import FSTAB, RealSwapctl, Workspace, cleanup_dir
from tests.system.realstate import (
    machine_state,
    other_value,
    read_vm,
    restore_files,
    state_diff,
    sysctl_guard,
)

pytestmark = [privileged, pytest.mark.privileged]

PHASES = ("before", "after")


@dataclass
class Scenario:
    name: str
    args: Callable[[Workspace], list[str]]
    setup: Callable[[RealSwapctl, Workspace], None] = lambda swapctl, work: None


def _create_args(work: Workspace) -> list[str]:
    return ["create", str(work.swapdir / "made"), "--size", "16M", "-p", "5", "--persist"]


def _setup_active(swapctl: RealSwapctl, work: Workspace) -> None:
    r = swapctl("create", str(work.swapdir / "live"), "--size", "16M", "-p", "4", "--persist")
    assert r.returncode == 0, str(r)


def _vm_args(work: Workspace) -> list[str]:
    values = [f"{k}={other_value(k, read_vm(k))}" for k in ("swappiness", "watermark_scale_factor")]
    return ["vm", "set", *values, "--persist"]


def _apply_args(work: Workspace) -> list[str]:
    spec = work.root / "apply.yaml"
    if not spec.exists():
        spec.write_text(
            "persist: true\n"
            "swapfiles:\n"
            f"  - path: {work.swapdir / 'declared'}\n"
            "    size: 16M\n"
            "    priority: 3\n"
            "vm:\n"
            f"  swappiness: {other_value('swappiness', read_vm('swappiness'))}\n"
            f"  watermark_scale_factor: {other_value('watermark_scale_factor', read_vm('watermark_scale_factor'))}\n"
        )
    return ["apply", str(spec)]


SCENARIOS = [
    Scenario("create --persist", _create_args),
    Scenario("remove", lambda work: ["remove", str(work.swapdir / "live")], _setup_active),
    Scenario("resize", lambda work: ["resize", str(work.swapdir / "live"), "--size", "32M"], _setup_active),
    Scenario("vm set --persist", _vm_args),
    Scenario("apply", _apply_args),
]


def _refusal_probe(i: int, work: Workspace) -> list[str]:
    """Another mutating command, of a different kind every other time: it must be refused while a
    transaction is pending."""
    if i % 2 == 0:
        return ["create", str(work.swapdir / "intruder"), "--size", "16M", "--no-persist"]
    return ["vm", "set", f"swappiness={other_value('swappiness', read_vm('swappiness'), 37)}"]


@dataclass
class Tally:
    command: str
    action: str
    steps: int = 0
    points: int = 0
    expected_exit: int = 0
    pending_seen: int = 0
    refused: int = 0
    rollbacks_ok: int = 0
    restored: int = 0
    inconsistent: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


@pytest.fixture
def machine(work: Workspace):
    with sysctl_guard() as saved:
        yield saved


def _reset(swapctl: RealSwapctl, work: Workspace, baseline: dict, scenario: Scenario) -> None:
    """After an inconsistent point: put the machine back by hand so the next point starts clean."""
    problems = cleanup_dir(work.swapdir, [])
    assert not problems, problems
    work.swapdir.mkdir(mode=0o700)
    restore_files(baseline["fstab"], baseline["sysctl_d"], baseline["vm"])
    if work.state_dir.exists():
        shutil.rmtree(work.state_dir)
    scenario.setup(swapctl, work)


def _run_matrix(swapctl: RealSwapctl, work: Workspace, scenario: Scenario, action: str) -> Tally:
    baseline = machine_state(work)
    scenario.setup(swapctl, work)
    args = scenario.args(work)
    r, plan = swapctl.json(*args, "--dry-run")
    assert r.returncode == 0, str(r)
    steps = [a["step"] for a in plan["actions"]]
    assert steps, f"{scenario.name} planned nothing"
    tally = Tally(scenario.name, action, steps=len(steps))
    started = time.monotonic()
    for seq, kind in enumerate(steps):
        for phase in PHASES:
            point = f"{kind}#{seq} {phase}"
            tally.points += 1
            before = machine_state(work)
            problems = []
            r = swapctl(*args, fault=f"*:{seq}:{phase}:{action}")
            if action == "kill":
                if r.returncode == -9:
                    tally.expected_exit += 1
                else:
                    problems.append(f"exit {r.returncode}, not -9: {r.stderr.strip()}")
                rh, hist = swapctl.json("history")
                if [t["status"] for t in hist["data"]["transactions"]][:1] == ["pending"]:
                    tally.pending_seen += 1
                else:
                    problems.append("history shows no pending transaction")
                probe = swapctl(*_refusal_probe(tally.points, work))
                if probe.returncode == 3 and "rollback" in probe.stderr and "Traceback" not in probe.stderr:
                    tally.refused += 1
                else:
                    problems.append(
                        f"{' '.join(probe.args[:2])} while pending: exit {probe.returncode}, {probe.stderr.strip()!r}"
                    )
                rb = swapctl("rollback")
                if rb.returncode == 0:
                    tally.rollbacks_ok += 1
                else:
                    problems.append(f"rollback exit {rb.returncode}: {rb.stderr.strip()}")
            else:
                if r.returncode == 1 and r.stderr.startswith("swapctl: error: ") and "rolled back" in r.stderr:
                    tally.expected_exit += 1
                else:
                    problems.append(f"exit {r.returncode}, not 1: {r.stderr.strip()}")
                journal = Journal(work.state_dir)
                if journal.pending() is not None:
                    problems.append("a failed run left a pending transaction")
                    tally.pending_seen += 1
                elif journal.transactions()[-1].status != "aborted":
                    problems.append(f"the failed run is {journal.transactions()[-1].status}, not aborted")
            after = machine_state(work)
            if after == before:
                tally.restored += 1
            else:
                problems.append("machine differs: " + state_diff(before, after))
            if problems:
                tally.inconsistent += 1
                tally.problems.append(f"{point}: " + " | ".join(problems))
                _reset(swapctl, work, baseline, scenario)
    tally.seconds = round(time.monotonic() - started, 1)
    return tally


def _figures(t: Tally) -> None:
    report(
        "crash-matrix",
        command=t.command,
        action=t.action,
        steps=t.steps,
        points=t.points,
        expected_exit=t.expected_exit,
        pending_seen=t.pending_seen,
        refused=t.refused,
        rollbacks_ok=t.rollbacks_ok,
        restored=t.restored,
        inconsistent=t.inconsistent,
        seconds=t.seconds,
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name.split()[0] for s in SCENARIOS])
def test_a_command_killed_at_any_step_leaves_a_pending_transaction_that_rollback_fully_undoes(
    swapctl: RealSwapctl, work: Workspace, machine: dict, scenario: Scenario
) -> None:
    t = _run_matrix(swapctl, work, scenario, "kill")
    _figures(t)
    assert t.points == 2 * t.steps
    assert t.inconsistent == 0, "\n".join(t.problems)
    assert t.expected_exit == t.pending_seen == t.refused == t.rollbacks_ok == t.restored == t.points


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name.split()[0] for s in SCENARIOS])
def test_a_command_failing_at_any_step_undoes_itself_and_leaves_nothing_pending(
    swapctl: RealSwapctl, work: Workspace, machine: dict, scenario: Scenario
) -> None:
    t = _run_matrix(swapctl, work, scenario, "fail")
    _figures(t)
    assert t.points == 2 * t.steps
    assert t.inconsistent == 0, "\n".join(t.problems)
    assert t.expected_exit == t.restored == t.points and t.pending_seen == 0


def test_the_machine_state_probe_sees_what_a_kill_leaves_behind(
    swapctl: RealSwapctl, work: Workspace, machine: dict
) -> None:
    """The matrix's comparison is not blind: without the rollback, a kill after swapon shows as a change."""
    before = machine_state(work)
    r = swapctl(*_create_args(work), fault="swapon:3:after:kill")
    assert r.returncode == -9, str(r)
    after = machine_state(work)
    assert after != before
    assert "made" in after["files"] and after["files"]["made"][1] == 0o600
    assert str(work.swapdir / "made") in after["swaps"]
    assert after["fstab"] == before["fstab"] == (FSTAB.read_bytes() if FSTAB.exists() else None)
    assert swapctl("rollback").returncode == 0
    assert machine_state(work) == before
