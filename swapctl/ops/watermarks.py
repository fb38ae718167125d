"""The `watermarks` and `numa` views: every zone against its watermarks, the kernel's rule for them, an exact
what-if of a new min_free_kbytes or watermark_scale_factor, and why a NUMA machine swaps with memory free. The
arithmetic is kernel/mm.py; the machine is read once (system/memory.py); nothing here reads a file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swapctl.core.errors import Refused, UsageError
from swapctl.core.units import format_bytes
from swapctl.kernel import mm
from swapctl.kernel.knobs import KNOBS, check_assignments
from swapctl.kernel.mm import Marks, MinFreeFacts, Zone, zone_state
from swapctl.kernel.version import Version
from swapctl.system.memory import MemoryReading
from swapctl.system.numa import Nodes

WHAT_IF_KEYS = ("min_free_kbytes", "watermark_scale_factor")
SETTINGS = ("min_free_kbytes", "watermark_scale_factor", "watermark_boost_factor", "zone_reclaim_mode")


def snapshot_warnings(snap: MemoryReading) -> list[str]:
    """What a --root snapshot leaves to assumption."""
    out = []
    if not snap.release:
        out.append("the snapshot has no proc/sys/kernel/osrelease: assuming the newest kernel's rules")
    if snap.page_size_source == "assumed":
        out.append(
            "page size not derivable from the snapshot (proc/meminfo MemTotal / managed pages): assuming 4096 bytes"
        )
    return out


def parse_what_if(items: Sequence[str], version: Version | None, release: str = "") -> dict[str, int]:
    """--what-if KEY=VALUE items -> {key: value}: the assignments `vm set` takes, by the same parser and range
    table, restricted to plain values of the knobs that move watermarks; anything else exits 2."""
    out: dict[str, int] = {}
    for a in check_assignments(
        items, version, release, keys=WHAT_IF_KEYS, outside="does not set watermarks", values_only=True
    ):
        if isinstance(a, UsageError):
            raise UsageError(f"--what-if: {a.message}", hint=a.hint)
        out[a.knob.name] = a.value
    return out


# The share of RAM the high watermarks may keep free before we note it: past it kswapd keeps reclaiming (and
# swapping) to hold that much free. This is about cost, not safety: whether a min_free_kbytes is safe is
# `vm set`'s safe limit (kernel/mm.py min_free_facts), the one line both commands draw.
HIGH_SHARE_WARN = 0.10


def _totals(zones: Sequence[Zone], page_size: int) -> dict[str, int]:
    out = {
        k: sum(getattr(z, k) for z in zones) for k in ("free", "min", "low", "high", "managed", "present", "spanned")
    }
    out.update({f"{k}_bytes": v * page_size for k, v in list(out.items())})
    return out


def build_view(
    snap: MemoryReading, node: int | None = None, what_if: dict[str, int] | None = None
) -> tuple[dict, list[str]]:
    """The data of `swapctl watermarks` (zones, totals per node and machine, settings, rule, what-if)
    and its warnings."""
    zones = snap.whole_zones()
    rules = snap.rules
    nodes = sorted({z.node for z in zones})
    if node is not None and node not in nodes:
        raise UsageError(f"node {node} does not exist", hint=f"nodes: {', '.join(map(str, nodes))}")
    warnings = snapshot_warnings(snap)
    ps = snap.page_size
    mfk, wsf = snap.values.get("min_free_kbytes"), snap.values.get("watermark_scale_factor")
    # What a recompute with today's settings would give: the printed marks came from the managed counts at
    # the last recompute (boot, or the last sysctl write / hotplug), and managed drifts after boot.
    current_pred = None
    if mfk is not None and (wsf is not None or rules < mm.V4_6):
        current_pred = mm.predict(zones, mfk, wsf or 10, rules, ps)
    predicted = None
    after: dict[str, int | None] = {}
    if what_if:
        warnings.extend(doubt for k, v in what_if.items() if (doubt := KNOBS[k].doubt_about(v, snap.version)))
        after = {
            "min_free_kbytes": what_if.get("min_free_kbytes", mfk),
            "watermark_scale_factor": what_if.get("watermark_scale_factor", wsf),
        }
        missing = [k for k, v in after.items() if v is None and not (k == "watermark_scale_factor" and rules < mm.V4_6)]
        if missing:
            raise Refused(
                f"cannot predict: the snapshot has no proc/sys/vm/{missing[0]}",
                hint=f"give it too: --what-if {missing[0]}=VALUE",
            )
        mfk_after = after["min_free_kbytes"]
        assert mfk_after is not None  # `missing` refused it
        predicted = mm.predict(zones, mfk_after, after["watermark_scale_factor"] or 10, rules, ps)
    ratios = snap.lowmem_reserve_ratio
    rows = []
    for i, z in enumerate(zones):
        if node is not None and z.node != node:
            continue
        row = {
            "node": z.node,
            "zone": z.name,
            "free": z.free,
            "min": z.min,
            "low": z.low,
            "high": z.high,
            "promo": z.promo,
            "boost": z.boost,
            "managed": z.managed,
            "present": z.present,
            "spanned": z.spanned,
            "protection": list(z.protection),
            "state": zone_state(z),
        }
        if predicted is not None:
            p = predicted[i]
            # The kernel computes WMARK_PROMO from 5.18 but prints it only from 6.12: a promo nobody can
            # read back (or compare with) is left out, as the current column leaves it out.
            row["predicted"] = {
                "min": p.min,
                "low": p.low,
                "high": p.high,
                "promo": p.promo if z.promo is not None else None,
            }
        rows.append(row)
    shown_nodes = nodes if node is None else [node]
    node_totals = [{"node": n, **_totals([z for z in zones if z.node == n], ps)} for n in shown_nodes]
    data: dict = {
        "kernel": snap.release or None,
        "page_size": ps,
        "page_size_source": snap.page_size_source,
        "rule": mm.rule_name(rules),
        "settings": {
            **{k: snap.values.get(k) for k in SETTINGS},
            "lowmem_reserve_ratio": ratios,
            "transparent_hugepage": snap.thp,
        },
        "zones": rows,
        "nodes": node_totals,
        "totals": _totals(zones, ps),
    }
    # The value the kernel would pick itself; with THP on (or unknown, as in most snapshots) also the one
    # khugepaged raises it to, which is what a default machine with THP shows.
    d = mm.default_min_free_kbytes(
        zones, ps, None if snap.thp is None else snap.thp != "never", len(nodes), kernel_version=rules
    )
    data["settings"]["min_free_kbytes_default"] = {
        "kernel": d.kernel,
        "khugepaged": d.khugepaged,
        "effective": d.kernel if snap.thp == "never" else d.effective,
    }
    if current_pred is not None:
        drift = [
            z.key
            for z, p in zip(zones, current_pred)
            if (z.min - (z.boost or 0), z.low - (z.boost or 0), z.high - (z.boost or 0)) != (p.min, p.low, p.high)
        ]
        data["recompute_differs"] = drift
    boosted = [z.key for z in zones if z.boost]
    if boosted:
        warnings.append(
            f"watermarks boosted (watermark_boost_factor) in {', '.join(boosted)}: "
            "kswapd reclaims past the normal high mark until the boost decays"
        )
    pressed = [f"{r['node']}/{r['zone']}" for r in rows if r["state"] in ("below_low", "below_min")]
    if pressed:
        warnings.append(f"below the low watermark now: {', '.join(pressed)}")
    if predicted is not None:
        limit = snap.min_free if what_if and "min_free_kbytes" in what_if else None
        data["what_if"] = _what_if_summary(snap, zones, predicted, after, limit, warnings)
    return data, warnings


def _what_if_summary(
    snap: MemoryReading,
    zones: Sequence[Zone],
    predicted: Sequence[Marks],
    after: dict[str, int | None],
    limit: MinFreeFacts | None,
    warnings: list[str],
) -> dict:
    """before/after totals; `limit` is vm set's MinFreeFacts when the what-if sets min_free_kbytes."""
    ps = snap.page_size
    before_min = sum(z.min for z in zones)
    before_high = sum(z.high for z in zones)
    after_min = sum(p.min for p in predicted)
    after_high = sum(p.high for p in predicted)
    managed = sum(z.managed for z in zones) or 1
    summary = {
        "before": {
            "min_free_kbytes": snap.values.get("min_free_kbytes"),
            "watermark_scale_factor": snap.values.get("watermark_scale_factor"),
        },
        "after": after,
        "min_pages": {"before": before_min, "after": after_min, "change": after_min - before_min},
        "high_pages": {"before": before_high, "after": after_high, "change": after_high - before_high},
        "min_bytes_change": (after_min - before_min) * ps,
        "high_bytes_change": (after_high - before_high) * ps,
        "high_share_of_ram": round(after_high / managed, 4),
        "min_share_of_ram": round(after_min / managed, 4),
        "min_free_kbytes_safe_limit": limit.safe_limit if limit is not None else None,
    }
    value = after["min_free_kbytes"]
    # Same comparison as ops/vm_set.judge_min_free, so the what-if and `vm set` never disagree.
    if limit is not None and value is not None and value > limit.safe_limit:
        warnings.append(
            f"min_free_kbytes={value} is above the safe limit of {limit.safe_limit} kB "
            f"({mm.SAFE_SHARE_PERCENT}% of the {limit.basis_kb} kB of {limit.basis}): `swapctl vm set` "
            "would refuse it without --force; so large a reserve can deadlock the kernel "
            "(measured: 262144 on a 512 MiB machine panicked)"
        )
    if after_high / managed >= HIGH_SHARE_WARN:
        warnings.append(
            f"the new high watermarks keep {after_high / managed:.0%} of RAM free "
            f"({format_bytes(after_high * ps)}): kswapd will reclaim (and swap) to hold that much"
        )
    for z, p in zip(zones, predicted):
        if z.managed and p.high >= z.managed:
            warnings.append(
                f"node {z.node} zone {z.name}: the new high watermark ({p.high} pages) is at or "
                f"above the zone's managed pages ({z.managed}): kswapd can never satisfy it"
            )
    return summary


# --- NUMA ---------------------------------------------------------------------------------------------
def build_numa(snap: MemoryReading, sysfs: Nodes) -> tuple[dict, list[str]]:
    """The data of `swapctl numa`: nodes with memory, distances, zone states, zone_reclaim_mode and the
    answer to "why does this machine swap while memory is free?"."""
    zones = snap.whole_zones()
    warnings = snapshot_warnings(snap)
    ps = snap.page_size
    ids = sysfs.ids or sorted({z.node for z in zones})
    has_memory, has_cpu = sysfs.has_memory, sysfs.has_cpu
    nodes: list[dict[str, Any]] = []
    for n in ids:
        zs = [z for z in zones if z.node == n]
        info = sysfs.info.get(n)
        mi = info.meminfo if info else None
        populated = [z for z in zs if z.managed]
        states = {z.name: zone_state(z) for z in populated}
        pressed = [z.name for z in populated if zone_state(z) in ("below_low", "below_min")]
        nodes.append(
            {
                "node": n,
                "mem_total": mi.get("MemTotal") if mi else sum(z.managed for z in zs) * ps,
                "mem_free": mi.get("MemFree") if mi else sum(z.free for z in zs) * ps,
                "mem_used": mi.get("MemUsed") if mi else None,
                "free_pages": sum(z.free for z in populated),
                "low_pages": sum(z.low for z in populated),
                "high_pages": sum(z.high for z in populated),
                "distances": info.distances if info else None,
                "cpus": info.cpus if info else None,
                "has_memory": (n in has_memory) if has_memory is not None else bool(populated),
                "has_cpu": (n in has_cpu) if has_cpu is not None else None,
                "zones": states,
                "below_low": pressed,
            }
        )
    mode = snap.values.get("zone_reclaim_mode")
    zrm = mm.decode_zone_reclaim_mode(mode)
    short = [n for n in nodes if n["below_low"]]
    roomy = [n for n in nodes if n["has_memory"] and not n["below_low"] and n["free_pages"] > n["high_pages"]]
    answer: list[str] = []
    if short and roomy:
        s_txt = ", ".join(f"node {n['node']} ({'/'.join(n['below_low'])})" for n in short)
        r_txt = ", ".join(f"node {n['node']} ({format_bytes(n['free_pages'] * ps)} free)" for n in roomy)
        answer.append(
            f"{s_txt} is below its low watermark while {r_txt} has memory to spare: kswapd of each "
            "node balances that node's own zones, so it reclaims (and may swap) on the short node "
            "whatever the others hold."
        )
        if mode:
            answer.append(
                f"zone_reclaim_mode={mode} makes the kernel reclaim{' and swap' if mode & 4 else ''} "
                "on the local node before allocating from a remote one: this is the usual cause. "
                "Setting it to 0 lets allocations spill to the free node instead."
            )
        else:
            answer.append(
                "zone_reclaim_mode=0, so ordinary allocations already spill over to the free node; "
                "local pressure then comes from a memory policy or cpuset binding tasks to the "
                "short node (numactl --membind, mbind, cpuset.mems) or from its kswapd catching up."
            )
    elif short:
        answer.append(
            "every node with memory is below its low watermark: the whole machine is short, swapping is expected."
        )
    else:
        answer.append(
            "no node is below its low watermark now. Swapping while memory is free then comes from "
            "a cgroup limit (memory.max / memory.high reclaim within the group, whatever the "
            "machine has free), from boosted watermarks after fragmentation "
            "(watermark_boost_factor), or from pressure that has since passed."
        )
    if any(z.boost for z in zones):
        answer.append(
            "some zones have a watermark boost now: kswapd reclaims past the usual high mark "
            "until it decays; watermark_boost_factor=0 disables boosting."
        )
    data = {
        "nodes": nodes,
        "zone_reclaim_mode": zrm,
        "page_size": ps,
        "numa": len(ids) > 1,
        "why_swap_while_free": answer,
    }
    if len(ids) <= 1:
        answer.insert(0, "one memory node: NUMA imbalance cannot explain swapping here.")
    return data, warnings
