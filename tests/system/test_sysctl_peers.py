"""The peer oracle: on every crafted tree, for every vm knob swapctl manages and both boot-time appliers (procps
`sysctl --system`, systemd-sysctl), `swapctl vm get` predicts exactly the writes the real peer makes to /proc/sys.

The contract: `swapctl --root TREE -o json vm get` gives, per row of data.settings, row["persisted"][P]["writes"]
for P in "procps" and "systemd": the writes P makes to /proc/sys/vm/<knob> at boot, in order, each
{"file": the in-machine path of the config file as P opened it, "line": its line as P counts lines, "text": the
bytes P writes without its one trailing newline, decoded UTF-8 with surrogateescape}. Consecutive equal texts are
compared as one (systemd skips a write the file already holds)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import privileged
from tests.pairs import pairs
from tests.system.sysctl_peers import (
    PEERS,
    LiveGuard,
    Oracle,
    compare_tree,
    observed,
    report,
    run_peers,
    swapctl_vm_get,
    unavailable,
)
from tests.system.sysctl_trees import KNOBS, family, generate, host_tree

pytestmark = privileged

MAX_REPORTS = 6


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Oracle, dict[str, Any]]:
    """Both peers on every tree (and on a copy of this machine's own files), and swapctl's answer for each."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    before = LiveGuard.read()
    trees = [*generate(), host_tree()]
    base = tmp_path_factory.mktemp("sysctl-trees")
    for t in trees:
        t.write(base / t.id)
    result = run_peers(trees)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = dict(pairs((t.id for t in trees), pool.map(lambda t: swapctl_vm_get(base / t.id), trees)))
    result.guard_notes.append(
        f"live before {len(before)} values, after: {'unchanged' if LiveGuard.read() == before else 'CHANGED'}"
    )
    return result, answers


def test_the_peers_wrote_only_the_fake_proc_sys(oracle) -> None:
    result, _ = oracle
    # run_peers raises LiveSysctlChanged (after writing the values back) if a live value moved under it.
    assert not [n for n in result.guard_notes if "CHANGED" in n], result.guard_notes
    problems = [
        (tid, peer, run.problems) for tid, runs in result.runs.items() for peer, run in runs.items() if run.problems
    ]
    assert not problems, problems[:5]
    writes = sum(len(run.writes) for runs in result.runs.values() for run in runs.values())
    assert writes > 1000, f"only {writes} writes recorded: the oracle is not seeing the peers"


def test_the_oracle_sees_both_peers_apply_a_plain_assignment(oracle) -> None:
    result, _ = oracle
    tree = next(t for t in result.trees if "mask.same-name.etc-over-run" in t.tags)
    (path,) = [p for p, e in tree.entries.items() if p.startswith("etc/sysctl.d/") and e.kind == "file"]
    key, text = tree.entries[path].data.decode().strip().split(" = ")
    for peer, run in result.runs[tree.id].items():
        assert observed(run, key.removeprefix("vm.")) == [(text, [("/" + path, 1)])], peer


def _disagreements(oracle, peer: str) -> tuple[list[str], Counter, Counter]:
    result, answers = oracle
    reports, bad_tags, all_tags = [], Counter(), Counter()
    for tree in result.trees:
        run = result.runs[tree.id][peer]
        rows, error = answers[tree.id]
        seen = {peer: {k: observed(run, k) for k in KNOBS}}
        found = compare_tree(seen, rows)
        all_tags.update(tree.tags)
        if not found:
            continue
        bad_tags.update(tree.tags)
        for _, knob, why in found[:1]:
            reports.append(
                report(
                    tree.id,
                    tree.tags,
                    tree.listing(),
                    peer,
                    knob,
                    why + (f" (swapctl: {error})" if error else ""),
                    seen[peer][knob],
                    run.rc,
                    rows.get(f"vm.{knob}"),
                )
            )
    return reports, bad_tags, all_tags


@pytest.mark.parametrize("peer", list(PEERS))
def test_swapctl_predicts_every_write_the_peer_makes_at_boot(oracle, peer: str) -> None:
    reports, bad, total = _disagreements(oracle, peer)
    if reports:
        by_class = ", ".join(
            f"{tag} {bad[tag]}/{total[tag]}"
            for tag in sorted(bad, key=lambda t: -bad[t])
            if family(tag) == tag or tag.startswith("layout.")
        )
        pytest.fail(
            f"{len(reports)} of {len(oracle[0].trees)} trees disagree with the real {peer} "
            f"({PEERS[peer].argv[0]}); by class: {by_class}\n\n" + "\n\n".join(reports[:MAX_REPORTS]),
            pytrace=False,
        )


def test_the_whole_oracle_runs_in_well_under_a_minute(oracle) -> None:
    result, _ = oracle
    # The bound is loose on purpose (a busy machine); a normal run takes about 12 s on 2 CPUs.
    assert result.seconds < 60, f"both peers on {len(result.trees)} trees took {result.seconds:.1f} s"
