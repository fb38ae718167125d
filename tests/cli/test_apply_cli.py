"""`swapctl apply`: a whole YAML file validated with line numbers, planned as a difference, one transaction."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from swapctl.cli.app import app
from swapctl.cli.context import Invocation
from tests.fakes import fake_host, make_root
from tests.runner import CliRunner

RECORDING = "kernel-recordings/6.12/n2-1g-1g/step0/root"

GOOD = """\
swapfiles:
  - path: /swapfile
    size: 16M
    priority: 10
    state: present
vm:
  swappiness: 10
  watermark_scale_factor: ">=10"
persist: true
"""


@pytest.fixture
def machine(fixtures: Path, tmp_path: Path):
    root = tmp_path / "root"
    shutil.copytree(fixtures / RECORDING, root)
    release = (root / "proc/sys/kernel/osrelease").read_text().strip()
    make_root(root, osrelease=release)
    host = fake_host(root)
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None):
        return runner.invoke(app, list(args), obj=Invocation(host=host), input=stdin, catch_exceptions=False)

    return root, host, invoke


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "want.yaml"
    p.write_text(text)
    return str(p)


def test_apply_changes_then_changes_nothing_the_second_time(machine, tmp_path: Path) -> None:
    root, host, invoke = machine
    f = write(tmp_path, GOOD)
    first = invoke("apply", f, "-o", "json")
    doc = json.loads(first.stdout)
    assert first.exit_code == 0 and doc["changed"] and doc["transaction"]
    items = {i.get("path") or i["key"]: i for i in doc["data"]["items"]}
    assert items["/swapfile"]["before"] == {"state": "absent"} and items["/swapfile"]["changed"]
    assert items["vm.swappiness"]["before"] == 60 and items["vm.swappiness"]["after"] == 10
    assert items["vm.watermark_scale_factor"]["changed"] is False
    assert (root / "proc/sys/vm/swappiness").read_text().strip() == "10"
    assert "vm.swappiness = 10" in (root / "etc/sysctl.d/90-swapctl.conf").read_text()
    assert "/swapfile none swap defaults,pri=10 0 0" in (root / "etc/fstab").read_text()
    second = json.loads(invoke("apply", f, "-o", "json").stdout)
    assert second["changed"] is False and not any(i["changed"] for i in second["data"]["items"])


def test_one_rollback_undoes_the_whole_apply(machine, tmp_path: Path) -> None:
    root, host, invoke = machine
    fstab = (root / "etc/fstab").read_bytes()
    invoke("apply", write(tmp_path, GOOD))
    assert invoke("rollback").exit_code == 0
    assert host.swaps() == [] and (root / "etc/fstab").read_bytes() == fstab
    assert (root / "proc/sys/vm/swappiness").read_text().strip() == "60"
    assert not (root / "etc/sysctl.d/90-swapctl.conf").exists()


def test_dry_run_shows_before_and_after_and_changes_nothing(machine, tmp_path: Path) -> None:
    root, host, invoke = machine
    result = invoke("apply", write(tmp_path, GOOD), "--dry-run")
    assert result.exit_code == 0 and "absent" in result.stdout and "dry run" in result.stdout
    assert host.runner.calls == [] and not (root / "swapfile").exists()
    assert (root / "proc/sys/vm/swappiness").read_text().strip() == "60"


def test_a_failure_anywhere_undoes_everything(machine, tmp_path: Path) -> None:
    root, host, invoke = machine
    host.runner.fail["swapon"] = (255, "swapon: failed: Device or resource busy")
    result = invoke("apply", write(tmp_path, GOOD.replace("swappiness: 10", "swappiness: 11")))
    assert result.exit_code == 1
    assert (root / "proc/sys/vm/swappiness").read_text().strip() == "60" and not (root / "swapfile").exists()


@pytest.mark.parametrize(
    "text,line,words",
    [
        ("swapfiles:\n  - path: /s\n    size: 16M\n    colour: red\n", 4, "unknown key 'colour'"),
        ("swapfiles:\n  - path: /s\n    size: 16M\n    priority: high\n", 4, "must be an integer"),
        ("swapfiles:\n  - path: /s\n", 2, "needs a size"),
        ("swapfiles:\n  - path: /s\n    size: 16M\n    state: gone\n", 4, "present or absent"),
        ("vm:\n  swappiness: 10\n  swapiness: 3\n", 3, "swapiness"),
        ("vm:\n  swappiness: 500\n", 2, "swappiness"),
        ("persist: maybe\nvm: {}\n", 1, "true or false"),
        ("swapfiles: [\n", 2, "not valid YAML"),
        ("extra: 1\n", 1, "unknown key 'extra'"),
        ("swapfiles:\n  - path: relative\n    size: 16M\n", 2, "absolute"),
        ("swapfiles:\n  - {path: /s, size: 16M}\n  - {path: /s, size: 32M}\n", 3, "more than once"),
        ("vm:\n  swappiness: 10\n  vm.swappiness: 20\n", 3, "more than once"),
    ],
)
def test_bad_files_are_refused_whole_with_the_line_number(
    machine, tmp_path: Path, text: str, line: int, words: str
) -> None:
    root, host, invoke = machine
    result = invoke("apply", write(tmp_path, text))
    assert result.exit_code == 2, result.output
    assert f"want.yaml:{line}:" in result.stderr and words in result.stderr
    assert host.runner.calls == [] and (root / "proc/sys/vm/swappiness").read_text().strip() == "60"


def test_apply_reads_stdin(machine) -> None:
    _, _, invoke = machine
    result = invoke("apply", "-", "--dry-run", "-o", "json", stdin="vm:\n  swappiness: 30\n")
    assert result.exit_code == 0 and json.loads(result.stdout)["data"]["items"][0]["after"] == 30


def test_a_missing_file_is_a_usage_error(machine) -> None:
    _, _, invoke = machine
    result = invoke("apply", "/nonexistent.yaml")
    assert result.exit_code == 2 and "cannot read" in result.stderr


def test_absent_removes_a_swapfile(machine, tmp_path: Path) -> None:
    root, host, invoke = machine
    invoke("apply", write(tmp_path, GOOD))
    result = invoke("apply", write(tmp_path, "swapfiles:\n  - path: /swapfile\n    state: absent\n"), "-o", "json")
    assert json.loads(result.stdout)["changed"] and host.swaps() == [] and not (root / "swapfile").exists()


def test_not_root_is_refused(fixtures: Path, tmp_path: Path) -> None:
    root = make_root(tmp_path / "r")
    result = CliRunner().invoke(app, ["apply", write(tmp_path, GOOD)], obj=Invocation(host=fake_host(root, uid=1000)))
    assert result.exit_code == 3
