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
