"""swapctl.pyz, the one file to copy to a host: built by tools/build-pyz, run by this Python's base interpreter
with no site-packages at all (-I -S: nothing installed helps it), for the commands a fleet runs first. The
other Pythons' runs of this file (tools/pythons.py) cover the rest of 3.9 to 3.13."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.fakes import FIXTURES, copy_fixture_root

ROOT = Path(__file__).resolve().parents[2]
BASE_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pyz") / "swapctl.pyz"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools/build-pyz"), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def run(pyz: Path, *argv: str, cache: str, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL": "C", "SWAPCTL_PYZ_CACHE": cache, "COLUMNS": "100"}
    if root is not None:
        env["SWAPCTL_ROOT"] = str(root)
    return subprocess.run(
        [str(BASE_PYTHON), "-I", "-S", str(pyz), *argv], capture_output=True, text=True, env=env, timeout=120
    )


def test_the_single_file_runs_a_fleets_first_commands_with_nothing_installed(pyz: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    version = run(pyz, "--version", cache=str(cache))
    assert version.returncode == 0 and version.stdout.startswith("swapctl "), version.stderr
    machine = copy_fixture_root(FIXTURES / "this-machine", tmp_path / "machine")
    listed = run(pyz, "-o", "json", "list", cache=str(cache), root=machine)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["ok"] is True
    vm = run(pyz, "vm", "get", cache=str(cache), root=machine)
    assert vm.returncode == 0 and "vm.swappiness" in vm.stdout, vm.stderr
    marks = run(pyz, "--root", str(machine), "-o", "json", "watermarks", cache=str(cache))
    assert marks.returncode == 0, marks.stderr
    assert json.loads(marks.stdout)["data"]["zones"], marks.stdout[:500]


def test_the_first_run_unpacks_into_a_private_cache_and_compiles_it_for_this_python(pyz: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = run(pyz, "-o", "json", "vm", "get", "swappiness", cache=str(cache))
    assert first.returncode == 0, first.stderr
    (build,) = cache.iterdir()
    assert build.name.startswith("pyz-") and stat.S_IMODE(build.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert (build / f".compiled-{sys.implementation.cache_tag}").exists()
    assert list((build / "swapctl/cli/__pycache__").glob(f"*.{sys.implementation.cache_tag}.pyc"))
    # The same answer from the archive itself, with no cache at all.
    from_zip = run(pyz, "-o", "json", "vm", "get", "swappiness", cache="0")
    assert json.loads(from_zip.stdout)["data"] == json.loads(first.stdout)["data"]


def test_a_cache_directory_others_can_write_is_never_used(pyz: Path, tmp_path: Path) -> None:
    cache = tmp_path / "shared"
    cache.mkdir()
    os.chmod(cache, 0o777)  # anyone could plant code here for root to import
    proc = run(pyz, "--version", cache=str(cache))
    assert proc.returncode == 0 and proc.stdout.startswith("swapctl "), proc.stderr
    assert list(cache.iterdir()) == []
    # A link in the place of this build's directory, to code someone else wrote, is not followed.
    evil = tmp_path / "evil"
    (evil / "swapctl/cli").mkdir(parents=True)
    (evil / "swapctl/__init__.py").write_text("print('PLANTED')\n")
    (evil / ".complete").write_text("")
    planted = tmp_path / "planted"
    planted.mkdir(mode=0o700)
    (planted / f"pyz-{_build_id(pyz)}").symlink_to(evil)
    proc = run(pyz, "--version", cache=str(planted))
    assert proc.returncode == 0 and "PLANTED" not in proc.stdout, proc.stdout


def _build_id(pyz: Path) -> str:
    with zipfile.ZipFile(pyz) as zf:
        (build,) = re.findall(r'^BUILD = "([0-9a-f]{16})"', zf.read("__main__.py").decode(), re.M)
    return build


def test_two_builds_of_one_checkout_are_the_same_bytes(pyz: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.pyz"
    subprocess.run([sys.executable, str(ROOT / "tools/build-pyz"), "--output", str(again)], check=True, timeout=300)
    assert again.read_bytes() == pyz.read_bytes()
