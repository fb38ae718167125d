"""execute() itself, with steps that fail on purpose: what a failed undo reports, what a pending transaction
stops, and what the outcome says it was. (The plans of each command are in tests/plans.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from swapctl.core.errors import ExitCode, OperationFailed, Refused, RollbackFailed
from swapctl.core.journal import Journal
from swapctl.core.plan import Plan, Step, UndoContext, execute
from tests.fakes import fake_host, make_root


class Change(Step):
    """A change of one entry of `machine` (a dict standing in for the system); fails where it is told to."""

    kind = "test-change"

    def __init__(self, machine: dict[str, str], name: str, *, fail_apply: bool = False, fail_undo: bool = False):
        super().__init__(name=name)
        self.machine, self.name, self.fail_apply, self.fail_undo = machine, name, fail_apply, fail_undo

    def describe(self) -> str:
        return f"change {self.name}"

    def snapshot(self, host: Any) -> dict[str, Any]:
        return {"old": self.machine.get(self.name)}

    def apply(self, host: Any, record: dict[str, Any]) -> None:
        if self.fail_apply:
            raise RuntimeError(f"{self.name} is stuck")
        self.machine[self.name] = "new"

    def undo(self, host: Any, record: dict[str, Any], ctx: UndoContext) -> None:
        if self.fail_undo:
            raise RuntimeError(f"{self.name} will not go back")
        self.machine[self.name] = record["old"]


@pytest.fixture
def env(tmp_path: Path):
    host = fake_host(make_root(tmp_path / "root"))
    return host, Journal(host.paths.state_dir, boot_id=host.boot_id(), kernel="6.18.0")


def test_an_undo_that_fails_is_reported_with_the_transaction_and_never_as_rolled_back(env) -> None:
    # The person must learn that the machine is not as it was: exit 5, the transaction to inspect, and a journal
    # that keeps it open (undo-failed) so that the next change is refused until someone looks.
    host, journal = env
    machine = {"a": "old", "b": "old", "c": "old"}
    plan = Plan(
        "test",
        [Change(machine, "a"), Change(machine, "b", fail_undo=True), Change(machine, "c", fail_apply=True)],
    )
    with pytest.raises(RollbackFailed) as err:
        execute(plan, host, journal)
    (tx,) = journal.transactions()
    assert err.value.code == ExitCode.ROLLBACK_FAILED
    assert f"transaction {tx.id}" in err.value.message and "b will not go back" in err.value.message
    assert "rolled back" not in err.value.message
    assert f"swapctl rollback {tx.id}" in (err.value.hint or "")
    assert tx.status == "undo-failed" and journal.pending() is not None
    assert [a["status"] for a in err.value.data["actions"]] == ["undone", "undo-failed", "failed"]
    assert machine == {"a": "old", "b": "new", "c": "old"}  # the undo went on past b's failure


def test_a_failure_whose_undo_succeeds_closes_the_transaction_as_aborted(env) -> None:
    host, journal = env
    machine = {"a": "old", "b": "old"}
    with pytest.raises(OperationFailed, match="every change was rolled back"):
        execute(Plan("test", [Change(machine, "a"), Change(machine, "b", fail_apply=True)]), host, journal)
    assert machine == {"a": "old", "b": "old"}
    assert journal.transactions()[-1].status == "aborted" and journal.pending() is None


def test_a_real_run_with_a_pending_transaction_changes_nothing(env) -> None:
    # A plan built before the crash's transaction was found (or by a planner that does not look) must still be
    # refused under the lock: its changes would land on top of a half-done transaction.
    host, journal = env
    with journal.locked():
        tx = journal.begin("create", {})
        journal.intent(tx, 0, Change({}, "x"), {})
    machine = {"a": "old"}
    with pytest.raises(Refused, match="pending"):
        execute(Plan("test", [Change(machine, "a")]), host, journal)
    assert machine == {"a": "old"} and [t.id for t in journal.transactions()] == [tx]


def test_a_real_run_says_it_was_not_a_dry_run_and_a_dry_run_says_it_was(env) -> None:
    host, journal = env
    machine = {"a": "old"}
    planned = execute(Plan("test", [Change(machine, "a")]), host, journal, dry_run=True)
    assert planned.dry_run is True and machine == {"a": "old"} and planned.transaction is None
    done = execute(Plan("test", [Change(machine, "a")]), host, journal)
    assert done.dry_run is False and done.changed and machine == {"a": "new"} and done.transaction
    nothing = execute(Plan("test", []), host, journal)
    assert nothing.dry_run is False and not nothing.changed


def test_an_undo_in_a_later_boot_skips_only_runtime_steps(env) -> None:
    # a /proc/sys value was reset by the reboot; a file edit (or a swap file) was not, and must still be undone
    from swapctl.core.plan import undo_steps

    class RuntimeChange(Change):
        kind = "test-runtime-change"
        runtime = True

    host, journal = env
    machine = {"file": "new", "proc": "new"}
    file_step, proc_step = Change(machine, "file"), RuntimeChange(machine, "proc")
    with journal.locked():
        tx = journal.begin("test", {})
        journal.intent(tx, 0, file_step, {"old": "old"})
        journal.intent(tx, 1, proc_step, {"old": "old"})
        ctx = UndoContext(same_boot=False)
        items = [(1, proc_step, {"old": "old"}), (0, file_step, {"old": "old"})]
        marks: list[tuple[int, str]] = []
        assert undo_steps(host, journal, tx, items, ctx, mark=lambda seq, status: marks.append((seq, status))) == []
    assert machine == {"file": "old", "proc": "new"}
    assert len(ctx.notes) == 1 and "change proc" in ctx.notes[0] and "earlier boot" in ctx.notes[0]
    assert marks == [(1, "skipped"), (0, "undone")]
    # both are finished as far as the journal goes: a later rollback must not try the skipped one again
    assert [s.undone for s in journal.transactions()[0].steps] == [True, True]


def test_a_step_kind_is_registered_once() -> None:
    from swapctl.core.plan import STEP_KINDS, register

    class Once(Step):
        kind = "test-registered-once"

    class Impostor(Step):
        kind = "test-registered-once"

    try:
        assert register(Once) is Once and register(Once) is Once  # the same class again: harmless
        with pytest.raises(RuntimeError, match="registered twice"):
            register(Impostor)
        assert STEP_KINDS["test-registered-once"] is Once
    finally:
        STEP_KINDS.pop("test-registered-once", None)


def test_a_dry_run_with_a_pending_transaction_is_refused_like_the_real_run(env) -> None:
    host, journal = env
    with journal.locked():
        tx = journal.begin("create", {})
        journal.intent(tx, 0, Change({}, "x"), {})
    with pytest.raises(Refused, match="pending"):
        execute(Plan("test", [Change({"a": "old"}, "a")]), host, journal, dry_run=True)


def test_a_refusal_found_half_way_is_a_refusal_after_the_undo(env) -> None:
    # exit 3, not 1: the machine is as it was, and the reason is the step's own
    class Refusing(Change):
        def apply(self, host, record):
            raise Refused("someone else's swap area is there now", hint="look at it")

    host, journal = env
    machine = {"a": "old", "b": "old"}
    with pytest.raises(Refused) as err:
        execute(Plan("test", [Change(machine, "a"), Refusing(machine, "b")]), host, journal)
    assert err.value.message == "someone else's swap area is there now" and err.value.hint == "look at it"
    assert [a["status"] for a in err.value.data["actions"]] == ["undone", "failed"]
    assert machine == {"a": "old", "b": "old"} and journal.transactions()[-1].status == "aborted"


def test_a_fault_before_a_step_applies_undoes_only_the_steps_before_it(env) -> None:
    from swapctl.system.faults import fault_hook

    host, journal = env
    machine = {"a": "old", "b": "old"}
    with pytest.raises(OperationFailed, match="change b failed") as err:
        execute(
            Plan("test", [Change(machine, "a"), Change(machine, "b")]), host, journal, fault=fault_hook("*:1:before")
        )
    assert [a["status"] for a in err.value.data["actions"]] == ["undone", "failed"]
    assert machine == {"a": "old", "b": "old"}


def test_a_committed_transaction_journals_every_step_as_done(env) -> None:
    host, journal = env
    execute(Plan("test", [Change({}, "a"), Change({}, "b")]), host, journal)
    (tx,) = journal.transactions()
    assert tx.status == "committed" and [s.done for s in tx.steps] == [True, True]


def test_a_step_kind_that_lacks_an_action_fails_rather_than_claiming_it(env) -> None:
    # an undo that did nothing must never be journaled as undone
    host, _ = env
    bare = Step(name="x")
    for call in (bare.describe, lambda: bare.apply(host, {}), lambda: bare.undo(host, {}, UndoContext())):
        with pytest.raises(NotImplementedError):
            call()
    step = Change({}, "a")
    assert step.undo_description() == "undo: change a" == step.undo_description_for({"old": None})
    assert step.to_record() == {"kind": "test-change", "params": {"name": "a"}}


def test_a_journal_entry_is_rebuilt_only_when_its_params_and_record_pass_its_kinds_checks() -> None:
    from swapctl.core import fields
    from swapctl.core.plan import STEP_KINDS, StepRecordError, register

    @register
    class Checked(Step):
        kind = "test-checked"
        params_schema = {"name": fields.Field(fields.is_text, "text")}
        record_schema = {"old": fields.Field(fields.is_text, "text")}

    try:
        assert Checked.invalid({"name": "a"}, None) is None and Checked.invalid({"name": "a"}, {"old": "x"}) is None
        assert "params" in (Checked.invalid({"name": 1}, {"old": "x"}) or "")
        assert "its undo record" in (Checked.invalid({"name": "a"}, {"old": 1}) or "")
        rebuilt = Step.from_record({"kind": "test-checked", "params": {"name": "a"}}, {"old": "x"})
        assert isinstance(rebuilt, Checked) and rebuilt.params == {"name": "a"}
        with pytest.raises(StepRecordError, match="unknown step kind 'nope'"):
            Step.from_record({"kind": "nope", "params": {}})
        with pytest.raises(StepRecordError, match="test-checked step that swapctl did not write"):
            Step.from_record({"kind": "test-checked", "params": {"name": "a"}}, {"old": 1})
    finally:
        STEP_KINDS.pop("test-checked", None)


def test_a_merged_plan_takes_the_steps_warnings_once_and_after_run_reports() -> None:
    seen: list[str] = []
    main = Plan("apply", [Change({}, "a")], data={"kept": 1}, warnings=["w1"])
    sub = Plan("vm set", [Change({}, "b")], warnings=["w1", "w2"])
    sub.after_run.append(lambda plan: seen.append(plan.command))
    main.merge(sub)
    assert [s.params["name"] for s in main.steps] == ["a", "b"] and main.warnings == ["w1", "w2"]
    assert main.data == {"kept": 1} and len(main.after_run) == 1
    main.after_run[0](main)
    assert seen == ["apply"]
