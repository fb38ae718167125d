"""examples/ansible/swap.yml run by a real ansible-core against this machine (connection local): check mode
changes nothing, the first run changes, the second changes nothing; swap off, files gone and swappiness back."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import privileged
from tests.system.conftest import FSTAB, RealSwapctl, Workspace

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "examples" / "ansible" / "swap.yml"
PLUGINS = Path(__file__).resolve().parent / "ansible_plugins"
SWAPPINESS = Path("/proc/sys/vm/swappiness")
REAL_SYSCTL_LOCK = Path("/var/tmp/swapctl-real-sysctl-tests.lock")  # the one test_vm_real.py takes
PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1 << 20

CREATE = "Swap file {path} is present (16M)"
REMOVE = "Swap file {path} is absent"
VM = "vm.swappiness is {value}"
APPLY = "Machine matches the desired state in {file}"


def _has_ansible_playbook() -> bool:
    # Looked up without importing ansible.cli: importing it sets ansible up (and makes ~/.ansible/tmp).
    spec = importlib.util.find_spec("ansible")
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(
        (Path(p) / "cli" / "playbook").exists() or (Path(p) / "cli" / "playbook.py").exists()
        for p in spec.submodule_search_locations
    )


needs_ansible = pytest.mark.skipif(
    not _has_ansible_playbook(),
    reason="ansible-playbook is not importable: pip install ansible-core (it is in the test extra)",
)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    tasks: list[dict[str, Any]]
    seconds: float

    def task(self, name: str, host: str = "localhost") -> dict[str, Any]:
        found = [t for t in self.tasks if t["task"] == name and t["host"] == host]
        assert len(found) == 1, (
            f"task {name!r} ran {len(found)} times on {host}: {[(t['task'], t['host']) for t in self.tasks]}\n{self}"
        )
        return found[0]

    def recap(self, host: str = "localhost") -> dict[str, int]:
        """The PLAY RECAP counters of the default stdout callback, as a second witness to the per-task record."""
        m = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", self.stdout, re.M)
        assert m, f"no PLAY RECAP for {host} in the output\n{self}"
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}

    def __str__(self) -> str:
        return f"ansible-playbook exit {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


@pytest.fixture
def swappiness() -> Iterator[int]:
    """The swappiness before the test, written back afterwards whatever happened; the machine-wide lock of the
    real-sysctl tests (see test_vm_real.py) is held throughout, so no other such test moves it meanwhile."""
    fd = os.open(REAL_SYSCTL_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        before = int(SWAPPINESS.read_text())
        try:
            yield before
        finally:
            if int(SWAPPINESS.read_text()) != before:
                SWAPPINESS.write_text(f"{before}\n")
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@pytest.fixture
def playbook(work: Workspace, tmp_path: Path):
    """ansible-playbook on examples/ansible/swap.yml against localhost, isolated from any ansible.cfg or
    ~/.ansible, with the example's variables pointed at the test's directory; returns each task's result."""
    home = tmp_path / "ansible-home"
    home.mkdir()
    config = tmp_path / "ansible.cfg"
    config.write_text("")  # an empty config: no ansible.cfg from the cwd, $HOME or /etc changes the run
    base_vars = {
        "swapctl_become": False,  # already root; become would need sudo, which this VM may lack
        "swapctl_bin": work.swapctl_binary(),
        "swapctl_state_dir": str(work.state_dir),
        "swapctl_persist": False,
        "swap_path": str(work.swapdir / "swapfile"),
        "swap_size": "16M",
        "ansible_python_interpreter": sys.executable,
    }

    def run(*args: str, check: bool = False, **extra_vars: Any) -> Run:
        record = tmp_path / f"record-{time.monotonic_ns()}.jsonl"
        vars_file = tmp_path / f"vars-{time.monotonic_ns()}.json"
        vars_file.write_text(json.dumps({**base_vars, **extra_vars}))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SWAPCTL_", "ANSIBLE_"))}
        env.update(
            {
                "ANSIBLE_CONFIG": str(config),
                "ANSIBLE_HOME": str(home),
                "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
                "ANSIBLE_REMOTE_TEMP": str(home / "remote-tmp"),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_RETRY_FILES_ENABLED": "0",
                "ANSIBLE_LOCALHOST_WARNING": "0",
                "HOME": str(home),  # some ansible-core defaults still say ~/.ansible: keep even those out of $HOME
                "LC_ALL": "C.UTF-8",  # ansible-core refuses to start under a non-UTF-8 locale
            }
        )
        tail = ["-e", f"@{vars_file}", *(["--check"] if check else []), *args, str(PLAYBOOK)]
        return run_playbook(env, tmp_path, record, tail, timeout=120)

    return run


def run_playbook(env: dict[str, str], cwd: Path, record: Path, tail: list[str], timeout: float = 180) -> Run:
    """ansible-playbook TAIL against localhost (connection local), the swapctl_record callback writing each
    task's result to `record`; env is the isolated Ansible environment the caller built."""
    env = {
        **env,
        "ANSIBLE_CALLBACK_PLUGINS": str(PLUGINS),
        "ANSIBLE_CALLBACKS_ENABLED": "swapctl_record",
        "SWAPCTL_ANSIBLE_RECORD": str(record),
    }
    argv = [sys.executable, "-m", "ansible", "playbook", "-i", "localhost,", "-c", "local", *tail]
    start = time.monotonic()
    proc = subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=cwd, stdin=subprocess.DEVNULL, timeout=timeout, check=False
    )
    tasks = [json.loads(ln) for ln in record.read_text().splitlines()] if record.exists() else []
    return Run(proc.returncode, proc.stdout, proc.stderr, tasks, time.monotonic() - start)


def envelope(task: dict[str, Any]) -> dict[str, Any]:
    return json.loads(task["stdout"])


def file_id(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def areas(work: Workspace) -> dict[str, tuple[str, int]]:
    """The test's swap areas by type and size: `used` moves whenever anything pushes pages out, and the kernel
    renumbers automatic (negative) priorities when other areas on the machine go off and on."""
    return {p: (a["type"], a["size_kib"]) for p, a in work.swaps().items()}


def read_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def fstab_view(work: Workspace) -> bytes | None:
    """/etc/fstab's bytes, less the lines other tests running at the same time add for their own files under
    /var/tmp; a line for this test's directory is kept, so it still shows as a difference."""
    data = read_bytes(FSTAB)
    if data is None:
        return None
    mine = str(work.root).encode()
    return b"".join(ln for ln in data.splitlines(keepends=True) if b"/var/tmp/" not in ln or mine in ln)


# --- against the real machine ---------------------------------------------------------------------------


@privileged
@pytest.mark.privileged
@needs_ansible
def test_check_mode_changes_nothing_then_the_first_run_changes_and_the_second_run_changes_nothing(
    playbook, work: Workspace, swappiness: int
) -> None:
    swapfile = work.swapdir / "swapfile"
    applied = work.swapdir / "applied"
    desired = work.root / "desired.yml"
    desired.write_text(
        yaml.safe_dump({"swapfiles": [{"path": str(applied), "size": "16M", "state": "present"}], "persist": False})
    )
    target = 13 if swappiness != 13 else 14
    names = [CREATE.format(path=swapfile), VM.format(value=target), APPLY.format(file=desired)]
    fstab_before = fstab_view(work)
    run_vars = {"vm_swappiness": target, "swapctl_apply_file": str(desired)}

    # Check mode: every task says it would change, through swapctl's --dry-run, and nothing on the machine moves.
    check = playbook(check=True, **run_vars)
    assert check.returncode == 0, str(check)
    for name in names:
        task = check.task(name)
        assert task["status"] == "ok" and task["changed"] is True, task
        assert task["cmd"][-1] == "--dry-run" and "--dry-run" not in task["cmd"][:-1], task["cmd"]
        assert envelope(task)["dry_run"] is True and envelope(task)["changed"] is True
    assert check.task(REMOVE.format(path=swapfile))["status"] == "skipped"
    assert check.recap()["changed"] == 3 and check.recap()["failed"] == 0
    assert work.swaps() == {}, "check mode turned swap on"
    assert not swapfile.exists() and not applied.exists() and work.listing() == []
    assert int(SWAPPINESS.read_text()) == swappiness, "check mode wrote vm.swappiness"
    assert fstab_view(work) == fstab_before, "check mode edited /etc/fstab"
    assert not work.state_dir.exists(), "check mode wrote swapctl's journal"

    # First real run: all three change, and the kernel says so independently of swapctl.
    first = playbook(**run_vars)
    assert first.returncode == 0, str(first)
    for name in names:
        task = first.task(name)
        assert task["status"] == "ok" and task["changed"] is True, task
        assert "--dry-run" not in task["cmd"] and envelope(task)["dry_run"] is False
    assert first.recap()["changed"] == 3
    swaps = areas(work)
    assert set(swaps) == {str(swapfile), str(applied)}, swaps
    assert all(kind == "file" and kib * 1024 == 16 * MiB - PAGE for kind, kib in swaps.values()), swaps
    assert int(SWAPPINESS.read_text()) == target
    assert fstab_view(work) == fstab_before, "--no-persist still edited /etc/fstab"
    ids = {p: file_id(p) for p in (swapfile, applied)}

    # Second run: the same state is already there, so nothing is reported and nothing is touched.
    second = playbook(**run_vars)
    assert second.returncode == 0, str(second)
    for name in names:
        task = second.task(name)
        assert task["status"] == "ok" and task["changed"] is False, task
        assert envelope(task)["changed"] is False and envelope(task)["actions"] == []
    assert second.recap()["changed"] == 0 and second.recap()["ok"] == 3
    assert areas(work) == swaps
    assert {p: file_id(p) for p in ids} == ids, "the second run rewrote a swap file"
    assert int(SWAPPINESS.read_text()) == target
    assert check.seconds + first.seconds + second.seconds < 45, (check.seconds, first.seconds, second.seconds)


@privileged
@pytest.mark.privileged
@needs_ansible
def test_swap_state_absent_removes_the_file_once_and_then_reports_nothing_to_do(
    playbook, swapctl: RealSwapctl, work: Workspace
) -> None:
    swapfile = work.swapdir / "swapfile"
    made = swapctl("create", str(swapfile), "--size", "16M", "--no-persist")
    assert made.returncode == 0, str(made)
    assert str(swapfile) in work.swaps()

    first = playbook(swap_state="absent", vm_swappiness="")
    assert first.returncode == 0, str(first)
    task = first.task(REMOVE.format(path=swapfile))
    assert task["status"] == "ok" and task["changed"] is True, task
    assert first.task(CREATE.format(path=swapfile))["status"] == "skipped"
    assert first.task(VM.format(value=""))["status"] == "skipped"
    assert work.swaps() == {} and not swapfile.exists()

    second = playbook(swap_state="absent", vm_swappiness="")
    assert second.returncode == 0, str(second)
    assert second.task(REMOVE.format(path=swapfile))["changed"] is False
    assert second.recap()["changed"] == 0


@privileged
@pytest.mark.privileged
@needs_ansible
def test_a_swapctl_error_fails_the_task_with_its_message_and_stops_the_play_before_any_change(
    playbook, work: Workspace, swappiness: int
) -> None:
    target = 13 if swappiness != 13 else 14
    run = playbook(swap_size="banana", vm_swappiness=target)
    assert run.returncode != 0, str(run)
    failed = [t for t in run.tasks if t["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["task"].startswith("Swap file "), run.tasks
    assert failed[0]["rc"] == 2, failed[0]
    assert failed[0]["stderr"].startswith("swapctl: error: ") and "Traceback" not in failed[0]["stderr"]
    assert [t["task"] for t in run.tasks if t["task"].startswith("vm.")] == [], "the play went on after a failure"
    assert work.swaps() == {} and work.listing() == []
    assert int(SWAPPINESS.read_text()) == swappiness


# --- the playbook's shape (no root, no machine) ---------------------------------------------------------


@needs_ansible
def test_the_playbook_passes_ansible_syntax_check(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            "ANSIBLE_HOME": str(tmp_path),
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
            "HOME": str(tmp_path),
            "LC_ALL": "C.UTF-8",
        }
    )
    proc = subprocess.run(
        [sys.executable, "-m", "ansible", "playbook", "-i", "localhost,", "--syntax-check", str(PLAYBOOK)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_swapctl_task_uses_argv_json_dry_run_in_check_mode_and_the_envelope_for_changed() -> None:
    play = yaml.safe_load(PLAYBOOK.read_text())[0]
    tasks = [t for t in play["tasks"] if "ansible.builtin.command" in t]
    assert len(tasks) == 4, [t.get("name") for t in play["tasks"]]
    assert "'-o', 'json'" in play["vars"]["swapctl_argv"]
    assert "'--dry-run'" in play["vars"]["swapctl_tail"] and "ansible_check_mode" in play["vars"]["swapctl_tail"]
    for task in tasks:
        command = task["ansible.builtin.command"]
        reg = task["register"]
        assert set(command) <= {"argv", "stdin"}, f"{task['name']}: a shell string instead of argv"
        assert "swapctl_argv" in command["argv"] and "swapctl_tail" in command["argv"], task["name"]
        assert task["check_mode"] is False, task["name"]
        assert f"({reg}.stdout | from_json).changed" in task["changed_when"], task["name"]
        assert task["failed_when"] == f"{reg}.rc != 0", task["name"]
