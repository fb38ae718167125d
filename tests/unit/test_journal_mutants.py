"""The journal's promises that tests/unit/test_journal.py left unchecked (issue 22's mutation run found them): the
modes of what it makes under any umask, the lock between concurrent runs (and a run's forked children), that no
file descriptor is left behind, what is on disk (fsync'd) at each step of a transaction, and the edges of what it
reads back. Each runs on a temporary state dir; none takes more than a fraction of a second."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swapctl.core import journal
from swapctl.core.errors import Refused
from swapctl.core.journal import Journal, JournalCorrupt
from swapctl.core.plan import Step


class Dummy(Step):
    kind = "dummy-mutants"

    def describe(self) -> str:
        return "dummy"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def umask() -> Iterator[Any]:
    """Set the process umask for one test (the run's own is 022, which hides what a wider or stranger one does)."""
    old = os.umask(0o022)
    os.umask(old)

    def set_to(value: int) -> None:
        os.umask(value)

    yield set_to
    os.umask(old)


# --- what the journal reads back ------------------------------------------------------------------------------
def test_a_crash_between_steps_reads_back_which_steps_were_done(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    with j.locked():
        tx = j.begin("apply", {})
        j.intent(tx, 0, Dummy(a=0), {"old": 0})
        j.done(tx, 0)
        j.intent(tx, 1, Dummy(a=1), {"old": 1})  # the crash: applied or not, never marked done
    (t,) = j.transactions()
    assert t.status == "pending" and t.blocking
    assert [(s.seq, s.done, s.undone, s.line) for s in t.steps] == [(0, True, False, 2), (1, False, False, 4)]
    assert t.line == 1 and t.rollback_of is None and t.rolled_back_by is None


def test_a_transaction_id_is_the_local_time_and_four_hex_digits(tmp_path: Path) -> None:
    # The id an admin reads in `swapctl history` and types into `swapctl rollback ID`.
    j = Journal(tmp_path)
    before = time.strftime("%Y%m%dT%H%M%S", time.localtime())
    with j.locked():
        tx = j.begin("create", {})
    after = time.strftime("%Y%m%dT%H%M%S", time.localtime())
    assert re.fullmatch(r"[0-9]{8}T[0-9]{6}-[0-9a-f]{4}", tx), tx
    assert before <= tx[:15] <= after


def test_each_entry_is_one_compact_line_with_its_keys_in_order(tmp_path: Path) -> None:
    # The same transaction always writes the same bytes (diffable, greppable), whatever order the code built it in.
    j = Journal(tmp_path, boot_id="b", kernel="6.1.0")
    with j.locked():
        tx = j.begin("vm set", {"z": 1, "a": 2}, rollback_of="20261201T000000-abcd")
        j.intent(tx, 0, Dummy(b=1, a=2), {"y": 1, "x": 2})
        j.done(tx, 0)
        j.undone(tx, 0, by="20261201T000000-abcd")
        j.end(tx, "aborted")
    lines = j.path.read_text().splitlines()
    assert [json.loads(line)["t"] for line in lines] == ["begin", "intent", "done", "undone", "end"]
    for line in lines:
        assert line == json.dumps(json.loads(line), separators=(",", ":"), sort_keys=True)
    assert lines[0].startswith('{"boot_id":"b","command":"vm set","kernel":"6.1.0","meta":{"a":2,"z":1},')
    assert lines[4] == f'{{"status":"aborted","t":"end","tx":"{tx}"}}'


@pytest.mark.parametrize(
    "when, valid",
    [(0, True), (-0.001, False), ((1 << 34) - 1, True), ((1 << 34) - 0.5, True), (1 << 34, False)],
)
def test_a_begin_time_is_read_from_the_epoch_up_to_the_year_2514(tmp_path: Path, when: float, valid: bool) -> None:
    j = Journal(tmp_path)
    j.path.write_text(json.dumps({"t": "begin", "tx": "a", "time": when}) + "\n")
    if valid:
        assert [t.time for t in j.transactions()] == [float(when)]
    else:
        with pytest.raises(JournalCorrupt, match="line 1 has no valid time"):
            j.transactions()


def test_a_begin_without_a_time_or_names_reads_with_their_defaults(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.path.write_text('{"t":"begin","tx":"a"}\n')
    (t,) = j.transactions()
    assert (t.time, t.command, t.boot_id, t.kernel, t.meta) == (0.0, "?", "", "", {})


def test_line_numbers_count_blank_lines_before_the_damage(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    good = json.dumps({"t": "begin", "tx": "a", "time": 1})
    j.path.write_text(f"\n\n{good}\n  \n\n{good}\n")
    with pytest.raises(JournalCorrupt, match=r"journal.jsonl line 6 begins transaction a a second time"):
        j.transactions()
    j.path.write_text(f"{good}\n{{oops\n")
    with pytest.raises(JournalCorrupt, match=r"line 2 is not a JSON entry"):
        j.transactions()


def test_a_journal_of_exactly_the_size_limit_is_read_and_one_byte_more_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At a cap of 3 MiB (three read chunks) rather than 64, to stay fast; test_journal.py checks the 64 itself.
    monkeypatch.setattr(journal, "MAX_BYTES", 3 << 20)
    j = Journal(tmp_path)
    entry = (json.dumps({"t": "begin", "tx": "a", "time": 1}) + "\n").encode()
    with open(j.path, "wb") as fh:  # one entry, then a blank line up to exactly the cap
        fh.write(entry + b" " * ((3 << 20) - len(entry) - 1) + b"\n")
    assert [t.id for t in j.transactions()] == ["a"] and j.warnings == []
    with open(j.path, "ab") as fh:
        fh.write(b"\n")
    with pytest.raises(JournalCorrupt, match="is larger than 3 MiB: not a journal swapctl wrote"):
        j.transactions()


# --- the state dir, the lock, the files: their modes under any umask --------------------------------------------
def test_what_the_journal_makes_has_its_modes_even_under_umask_0(tmp_path: Path, umask: Any) -> None:
    umask(0)
    j = Journal(tmp_path / "a" / "b" / "state")
    with j.locked():
        j.begin("x", {})
    assert (mode(tmp_path / "a"), mode(tmp_path / "a/b")) == (0o755, 0o755)  # never 0777, which others could swap
    assert mode(j.dir) == 0o700
    assert (mode(j.dir / "lock"), mode(j.path)) == (0o600, 0o600)


def test_the_state_dir_is_0700_even_under_a_umask_that_takes_the_owners_bits(tmp_path: Path, umask: Any) -> None:
    umask(0o277)
    j = Journal(tmp_path / "state")
    with j.locked():
        j.begin("x", {})
    assert mode(j.dir) == 0o700


def test_the_state_dir_is_never_open_to_others_even_before_its_chmod(
    tmp_path: Path, umask: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    umask(0)
    seen: list[int] = []
    real_chmod = os.chmod

    def chmod(path: Any, m: int, **kw: Any) -> None:
        seen.append(mode(Path(path)))
        real_chmod(path, m, **kw)

    monkeypatch.setattr(os, "chmod", chmod)
    with Journal(tmp_path / "state").locked():
        pass
    assert seen == [0o700]


def test_a_state_dir_someone_else_makes_in_the_moment_before_swapctl_does_is_still_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    real_mkdir = Path.mkdir

    # Path.mkdir, not os.mkdir: up to Python 3.10 pathlib holds its own reference to os.mkdir.
    def racing_mkdir(self: Path, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        if self == state and not state.exists():
            real_mkdir(state)
            os.chmod(state, 0o777)  # the other user's, world-writable
        real_mkdir(self, mode, parents, exist_ok)

    monkeypatch.setattr(Path, "mkdir", racing_mkdir)
    with pytest.raises(Refused, match="can be written by other users \\(mode 0777"):
        with Journal(state).locked():
            pass
    assert not (state / "lock").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_state_dir_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chown(state, 1, 1)  # daemon's
    with pytest.raises(Refused, match="owner uid 1\\)"):
        Journal(state).transactions()
    os.chown(state, 0, 0)
    assert Journal(state).transactions() == []


# --- the lock: not a file, concurrent runs, children ------------------------------------------------------------
@pytest.mark.parametrize("name", ["lock", "journal.jsonl"])
@pytest.mark.parametrize("kind", ["directory", "link", "dangling link", "fifo", "socket"])
def test_a_lock_or_journal_that_is_not_a_regular_file_is_refused_and_left_as_it_is(
    tmp_path: Path, name: str, kind: str
) -> None:
    j = Journal(tmp_path / "state")
    j.dir.mkdir(mode=0o700)
    path = j.dir / name
    sock = None
    fds = open_fds()
    if kind == "directory":
        path.mkdir()
    elif kind == "link":
        (tmp_path / "target").write_text("")
        path.symlink_to(tmp_path / "target")
    elif kind == "dangling link":
        path.symlink_to(tmp_path / "nowhere")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
    try:
        with pytest.raises(Refused, match=f"^{re.escape(str(path))} is not a regular file$") as err:
            with j.locked():
                j.begin("x", {})
    finally:
        if sock is not None:
            sock.close()
    assert ("remove it" if name == "lock" else "move it aside") in (err.value.hint or "")
    assert open_fds() == fds
    assert not stat.S_ISREG(os.lstat(path).st_mode)  # left as it was, for the admin to look at
    assert not (tmp_path / "nowhere").exists()  # a link is never followed, not even to create its target
    assert kind != "link" or (tmp_path / "target").read_text() == ""


def test_no_file_descriptor_is_left_open_by_a_run_a_refusal_or_a_timeout(tmp_path: Path) -> None:
    fds = open_fds()
    j = Journal(tmp_path / "state")
    with j.locked():
        tx = j.begin("x", {})
        j.intent(tx, 0, Dummy(), {})
        j.done(tx, 0)
        j.undone(tx, 0)
        j.end(tx, "aborted")
    with open(j.path, "ab") as fh:
        fh.write(b'{"t":"torn')
    with j.locked():  # cuts the torn line
        j.commit(j.begin("y", {}))
    j.transactions()
    other = Journal(j.dir)
    with j.locked():
        with pytest.raises(Refused, match="another swapctl has held"):
            with other.locked(wait_s=0):
                pass
    fifo = Journal(tmp_path / "fifo")
    fifo.dir.mkdir(mode=0o700)
    os.mkfifo(fifo.path)
    with pytest.raises(Refused):
        fifo.transactions()
    os.mkfifo(fifo.dir / "lock")
    with pytest.raises(Refused):
        with fifo.locked():
            pass
    crashed = Journal(tmp_path / "crashed")
    with crashed.locked():
        crashed.begin("z", {})
    with pytest.raises(Refused, match="was left pending"):
        crashed.refuse_if_pending()  # asks whether someone holds the lock, then lets go of it
    assert open_fds() == fds


def test_a_run_that_ends_lets_the_next_one_take_the_lock_at_once(tmp_path: Path) -> None:
    j, other = Journal(tmp_path), Journal(tmp_path)
    with j.locked():
        pass
    with other.locked(wait_s=0):
        with pytest.raises(Refused, match="another swapctl has held"):
            with j.locked(wait_s=0):  # no longer "re-entrant": it waits its turn like any run
                pass
    crashed = Journal(tmp_path / "c")
    with crashed.locked():
        crashed.begin("z", {})
    with pytest.raises(Refused, match="was left pending"):
        crashed.refuse_if_pending()
    with Journal(crashed.dir).locked(wait_s=0):  # the look at the lock holds no part of it
        pass


def test_a_second_run_waits_while_the_first_holds_the_lock_then_takes_it(tmp_path: Path) -> None:
    first, second = Journal(tmp_path), Journal(tmp_path)
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with first.locked():
            taken.set()
            release.wait(5)
            time.sleep(0.4)

    t = threading.Thread(target=hold)
    t.start()
    assert taken.wait(5)
    release.set()
    start, cpu = time.monotonic(), time.process_time()
    with second.locked(wait_s=5):
        waited, spent = time.monotonic() - start, time.process_time() - cpu
    t.join(5)
    assert 0.35 <= waited < 4
    assert spent < waited / 20  # it sleeps between tries: a run waiting its turn for minutes burns no CPU


def test_a_forked_child_does_not_keep_the_lock_after_the_run_ends(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    with j.locked():
        pid = os.fork()
        if pid == 0:  # the child: holds the inherited lock fd until killed
            time.sleep(30)
            os._exit(0)
    try:
        with Journal(tmp_path).locked(wait_s=0):
            pass
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_a_transaction_in_flight_in_another_run_is_waited_for_not_refused_as_a_crash(tmp_path: Path) -> None:
    first, second = Journal(tmp_path), Journal(tmp_path)
    in_flight, go = threading.Event(), threading.Event()

    def run() -> None:
        with first.locked():
            tx = first.begin("vm set", {})
            first.intent(tx, 0, Dummy(), {})
            in_flight.set()
            go.wait(5)
            time.sleep(0.2)
            first.done(tx, 0)
            first.commit(tx)

    t = threading.Thread(target=run)
    t.start()
    assert in_flight.wait(5)
    assert second.pending() is not None  # it looks exactly like a crash
    go.set()
    second.refuse_if_pending()  # waits for the lock, looks again: committed
    t.join(5)
    assert second.pending() is None


def test_a_run_with_nothing_pending_does_not_wait_for_another_runs_lock(tmp_path: Path) -> None:
    first, second = Journal(tmp_path), Journal(tmp_path)
    with first.locked():
        first.commit(first.begin("x", {}))
        start = time.monotonic()
        second.refuse_if_pending()  # would wait for ever (120 s) if it took the lock here
        assert time.monotonic() - start < 2


def test_a_crash_left_by_a_run_while_another_holds_the_lock_is_refused_once_it_lets_go(tmp_path: Path) -> None:
    crashed, holder, second = Journal(tmp_path), Journal(tmp_path), Journal(tmp_path)
    with crashed.locked():
        tx = crashed.begin("x", {})
    held, go = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.locked():
            held.set()
            go.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    assert held.wait(5)
    go.set()
    with pytest.raises(Refused, match=f"transaction {tx} \\(x\\) was left pending"):
        second.refuse_if_pending()
    t.join(5)


# --- what is on disk when: the fsyncs a power cut relies on ----------------------------------------------------
@pytest.fixture
def durable(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """path -> its bytes at its last fsync: what a power cut right now would leave of each file."""
    seen: dict[str, bytes] = {}
    real = os.fsync

    def fsync(fd: int) -> None:
        real(fd)
        path = os.readlink(f"/proc/self/fd/{fd}")
        seen[path] = Path(path).read_bytes() if os.path.isfile(path) else b""

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def test_the_undo_record_is_on_disk_before_the_step_applies_and_every_end_is_too(
    tmp_path: Path, durable: dict[str, bytes]
) -> None:
    j = Journal(tmp_path)
    path = str(j.path)
    with j.locked():
        tx = j.begin("vm set", {})
        j.intent(tx, 0, Dummy(), {"old": 60})
        assert durable[path] == j.path.read_bytes()  # begin and intent: rollback can undo after a power cut
        j.done(tx, 0)
        j.undone(tx, 0)
        assert durable[path] == j.path.read_bytes()
        j.commit(tx)
        assert durable[path] == j.path.read_bytes()
        tx2 = j.begin("vm set", {})
        j.end(tx2, "aborted")
        assert durable[path] == j.path.read_bytes()
    assert [t.status for t in Journal(tmp_path).transactions()] == ["committed", "aborted"]


def test_a_torn_line_cut_off_is_cut_off_on_disk_before_anything_is_appended(
    tmp_path: Path, durable: dict[str, bytes]
) -> None:
    j = Journal(tmp_path)
    with j.locked():
        j.commit(j.begin("x", {}))
    whole = j.path.read_bytes()
    with open(j.path, "ab") as fh:
        fh.write(b'{"t":"begin","tx":"torn"')
    durable.clear()
    with j.locked():
        assert durable == {str(j.path): whole}
        assert j.warnings == [
            f"{j.path}: dropped 24 bytes of a last line cut short (a crash during a write; the entry never took effect)"
        ]


def test_a_whole_journal_is_left_untouched_and_unremarked_when_the_lock_is_taken(
    tmp_path: Path, durable: dict[str, bytes]
) -> None:
    j = Journal(tmp_path)
    with j.locked():
        j.commit(j.begin("x", {}))
    before = (j.path.read_bytes(), j.path.stat().st_mtime_ns)
    durable.clear()
    fresh = Journal(tmp_path)
    with fresh.locked():
        pass
    assert (j.path.read_bytes(), j.path.stat().st_mtime_ns) == before
    assert fresh.warnings == [] and durable == {}
    assert [t.status for t in fresh.transactions()] == ["committed"] and fresh.warnings == []


# --- asking whether another run holds the lock never blocks, follows a link or holds on ------------------------
def _crashed(path: Path) -> Journal:
    j = Journal(path)
    with j.locked():
        j.begin("x", {})
    return j


def test_asking_about_a_lock_that_is_a_fifo_neither_hangs_nor_hides_the_crash(tmp_path: Path) -> None:
    j = _crashed(tmp_path)
    (tmp_path / "lock").unlink()
    os.mkfifo(tmp_path / "lock")  # opened without O_NONBLOCK, it would wait for a writer for ever
    with pytest.raises(Refused, match="was left pending"):
        j.refuse_if_pending()


def test_asking_about_a_lock_that_is_a_link_does_not_follow_it(tmp_path: Path) -> None:
    j = _crashed(tmp_path / "state")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("")
    (j.dir / "lock").unlink()
    (j.dir / "lock").symlink_to(elsewhere)
    fd = os.open(elsewhere, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # someone holds a lock on what the link points at: not swapctl's lock
        with pytest.raises(Refused, match="was left pending"):
            j.refuse_if_pending()
    finally:
        os.close(fd)


def test_a_journal_far_past_the_size_limit_is_refused_after_reading_no_more_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "MAX_BYTES", 2 << 20)
    j = Journal(tmp_path)
    with open(j.path, "wb") as fh:
        fh.truncate(1 << 30)  # sparse: a gigabyte costs nothing until read
    read = 0
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        nonlocal read
        data = real_read(fd, n)
        read += len(data)
        return data

    monkeypatch.setattr(os, "read", counting_read)
    with pytest.raises(JournalCorrupt, match="is larger than 2 MiB"):
        j.transactions()
    assert read <= (2 << 20) + (1 << 20)  # the limit and one read past it, never the gigabyte


def test_refusing_a_crash_without_the_lock_as_a_dry_run_does_changes_nothing(tmp_path: Path) -> None:
    j = _crashed(tmp_path / "state")
    with open(j.path, "ab") as fh:
        fh.write(b'{"t":"intent","tx":"to')  # and a torn last line after it
    before = {p.name: p.read_bytes() for p in j.dir.iterdir()}
    with pytest.raises(Refused, match="was left pending"):
        j.refuse_if_pending()
    assert {p.name: p.read_bytes() for p in j.dir.iterdir()} == before  # the torn line is the next change's to cut
    (j.dir / "lock").unlink()
    with pytest.raises(Refused, match="was left pending"):
        j.refuse_if_pending()
    assert not (j.dir / "lock").exists()  # asking makes no lock file either


def test_a_transaction_that_ends_between_the_look_and_the_lock_check_is_not_refused_as_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of a red CI run: a second run saw the first's transaction in flight, the first committed and let
    go of its lock, and only then did the second look at the lock: free, so it took the stale look for a crash."""
    first, second = Journal(tmp_path), Journal(tmp_path)
    lock = first.locked()
    lock.__enter__()
    tx = first.begin("create", {})
    real = Journal._held_by_another

    def first_finishes_now(self: Journal) -> bool:
        first.commit(tx)
        lock.__exit__(None, None, None)
        return real(self)

    monkeypatch.setattr(Journal, "_held_by_another", first_finishes_now)
    second.refuse_if_pending()  # nothing is pending any more
    assert second.pending() is None


def test_a_transaction_a_crash_left_is_still_refused_with_the_lock_free(tmp_path: Path) -> None:
    crashed = Journal(tmp_path)
    with crashed.locked():
        tx = crashed.begin("create", {})
    with pytest.raises(Refused, match=f"transaction {tx} \\(create\\) was left pending"):
        Journal(tmp_path).refuse_if_pending()


def test_a_transaction_another_run_begins_between_the_two_looks_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run ends its transaction and lets go; a third begins one just after the second run saw the lock
    free: the second's next look finds a transaction it has not seen, which it waits for rather than refuse."""
    first, second, third = Journal(tmp_path), Journal(tmp_path), Journal(tmp_path)
    lock = first.locked()
    lock.__enter__()
    tx = first.begin("create", {})
    real = Journal._held_by_another
    began, calls = threading.Event(), []

    def third_run() -> None:
        with third.locked():
            txc = third.begin("vm set", {})
            began.set()
            time.sleep(0.3)
            third.commit(txc)

    t = threading.Thread(target=third_run)

    def the_race(self: Journal) -> bool:
        calls.append(1)
        if len(calls) > 1:
            return real(self)
        first.commit(tx)
        lock.__exit__(None, None, None)
        free = real(self)
        t.start()
        assert began.wait(5)
        return free

    monkeypatch.setattr(Journal, "_held_by_another", the_race)
    second.refuse_if_pending()
    t.join(5)
    assert second.pending() is None and len(calls) == 2
