"""What a new user trips over, as they saw it: a mistyped command, help that cuts its summaries, usage lines, a
path that is not UTF-8 in JSON and in action lines."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes import SWAPS_HEADER

REPO = Path(__file__).resolve().parents[2]


def swapctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swapctl", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "80", "PYTHONPATH": str(REPO)},
    )


@pytest.mark.parametrize("typed, meant", [("lst", "list"), ("rmove", "remove"), ("histroy", "history")])
def test_a_mistyped_command_suggests_the_closest_one(typed: str, meant: str) -> None:
    r = swapctl(typed)
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == f"swapctl: error: no command '{typed}' (did you mean '{meant}'?)"
    r = swapctl("vm", "gt")
    assert "(did you mean 'get'?)" in r.stderr and r.returncode == 2


def test_help_gives_every_command_its_whole_summary_at_80_columns() -> None:
    lines = swapctl("--help").stdout.split("Commands:")[1].strip().splitlines()
    assert len(lines) >= 11 and not any(line.endswith("...") for line in lines), lines
    assert all(len(line) <= 80 for line in lines)


@pytest.mark.parametrize(
    "argv, usage",
    [
        (["create"], "swapctl create [OPTIONS] PATH"),
        (["rollback"], "swapctl rollback [OPTIONS] [ID]"),
        (["vm", "set"], "swapctl vm set [OPTIONS] [KEY=VALUE...]"),
    ],
)
def test_usage_writes_arguments_as_man_pages_do(argv: list[str], usage: str) -> None:
    out = swapctl(*argv, "--help").stdout
    assert out.splitlines()[0] == f"Usage: {usage}" and "{" not in out.splitlines()[0]


def test_a_name_that_is_not_utf8_keeps_its_bytes_in_json_and_is_escaped_in_a_table(cli, root: Path) -> None:
    name = b"/var/tmp/sw\xff"
    (root / "proc/swaps").write_bytes(SWAPS_HEADER.encode() + name + b" " * 28 + b"file\t\t16380\t\t0\t\t-2\n")
    doc = json.loads(cli("-o", "json", "list").stdout)
    (area,) = doc["data"]["areas"]
    assert base64.b64decode(area["path_b64"]) == name
    table = cli("list").stdout
    assert "/var/tmp/sw\\xff" in table


def test_action_lines_quote_a_path_with_a_blank_or_an_odd_byte(cli, root: Path) -> None:
    r = cli("create", "/var/tmp/a b", "--size", "16M", "--dry-run", "--no-persist")
    assert r.exit_code == 0, r.output
    assert "~ create '/var/tmp/a b' (mode 0600)" in r.stdout
    assert "~ mkswap '/var/tmp/a b'" in r.stdout


def test_apply_reports_every_problem_of_the_file_at_once_each_with_its_line(cli, root: Path) -> None:
    (root / "x.yaml").write_text(
        "vm:\n  swappiness: 300\n  bogus: 1\nswapfiles:\n  - path: relative\n"
        "    size: 1G\n  - path: /var/tmp/s\n    size: 1Q\nextra: 1\n"
    )
    r = cli("-o", "json", "apply", str(root / "x.yaml"))
    assert r.exit_code == 2
    line = r.stderr.splitlines()[0]
    for where in (
        ":9: unknown key 'extra'",
        ":2: vm.swappiness=300 is out of range",
        ":3: 'bogus'",
        ":5: 'relative' is not an absolute path",
        ":7: size '1Q'",
    ):
        assert where in line, line
    assert len(json.loads(r.stdout)["error"]["message"]) == len(line) - len("swapctl: error: ")


def test_an_unquoted_comparison_in_apply_yaml_hints_to_quote_it(cli, root: Path) -> None:
    (root / "x.yaml").write_text("vm:\n  min_free_kbytes: >=65536\n")
    r = cli("apply", str(root / "x.yaml"))
    assert r.exit_code == 2 and "not valid YAML" in r.stderr
    assert 'hint: quote a value that starts with > or <, e.g. min_free_kbytes: ">=65536"' in r.stderr


def test_resize_of_a_zram_device_says_what_it_is_and_what_to_use(cli, root: Path) -> None:
    zram = "/dev/zram0".ljust(40) + "partition\t\t4194300\t\t0\t\t100\n"
    (root / "proc/swaps").write_text(SWAPS_HEADER + zram)
    r = cli("resize", "/dev/zram0", "--size", "8G")
    assert r.exit_code == 3
    assert "/dev/zram0 is an active zram device, not a swap file" in r.stderr and "swapctl zram resize" in r.stderr
