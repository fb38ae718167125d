"""`swapctl history` and `swapctl rollback` as an admin reads them: what each transaction did or undid."""

from __future__ import annotations

import json
from pathlib import Path

from swapctl.ops.fstab import FstabSet, fstab_set


def tx_of(result) -> str:
    return json.loads(result.stdout)["transaction"]


def test_history_says_what_a_rollback_undid(cli) -> None:
    created = tx_of(cli("-o", "json", "create", "/swapfile", "--size", "16M"))
    removed = tx_of(cli("-o", "json", "remove", "/swapfile"))
    back1 = tx_of(cli("-o", "json", "rollback"))
    back2 = tx_of(cli("-o", "json", "rollback"))
    rows = {line.split()[0]: line for line in cli("history").stdout.splitlines() if line.strip()[:1].isdigit()}
    assert f"undo of {removed} (remove)" in rows[back1]
    assert f"undo of {created} (create)" in rows[back2]


def test_history_in_json_names_the_command_a_rollback_undid(cli) -> None:
    created = tx_of(cli("-o", "json", "create", "/swapfile", "--size", "16M"))
    cli("rollback")
    txs = json.loads(cli("-o", "json", "history").stdout)["data"]["transactions"]
    assert (txs[0]["command"], txs[0]["rollback_of"], txs[0]["rollback_of_command"]) == ("rollback", created, "create")
    assert txs[1]["rollback_of_command"] is None


def test_rolling_back_a_create_says_it_removes_the_fstab_line(cli) -> None:
    cli("create", "/swapfile", "--size", "16M", "-p", "7")
    out = cli("rollback").stdout
    assert "+ restore /etc/fstab (remove the line for /swapfile)" in out.splitlines(), out
    assert "undo:" not in out


def test_rolling_back_a_remove_says_which_fstab_line_it_puts_back(cli) -> None:
    cli("create", "/swapfile", "--size", "16M", "-p", "7")
    cli("remove", "/swapfile")
    out = cli("rollback", "--dry-run").stdout
    assert "~ restore /etc/fstab (put back: /swapfile none swap defaults,pri=7 0 0)  [planned]" in out.splitlines()


def test_rolling_back_a_create_that_replaced_an_fstab_line_says_it_puts_the_old_one_back(cli, root: Path) -> None:
    with open(root / "etc/fstab", "a") as fh:
        fh.write("/swapfile none swap sw 0 0\n")
    cli("create", "/swapfile", "--size", "16M", "-p", "7")
    out = cli("rollback").stdout
    assert "+ restore /etc/fstab (put back: /swapfile none swap sw 0 0)" in out.splitlines(), out
    assert (root / "etc/fstab").read_text().endswith("/swapfile none swap sw 0 0\n")


def test_the_fstab_undo_is_described_without_its_journal_record_too() -> None:
    # Before a rollback has read the record (an undo failing while the plan itself is undone, say).
    assert fstab_set("/swapfile", None).undo_description() == "restore /etc/fstab (put back the line for /swapfile)"
    assert (
        FstabSet(path="/etc/fstab", swap="/swapfile", line="/swapfile none swap defaults 0 0").undo_description()
        == "restore /etc/fstab (remove the line for /swapfile, or put back the one it replaced)"
    )
