"""Verdict rules of `swapctl stress`, over samples recorded from real runs on the 6.18 development VM."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest

from swapctl.ops.stress import StressRequest, judge, live_view, summarize

RECORDINGS = Path(__file__).resolve().parent.parent / "fixtures" / "stress"


def load(name: str) -> dict:
    return json.loads((RECORDINGS / f"{name}.json").read_text())


def request(rec: dict, **changes) -> StressRequest:
    return replace(StressRequest(**rec["request"]), **changes)


def verdict_of(rec: dict, req: StressRequest | None = None, samples: list | None = None) -> tuple[str, list[str]]:
    req = req or request(rec)
    summary = summarize(samples or rec["samples"], req, swap_active=rec["swap_active"], filled=rec["filled"])
    summary["worker"] = rec["worker"]
    return judge(summary, req)


def bump(samples: list, counter: str, by: int, where: str = "vmstat") -> list:
    """The same recording with one counter raised by `by` at the last sample."""
    out = copy.deepcopy(samples)
    out[-1][where][counter] = out[-1][where].get(counter, 0) + by
    return out


def without_swap_out(samples: list) -> list:
    """The same recording with every swap-out counter flat."""
    out = copy.deepcopy(samples)
    for s in out:
        for key in ("pswpout", "zswpout", "swpout_zero"):
            s["vmstat"][key] = out[0]["vmstat"].get(key, 0)
    return out


def test_a_swapping_run_measures_cgroup_reclaim_and_swap_out_but_no_global_reclaim():
    rec = load("swap-48m-96m")
    s = summarize(rec["samples"], request(rec), swap_active=True)
    assert s["swap"]["pswpout"] > 0 and s["vmstat_delta"]["pgscan_anon"] > 0
    assert s["reclaim"]["driven_by"] == "cgroup"
    assert s["reclaim"]["kswapd_scanned"] == 0 and s["reclaim"]["direct_scanned"] == 0
    assert 0 < s["reclaim"]["efficiency"] <= 1
    assert s["reclaim"]["stolen"] == s["vmstat_delta"]["pgsteal_anon"] + s["vmstat_delta"]["pgsteal_file"]
    assert s["touch"]["rate_pages_s"] > 0 and s["touch"]["passes"] >= 1
    assert s["limit"] == 48 << 20


def test_rates_are_deltas_divided_by_the_measured_duration():
    rec = load("swap-48m-96m")
    s = summarize(rec["samples"], request(rec), swap_active=True)
    seconds = rec["samples"][-1]["t"] - rec["samples"][0]["t"]
    assert s["duration_s"] == pytest.approx(seconds, abs=1e-3)
    assert s["rates"]["pswpout"] == pytest.approx(s["vmstat_delta"]["pswpout"] / seconds, rel=1e-3)


def test_psi_stall_share_comes_from_the_total_counters_over_the_run():
    rec = load("swap-48m-96m")
    first, last = rec["samples"][0], rec["samples"][-1]
    s = summarize(rec["samples"], request(rec), swap_active=True)
    stall = last["psi"]["full"]["total"] - first["psi"]["full"]["total"]
    assert s["psi"]["full"]["stall_us"] == stall
    assert s["psi"]["full"]["share_pct"] == pytest.approx(100 * stall / ((last["t"] - first["t"]) * 1e6), abs=0.01)
    # avg10 carries the ten seconds before the run (an earlier run's pressure): it is never quoted.
    assert "peak_avg10" not in s["psi"]["some"] and "avg10" not in str(s["psi"])


def test_a_healthy_swapping_run_passes_with_its_reasons():
    verdict, reasons = verdict_of(load("swap-48m-96m"))
    assert verdict == "pass"
    assert "no OOM kill" in reasons and any(r.startswith("swap kept up: 1 passes") for r in reasons)


def with_group_psi(samples: list) -> list:
    """The recording as cgroup v2 would give it: the group's own PSI (here the machine's totals, which on that
    idle machine were the worker's)."""
    out = copy.deepcopy(samples)
    for x in out:
        x["cgroup_psi"] = copy.deepcopy(x["psi"])
    return out


def test_on_cgroup_v2_the_groups_own_stall_above_the_threshold_fails():
    rec = load("swap-48m-96m")
    verdict, reasons = verdict_of(rec, request(rec, max_psi_full=1.0), with_group_psi(rec["samples"]))
    assert verdict == "fail"
    assert any("--max-psi-full 1%" in r and "cgroup PSI full" in r for r in reasons)
    verdict, reasons = verdict_of(rec, request(rec), with_group_psi(rec["samples"]))
    assert verdict == "pass" and any("the test group stalled on memory" in r for r in reasons)


def test_on_cgroup_v1_machine_wide_psi_is_reported_and_never_judged():
    # The machine-wide figure mostly measures the worker's own thrashing (it failed healthy zram runs at 58%).
    rec = load("swap-48m-96m")
    verdict, reasons = verdict_of(rec, request(rec, max_psi_full=1.0))
    assert verdict == "pass"
    assert any("machine-wide PSI full" in r and "reported, not judged" in r for r in reasons)


def test_a_swap_too_slow_to_cycle_the_working_set_fails_with_the_rate():
    rec = load("swap-48m-96m")
    samples = copy.deepcopy(rec["samples"])
    for x in samples:
        if x.get("touch"):
            x["touch"]["passes"] = 0
    verdict, reasons = verdict_of(rec, samples=samples)
    assert verdict == "fail"
    assert any("could not go through it once more" in r and "/s out" in r for r in reasons)


def test_an_oom_kill_of_the_worker_fails():
    verdict, reasons = verdict_of(load("noswap-oom-48m-96m"))
    assert verdict == "fail"
    assert any("OOM-killed" in r for r in reasons)


def test_an_oom_kill_of_the_worker_only_warns_with_allow_oom():
    rec = load("noswap-oom-48m-96m")
    verdict, reasons = verdict_of(rec, request(rec, allow_oom=True))
    assert verdict == "warn"
    assert any("allowed by --allow-oom" in r for r in reasons)


def test_an_oom_kill_outside_the_cgroup_fails_even_with_allow_oom():
    rec = load("swap-48m-96m")
    verdict, reasons = verdict_of(rec, request(rec, allow_oom=True), bump(rec["samples"], "oom_kill", 1))
    assert verdict == "fail"
    assert any("outside the test cgroup" in r for r in reasons)


def test_global_direct_reclaim_above_the_threshold_fails_and_below_it_warns():
    rec = load("swap-48m-96m")
    samples = bump(bump(rec["samples"], "pgscan_direct", 500), "pgscan_anon", 500)
    verdict, reasons = verdict_of(rec, request(rec, max_direct_reclaim=499), samples)
    assert verdict == "fail" and any("--max-direct-reclaim 499" in r for r in reasons)
    verdict, reasons = verdict_of(rec, request(rec, max_direct_reclaim=500), samples)
    assert verdict == "warn" and any("scanned 500 pages" in r for r in reasons)


def test_global_scanning_makes_the_run_count_as_driving_both_kinds_of_reclaim():
    rec = load("swap-48m-96m")
    samples = bump(bump(rec["samples"], "pgscan_kswapd", 100), "pgscan_anon", 100)
    s = summarize(samples, request(rec), swap_active=True)
    assert s["reclaim"]["driven_by"] == "both"
    assert s["reclaim"]["global_scanned"] == 100
    assert s["reclaim"]["cgroup_scanned"] == s["reclaim"]["scanned"] - 100


def test_a_run_without_swap_warns():
    verdict, reasons = verdict_of(load("noswap-file-48m-32m"))
    assert verdict == "warn"
    assert reasons == ["no swap was active: anonymous memory could not be reclaimed"]


def test_an_active_swap_that_took_nothing_warns_when_the_working_set_exceeded_the_limit():
    rec = load("swap-48m-96m")
    verdict, reasons = verdict_of(rec, samples=without_swap_out(rec["samples"]))
    assert verdict == "warn" and any("nothing was swapped out" in r for r in reasons)


def test_low_reclaim_efficiency_warns():
    rec = load("swap-48m-96m")
    verdict, reasons = verdict_of(rec, samples=bump(rec["samples"], "pgscan_anon", 10_000_000))
    assert verdict == "warn" and any("reclaim efficiency" in r for r in reasons)


def test_a_zone_below_its_min_watermark_warns():
    rec = load("swap-48m-96m")
    samples = copy.deepcopy(rec["samples"])
    zone = samples[-1]["zones"][0]
    zone["free"] = zone["min"] - 1
    verdict, reasons = verdict_of(rec, samples=samples)
    assert verdict == "warn" and any(zone["zone"] in r and "min watermark" in r for r in reasons)


def test_a_working_set_swap_could_not_even_absorb_fails_and_one_within_the_limit_only_warns():
    rec = load("swap-48m-96m")
    rec["filled"] = False
    verdict, reasons = verdict_of(rec)
    assert verdict == "fail" and any("could not even write its 96 MiB working set" in r for r in reasons)
    within = request(rec, size=32 << 20)
    verdict, reasons = verdict_of(rec, within)
    assert verdict == "warn" and any("lengthen --duration" in r for r in reasons)
    oom = load("noswap-oom-48m-96m")
    assert not any("lengthen" in r or "could not even" in r for r in verdict_of(oom)[1])


def test_the_live_view_shows_rates_between_the_last_two_samples():
    rec = load("swap-48m-96m")
    a, b = rec["samples"][-2], rec["samples"][-1]
    v = live_view(rec["samples"], request(rec))
    assert v["pswpout_s"] == pytest.approx((b["vmstat"]["pswpout"] - a["vmstat"]["pswpout"]) / (b["t"] - a["t"]))
    assert v["touch_rate"] == b["touch"]["rate"]


def test_zero_filled_pages_that_never_reach_the_swap_device_still_count_as_swapped_out():
    # From 6.12 a zero-filled page is only marked in the swap map: swpout_zero, not pswpout.
    rec = load("swap-48m-96m")
    verdict, reasons = verdict_of(rec, samples=bump(without_swap_out(rec["samples"]), "swpout_zero", 4096))
    assert verdict == "pass"
    assert any("swap kept up" in r and "4096 zero-filled pages kept in the swap map only" in r for r in reasons)


def test_the_report_names_the_swap_areas_that_took_the_pages():
    rec = load("swap-48m-96m")
    samples = copy.deepcopy(rec["samples"])
    for i, x in enumerate(samples):
        x["swaps"] = [["/dev/zram0", "partition", 0], ["/var/swapfile", "file", i * 1 << 20]]
    s = summarize(samples, request(rec), swap_active=True)
    assert [(a["path"], a["type"], a["took"]) for a in s["swap_areas"]] == [
        ("/var/swapfile", "file", (len(samples) - 1) << 20),
        ("/dev/zram0", "zram", 0),
    ]
    s["worker"] = rec["worker"]
    _, reasons = judge(s, request(rec))
    assert any("the pages went to /var/swapfile (file)" in r for r in reasons)
