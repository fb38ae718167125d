"""Plans: ordered steps that check, describe, apply and undo; execute() gives dry-run, undo and journaling."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from swapctl.core import fields
from swapctl.core.errors import (
    Interrupted,
    OperationFailed,
    Refused,
    RollbackFailed,
    SwapctlError,
)

if TYPE_CHECKING:
    from swapctl.core.journal import Journal


class Host(Protocol):
    """What this module needs of the machine (system/host.py Host): only a way to hold Ctrl-C and SIGTERM
    while an undo runs. Steps receive the whole Host; they are written in ops/, which may know it."""

    def signals_held(self) -> AbstractContextManager[Any]: ...


STEP_KINDS: dict[str, type[Step]] = {}


def register(cls: type[Step]) -> type[Step]:
    """Make a step kind rebuildable from its journal record (rollback runs in another process)."""
    if cls.kind in STEP_KINDS and STEP_KINDS[cls.kind] is not cls:
        raise RuntimeError(f"step kind {cls.kind} registered twice")
    STEP_KINDS[cls.kind] = cls
    return cls


class UndoContext:
    # Plain classes here, not @dataclass: each costs ~0.35 ms to create at import, on every command (issue 8).
    def __init__(self, same_boot: bool = True, force: bool = False, committed: bool = False) -> None:
        self.same_boot = same_boot
        self.force = force
        # The transaction finished (a rollback of it), or stopped half way (a failure's undo, or a crash):
        # a committed create left a swap area, so anything else at its path is someone else's now.
        self.committed = committed
        self.notes: list[str] = []


class Step:
    """One change. Subclasses keep everything undo needs in `params` and in the record snapshot() returns,
    both JSON, so a later process can undo it from the journal alone. Their `host` is system/host.py's Host
    (Any here: core/ does not import system/)."""

    kind: ClassVar[str] = "step"
    # Undo of a runtime-only change (a /proc/sys value) means nothing after a reboot.
    runtime: ClassVar[bool] = False
    # Nothing to undo on its own (a later step's undo covers it): left out of what rollback shows.
    undo_is_noop: ClassVar[bool] = False
    # What a journal entry of this kind may hold in params and in its undo record: checked before a step is
    # rebuilt from the journal (a damaged or forged entry is refused, never used).
    params_schema: ClassVar[dict[str, fields.Field]] = {}
    record_schema: ClassVar[dict[str, fields.Field]] = {}

    def __init__(self, **params: Any) -> None:
        self.params = params

    def describe(self) -> str:
        raise NotImplementedError

    def check(self, host: Any) -> None:
        """Read-only; raise Refused/UsageError to stop the plan before anything changes."""

    def snapshot(self, host: Any) -> dict[str, Any]:
        """Read-only; what undo needs, taken before apply and written to the journal first."""
        return {}

    def apply(self, host: Any, record: dict[str, Any]) -> str | None:
        """Make the change. Return "skipped" when, decided again under the lock, there was nothing to do."""
        raise NotImplementedError

    def check_undo(self, host: Any, record: dict[str, Any], ctx: UndoContext) -> None:
        """Read-only; refuse a rollback that would clobber someone else's later change."""

    def undo(self, host: Any, record: dict[str, Any], ctx: UndoContext) -> None:
        """Must be idempotent: it may run after a crash that left the step half-applied, or not at all."""
        raise NotImplementedError

    def preview(self) -> dict[str, Any] | None:
        """For --diff: the value this step changes, {"what", "before", "after"} as a person reads them; None when
        it has nothing of its own to show (a file edit shows through edits(), mkswap through the file it formats)."""
        return None

    def edits(self) -> tuple[str, Callable[[str | None], str | None]] | None:
        """For --diff: (path, transform) of a step that edits a text file (transform: old text -> new, None for
        no file); None otherwise."""
        return None

    def undo_description(self) -> str:
        return f"undo: {self.describe()}"

    def undo_description_for(self, record: dict[str, Any]) -> str:
        """The same, once the step's journal record is known (what rollback lists and reports)."""
        return self.undo_description()

    def to_record(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": self.params}

    @classmethod
    def invalid(cls, params: dict[str, Any], record: dict[str, Any] | None) -> str | None:
        """Why a journal entry of this kind cannot be a step swapctl wrote, or None (record None: the params
        alone). Subclasses add the rules that tie fields together."""
        return fields.problem(params, cls.params_schema, "params") or (
            None if record is None else fields.problem(record, cls.record_schema, "its undo record")
        )

    @staticmethod
    def from_record(step: dict[str, Any], record: dict[str, Any] | None = None) -> Step:
        """The step a journal entry describes, once its params (and undo record) pass the kind's checks;
        StepRecordError otherwise."""
        kind = step.get("kind")
        cls = STEP_KINDS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise StepRecordError(f"names an unknown step kind {str(kind)[:40]!r}")
        why = cls.invalid(step.get("params"), record)  # type: ignore[arg-type]
        if why:
            raise StepRecordError(f"holds a {kind} step that swapctl did not write ({why})")
        return cls(**step["params"])


class StepRecordError(Refused):
    """A journal step that does not pass its kind's checks (the caller adds the line it came from)."""


class Plan:
    def __init__(
        self,
        command: str,
        steps: list[Step] | None = None,
        data: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.command = command
        self.steps: list[Step] = steps if steps is not None else []
        self.data: dict[str, Any] = data if data is not None else {}  # what the command reports besides actions
        self.warnings: list[str] = warnings if warnings is not None else []
        # Run by execute() once the steps are applied and committed: a plan's own account of what the machine
        # made of them (vm set's read-backs), in its data and warnings.
        self.after_run: list[Callable[[Plan], None]] = []

    def add(self, step: Step) -> None:
        self.steps.append(step)

    def merge(self, sub: Plan) -> None:
        """Take over a sub-plan's steps, warnings and after-run reports (apply's one transaction)."""
        self.steps.extend(sub.steps)
        self.warnings.extend(w for w in sub.warnings if w not in self.warnings)
        self.after_run.extend(sub.after_run)


class Outcome:
    """What execute() did: the envelope's changed, dry_run, transaction, actions, data and warnings."""

    def __init__(
        self,
        command: str,
        changed: bool,
        dry_run: bool,
        transaction: str | None,
        actions: list[dict[str, str]],
        data: dict[str, Any],
        warnings: list[str],
    ) -> None:
        self.command, self.changed, self.dry_run, self.transaction = command, changed, dry_run, transaction
        self.actions, self.data, self.warnings = actions, data, warnings
        self.diff: dict[str, Any] | None = None  # with --diff: preview(), read before the plan ran


def preview(plan: Plan, host: Any) -> dict[str, Any]:
    """What the plan would change, before and after: each file it edits, as its whole text (the edits of one file
    chained in the plan's order, so two fstab lines show as one change), and each value. Read-only."""
    files: dict[str, list[str | None]] = {}
    values = []
    for step in plan.steps:
        edit = step.edits()
        if edit is not None:
            path, transform = edit
            if path not in files:
                text = host.read_text_or_none(path)
                files[path] = [text, text]
            files[path][1] = transform(files[path][1])
        elif (value := step.preview()) is not None:
            values.append(value)
    changed = [{"path": p, "before": b, "after": a} for p, (b, a) in files.items() if b != a]
    return {"files": changed, "values": values}


def _actions(plan: Plan, status: str) -> list[dict[str, str]]:
    return [{"step": s.kind, "description": s.describe(), "status": status} for s in plan.steps]


def execute(
    plan: Plan,
    host: Host,
    journal: Journal,
    *,
    dry_run: bool = False,
    meta: dict[str, Any] | None = None,
    fault: Callable[[str, int, str], None] | None = None,
) -> Outcome:
    """Run every check, then (unless dry-run) apply each step with its intent journaled first; on any
    failure or interrupt, undo the finished steps in reverse so the machine is as it was."""
    if dry_run or not plan.steps:
        if dry_run:
            journal.refuse_if_pending()  # a dry run predicts the real run, this refusal included
        for step in plan.steps:
            step.check(host)
        return Outcome(
            plan.command,
            bool(plan.steps),
            dry_run,
            None,
            _actions(plan, "planned" if dry_run else "done"),
            plan.data,
            plan.warnings,
        )
    with journal.locked():
        journal.refuse_if_pending()
        for step in plan.steps:
            step.check(host)
        tx = journal.begin(plan.command, meta or {})
        done: list[tuple[Step, dict[str, Any]]] = []
        actions = _actions(plan, "pending")
        try:
            for seq, step in enumerate(plan.steps):
                record = step.snapshot(host)
                journal.intent(tx, seq, step, record)
                if fault:
                    fault(step.kind, seq, "before")
                status = step.apply(host, record) or "done"
                # Applied: from here on a failure (even before the journal says done) must undo this step too.
                done.append((step, record))
                actions[seq]["status"] = status
                if fault:
                    fault(step.kind, seq, "after")
                journal.done(tx, seq)
        except (Exception, KeyboardInterrupt) as exc:
            failed_at = min(len(done), len(plan.steps) - 1)
            if failed_at == len(done):
                actions[failed_at]["status"] = "failed"
            failure = {"transaction": tx, "actions": actions, "warnings": list(plan.warnings)}
            _undo_after_failure(host, journal, tx, done, failure)
            if isinstance(exc, KeyboardInterrupt):
                raise Interrupted("interrupted; every change was rolled back", data=failure) from None
            message = exc.message if isinstance(exc, SwapctlError) else str(exc)
            hint = exc.hint if isinstance(exc, SwapctlError) else None
            if isinstance(exc, Refused):
                # A refusal discovered mid-plan still leaves the machine as it was.
                raise Refused(message, hint=hint, data=failure) from exc
            raise OperationFailed(
                f"{plan.steps[failed_at].describe()} failed: {message}; every change was rolled back",
                hint=hint,
                data=failure,
            ) from exc
        journal.commit(tx)
    for report in plan.after_run:
        report(plan)
    changed = any(a["status"] == "done" for a in actions)
    return Outcome(plan.command, changed, False, tx, actions, plan.data, plan.warnings)


def undo_steps(
    host: Host,
    journal: Journal,
    target: str,
    items: list[tuple[int, Step, dict[str, Any]]],
    ctx: UndoContext,
    *,
    by: str | None = None,
    mark: Callable[[int, str], None] | None = None,
) -> list[str]:
    """Undo (seq, step, record) items in the order given, journaling each as undone in transaction `target`;
    keep going past a failure and return every failure's text. Used after a failed apply and by rollback."""
    errors = []
    for seq, step, record in items:
        if step.runtime and not ctx.same_boot:
            ctx.notes.append(
                f"skipped ({step.describe()}): it was a runtime value of an earlier boot, "
                "which the reboot already reset"
            )
            journal.undone(target, seq, by=by)
            if mark:
                mark(seq, "skipped")
            continue
        try:
            step.undo(host, record, ctx)
            journal.undone(target, seq, by=by)
            if mark:
                mark(seq, "undone")
        except Exception as exc:  # keep undoing the rest; report all
            errors.append(f"{step.undo_description_for(record)}: {getattr(exc, 'message', exc)}")
            if mark:
                mark(seq, "undo-failed")
    return errors


def _undo_after_failure(
    host: Host, journal: Journal, tx: str, done: list[tuple[Step, dict[str, Any]]], failure: dict[str, Any]
) -> None:
    """Undo what was done, with Ctrl-C and SIGTERM held until the transaction is closed (users press Ctrl-C
    twice). `failure` is the error's data (transaction, actions, warnings); the actions' statuses are updated
    as the undo goes."""

    def mark(seq: int, status: str) -> None:
        failure["actions"][seq]["status"] = status

    items = [(seq, step, record) for seq, (step, record) in reversed(list(enumerate(done)))]
    errors: list[str] = []
    try:
        with host.signals_held():
            errors = undo_steps(host, journal, tx, items, UndoContext(), mark=mark)
            journal.end(tx, "undo-failed" if errors else "aborted")
    except KeyboardInterrupt:
        pass  # the run ends right after anyway, and says what it ends with: the first cause, not this
    if errors:
        raise RollbackFailed(
            f"undo failed in transaction {tx}: " + "; ".join(errors),
            hint=f"inspect the machine, then run: swapctl rollback {tx}",
            data=failure,
        )
