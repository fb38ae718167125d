"""Shared fixtures: a fake machine root with a fake runner, a CLI invoker, and real-kernel guards."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapctl.cli.app import app
from swapctl.cli.context import Invocation
from tests.fakes import FIXTURES, fake_host, make_root
from tests.runner import CliRunner


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path / "root")


@pytest.fixture
def host(root: Path):
    return fake_host(root)


@pytest.fixture
def cli(host):
    """cli("create", "/swapfile", ...) -> click Result; runs against the fake host, never the real one."""
    runner = CliRunner()

    def invoke(*args: str, host_override=None, env: dict | None = None):
        st = Invocation(host=host_override or host)
        return runner.invoke(app, list(args), obj=st, env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def disk_dir() -> Iterator[Path]:
    """A fresh directory on a disk filesystem (/var/tmp), for the tests whose point is what a disk does (a write
    that takes long enough to be killed in, the page cache): pytest's own tmp_path is on tmpfs (tests/lanes.py)."""
    where = Path(tempfile.mkdtemp(prefix="swapctl-test-", dir="/var/tmp"))
    try:
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


def is_root() -> bool:
    return os.geteuid() == 0


privileged = pytest.mark.skipif(not is_root(), reason="needs root: touches the real kernel (swapon, /proc/sys)")


@pytest.fixture(autouse=True)
def _crash_logs_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that provoke an internal error (exit 70) leave their crash log here, not in the real /tmp."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
