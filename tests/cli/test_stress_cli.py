"""`swapctl stress` on the command line: exit codes, refusals and --dry-run, against a fake root."""

from __future__ import annotations

import pytest

from tests.fakes import envelope, fake_host
from tests.unit.test_stress_run import FakeWorker, machine, wire


@pytest.fixture
def stress_host(tmp_path):
    return machine(tmp_path)


@pytest.mark.parametrize(
    "args",
    [
        ["--size", "0"],
        ["--memory-limit", "-1M"],
        ["--duration", "0"],
        ["--duration", "-2"],
        ["--pattern", "ones"],
        ["--file-size", "0"],
        ["--memory-limit", "lots"],
        ["--max-psi-full", "250"],
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(cli, stress_host, args):
    result = cli("stress", *args, host_override=stress_host)
    assert result.exit_code == 2, result.output
    assert "swapctl: error:" in result.output or "Error" in result.output
    assert "Traceback" not in result.output


def test_a_non_root_user_is_refused_with_exit_3(cli, stress_host):
    user = fake_host(stress_host.paths.root, uid=1000)
    result = cli("stress", "--dry-run", host_override=user)
    assert result.exit_code == 3
    assert "needs root" in result.output


def test_a_machine_without_a_memory_controller_is_refused_with_exit_3(cli, tmp_path):
    host = machine(tmp_path, version=None)
    result = cli("-o", "json", "stress", host_override=host)
    assert result.exit_code == 3
    assert "no memory cgroup controller" in result.output


def test_an_unsafe_limit_is_refused_with_exit_3_and_a_hint(cli, stress_host):
    result = cli("stress", "--memory-limit", "20G", host_override=stress_host)
    assert result.exit_code == 3
    assert "hint: use --memory-limit" in result.output


def test_dry_run_prints_the_plan_and_creates_nothing(cli, stress_host):
    mount = stress_host.paths.real("/sys/fs/cgroup/memory")
    before = sorted(p.name for p in mount.iterdir())
    called = []
    stress_host.create_stress_cgroup = lambda *a, **k: called.append("cgroup")
    stress_host.spawn_stress_worker = lambda **k: called.append("worker")
    result = cli(
        "-o", "json", "stress", "--dry-run", "--memory-limit", "48M", "--size", "96M", host_override=stress_host
    )
    assert result.exit_code == 0, result.output
    doc = envelope(result.stdout)
    assert doc["dry_run"] is True and doc["changed"] is False
    assert doc["data"]["limit"] == 48 << 20 and doc["data"]["size"] == 96 << 20
    assert [a["status"] for a in doc["actions"]] == ["planned"] * 4
    assert "memory.memsw.limit_in_bytes" in doc["actions"][0]["description"]
    assert called == [] and stress_host.runner.calls == []
    assert sorted(p.name for p in mount.iterdir()) == before


def test_a_passing_or_warning_run_exits_0_with_the_json_fields(cli, stress_host):
    wire(stress_host, FakeWorker())
    result = cli(
        "-o", "json", "stress", "--memory-limit", "48M", "--size", "96M", "--duration", "0.6", host_override=stress_host
    )
    doc = envelope(result.stdout)
    assert result.exit_code == (4 if doc["data"].get("verdict") == "fail" else 0), result.output
    data = doc["data"]
    for key in ("verdict", "vmstat_delta", "psi", "cgroup", "limit", "duration_s", "reasons", "touch"):
        assert key in data
    assert data["limit"] == 48 << 20 and data["touch"]["rate_pages_s"] > 0


def test_a_failing_verdict_exits_4_and_keeps_the_data_in_the_error_envelope(cli, stress_host):
    cg = wire(stress_host, FakeWorker())
    cg_oom = FakeWorker(crash_after=2, oom_cgroup=cg)
    stress_host.spawn_stress_worker = lambda **kw: cg_oom
    result = cli("-o", "json", "stress", "--memory-limit", "48M", "--duration", "3", host_override=stress_host)
    assert result.exit_code == 4, result.output
    doc = envelope(result.stdout)
    assert doc["ok"] is False and doc["error"]["code"] == 4
    assert doc["data"]["verdict"] == "fail" and any("OOM" in r for r in doc["data"]["reasons"])


def test_allow_oom_turns_the_oom_failure_into_a_warning_and_exit_0(cli, stress_host):
    cg = wire(stress_host, FakeWorker())
    stress_host.spawn_stress_worker = lambda **kw: FakeWorker(crash_after=2, oom_cgroup=cg)
    result = cli(
        "-o",
        "json",
        "stress",
        "--memory-limit",
        "48M",
        "--duration",
        "3",
        "--allow-oom",
        "--max-psi-full",
        "100",
        host_override=stress_host,
    )
    assert result.exit_code == 0, result.output
    assert envelope(result.stdout)["data"]["verdict"] == "warn"


def test_the_plain_report_names_the_verdict_and_the_reasons(cli, stress_host):
    wire(stress_host, FakeWorker())
    result = cli(
        "stress", "--memory-limit", "48M", "--duration", "0.3", "--max-psi-full", "100", host_override=stress_host
    )
    assert result.exit_code == 0, result.output
    assert "stress: PASS" in result.stdout or "stress: WARN" in result.stdout
    assert "reclaim driven by" in result.stdout and "touch rate" in result.stdout


def test_a_run_that_fails_before_its_verdict_keeps_the_preflight_warnings(cli, stress_host):
    wire(stress_host, FakeWorker())
    stress_host.spawn_stress_worker = lambda **kw: FakeWorker(crash_after=2)  # dies of itself, not OOM
    args = ["-o", "json", "stress", "--memory-limit", "48M", "--size", "16M", "--duration", "3"]
    dry = envelope(cli(*args, "--dry-run", host_override=stress_host).stdout)
    assert dry["warnings"], "the fixture machine should draw a preflight warning"
    result = cli(*args, host_override=stress_host)
    doc = envelope(result.stdout)
    assert result.exit_code == 1 and "died early" in doc["error"]["message"]
    assert doc["warnings"] == dry["warnings"]
