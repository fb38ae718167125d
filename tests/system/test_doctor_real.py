"""`swapctl doctor` on the real kernel, with what can be provoked safely: a swap file on this machine's plain disk
(not encrypted at rest), and a child pushed into swap by its own 24 MiB memory cgroup while the machine has
gigabytes free (the cgroup, not the machine, makes it swap)."""

from __future__ import annotations

import json

from tests.system.conftest import RealSwapctl, Workspace
from tests.system.test_top_real import swapped_child  # noqa: F401 - the fixture

__all__ = ["swapped_child"]


def findings(sw: RealSwapctl) -> tuple[int, dict[str, list[dict]]]:
    r = sw("-o", "json", "doctor", "--interval", "0.2")
    assert r.returncode in (0, 4), r
    doc = json.loads(r.stdout)
    by_id: dict[str, list[dict]] = {}
    for f in doc["data"]["findings"]:
        by_id.setdefault(f["id"], []).append(f)
    return r.returncode, by_id


def test_doctor_names_the_cgroup_that_swaps_at_its_limit_and_the_unencrypted_swap_file(
    work: Workspace, swapped_child: tuple[int, str]
) -> None:
    _pid, cgroup = swapped_child
    sw = RealSwapctl(work.state_dir)
    code, by_id = findings(sw)
    assert code == 4 and "no-swap" not in by_id, by_id.keys()
    (group,) = [f for f in by_id.get("cgroup-at-limit-swapping", []) if f["subject"] == cgroup]
    swap = next(e for e in group["evidence"] if e["name"] == "swap")
    assert swap["value"] >= 32 << 20 and swap["source"].endswith(f"{cgroup}/memory.memsw.usage_in_bytes"), swap
    assert group["severity"] == "warning" and any("top --by cgroup" in f for f in group["fix"])
    mine = [f for f in by_id.get("swap-not-encrypted", []) if str(work.swapdir) in f["subject"]]
    assert len(mine) == 1 and mine[0]["severity"] == "warning", by_id.get("swap-not-encrypted")
