"""`swapctl vm get` / `vm set` through the CLI on fake roots: exit codes, the JSON envelope, tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from swapctl.cli.app import app
from swapctl.cli.context import Invocation
from tests.fakes import envelope, fake_host, make_root
from tests.plans.test_vm_plans import failing_host
from tests.runner import CliRunner

ONE_NODE = "kernel-recordings/6.1/n1-512m/step0/root"
TWO_NODES = "kernel-recordings/6.12/n2-1g-1g/step0/root"


def machine(fixtures: Path, tmp_path: Path, recording: str = TWO_NODES) -> Path:
    root = tmp_path / "root"
    shutil.copytree(fixtures / recording, root)
    make_root(
        root,
        osrelease=(root / "proc/sys/kernel/osrelease").read_text().strip(),
        meminfo=(root / "proc/meminfo").read_text(),
    )
    return root


def invoke(host, *args: str):
    return CliRunner().invoke(app, list(args), obj=Invocation(host=host), catch_exceptions=False)


def vm(root: Path, name: str) -> int:
    return int((root / "proc/sys/vm" / name).read_text())


@pytest.fixture
def two(fixtures, tmp_path):
    root = machine(fixtures, tmp_path)
    return root, fake_host(root)


def settings(result) -> dict[str, dict]:
    return {s["key"]: s for s in envelope(result.stdout)["data"]["settings"]}


# --- get ------------------------------------------------------------------------------------------------
def test_get_reports_every_key_with_value_range_and_boot_source(two) -> None:
    root, host = two
    r = invoke(host, "-o", "json", "vm", "get")
    assert r.exit_code == 0, r.output
    doc = envelope(r.stdout)
    assert doc["command"] == "vm get" and doc["ok"] and doc["changed"] is False
    s = settings(r)
    assert list(s) == [
        "vm.min_free_kbytes",
        "vm.swappiness",
        "vm.zone_reclaim_mode",
        "vm.watermark_scale_factor",
        "vm.watermark_boost_factor",
        "vm.vfs_cache_pressure",
        "vm.page-cluster",
    ]
    for key, row in s.items():
        assert row["value"] == vm(root, key[3:])
    assert s["vm.swappiness"]["range"] == [0, 200]
    assert s["vm.watermark_scale_factor"]["range"] == [1, 3000]
    assert s["vm.swappiness"]["boot_source"] == "kernel default" and s["vm.swappiness"]["drift"] is False
    # Two nodes: no one-node note; khugepaged's value is what this recording's kernel set.
    assert not any("one NUMA node" in n for n in s["vm.zone_reclaim_mode"]["notes"])
    assert doc["data"]["numa_nodes"] == 2


def test_get_on_one_node_decodes_zone_reclaim_mode_and_notes_it_has_no_effect(fixtures, tmp_path) -> None:
    root = machine(fixtures, tmp_path, ONE_NODE)
    (root / "proc/sys/vm/zone_reclaim_mode").write_text("3\n")
    r = invoke(fake_host(root), "-o", "json", "vm", "get", "zone_reclaim_mode", "vm.min_free_kbytes")
    s = settings(r)
    z = s["vm.zone_reclaim_mode"]
    assert z["bits"] == ["zone reclaim on", "write out dirty pages"] and z["meaning"].startswith("on")
    assert any("one NUMA node" in n for n in z["notes"])
    m = s["vm.min_free_kbytes"]
    assert m["khugepaged_raises"] is False and m["kernel_default"] > 0 and m["safe_limit"] >= m["kernel_default"]
    assert m["drift"] is False  # 2711 is within the estimate's tolerance


def test_get_shows_drift_against_the_file_the_next_boot_applies(two) -> None:
    root, host = two
    conf = root / "etc/sysctl.d/60-db.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("vm.swappiness = 10\n")
    s = settings(invoke(host, "-o", "json", "vm", "get", "swappiness"))["vm.swappiness"]
    assert (s["value"], s["boot_value"], s["boot_source"], s["drift"]) == (60, 10, "/etc/sysctl.d/60-db.conf", True)
    assert s["persisted"]["systemd"]["file"] == "/etc/sysctl.d/60-db.conf"


@pytest.mark.parametrize("key", ["../../kernel/panic", "kernel.panic", "swapiness", "vm.swappiness=1"])
def test_get_with_an_unknown_key_exits_2_with_a_one_line_error(two, key) -> None:
    _, host = two
    r = invoke(host, "-o", "json", "vm", "get", key)
    assert r.exit_code == 2
    doc = envelope(r.stdout)
    assert doc["ok"] is False and doc["error"]["code"] == 2
    assert "swapctl: error:" in r.stderr and "Traceback" not in r.output


def test_get_table_names_every_key_and_the_khugepaged_note(two) -> None:
    _, host = two
    r = invoke(host, "vm", "get")
    assert r.exit_code == 0
    for key in ("vm.swappiness", "vm.page-cluster", "vm.min_free_kbytes"):
        assert key in r.stdout
    assert "khugepaged" in r.stdout


# --- set ------------------------------------------------------------------------------------------------
def test_set_changes_values_and_a_rerun_reports_no_change(two) -> None:
    root, host = two
    r = invoke(host, "-o", "json", "vm", "set", "swappiness=10", "vm.vfs_cache_pressure=50")
    assert r.exit_code == 0, r.output
    doc = envelope(r.stdout)
    assert doc["command"] == "vm set" and doc["changed"] is True and doc["transaction"]
    assert [a["status"] for a in doc["actions"]] == ["done", "done"]
    assert (vm(root, "swappiness"), vm(root, "vfs_cache_pressure")) == (10, 50)
    again = envelope(invoke(host, "-o", "json", "vm", "set", "swappiness=10").stdout)
    assert again["changed"] is False and again["transaction"] is None and again["actions"] == []


def test_set_dry_run_reports_the_plan_and_writes_nothing(two) -> None:
    root, host = two
    r = invoke(host, "-o", "json", "vm", "set", "swappiness=10", "--persist", "--dry-run")
    doc = envelope(r.stdout)
    assert r.exit_code == 0 and doc["dry_run"] and doc["changed"]
    assert vm(root, "swappiness") == 60 and not (root / "etc/sysctl.d").exists()
    assert not host.paths.state_dir.exists()


def test_set_as_non_root_is_refused_before_anything_even_bad_input(two) -> None:
    root, _ = two
    user = fake_host(root, uid=1000)
    for args in (["swappiness=10"], ["bogus=1"]):
        r = invoke(user, "-o", "json", "vm", "set", *args)
        assert r.exit_code == 3 and "needs root" in r.stderr
    assert vm(root, "swappiness") == 60


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["swappiness=201"], "0-200"),
        (["swappiness=10", "page-cluster=32"], "vm.page-cluster=32"),
        (["zone_reclaim_mode=8"], "0-7"),
        (["swappiness="], "empty"),
        (["swappiness=ten"], "not a decimal"),
        (["../../kernel/panic=1"], "not a vm sysctl"),
        ([], "nothing to set"),
        (["watermark_scale_factor=0"], "1-3000"),
    ],
)
def test_set_bad_input_exits_2_and_writes_nothing(two, args, needle) -> None:
    root, host = two
    r = invoke(host, "-o", "json", "vm", "set", *args)
    assert r.exit_code == 2, r.output
    assert needle in envelope(r.stdout)["error"]["message"]
    assert vm(root, "swappiness") == 60 and vm(root, "page-cluster") == 3


def test_set_min_free_kbytes_above_the_safe_limit_exits_3_unless_forced(fixtures, tmp_path) -> None:
    root = machine(fixtures, tmp_path, ONE_NODE)
    host = fake_host(root)
    r = invoke(host, "-o", "json", "vm", "set", "min_free_kbytes=262144")
    assert r.exit_code == 3 and "safe limit" in r.stderr and "hint:" in r.stderr
    assert vm(root, "min_free_kbytes") == 2711
    r = invoke(host, "-o", "json", "vm", "set", "min_free_kbytes=65536", "--force")
    assert r.exit_code == 0 and vm(root, "min_free_kbytes") == 65536
    assert any("--force" in w for w in envelope(r.stdout)["warnings"])


def test_set_failure_mid_plan_exits_1_with_the_undone_actions_in_the_envelope(two) -> None:
    root, _ = two
    host = failing_host(root, "page-cluster")
    r = invoke(host, "-o", "json", "vm", "set", "swappiness=10", "page-cluster=1")
    assert r.exit_code == 1
    doc = envelope(r.stdout)
    assert doc["ok"] is False and doc["transaction"]
    assert [a["status"] for a in doc["actions"]] == ["undone", "failed"]
    assert vm(root, "swappiness") == 60


def test_set_table_output_lists_the_actions_and_warnings_go_to_stderr(two) -> None:
    root, host = two
    conf = root / "etc/sysctl.d/99-late.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("vm.swappiness = 1\n")
    r = invoke(host, "vm", "set", "swappiness=10", "--persist")
    assert r.exit_code == 0
    assert "set vm.swappiness: 60 -> 10" in r.stdout
    assert "99-late.conf" in r.stderr and "99-late.conf" not in r.stdout


def test_vm_help_documents_get_and_set() -> None:
    r = CliRunner().invoke(app, ["vm", "--help"])
    assert r.exit_code == 0 and "get" in r.stdout and "set" in r.stdout
    r = CliRunner().invoke(app, ["vm", "set", "--help"])
    assert "--persist" in r.stdout and "--force" in r.stdout and "--dry-run" in r.stdout


def test_the_safety_limit_judges_the_value_that_would_be_in_force_not_the_one_asked(two) -> None:
    root, host = two
    current = vm(root, "min_free_kbytes")
    lower_only = invoke(host, "-o", "json", "vm", "set", "min_free_kbytes=<100000000", "--dry-run")
    assert lower_only.exit_code == 0 and envelope(lower_only.stdout)["changed"] is False
    raise_only = invoke(host, "-o", "json", "vm", "set", "min_free_kbytes=>100", "--dry-run")
    assert raise_only.exit_code == 0 and not any("below" in w for w in envelope(raise_only.stdout)["warnings"])
    assert vm(root, "min_free_kbytes") == current


def test_a_failed_set_keeps_its_warnings_in_the_error_envelope_and_on_stderr(fixtures, tmp_path) -> None:
    # One node: zone_reclaim_mode warns it has no effect; then the kernel rejects the second write.
    root = machine(fixtures, tmp_path, ONE_NODE)
    host = failing_host(root, "swappiness")
    result = invoke(host, "-o", "json", "vm", "set", "zone_reclaim_mode=1", "swappiness=10")
    doc = envelope(result.stdout)
    assert result.exit_code == 1 and doc["ok"] is False
    assert any("no effect" in w for w in doc["warnings"]) and "warnings" not in doc["data"]
    assert any(line.startswith("warning: ") and "no effect" in line for line in result.stderr.splitlines())
