from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from swapctl.core.errors import Refused
from swapctl.core.journal import Journal, JournalCorrupt
from swapctl.core.plan import Step


class Dummy(Step):
    kind = "dummy-test"

    def describe(self) -> str:
        return "dummy"


def test_a_committed_transaction_reads_back_with_its_steps(tmp_path: Path) -> None:
    j = Journal(tmp_path / "state", boot_id="b1", kernel="6.18")
    with j.locked():
        tx = j.begin("create", {"x": 1})
        j.intent(tx, 0, Dummy(a=1), {"old": 2})
        j.done(tx, 0)
        j.commit(tx)
    (t,) = j.transactions()
    assert (t.id, t.status, t.boot_id, t.kernel) == (tx, "committed", "b1", "6.18")
    assert t.steps[0].done and t.steps[0].record == {"old": 2} and t.steps[0].step["params"] == {"a": 1}
    assert j.pending() is None


def test_the_state_dir_and_journal_are_root_only(tmp_path: Path) -> None:
    j = Journal(tmp_path / "state")
    with j.locked():
        j.begin("x", {})
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE(j.path.stat().st_mode) == 0o600


def test_a_transaction_without_an_end_is_pending_and_blocks_changes(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    with j.locked():
        tx = j.begin("create", {})
        j.intent(tx, 0, Dummy(), {})
    assert j.pending().id == tx
    with pytest.raises(Refused, match="pending") as err:
        j.refuse_if_pending()
    assert f"swapctl rollback {tx}" in err.value.hint


def test_a_torn_last_line_from_a_crash_is_ignored(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    with j.locked():
        tx = j.begin("create", {})
        j.commit(tx)
    with open(j.path, "a") as fh:
        fh.write('{"t":"intent","tx":"x","se')
    assert [t.status for t in j.transactions()] == ["committed"]


def test_garbage_in_the_middle_of_the_journal_is_reported(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.path.write_text("not json\n" + json.dumps({"t": "begin", "tx": "a"}) + "\n")
    with pytest.raises(JournalCorrupt):
        j.transactions()


def test_a_committed_rollback_marks_its_target_rolled_back(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    with j.locked():
        a = j.begin("create", {})
        j.commit(a)
        r = j.begin("rollback", {}, rollback_of=a)
        j.commit(r)
    by_id = {t.id: t for t in j.transactions()}
    assert by_id[a].status == "rolled-back" and by_id[a].rolled_back_by == r


# --- the state dir, the lock and the file: only where no one else can forge them -----------------------------
def test_a_state_dir_others_can_write_or_that_is_no_directory_is_refused(tmp_path: Path) -> None:
    import os

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    with pytest.raises(Refused, match="can be written by other users \\(mode 0777"):
        Journal(shared).pending()
    os.chmod(shared, 0o755)
    assert Journal(shared).pending() is None  # 0755 is fine: only the owner writes
    (tmp_path / "file").write_text("")
    with pytest.raises(Refused, match="is not a directory"):
        Journal(tmp_path / "file").pending()
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    with pytest.raises(Refused, match="is a link to nothing"):
        Journal(tmp_path / "dangling").pending()
    assert Journal(tmp_path / "missing").transactions() == [] and not (tmp_path / "missing").exists()


def test_a_lock_or_journal_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    import os

    j = Journal(tmp_path / "state")
    (tmp_path / "state").mkdir(mode=0o700)
    os.mkfifo(tmp_path / "state/lock")  # opened non-blocking: a FIFO cannot hang the run
    with pytest.raises(Refused, match="lock is not a regular file"):
        with j.locked():
            pass
    (tmp_path / "state/lock").unlink()
    os.mkfifo(tmp_path / "state/journal.jsonl")
    with pytest.raises(Refused, match="journal.jsonl is not a regular file"):
        j.transactions()


def test_a_second_run_waits_for_the_lock_and_gives_up_naming_it(tmp_path: Path) -> None:
    first, second = Journal(tmp_path), Journal(tmp_path)
    with first.locked():
        with first.locked():  # re-entrant in one run
            pass
        with pytest.raises(Refused, match="another swapctl has held .*lock for over 0 s"):
            with second.locked(wait_s=0.1):
                pass
    with second.locked(wait_s=0.1):  # free again
        tx = second.begin("x", {})
    assert [t.id for t in second.transactions()] == [tx]


def test_a_torn_last_line_is_cut_off_before_the_next_entry_and_said_once(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    with j.locked():
        a = j.begin("create", {})
        j.commit(a)
    with open(j.path, "ab") as fh:
        fh.write(b'{"t":"begin","tx":"torn"')
    assert [t.id for t in j.transactions()] == [a]
    assert any("a last line cut short" in w for w in j.warnings)
    with j.locked():
        b = j.begin("create", {})
    assert [t.id for t in j.transactions()] == [a, b] and b"torn" not in j.path.read_bytes()
    assert any("dropped 24 bytes of a last line cut short" in w for w in j.warnings)
    nul = Journal(tmp_path / "n")
    with nul.locked():
        nul.begin("x", {})
    with open(nul.path, "ab") as fh:
        fh.write(b"\0\0\0")
    nul.transactions()
    assert any("ends in a tail of NUL bytes" in w for w in nul.warnings)


@pytest.mark.parametrize(
    "lines, why",
    [
        (['{"t":"begin","tx":"../x","time":1}'], "line 1 has no valid transaction id"),
        (['{"t":"begin","tx":"a","time":1}', '{"t":"begin","tx":"a","time":1}'], "line 2 begins transaction a a"),
        (['{"t":"begin","tx":"a","time":1}', '{"t":"oops","tx":"a"}'], "line 2 has an unknown entry type 'oops'"),
        (['{"t":"begin","tx":"a","time":1}', '{"t":"end","tx":"a","status":"fine"}'], "unknown status 'fine'"),
        (['{"t":"begin","tx":"a","time":1}', '{"t":"done","tx":"a","seq":-1}'], "has no valid step number"),
        (['{"t":"begin","tx":"a","time":1}', '{"t":"done","tx":"a","seq":true}'], "has no valid step number"),
        (['{"t":"begin","tx":"a","time":1}', '{"t":"done","tx":"a","seq":1048576}'], "has no valid step number"),
        (['{"t":"begin","tx":"a","time":1}', '{"t":"intent","tx":"a","seq":0,"step":{"kind":1}}'], "not {kind"),
        (
            ['{"t":"begin","tx":"a","time":1}', '{"t":"undone","tx":"a","seq":0,"by":"../b"}'],
            "no valid transaction in by",
        ),
        (['{"t":"begin","tx":"a","time":NaN}'], "line 1 is not a JSON entry"),
        (['{"t":"begin","tx":"a","time":1e300}'], "has no valid time"),
        (['{"t":"begin","tx":"a","time":true}'], "has no valid time"),
        (['{"t":"begin","tx":"a","time":1,"command":5}'], "has a command that is not text"),
        (['{"t":"begin","tx":"a","time":1,"meta":[]}'], "has a meta that is not an object"),
        (['{"t":"begin","tx":"a","time":1,"rollback_of":"../b"}'], "names no valid transaction in rollback_of"),
        (["[1]"], "line 1 is a JSON list, not an entry"),
        (["\udcff".encode("utf-8", "surrogateescape").decode("latin-1")], "line 1 is not valid UTF-8"),
    ],
)
def test_a_line_swapctl_did_not_write_is_refused_naming_it(tmp_path: Path, lines: list[str], why: str) -> None:
    j = Journal(tmp_path)
    j.path.write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    with pytest.raises(JournalCorrupt, match=re_escape(why)) as err:
        j.transactions()
    assert "move" in (err.value.hint or "")


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_entries_of_a_pruned_transaction_are_left_out_with_a_warning_and_an_orphan_rollback_is_ignored(
    tmp_path: Path,
) -> None:
    j = Journal(tmp_path)
    j.path.write_text(
        '{"t":"done","tx":"gone","seq":0}\n'
        '{"t":"begin","tx":"r","time":1,"command":"rollback","rollback_of":"gone"}\n'
        '{"t":"begin","tx":"c","time":2,"command":"create"}\n'
        '{"t":"end","tx":"c","status":"committed"}\n'
    )
    by_id = {t.id: t for t in j.transactions()}
    assert by_id["r"].status == "orphaned" and by_id["c"].status == "committed" and j.pending() is None
    assert any("1 entry of transactions the journal no longer begins" in w for w in j.warnings)
    assert any("rollback r" in w and "no longer in the journal" in w for w in j.warnings)


def test_an_undo_that_failed_blocks_like_a_pending_transaction_and_an_abort_does_not(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    with j.locked():
        a = j.begin("create", {})
        j.end(a, "aborted")
        b = j.begin("create", {})
        j.end(b, "undo-failed")
    assert j.pending().id == b and j.pending().blocking
    with pytest.raises(Refused, match=f"transaction {b} \\(create\\) was left undo-failed"):
        j.refuse_if_pending()
    assert not {t.id: t for t in j.transactions()}[a].blocking


def test_a_journal_larger_than_swapctl_writes_is_refused(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    with open(j.path, "wb") as fh:
        fh.truncate((64 << 20) + 1)
    with pytest.raises(JournalCorrupt, match="is larger than 64 MiB"):
        j.transactions()
