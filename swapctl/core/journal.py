"""The write-ahead transaction log under the state dir: begin, intent (fsync'd before apply), done, end;
the lock that serializes mutating runs; and the derived history (committed, aborted, pending, rolled back)."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from swapctl.core.errors import ExitCode, Refused, SwapctlError

JOURNAL_NAME = "journal.jsonl"
LOCK_NAME = "lock"
LOCK_WAIT_S = 120.0  # concurrent runs wait their turn, but a stuck holder is reported, not waited out


class TxStep:
    # Plain classes, not @dataclass: each costs ~0.35 ms to create at import, on every command (issue 8).
    def __init__(self, seq: int, step: dict[str, Any], record: dict[str, Any]) -> None:
        self.seq, self.step, self.record = seq, step, record
        self.done = False
        self.undone = False


class Transaction:
    def __init__(self, id: str, command: str, time: float, boot_id: str, kernel: str, meta: dict[str, Any],
                 *, rollback_of: str | None = None) -> None:
        self.id, self.command, self.time = id, command, time
        self.boot_id, self.kernel, self.meta = boot_id, kernel, meta
        self.steps: list[TxStep] = []
        self.status = "pending"  # pending | committed | aborted | undo-failed | rolled-back | superseded
        self.rollback_of = rollback_of
        self.rolled_back_by: str | None = None

    @property
    def blocking(self) -> bool:
        """Left half-done (crash, or an undo that failed): nothing else may change until it is rolled back."""
        return self.status in ("pending", "undo-failed")

    def summary(self) -> dict[str, Any]:
        from swapctl.core.plan import Step  # the step registry, for descriptions

        descriptions = []
        for s in self.steps:
            try:
                descriptions.append(Step.from_record(s.step).describe())
            except SwapctlError:
                descriptions.append(s.step.get("kind", "?"))
        return {
            "id": self.id, "command": self.command,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.time)),
            "status": self.status, "boot_id": self.boot_id, "kernel": self.kernel,
            "rollback_of": self.rollback_of, "rolled_back_by": self.rolled_back_by,
            "steps": descriptions,
        }


class JournalCorrupt(SwapctlError):
    pass


class Journal:
    def __init__(self, state_dir: Path, *, boot_id: str = "", kernel: str = "") -> None:
        self.dir = state_dir
        self.path = state_dir / JOURNAL_NAME
        self.boot_id = boot_id
        self.kernel = kernel
        self._lock_fd: int | None = None

    # --- writing -----------------------------------------------------------------------------------
    def _ensure_dir(self) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)

    @contextmanager
    def locked(self, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
        if self._lock_fd is not None:  # re-entrant within one process
            yield
            return
        self._ensure_dir()
        fd = os.open(self.dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise Refused(f"another swapctl has held {self.dir / LOCK_NAME} for over {wait_s:.0f} s",
                                  hint="wait for it to finish, or find it with: fuser -v " +
                                  str(self.dir / LOCK_NAME)) from None
                time.sleep(0.05)
        self._lock_fd = fd
        try:
            yield
        finally:
            self._lock_fd = None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _append(self, entry: dict[str, Any], *, sync: bool) -> None:
        assert self._lock_fd is not None, "journal writes happen under the lock"
        line = (json.dumps(entry, separators=(",", ":"), sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, line)  # one write of one line: O_APPEND keeps it whole
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def begin(self, command: str, meta: dict[str, Any], *, rollback_of: str | None = None) -> str:
        # os.urandom, as secrets.token_hex does, without importing secrets (hashlib, hmac: start-up, issue 8).
        tx = time.strftime("%Y%m%dT%H%M%S", time.localtime()) + "-" + os.urandom(2).hex()
        entry = {"t": "begin", "tx": tx, "command": command, "time": time.time(), "boot_id": self.boot_id,
                 "kernel": self.kernel, "meta": meta}
        if rollback_of:
            entry["rollback_of"] = rollback_of
        # Not fsync'd on its own: the first intent's fsync carries it to disk.
        self._append(entry, sync=False)
        return tx

    def intent(self, tx: str, seq: int, step: Any, record: dict[str, Any]) -> None:
        # The write-ahead rule: the undo record is on disk before the change is made.
        self._append({"t": "intent", "tx": tx, "seq": seq, "step": step.to_record(), "undo": record}, sync=True)

    def done(self, tx: str, seq: int) -> None:
        # Unsynced: after a crash an intent without done is undone anyway (undo is idempotent).
        self._append({"t": "done", "tx": tx, "seq": seq}, sync=False)

    def undone(self, tx: str, seq: int, *, by: str | None = None) -> None:
        entry: dict[str, Any] = {"t": "undone", "tx": tx, "seq": seq}
        if by:
            entry["by"] = by
        self._append(entry, sync=True)

    def commit(self, tx: str) -> None:
        self._append({"t": "end", "tx": tx, "status": "committed"}, sync=True)

    def end(self, tx: str, status: str) -> None:
        self._append({"t": "end", "tx": tx, "status": status}, sync=True)

    # --- reading -----------------------------------------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out = []
        lines = text.split("\n")
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                if i >= len(lines) - 1:
                    continue  # a torn last line from a crash mid-append: the intent never happened
                raise JournalCorrupt(f"{self.path} line {i} is not valid JSON",
                                     hint="move the file aside after checking the machine by hand",
                                     code=ExitCode.ROLLBACK_FAILED) from None
        return out

    def transactions(self) -> list[Transaction]:
        txs: dict[str, Transaction] = {}
        for e in self.entries():
            kind, tid = e.get("t"), e.get("tx")
            if kind == "begin":
                txs[tid] = Transaction(tid, e.get("command", "?"), e.get("time", 0.0), e.get("boot_id", ""),
                                       e.get("kernel", ""), e.get("meta", {}), rollback_of=e.get("rollback_of"))
                continue
            tx = txs.get(tid)
            if tx is None:
                continue
            if kind == "intent":
                tx.steps.append(TxStep(e["seq"], e["step"], e.get("undo", {})))
            elif kind == "done":
                for s in tx.steps:
                    if s.seq == e["seq"]:
                        s.done = True
            elif kind == "undone":
                for s in tx.steps:
                    if s.seq == e["seq"]:
                        s.undone = True
            elif kind == "end":
                tx.status = e["status"]
        ordered = list(txs.values())
        for tx in ordered:
            if tx.rollback_of and tx.status == "committed" and tx.rollback_of in txs:
                target = txs[tx.rollback_of]
                target.status = "rolled-back"
                target.rolled_back_by = tx.id
        return ordered

    def pending(self) -> Transaction | None:
        for tx in reversed(self.transactions()):
            if tx.blocking:
                return tx
        return None

    def _held_by_another(self) -> bool:
        """Whether another process holds the lock now; read-only (creates neither the dir nor the lock file)."""
        try:
            fd = os.open(self.dir / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def refuse_if_pending(self) -> None:
        tx = self.pending()
        if tx is not None and self._lock_fd is None and self._held_by_another():
            # Another run's transaction in flight looks exactly like one a crash left (begin, no end): wait
            # for its lock, so a concurrent run waits its turn, then look again.
            with self.locked():
                tx = self.pending()
        if tx is not None:
            raise Refused(f"transaction {tx.id} ({tx.command}) was left {tx.status}; nothing else may change "
                          "until it is finished",
                          hint=f"run: swapctl rollback {tx.id}   (see: swapctl history)")
