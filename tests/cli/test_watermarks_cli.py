"""`swapctl watermarks` and `swapctl numa` on the kernels' recorded roots and on broken snapshots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from swapctl.cli.app import app
from swapctl.cli.context import Invocation
from swapctl.system.zoneinfo import parse_zoneinfo
from tests.fakes import FIXTURES
from tests.pairs import pairs
from tests.runner import CliRunner

RUNS = FIXTURES / "kernel-recordings"
ROOTS = sorted(RUNS.glob("*/*/step*/root"))
N2 = RUNS / "6.12/n2-1g-1g"
N1 = RUNS / "6.1/n1-512m"


def run(root: Path, *args: str):
    return CliRunner().invoke(app, ["--root", str(root), *args], obj=Invocation(), catch_exceptions=False)


def run_json(root: Path, *args: str) -> dict:
    result = run(root, "-o", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: str(p.relative_to(RUNS)))
def test_the_table_shows_every_zone_the_settings_and_the_rule(root: Path) -> None:
    result = run(root, "watermarks")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for word in ("DMA32", "min_free_kbytes", "watermark_scale_factor", "rule: gap", "machine"):
        assert word in out
    mfk = (root / "proc/sys/vm/min_free_kbytes").read_text().strip()
    assert f"min_free_kbytes {mfk}" in out and "MiB" in out
    # The empty zones are left to -o wide, which shows every zone and column.
    assert "Movable" not in out and "empty zones not shown" in out
    wide = run(root, "-o", "wide", "watermarks").stdout
    assert "Movable" in wide and "PROTECTION" in wide


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: str(p.relative_to(RUNS)))
def test_json_zones_carry_the_issue_fields_in_pages(root: Path) -> None:
    doc = run_json(root, "watermarks")
    data = doc["data"]
    assert doc["command"] == "watermarks" and doc["ok"] is True and doc["changed"] is False
    assert data["page_size"] == 4096 and data["page_size_source"] == "meminfo"
    zones = parse_zoneinfo((root / "proc/zoneinfo").read_text())
    assert len(data["zones"]) == len(zones)
    for row, z in pairs(data["zones"], zones):
        assert set(row) == {
            "node",
            "zone",
            "free",
            "min",
            "low",
            "high",
            "promo",
            "boost",
            "managed",
            "present",
            "spanned",
            "protection",
            "state",
        }
        assert (row["node"], row["zone"], row["free"], row["min"], row["high"], row["protection"]) == (
            z.node,
            z.name,
            z.free,
            z.min,
            z.high,
            list(z.protection),
        )
    assert data["totals"]["managed_bytes"] == sum(z.managed for z in zones) * 4096
    assert sum(n["free"] for n in data["nodes"]) == data["totals"]["free"]


def test_what_if_through_the_cli_predicts_the_next_recorded_step_to_the_page() -> None:
    for run_dir in (N1, N2):
        writes = json.loads((run_dir / "writes.json").read_text())
        for n, w in writes.items():
            before, after = run_dir / f"step{int(n) - 1}" / "root", run_dir / f"step{n}" / "root"
            doc = run_json(before, "watermarks", "--what-if", f"{w['key']}={w['value']}")
            shown = parse_zoneinfo((after / "proc/zoneinfo").read_text())
            for row, z in pairs(doc["data"]["zones"], shown):
                p = row["predicted"]
                assert (p["min"], p["low"], p["high"]) == (z.min, z.low, z.high), (run_dir.name, n, z.key)
                assert p["promo"] == z.promo or z.promo is None


def test_what_if_reports_the_change_in_reserved_memory_and_both_settings() -> None:
    doc = run_json(
        N2 / "step0/root",
        "watermarks",
        "--what-if",
        "min_free_kbytes=131072",
        "--what-if",
        "watermark_scale_factor=200",
    )
    wi = doc["data"]["what_if"]
    assert wi["after"] == {"min_free_kbytes": 131072, "watermark_scale_factor": 200}
    assert wi["before"]["min_free_kbytes"] == 67584
    assert wi["min_pages"]["change"] == wi["min_pages"]["after"] - wi["min_pages"]["before"] > 0
    assert wi["high_bytes_change"] == wi["high_pages"]["change"] * 4096
    table = run(N2 / "step0/root", "watermarks", "--what-if", "min_free_kbytes=131072")
    assert table.exit_code == 0 and "->" in table.stdout and "machine-wide min watermarks" in table.stdout


def test_an_unsafe_min_free_kbytes_draws_a_warning_but_no_failure() -> None:
    # 262144 kB panicked this 512 MiB machine: both warnings must be there (the limit is 5% of its 468416 kB of
    # lowmem), and a mild value must draw neither, so the absence below is of warnings that do exist
    doc = run_json(N1 / "step0/root", "watermarks", "--what-if", "min_free_kbytes=262144")
    (limit,) = [w for w in doc["warnings"] if "deadlock" in w]
    assert "above the safe limit of 23420 kB" in limit and "would refuse it without --force" in limit
    (share,) = [w for w in doc["warnings"] if "of RAM free" in w]
    assert "keep 84% of RAM free" in share
    assert doc["data"]["what_if"]["min_free_kbytes_safe_limit"] == 23420
    mild = run_json(N1 / "step0/root", "watermarks", "--what-if", "min_free_kbytes=4096")
    assert mild["warnings"] == []
    table = run(N1 / "step0/root", "watermarks", "--what-if", "min_free_kbytes=262144")
    assert table.exit_code == 0 and "warning:" in table.stderr


def test_node_option_keeps_one_node() -> None:
    doc = run_json(N2 / "step3/root", "watermarks", "--node", "1")
    assert {z["node"] for z in doc["data"]["zones"]} == {1} and [n["node"] for n in doc["data"]["nodes"]] == [1]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--what-if", "swappiness=10"], "does not set watermarks"),
        (["--what-if", "min_free_kbytes"], "KEY=VALUE"),
        (["--what-if", "min_free_kbytes=-1"], "out of range"),
        (["--what-if", "min_free_kbytes=12k"], "not a decimal integer"),
        (["--what-if", "min_free_kbytes=99999999999"], "out of range"),
        (["--what-if", "min_free_kbytes=>4096"], "needs a value"),
        (["--what-if", "watermark_scale_factor=0"], "out of range"),
        (["--what-if", "watermark_scale_factor=3001"], "out of range"),
        (["--what-if", "min_free_kbytes=1", "--what-if", "min_free_kbytes=2"], "more than once"),
        (["--node", "7"], "node 7 does not exist"),
    ],
)
def test_invalid_what_if_or_node_exits_2_with_one_line(args: list[str], words: str) -> None:
    result = run(N2 / "step0/root", "watermarks", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("swapctl: error: ") and words in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


def test_watermark_scale_factor_above_1000_is_refused_for_kernels_before_5_15(tmp_path: Path) -> None:
    root = shutil.copytree(N1 / "step0/root", tmp_path / "root")
    (root / "proc/sys/kernel/osrelease").write_text("5.10.0-8-amd64\n")
    assert run(root, "watermarks", "--what-if", "watermark_scale_factor=1000").exit_code == 0
    result = run(root, "watermarks", "--what-if", "watermark_scale_factor=1001")
    assert result.exit_code == 2 and "1-1000" in result.stderr


def _broken_root(tmp_path: Path, zoneinfo: str | bytes | None) -> Path:
    root = shutil.copytree(N2 / "step0/root", tmp_path / "root")
    target = root / "proc/zoneinfo"
    if zoneinfo is None:
        target.unlink()
    elif isinstance(zoneinfo, bytes):
        target.write_bytes(zoneinfo)
    else:
        target.write_text(zoneinfo)
    return root


def _original() -> str:
    return (N2 / "step0/root/proc/zoneinfo").read_text()


@pytest.mark.parametrize("command", ["watermarks", "numa"])
@pytest.mark.parametrize(
    "case, content, code",
    [
        ("missing", None, 3),
        ("empty", "", 2),
        ("garbage", "this is not zoneinfo\n", 2),
        ("binary", bytes(range(256)) * 4, 2),
        ("cut in pagesets", _original()[: _original().index("    cpu: 1")], 2),
        ("cut at a node", _original()[: _original().index("Node 1, zone      DMA")], 2),
        ("bad number", _original().replace("pages free     3776", "pages free     37x6"), 2),
    ],
)
def test_a_missing_or_malformed_zoneinfo_exits_2_or_3_without_a_traceback(
    tmp_path: Path, command: str, case: str, content, code: int
) -> None:
    root = _broken_root(tmp_path, content)
    result = run(root, command)
    assert result.exit_code == code, (case, result.output)
    assert result.stderr.startswith("swapctl: error: ") and "zoneinfo" in result.stderr
    assert "hint: " in result.stderr and "Traceback" not in result.output
    doc = json.loads(run(root, "-o", "json", command).stdout)
    assert doc["ok"] is False and doc["error"]["code"] == code


def test_a_snapshot_without_meminfo_assumes_4096_byte_pages_and_says_so(tmp_path: Path) -> None:
    root = shutil.copytree(N2 / "step0/root", tmp_path / "root")
    (root / "proc/meminfo").unlink()
    (root / "proc/sys/kernel/osrelease").unlink()
    doc = run_json(root, "watermarks")
    assert doc["data"]["page_size"] == 4096 and doc["data"]["page_size_source"] == "assumed"
    assert any("page size" in w for w in doc["warnings"]) and any("osrelease" in w for w in doc["warnings"])


def test_the_page_size_of_a_64k_snapshot_comes_from_its_meminfo(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "proc/sys/kernel").mkdir(parents=True)
    (path,) = (FIXTURES / "public").glob("lkml_2017-04-05*zoneinfo")
    (root / "proc/zoneinfo").write_text(path.read_text())
    (root / "proc/sys/kernel/osrelease").write_text("4.11.0-rc5\n")
    managed = sum(z.managed for z in parse_zoneinfo(path.read_text()))
    (root / "proc/meminfo").write_text(f"MemTotal:       {managed * 64} kB\nMemFree:  1 kB\n")
    doc = run_json(root, "watermarks")
    assert doc["data"]["page_size"] == 65536 and doc["data"]["page_size_source"] == "meminfo"
    assert doc["data"]["rule"].startswith("gap") and "promo" not in doc["data"]["rule"]


def test_numa_lists_both_nodes_with_distances_and_decodes_zone_reclaim_mode() -> None:
    doc = run_json(N2 / "step0/root", "numa")
    nodes = doc["data"]["nodes"]
    assert [n["node"] for n in nodes] == [0, 1]
    assert nodes[0]["distances"] == [10, 20] and nodes[1]["distances"] == [20, 10]
    assert nodes[1]["mem_total"] == 1031568 * 1024
    assert nodes[0]["zones"] == {"DMA": "above_high", "DMA32": "above_high"}
    assert doc["data"]["zone_reclaim_mode"]["value"] == 0
    assert "no node is below its low watermark" in " ".join(doc["data"]["why_swap_while_free"])
    table = run(N2 / "step0/root", "numa")
    assert table.exit_code == 0 and "10,20" in table.stdout and "why does this machine swap" in table.stdout


def _press_node0(tmp_path: Path, zone_reclaim_mode: int) -> Path:
    root = shutil.copytree(N2 / "step0/root", tmp_path / "root")
    text = (root / "proc/zoneinfo").read_text()
    # node 0's DMA32 (low 10163) now holds 5000 free pages, DMA (low 160) 100
    text = text.replace("pages free     237856", "pages free     5000").replace(
        "pages free     3776", "pages free     100"
    )
    (root / "proc/zoneinfo").write_text(text)
    (root / "proc/sys/vm/zone_reclaim_mode").write_text(f"{zone_reclaim_mode}\n")
    return root


def test_numa_explains_swapping_when_one_node_is_short_and_the_other_is_free(tmp_path: Path) -> None:
    doc = run_json(_press_node0(tmp_path, 4 | 1), "numa")
    answer = " ".join(doc["data"]["why_swap_while_free"])
    assert "node 0 (DMA/DMA32) is below its low watermark while node 1" in answer
    assert "zone_reclaim_mode=5" in answer and "swap" in answer
    assert doc["data"]["zone_reclaim_mode"]["flags"] == ["zone reclaim on", "swap / unmap pages"]
    assert doc["data"]["nodes"][0]["zones"]["DMA32"] == "below_min"


def test_numa_with_zone_reclaim_off_points_at_bindings_instead(tmp_path: Path) -> None:
    doc = run_json(_press_node0(tmp_path, 0), "numa")
    answer = " ".join(doc["data"]["why_swap_while_free"])
    assert "zone_reclaim_mode=0" in answer and "membind" in answer
    wm = run_json(tmp_path / "root", "watermarks")
    assert any("below the low watermark now: 0/DMA, 0/DMA32" in w for w in wm["warnings"])


@pytest.mark.parametrize(
    "free, state, short",
    [
        (9000, "below_low", True),  # between min (8131) and low (10163): kswapd is awake and reclaiming
        (10162, "below_low", True),
        (10163, "between_low_high", False),  # at low: kswapd is not woken
        (12194, "between_low_high", False),
        (12195, "above_high", False),
    ],
)
def test_numa_finds_the_node_whose_kswapd_works_between_min_and_low(
    tmp_path: Path, free: int, state: str, short: bool
) -> None:
    root = shutil.copytree(N2 / "step0/root", tmp_path / "root")
    text = (root / "proc/zoneinfo").read_text()
    (root / "proc/zoneinfo").write_text(text.replace("pages free     237856", f"pages free     {free}"))
    doc = run_json(root, "numa")
    node0 = doc["data"]["nodes"][0]
    assert node0["zones"]["DMA32"] == state
    assert node0["below_low"] == (["DMA32"] if short else [])
    answer = " ".join(doc["data"]["why_swap_while_free"])
    assert ("node 0 (DMA32) is below its low watermark while node 1" in answer) is short


def test_what_if_predicts_no_promo_where_the_kernel_prints_none() -> None:
    # 6.1 computes WMARK_PROMO (5.18+) but its zoneinfo has no promo line (6.12+): nothing to compare with.
    doc = run_json(N1 / "step0/root", "watermarks", "--what-if", "min_free_kbytes=16384")
    assert [z["predicted"]["promo"] for z in doc["data"]["zones"]] == [None] * len(doc["data"]["zones"])
    table = run(N1 / "step0/root", "watermarks", "--what-if", "min_free_kbytes=16384")
    assert table.exit_code == 0
    predicted = [line.split() for line in table.stdout.splitlines() if line.split()[:2] == ["what", "if"]]
    assert predicted and all(words[-1] == "-" for words in predicted), table.stdout


def test_what_if_keeps_predicting_promo_where_the_kernel_prints_it() -> None:
    writes = json.loads((N2 / "writes.json").read_text())
    for n, w in writes.items():
        before, after = N2 / f"step{int(n) - 1}" / "root", N2 / f"step{n}" / "root"
        doc = run_json(before, "watermarks", "--what-if", f"{w['key']}={w['value']}")
        shown = parse_zoneinfo((after / "proc/zoneinfo").read_text())
        assert all(z.promo is not None for z in shown)
        assert [r["predicted"]["promo"] for r in doc["data"]["zones"]] == [z.promo for z in shown], n


def _vm_set_safe_limit(root: Path) -> int:
    (row,) = [s for s in run_json(root, "vm", "get")["data"]["settings"] if s["key"] == "vm.min_free_kbytes"]
    return row["safe_limit"]


def test_what_if_above_vm_sets_safe_limit_warns_that_vm_set_would_refuse_it() -> None:
    root = N2 / "step0/root"
    limit = _vm_set_safe_limit(root)
    assert limit < 200000  # about 10% of this machine's RAM, under the old 25% danger mark
    doc = run_json(root, "watermarks", "--what-if", "min_free_kbytes=200000")
    refusals = [w for w in doc["warnings"] if "vm set" in w]
    assert len(refusals) == 1 and f"{limit} kB" in refusals[0] and "--force" in refusals[0]
    table = run(root, "watermarks", "--what-if", "min_free_kbytes=200000")
    assert table.exit_code == 0 and f"safe limit of {limit} kB" in table.stderr


def test_what_if_at_vm_sets_safe_limit_draws_no_refusal_warning() -> None:
    root = N2 / "step0/root"
    limit = _vm_set_safe_limit(root)
    doc = run_json(root, "watermarks", "--what-if", f"min_free_kbytes={limit}")
    assert not any("vm set" in w for w in doc["warnings"])
    doc = run_json(root, "watermarks", "--what-if", f"min_free_kbytes={limit + 1}")
    assert any("vm set" in w for w in doc["warnings"])


def _copy(run_dir: Path, step: int, tmp_path: Path) -> Path:
    return shutil.copytree(run_dir / f"step{step}/root", tmp_path / "root")


def _edit_zone(root: Path, node: int, zone: str, **add: int) -> None:
    """Add to the named lines ("pages free", min, low, high, boost) of one zone of the root's zoneinfo."""
    out, here = [], False
    for line in (root / "proc/zoneinfo").read_text().splitlines(keepends=True):
        if line.startswith("Node "):
            words = line.replace(",", " ").split()
            here = (int(words[1]), words[3]) == (node, zone)
        words = line.split()
        key = "free" if words[:2] == ["pages", "free"] else words[0] if words else ""
        if here and key in add and len(words) in (2, 3):
            line = line.replace(words[-1], str(int(words[-1]) + add[key]))
        out.append(line)
    (root / "proc/zoneinfo").write_text("".join(out))


def test_the_zones_whose_marks_a_recompute_would_move_are_named_and_a_boost_is_not_such_a_move(
    tmp_path: Path,
) -> None:
    # step 0's marks come from boot-time managed counts; after the first write they match a recompute
    assert run_json(N2 / "step0/root", "watermarks")["data"]["recompute_differs"] == ["0/DMA32", "1/DMA32"]
    root = _copy(N2, 1, tmp_path)
    assert run_json(root, "watermarks")["data"]["recompute_differs"] == []
    _edit_zone(root, 0, "DMA32", min=500, low=500, high=500, boost=500)  # printed marks include the boost
    doc = run_json(root, "watermarks")
    assert doc["data"]["recompute_differs"] == []
    assert any(w.startswith("watermarks boosted (watermark_boost_factor) in 0/DMA32:") for w in doc["warnings"])
    numa = run_json(root, "numa")
    assert any("watermark boost" in line for line in numa["data"]["why_swap_while_free"])
    _edit_zone(root, 0, "DMA32", low=1)  # one page more than a recompute gives
    assert run_json(root, "watermarks")["data"]["recompute_differs"] == ["0/DMA32"]


def test_a_snapshot_without_watermark_scale_factor_cannot_predict_from_4_6_on(tmp_path: Path) -> None:
    root = _copy(N1, 0, tmp_path)
    (root / "proc/sys/vm/watermark_scale_factor").unlink()
    assert "recompute_differs" not in run_json(root, "watermarks")["data"]
    result = run(root, "watermarks", "--what-if", "min_free_kbytes=8192")
    assert result.exit_code == 3
    assert "cannot predict: the snapshot has no proc/sys/vm/watermark_scale_factor" in result.stderr
    assert "--what-if watermark_scale_factor=VALUE" in result.stderr
    both = run_json(root, "watermarks", "--what-if", "min_free_kbytes=8192", "--what-if", "watermark_scale_factor=10")
    assert both["data"]["what_if"]["after"] == {"min_free_kbytes": 8192, "watermark_scale_factor": 10}
    # before 4.6 there is no such knob: the classic rule needs min_free_kbytes alone
    (root / "proc/sys/kernel/osrelease").write_text("4.4.0\n")
    old = run_json(root, "watermarks", "--what-if", "min_free_kbytes=8192")
    assert "classic" in old["data"]["rule"] and "recompute_differs" in old["data"]
    assert old["data"]["what_if"]["min_pages"]["after"] > old["data"]["what_if"]["min_pages"]["before"]


def test_the_what_if_summary_counts_bytes_and_shares_of_ram_and_names_zones_it_would_starve() -> None:
    doc = run_json(N1 / "step0/root", "watermarks", "--what-if", "min_free_kbytes=262144")
    wi = doc["data"]["what_if"]
    managed = sum(z["managed"] for z in doc["data"]["zones"])
    assert wi["min_bytes_change"] == wi["min_pages"]["change"] * 4096 == 64859 * 4096
    assert wi["high_share_of_ram"] == round(98301 / managed, 4) == 0.8394
    assert wi["min_share_of_ram"] == round(65535 / managed, 4) == 0.5596
    assert not any("kswapd can never satisfy it" in w for w in doc["warnings"])
    starved = run_json(N1 / "step0/root", "watermarks", "--what-if", "min_free_kbytes=400000")["warnings"]
    assert [w.split(":")[0] for w in starved if "kswapd can never satisfy it" in w] == [
        "node 0 zone DMA",
        "node 0 zone DMA32",
    ]
    # only a what-if of min_free_kbytes is held to vm set's safe limit
    wsf = run_json(N2 / "step1/root", "watermarks", "--what-if", "watermark_scale_factor=100")
    assert wsf["data"]["what_if"]["min_free_kbytes_safe_limit"] is None and wsf["warnings"] == []


@pytest.mark.parametrize(
    "mode, khugepaged, effective", [("[always] madvise never", 67584, 67584), ("always madvise [never]", None, 5690)]
)
def test_the_kernels_own_min_free_kbytes_follows_the_thp_mode(
    tmp_path: Path, mode: str, khugepaged: int | None, effective: int
) -> None:
    root = _copy(N2, 1, tmp_path)
    thp = root / "sys/kernel/mm/transparent_hugepage/enabled"
    thp.parent.mkdir(parents=True, exist_ok=True)
    thp.write_text(mode + "\n")
    default = run_json(root, "watermarks")["data"]["settings"]["min_free_kbytes_default"]
    assert default == {"kernel": 5690, "khugepaged": khugepaged, "effective": effective}


def test_numa_counts_a_node_from_its_zones_when_sysfs_has_no_word_on_it(tmp_path: Path) -> None:
    root = _copy(N1, 0, tmp_path)
    one = run_json(root, "numa")["data"]
    assert one["numa"] is False and one["why_swap_while_free"][0].startswith("one memory node")
    shutil.rmtree(root / "sys/devices/system/node")
    zones = parse_zoneinfo((root / "proc/zoneinfo").read_text())
    (node,) = run_json(root, "numa")["data"]["nodes"]
    assert node["node"] == 0 and node["has_memory"] is True and node["has_cpu"] is None
    assert node["mem_total"] == sum(z.managed for z in zones) * 4096
    assert node["mem_free"] == sum(z.free for z in zones) * 4096
    two = run_json(N2 / "step0/root", "numa")["data"]
    assert two["numa"] is True and not any("one memory node" in line for line in two["why_swap_while_free"])


def test_numa_takes_has_memory_from_sysfs_and_says_when_every_node_is_short(tmp_path: Path) -> None:
    root = _copy(N2, 0, tmp_path)
    (root / "sys/devices/system/node/has_memory").write_text("1\n")
    nodes = run_json(root, "numa")["data"]["nodes"]
    assert [n["has_memory"] for n in nodes] == [False, True]
    (root / "sys/devices/system/node/has_memory").write_text("0-1\n")
    _edit_zone(root, 0, "DMA32", free=-237000)
    _edit_zone(root, 1, "DMA32", free=-250000)
    answer = run_json(root, "numa")["data"]["why_swap_while_free"]
    assert answer[0].startswith("every node with memory is below its low watermark")
