"""Concurrency on the real kernel: many swapctl processes at once (create, vm set, rollback) against one state
dir serialize on the lock; none is lost or deadlocked, the journal stays parseable, every transaction is
accounted for, and rolling every committed one back in turn restores the machine. Figures: docs/RELIABILITY.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from swapctl.core.journal import Journal
from tests.conftest import privileged
from tests.figures import report
from tests.system.conftest import RealSwapctl, Workspace
from tests.system.realstate import machine_state, read_vm, state_diff, sysctl_guard

pytestmark = [privileged, pytest.mark.privileged]

ROUNDS = 2
WORKERS = 8  # per round: 4 create, 2 vm set, 2 rollback
TIMEOUT_S = 150  # above the lock's own 120 s wait: a deadlock shows as a timeout, not as a refusal


def _start(work: Workspace, args: list[str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWAPCTL_")}
    return subprocess.Popen(
        [sys.executable, "-m", "swapctl", "--state-dir", str(work.state_dir), "-o", "json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        cwd="/",
    )


def _jobs(work: Workspace, round_: int, start_swappiness: int) -> list[list[str]]:
    jobs = []
    for i in range(WORKERS):
        kind = ("create", "create", "vm", "rollback")[i % 4]
        if kind == "create":
            jobs.append(["create", str(work.swapdir / f"r{round_}-{i}"), "--size", "16M", "-p", str(10 + i)])
        elif kind == "vm":
            value = next(v for v in range(11 + 10 * round_ + i, 100) if v != start_swappiness)
            jobs.append(["vm", "set", f"swappiness={value}"])
        else:
            jobs.append(["rollback"])
    return jobs


def test_concurrent_creates_sets_and_rollbacks_serialize_and_can_all_be_rolled_back(
    swapctl: RealSwapctl, work: Workspace
) -> None:
    with sysctl_guard():
        start = machine_state(work)
        outputs: list[tuple[list[str], int, dict]] = []
        longest = 0.0
        for round_ in range(ROUNDS):
            jobs = _jobs(work, round_, read_vm("swappiness"))
            began = time.monotonic()
            procs = [(args, _start(work, args)) for args in jobs]
            finished = []
            for args, proc in procs:
                try:
                    out, err = proc.communicate(timeout=TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    for _, p in procs:
                        p.kill()
                    pytest.fail(f"swapctl {' '.join(args)} did not finish in {TIMEOUT_S} s: deadlocked?")
                finished.append((args, proc.returncode, out, err))
            summary = "\n".join(f"{a} -> {rc}: {e.strip()}" for a, rc, _o, e in finished)
            for args, returncode, out, err in finished:
                assert returncode in (0, 3), summary
                assert "Traceback" not in err
                doc = json.loads(out)
                if returncode == 3:
                    # Only a rollback may refuse: a sysctl another run moved since (compare-and-swap).
                    assert args[0] == "rollback" and "someone changed it" in doc["error"]["message"], summary
                outputs.append((args, returncode, doc))
            longest = max(longest, time.monotonic() - began)

        # The journal parses, line by line and as transactions, and nothing is left half-done.
        lines = (work.state_dir / "journal.jsonl").read_text().splitlines()
        assert all(json.loads(line) for line in lines)
        journal = Journal(work.state_dir)
        txs = {tx.id: tx for tx in journal.transactions()}
        assert journal.pending() is None
        # Every transaction a process reported is in the journal, with its command; and no other.
        reported = {doc["transaction"]: (args, doc) for args, rc, doc in outputs if doc["transaction"]}
        assert set(reported) == set(txs), set(reported) ^ set(txs)
        for tx_id, (args, doc) in reported.items():
            assert txs[tx_id].command == {"vm": "vm set"}.get(args[0], args[0])
            if args[0] == "rollback":
                assert txs[tx_id].rollback_of == doc["data"]["target"]
        creates = [a for a, rc, d in outputs if a[0] == "create"]
        assert all(rc == 0 for a, rc, d in outputs if a[0] in ("create", "vm"))
        # Each create's file is there exactly when its transaction was not rolled back.
        for args, _rc, doc in outputs:
            if args[0] == "create":
                alive = txs[doc["transaction"]].status == "committed"
                assert os.path.exists(args[1]) == alive, (args[1], txs[doc["transaction"]].status)

        # Roll back everything still committed, newest first, one run at a time.
        undone = 0
        for _ in range(len(txs) + 1):
            r, doc = swapctl.json("rollback")
            assert r.returncode == 0, str(r)
            if not doc["changed"]:
                break
            undone += 1
        end = machine_state(work)
        assert end == start, state_diff(start, end)
        report(
            "concurrency",
            processes=len(outputs),
            rounds=ROUNDS,
            creates=len(creates),
            transactions=len(txs),
            journal_lines=len(lines),
            rollbacks_refused_cas=sum(1 for a, rc, d in outputs if rc == 3),
            rolled_back_after=undone,
            longest_round_s=round(longest, 1),
            lost=0,
            deadlocks=0,
        )
