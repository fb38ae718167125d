"""Start-up cost (issue 8): what a read-only command imports, checked by module, never by wall clock."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from swapctl.cli.app import COMMANDS
from swapctl.system import files
from tests.fakes import FIXTURES, copy_fixture_root

MACHINE = FIXTURES / "this-machine"
# Typer 0.24 and later bundle their own Click (typer._click), so a top-level click would be a second copy; the
# Typer that Python 3.9 gets (0.23) is built on the real Click, which it then needs to import.
TYPER_BUNDLES_CLICK = importlib.util.find_spec("typer._click") is not None
HEAVY = ("rich", "yaml", "pydantic", *(("click",) if TYPER_BUNDLES_CLICK else ()))
READ_ONLY = (["list"], ["vm", "get"], ["watermarks"])


# Runs the real entry point, then lists sys.modules (the import log of -X importtime misses modules that
# importlib.import_module loads, as the lazy command table does).
HARNESS = """
import os, sys
sys.argv = ["swapctl", *sys.argv[1:]]
from swapctl.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
with open(os.environ["MODULES_OUT"], "w") as fh:
    fh.write("\\n".join([str(code), *sorted(sys.modules)]))
"""


def imported_modules(root: Path, argv: list[str]) -> set[str]:
    """Run swapctl ARGV in a fresh interpreter and return every module it had imported at the end."""
    out = root.parent / "modules.txt"
    env = dict(os.environ, SWAPCTL_ROOT=str(root), MODULES_OUT=str(out))
    env.pop("SWAPCTL_OUTPUT", None)
    out.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-c", HARNESS, *argv], env=env, capture_output=True, text=True, timeout=60)
    assert out.exists(), proc.stderr[-2000:]
    code, *names = out.read_text().split("\n")
    assert code in ("0", "None"), proc.stderr[-2000:]
    return set(names)


# Reports, at the very end of the interpreter, whether the collector is still on and how many objects are frozen
# (an atexit hook registered before main() runs after main()'s own).
EXIT_PROBE = """
import atexit, gc, os, sys
sys.argv = ["swapctl", *sys.argv[1:]]
atexit.register(lambda: open(os.environ["PROBE_OUT"], "w").write(f"{gc.isenabled()} {gc.get_freeze_count()}"))
from swapctl.cli.app import main
main()
"""


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (MACHINE / "proc" / "zoneinfo").is_file():
        pytest.skip(f"the captured machine is missing: {MACHINE}")
    return copy_fixture_root(MACHINE, tmp_path_factory.mktemp("fixture") / "root")


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_json_output_of_a_read_only_command_imports_nothing_heavy(machine: Path, argv: list[str]) -> None:
    names = imported_modules(machine, [*argv, "-o", "json"])
    heavy = sorted(n for n in names if n.split(".")[0] in HEAVY)
    assert heavy == []


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_a_read_only_command_loads_only_its_own_command_module(machine: Path, argv: list[str]) -> None:
    own = COMMANDS[argv[0]][0]
    loaded = {n for n in imported_modules(machine, [*argv, "-o", "json"]) if n.startswith("swapctl.cli.")}
    others = {module for module, _ in COMMANDS.values()} - {own}
    assert own in loaded
    assert loaded & others == set()


def test_yaml_output_is_what_imports_yaml(machine: Path) -> None:
    # The other half of the two tests above: the import log does see a heavy module when one is used.
    assert "yaml" in imported_modules(machine, ["list", "-o", "yaml"])


def test_the_top_level_help_lists_every_command_without_loading_them(machine: Path) -> None:
    env = dict(os.environ, SWAPCTL_ROOT=str(machine))
    proc = subprocess.run(
        [sys.executable, "-m", "swapctl", "--help"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    for name in COMMANDS:
        assert f"  {name} " in proc.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_and_no_dynamic_completion_options(machine: Path, name: str) -> None:
    from swapctl.cli.app import app
    from tests.runner import CliRunner

    result = CliRunner().invoke(app, ["--root", str(machine), name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: swapctl {name}" in result.output
    assert "--install-completion" not in result.output
    assert "--show-completion" not in result.output


@pytest.mark.parametrize("size", [0, 4096, (8 << 20) - 1, (8 << 20) + 12345, 3 * (1 << 20)])
def test_zero_fill_writes_exactly_size_zero_bytes_over_any_old_content(tmp_path: Path, size: int) -> None:
    path = tmp_path / "swap"
    path.write_bytes(b"\xff" * (size + 5000))
    files.zero_fill(path, size, chunk=1 << 20)
    data = path.read_bytes()
    assert len(data) == size
    assert data.count(0) == size


def test_zero_fill_reports_progress_up_to_the_full_size(tmp_path: Path) -> None:
    path = tmp_path / "swap"
    path.touch()
    seen: list[int] = []
    files.zero_fill(path, (2 << 20) + 7, seen.append, chunk=1 << 20)
    assert seen == [1 << 20, 2 << 20, (2 << 20) + 7]


@pytest.mark.skipif(shutil.which("fincore") is None, reason="needs fincore (util-linux) to count cached pages")
def test_zero_fill_does_not_leave_the_whole_file_in_the_page_cache(disk_dir: Path) -> None:
    # 1 GiB of dirty zeros in the cache would evict a production machine's working set and stall its other
    # writers at the dirty limit; zero_fill starts writeback as it goes and drops what is written.
    if files.free_bytes(disk_dir) < 1 << 30 or Path(disk_dir).stat().st_dev == os.stat("/dev/shm").st_dev:
        pytest.skip("needs 1 GiB free on a disk filesystem")
    path = disk_dir / "swap"
    path.touch()
    size = 256 << 20
    files.zero_fill(path, size)
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert int(out.split()[0]) <= size // 2, out


@pytest.mark.parametrize("argv", [["create", "--help"], ["vm", "set", "--help"], ["stress", "--help"]], ids=" ".join)
def test_command_help_is_plain_text_without_rich(machine: Path, argv: list[str]) -> None:
    assert "rich" not in imported_modules(machine, argv)


def test_the_exit_skips_the_final_collection_and_the_command_runs_with_the_collector_on(
    machine: Path, tmp_path: Path
) -> None:
    # The interpreter's last full collection costs ~10 ms per run (bench/); swapctl freezes everything at exit
    # instead, but a long command (stress, a resize of a large area) still collects cycles as it goes.
    out = tmp_path / "probe.txt"
    env = dict(os.environ, SWAPCTL_ROOT=str(machine), PROBE_OUT=str(out))
    proc = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, "vm", "get", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    enabled, frozen = out.read_text().split()
    assert enabled == "True"
    assert int(frozen) > 10_000
