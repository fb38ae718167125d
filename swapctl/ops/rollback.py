"""History and rollback: undo a journaled transaction (a crashed one first), with compare-and-swap checks
before anything changes, runtime-only steps of an earlier boot skipped, and the rollback itself journaled."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swapctl.core.errors import Refused, RollbackFailed, UsageError
from swapctl.core.plan import Outcome, Step, StepRecordError, UndoContext, undo_steps

if TYPE_CHECKING:
    from swapctl.core.journal import Journal, Transaction, TxStep
    from swapctl.system.host import Host

# Every module that registers step kinds, so a journal record from any command can be rebuilt.
STEP_MODULES = (
    "swapctl.ops.swapfile",
    "swapctl.ops.fstab",
    "swapctl.ops.vm_set",
    "swapctl.ops.zram_set",
    "swapctl.ops.zswap_set",
)


def load_step_kinds() -> None:
    for name in STEP_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def rebuild(journal: Journal, ts: TxStep) -> Step:
    """The step a journal entry describes, checked (a damaged or forged one is refused, naming its line)."""
    try:
        return Step.from_record(ts.step, ts.record)
    except StepRecordError as exc:
        raise journal.corrupt(ts.line, exc.message) from None


def history(journal: Journal, limit: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The transactions, newest first, each with its steps described; and warnings for entries that could not
    be (history shows a damaged journal; rollback refuses it)."""
    import time

    load_step_kinds()
    txs = journal.transactions()
    commands = {tx.id: tx.command for tx in txs}
    out, warnings = [], []
    for tx in list(reversed(txs))[: limit or None]:
        steps = []
        for ts in tx.steps:
            try:
                steps.append(rebuild(journal, ts).describe())
            except Refused as exc:
                steps.append(f"? {str(ts.step.get('kind'))[:40]}")
                warnings.append(exc.message)
        out.append(
            {
                "id": tx.id,
                "command": tx.command,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(tx.time)),
                "status": tx.status,
                "boot_id": tx.boot_id,
                "kernel": tx.kernel,
                "rollback_of": tx.rollback_of,
                "rolled_back_by": tx.rolled_back_by,
                "steps": steps,
                # A rollback journals no steps of its own (its undos are marked in its target's): say what it undid.
                "rollback_of_command": commands.get(tx.rollback_of) if tx.rollback_of else None,
            }
        )
    return out, warnings


@dataclass
class RollbackPlan:
    target: Transaction
    steps: list[tuple[TxStep, Step]]  # in the order they will be undone
    resumes: Transaction | None = None  # an earlier rollback of the same target left half-done
    ctx: UndoContext = field(default_factory=UndoContext)

    def actions(self, status: str) -> list[dict[str, str]]:
        out = []
        for ts, step in self.steps:
            if step.undo_is_noop:
                continue
            skipped = step.runtime and not self.ctx.same_boot
            out.append(
                {
                    "step": step.kind,
                    "description": step.undo_description_for(ts.record),
                    "status": "skipped" if skipped else status,
                }
            )
        return out


def _choose(journal: Journal, tx_id: str | None) -> tuple[Transaction, Transaction | None]:
    if tx_id is not None and not tx_id.strip():
        # `swapctl rollback "$ID"` with ID unset must not roll back the newest transaction.
        raise UsageError("the transaction id is empty", hint="give an id from: swapctl history, or none at all")
    txs = journal.transactions()
    by_id = {tx.id: tx for tx in txs}
    pending = next((tx for tx in reversed(txs) if tx.blocking), None)
    if pending is not None:
        # A half-done transaction comes first, whatever was asked: nothing else is safe until it is finished.
        if pending.rollback_of:
            target = by_id[pending.rollback_of]  # present: the journal orphans a rollback whose target is gone
            if tx_id and tx_id not in (pending.id, target.id):
                raise Refused(
                    f"rollback {pending.id} of {target.id} was left unfinished; finish it first",
                    hint=f"run: swapctl rollback {target.id}",
                )
            return target, pending
        if tx_id and tx_id != pending.id:
            raise Refused(
                f"transaction {pending.id} ({pending.command}) was left {pending.status}; roll it back first",
                hint=f"run: swapctl rollback {pending.id}",
            )
        return pending, None
    if tx_id:
        chosen = by_id.get(tx_id)
        if chosen is None:
            raise UsageError(f"no transaction {tx_id} in the journal", hint="see: swapctl history")
        if chosen.rollback_of:
            raise Refused(
                f"{tx_id} is itself a rollback; a rollback is not undone", hint="run the original command again instead"
            )
        return chosen, None
    for tx in reversed(txs):
        if tx.status == "committed" and not tx.rollback_of:
            return tx, None
    raise NothingToRollBack()


class NothingToRollBack(Exception):
    """_choose found no transaction left to undo (not an error: rollback says so and exits 0)."""


def plan_rollback(host: Host, journal: Journal, tx_id: str | None, *, force: bool = False) -> RollbackPlan | None:
    """None when there is nothing left to roll back."""
    load_step_kinds()
    try:
        target, resumes = _choose(journal, tx_id)
    except NothingToRollBack:
        return None
    if target.status in ("aborted", "rolled-back"):
        return RollbackPlan(target, [], resumes)
    ctx = UndoContext(
        same_boot=(target.boot_id == journal.boot_id), force=force, committed=target.status == "committed"
    )
    # A committed step was applied; in a crashed transaction, the in-flight one may have been: undo both.
    todo = [ts for ts in target.steps if not ts.undone]
    steps = [(ts, rebuild(journal, ts)) for ts in reversed(todo)]
    plan = RollbackPlan(target, steps, resumes, ctx)
    for ts, step in steps:
        if step.runtime and not ctx.same_boot:
            continue
        step.check_undo(host, ts.record, ctx)
    return plan


def run_rollback(host: Host, journal: Journal, plan: RollbackPlan) -> str:
    """Undo the plan's steps in order, journaling each; returns the rollback's transaction id."""
    tx = journal.begin("rollback", {"target": plan.target.id}, rollback_of=plan.target.id)
    if plan.resumes is not None:
        journal.end(plan.resumes.id, "superseded")
    items = [(ts.seq, step, ts.record) for ts, step in plan.steps]
    errors = undo_steps(host, journal, plan.target.id, items, plan.ctx, by=tx)
    if errors:
        journal.end(tx, "undo-failed")
        raise RollbackFailed(
            f"rollback {tx} of {plan.target.id} failed: " + "; ".join(errors),
            hint=f"inspect the machine, then run: swapctl rollback {plan.target.id}",
            data={"transaction": tx},
        )
    journal.commit(tx)
    return tx


def rollback(host: Host, journal: Journal, tx_id: str | None, *, force: bool = False, dry_run: bool = False) -> Outcome:
    """`swapctl rollback`: plan under the journal's lock (a dry run only reads), undo, and say what was done."""
    if dry_run:
        return _outcome(plan_rollback(host, journal, tx_id, force=force), None, dry_run=True)
    with journal.locked():
        plan = plan_rollback(host, journal, tx_id, force=force)
        # A half-done transaction is closed even when it has nothing to undo (a crash before its first step).
        needed = plan is not None and bool(plan.steps or plan.resumes or plan.target.blocking)
        tx = run_rollback(host, journal, plan) if plan is not None and needed else None
    return _outcome(plan, tx, dry_run=False)


def _outcome(plan: RollbackPlan | None, tx: str | None, *, dry_run: bool) -> Outcome:
    if plan is None:
        return Outcome("rollback", False, dry_run, None, [], {"target": None}, ["nothing to roll back"])
    warnings = list(plan.ctx.notes)
    if not plan.steps:
        warnings.append(f"transaction {plan.target.id} has nothing left to undo ({plan.target.status})")
    data = {"target": plan.target.id, "target_command": plan.target.command, "notes": plan.ctx.notes}
    return Outcome(
        "rollback", bool(plan.steps), dry_run, tx, plan.actions("planned" if dry_run else "done"), data, warnings
    )
