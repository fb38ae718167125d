"""The write-ahead transaction log under the state dir: begin, intent (fsync'd before apply), done, end;
the lock that serializes mutating runs; and the transactions read back from it (committed, aborted, pending,
rolled back), each entry checked before anything is built from it.

The journal survives what disks and people do to it: a last line cut short by a crash (or a tail of NULs that
a power cut leaves) is ignored with a warning and dropped at the next change, before anything is appended; any
other damaged or forged line is a clear error naming its line (exit 3), never a half-read journal."""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import re
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from swapctl.core.errors import Refused

JOURNAL_NAME = "journal.jsonl"
LOCK_NAME = "lock"
LOCK_WAIT_S = 120.0  # concurrent runs wait their turn, but a stuck holder is reported, not waited out
MAX_BYTES = 64 << 20  # tens of thousands of transactions; a larger file is not a journal swapctl wrote
TX_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
END_STATUSES = frozenset({"committed", "aborted", "undo-failed", "superseded"})
MAX_LOOKS = 100  # refuse_if_pending's looks while other runs keep beginning transactions (then: the last look)
MAX_TIME = float(1 << 34)  # the year 2514: a later (or NaN) time is damage, and would overflow localtime()
# What open() says of a path that is not a regular file before fstat() could: a directory opened for writing,
# a link (O_NOFOLLOW), a socket.
_NOT_A_FILE = frozenset({errno.EISDIR, errno.ELOOP, errno.ENXIO})


class TxStep:
    # Plain classes, not @dataclass: each costs ~0.35 ms to create at import, on every command (issue 8).
    def __init__(self, seq: int, step: dict[str, Any], record: dict[str, Any], line: int) -> None:
        self.seq, self.step, self.record, self.line = seq, step, record, line
        self.done = False
        self.undone = False


class Transaction:
    def __init__(
        self,
        id: str,
        command: str,
        time: float,
        boot_id: str,
        kernel: str,
        meta: dict[str, Any],
        *,
        rollback_of: str | None,
        line: int,
    ) -> None:
        self.id, self.command, self.time = id, command, time
        self.boot_id, self.kernel, self.meta = boot_id, kernel, meta
        self.steps: list[TxStep] = []
        # pending | committed | aborted | undo-failed | rolled-back | superseded | orphaned
        self.status = "pending"
        self.rollback_of = rollback_of
        self.rolled_back_by: str | None = None
        self.line = line

    @property
    def blocking(self) -> bool:
        """Left half-done (crash, or an undo that failed): nothing else may change until it is rolled back."""
        return self.status in ("pending", "undo-failed")


class JournalCorrupt(Refused):
    """A journal line that swapctl did not write, or that damage changed: refused, naming the line."""


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a number swapctl writes")


def _decode(raw: bytes) -> Any:
    return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)


def _open_regular(path: Path, flags: int, hint: str) -> int:
    """An fd of the regular file at path (never through a link, never blocking on a FIFO); anything else there
    (a directory, a link, a FIFO, a socket, a device) is refused (exit 3) with the hint."""
    try:
        fd = os.open(path, flags | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        if exc.errno not in _NOT_A_FILE:
            raise
        raise _not_a_file(path, hint) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _not_a_file(path, hint)
    return fd


def _not_a_file(path: Path, hint: str) -> Refused:
    return Refused(f"{path} is not a regular file", hint=hint)


class Journal:
    def __init__(self, state_dir: Path, *, boot_id: str = "", kernel: str = "") -> None:
        self.dir = state_dir
        self.path = state_dir / JOURNAL_NAME
        self.boot_id = boot_id
        self.kernel = kernel
        self.warnings: list[str] = []  # what reading found and let pass (a torn last line, orphan entries)
        self._lock_fd: int | None = None

    def _warn(self, text: str) -> None:
        if text not in self.warnings:  # the journal is read several times in one command
            self.warnings.append(text)

    # --- the state dir ------------------------------------------------------------------------------
    def _check_dir(self) -> os.stat_result | None:
        """The state dir's stat, None while there is none; refuse (exit 3) one that is not a directory or that users
        other than root (and the owner) could write: a journal there could be forged, a lock swapped for a link."""
        try:
            st = os.stat(self.dir)
        except FileNotFoundError:
            if os.path.lexists(self.dir):
                raise Refused(
                    f"the state dir {self.dir} is a link to nothing",
                    hint="remove the link, or give --state-dir a real directory",
                ) from None
            return None
        if not stat.S_ISDIR(st.st_mode):
            raise Refused(
                f"the state dir {self.dir} is not a directory",
                hint="give --state-dir a directory only root can write, or remove what is there",
            )
        if st.st_mode & 0o022 or st.st_uid not in (0, os.geteuid()):
            raise Refused(
                f"the state dir {self.dir} can be written by other users (mode "
                f"{stat.S_IMODE(st.st_mode):04o}, owner uid {st.st_uid}): swapctl keeps its journal "
                "only where no one else can forge it",
                hint=f"use a directory only root can write (e.g. chmod 700 {self.dir}), or another --state-dir",
            )
        return st

    def _ensure_dir(self) -> None:
        # Made 0700 when missing; an existing one is checked, never chmod'ed: it may not be swapctl's.
        if self._check_dir() is None:
            # Missing parents 0755, whatever the umask (mkdir(parents=True) would make them 0777 under umask 0).
            for parent in reversed(self.dir.parents):
                with suppress(FileExistsError):
                    parent.mkdir(mode=0o755)
            try:
                self.dir.mkdir(mode=0o700)
                os.chmod(self.dir, 0o700)  # ours, made a moment ago: the umask may have taken bits
            except FileExistsError:
                pass  # another run made it meanwhile: checked below like any existing one
            self._check_dir()

    # --- writing ------------------------------------------------------------------------------------
    @contextmanager
    def locked(self, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
        if self._lock_fd is not None:  # re-entrant within one process
            yield
            return
        self._ensure_dir()
        lock = self.dir / LOCK_NAME
        fd = _open_regular(lock, os.O_RDWR | os.O_CREAT, "remove it; swapctl makes its own lock file")
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise Refused(
                        f"another swapctl has held {lock} for over {wait_s:.0f} s",
                        hint=f"wait for it to finish, or find it with: fuser -v {lock}",
                    ) from None
                time.sleep(0.05)
        self._lock_fd = fd
        try:
            self._recover_tail()
            yield
        finally:
            self._lock_fd = None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _open(self, flags: int) -> int:
        return _open_regular(self.path, flags, "move it aside; swapctl writes a new journal")

    def _recover_tail(self) -> None:
        """Under the lock, before the first append: cut a torn last line (and a NUL tail) off the file, so the
        next entry starts on a line of its own instead of being glued to the fragment."""
        try:
            fd = self._open(os.O_RDWR)
        except FileNotFoundError:
            return
        try:
            data = self._read_fd(fd)
            keep = data.rfind(b"\n") + 1
            if keep < len(data):
                os.ftruncate(fd, keep)
                os.fsync(fd)
                self._warn(
                    f"{self.path}: dropped {len(data) - keep} bytes of a last line cut short "
                    "(a crash during a write; the entry never took effect)"
                )
        finally:
            os.close(fd)

    def _append(self, entry: dict[str, Any], *, sync: bool) -> None:
        assert self._lock_fd is not None, "journal writes happen under the lock"
        line = (json.dumps(entry, separators=(",", ":"), sort_keys=True) + "\n").encode()
        try:
            fd = self._open(os.O_WRONLY | os.O_APPEND)
        except FileNotFoundError:
            fd = os.open(
                self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
            )
        try:
            os.write(fd, line)  # one write of one line: O_APPEND keeps it whole
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def begin(self, command: str, meta: dict[str, Any], *, rollback_of: str | None = None) -> str:
        # os.urandom, as secrets.token_hex does, without importing secrets (hashlib, hmac: start-up, issue 8).
        tx = time.strftime("%Y%m%dT%H%M%S", time.localtime()) + "-" + os.urandom(2).hex()
        entry = {
            "t": "begin",
            "tx": tx,
            "command": command,
            "time": time.time(),
            "boot_id": self.boot_id,
            "kernel": self.kernel,
            "meta": meta,
        }
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

    # --- reading ------------------------------------------------------------------------------------
    @staticmethod
    def _read_fd(fd: int) -> bytes:
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)

    def entries(self) -> list[tuple[int, dict[str, Any]]]:
        """(line number, entry) for every whole line; a torn last line is left out with a warning."""
        if self._check_dir() is None:
            return []
        try:
            fd = self._open(os.O_RDONLY)
        except FileNotFoundError:
            return []
        try:
            data = self._read_fd(fd)
        finally:
            os.close(fd)
        if len(data) > MAX_BYTES:
            raise JournalCorrupt(
                f"{self.path} is larger than {MAX_BYTES >> 20} MiB: not a journal swapctl wrote",
                hint=f"check the machine by hand, then move {self.path} aside",
            )
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            tail = data[keep:]
            what = "a tail of NUL bytes" if not tail.strip(b"\0") else "a last line cut short"
            self._warn(f"{self.path} ends in {what} (a crash during a write): ignored; the next change drops it")
        out = []
        n, pos = 1, 0
        for m in re.finditer(rb"[^\n]+", data[:keep]):  # blank lines (a million of them) cost nothing
            n += data.count(b"\n", pos, m.start())
            pos = m.start()
            raw = m.group()
            if not raw.strip():
                continue
            try:
                value = _decode(raw)
            except (ValueError, RecursionError) as exc:
                what = (
                    "is not valid UTF-8"
                    if isinstance(exc, UnicodeDecodeError)
                    else ("is nested too deeply" if isinstance(exc, RecursionError) else "is not a JSON entry")
                )
                raise self.corrupt(n, what) from None
            if not isinstance(value, dict):
                raise self.corrupt(n, f"is a JSON {type(value).__name__}, not an entry")
            out.append((n, value))
        return out

    def corrupt(self, line: int, what: str) -> JournalCorrupt:
        return JournalCorrupt(
            f"{self.path} line {line} {what}",
            hint=f"the journal is damaged or was edited: check the machine by hand, then move "
            f"{self.path} aside (swapctl starts a new one)",
        )

    def transactions(self) -> list[Transaction]:
        """Every transaction, each entry checked: a malformed one is a JournalCorrupt naming its line; an entry
        for a transaction the journal never began (its begin was pruned) is left out with a warning."""
        txs: dict[str, Transaction] = {}
        orphans = 0
        for n, e in self.entries():
            kind = e.get("t")
            tid = e.get("tx")
            if not isinstance(tid, str) or not TX_ID.fullmatch(tid):
                raise self.corrupt(n, "has no valid transaction id")
            if kind == "begin":
                if tid in txs:
                    raise self.corrupt(n, f"begins transaction {tid} a second time")
                txs[tid] = self._begin(n, tid, e)
                continue
            if kind not in ("intent", "done", "undone", "end"):
                raise self.corrupt(n, f"has an unknown entry type {str(kind)[:20]!r}")
            tx = txs.get(tid)
            if tx is None:
                orphans += 1
                continue
            if kind == "end":
                status = e.get("status")
                if status not in END_STATUSES:
                    raise self.corrupt(n, f"ends {tid} with an unknown status {str(status)[:20]!r}")
                tx.status = status
                continue
            seq = e.get("seq")
            if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 1 << 20:
                raise self.corrupt(n, "has no valid step number (seq)")
            if kind == "intent":
                step, undo = e.get("step"), e.get("undo", {})
                if (
                    not isinstance(step, dict)
                    or not isinstance(step.get("kind"), str)
                    or not isinstance(step.get("params"), dict)
                    or not isinstance(undo, dict)
                ):
                    raise self.corrupt(n, "holds a step that is not {kind, params} with an undo record")
                tx.steps.append(TxStep(seq, step, undo, n))
                continue
            by = e.get("by")
            if by is not None and not (isinstance(by, str) and TX_ID.fullmatch(by)):
                raise self.corrupt(n, "names no valid transaction in by")
            for s in tx.steps:
                if s.seq == seq:
                    if kind == "done":
                        s.done = True
                    else:
                        s.undone = True
        if orphans:
            self._warn(
                f"{self.path}: {orphans} entr{'y' if orphans == 1 else 'ies'} of transactions "
                "the journal no longer begins were ignored"
            )
        ordered = list(txs.values())
        for tx in ordered:
            if not tx.rollback_of:
                continue
            target = txs.get(tx.rollback_of)
            if target is None:
                # Its target was pruned from the journal: nothing is left that it could finish.
                if tx.blocking:
                    self._warn(
                        f"rollback {tx.id} ({self.path} line {tx.line}) undoes {tx.rollback_of}, "
                        "which is no longer in the journal: ignored"
                    )
                    tx.status = "orphaned"
            elif tx.status == "committed":
                target.status = "rolled-back"
                target.rolled_back_by = tx.id
        return ordered

    def _begin(self, n: int, tid: str, e: dict[str, Any]) -> Transaction:
        t = e.get("time", 0.0)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 <= t < MAX_TIME:
            raise self.corrupt(n, "has no valid time")
        for name in ("command", "boot_id", "kernel"):
            if not isinstance(e.get(name, ""), str):
                raise self.corrupt(n, f"has a {name} that is not text")
        meta, rollback_of = e.get("meta", {}), e.get("rollback_of")
        if not isinstance(meta, dict):
            raise self.corrupt(n, "has a meta that is not an object")
        if rollback_of is not None and not (isinstance(rollback_of, str) and TX_ID.fullmatch(rollback_of)):
            raise self.corrupt(n, "names no valid transaction in rollback_of")
        return Transaction(
            tid,
            e.get("command", "?"),
            float(t),
            e.get("boot_id", ""),
            e.get("kernel", ""),
            meta,
            rollback_of=rollback_of,
            line=n,
        )

    def pending(self) -> Transaction | None:
        for tx in reversed(self.transactions()):
            if tx.blocking:
                return tx
        return None

    def _held_by_another(self) -> bool:
        """Whether another process holds the lock now; read-only (creates neither the dir nor the lock file)."""
        try:
            fd = os.open(self.dir / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return False
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):  # anything else there is no lock; locked() refuses it
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def refuse_if_pending(self) -> None:
        tx = self.pending()
        for _ in range(MAX_LOOKS):
            if tx is None or self._lock_fd is not None:
                break
            if self._held_by_another():
                # Another run's transaction in flight looks exactly like one a crash left (begin, no end): wait
                # for its lock, so a concurrent run waits its turn, then look again.
                with self.locked():
                    tx = self.pending()
                break
            # The lock is free, but the run that held it may have ended its transaction between the look above
            # and this one (and another run may have begun one since): only the same transaction, seen again
            # with the lock free, is one a crash left.
            again = self.pending()
            if again is None or again.id == tx.id:
                tx = again
                break
            tx = again
        if tx is not None:
            raise Refused(
                f"transaction {tx.id} ({tx.command}) was left {tx.status}; nothing else may change "
                "until it is finished",
                hint=f"run: swapctl rollback {tx.id}   (see: swapctl history)",
            )
