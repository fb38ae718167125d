"""The swapctl.swap collection, built with `ansible-galaxy collection build`, installed from the tarball with
`ansible-galaxy collection install`, and run by a real ansible-core against this machine (connection local):
examples/ansible/collection.yml with swapctl.swap.swapfile, swapctl.swap.vm and swapctl.swap.swapctl_facts.
`--check --diff` changes nothing and shows the diff; the first run changes; the second reports changed=0; a
hand-made drift of vm.swappiness shows in the next `--check --diff`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import privileged
from tests.system.conftest import Workspace
from tests.system.test_ansible_real import (  # noqa: F401  (swappiness: the fixture, lock held, value restored)
    SWAPPINESS,
    Run,
    areas,
    file_id,
    fstab_view,
    needs_ansible,
    run_playbook,
    swappiness,
)

REPO = Path(__file__).resolve().parents[2]
COLLECTION = REPO / "ansible" / "ansible_collections" / "swapctl" / "swap"
PLAYBOOK = REPO / "examples" / "ansible" / "collection.yml"
MiB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")

SWAPFILE = "Swap file {path} ({size})"
VM = "vm.swappiness {value}"
FACTS = "What swapctl sees"


def ansible_env(home: Path, config: Path, collections: Path | None = None) -> dict[str, str]:
    """The environment of every ansible-* run: no ansible.cfg, ~/.ansible or ANSIBLE_*/SWAPCTL_* from outside."""
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
            "ANSIBLE_GALAXY_SERVER_LIST": "",
            "HOME": str(home),
            "LC_ALL": "C.UTF-8",
        }
    )
    if collections is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
        env["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] = "0"  # only the installed tarball, never the checkout
    return env


def galaxy(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "ansible", "galaxy", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"ansible-galaxy {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
    return proc


@pytest.fixture
def installed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The collection built into a tarball and installed from it: (collections path, ANSIBLE_HOME, config)."""
    home = tmp_path / "ansible-home"
    home.mkdir()
    config = tmp_path / "ansible.cfg"
    config.write_text("")
    env = ansible_env(home, config)
    dist = tmp_path / "dist"
    galaxy(env, tmp_path, "collection", "build", str(COLLECTION), "--output-path", str(dist))
    tarballs = sorted(dist.glob("swapctl-swap-*.tar.gz"))
    assert [t.name for t in tarballs] == ["swapctl-swap-0.1.0.tar.gz"], tarballs
    collections = tmp_path / "collections"
    galaxy(env, tmp_path, "collection", "install", "-p", str(collections), str(tarballs[0]))
    modules = collections / "ansible_collections" / "swapctl" / "swap" / "plugins" / "modules"
    assert {p.name for p in modules.glob("*.py")} >= {f"{m}.py" for m in MODULES}, list(modules.iterdir())
    return collections, home, config


MODULES = ("swapfile", "vm", "zram", "zswap", "apply", "swapctl_facts")


@pytest.fixture
def playbook(installed: tuple[Path, Path, Path], work: Workspace, tmp_path: Path):
    """ansible-playbook on examples/ansible/collection.yml against localhost, with the installed collection."""
    collections, home, config = installed
    swapctl_bin = Path(sys.executable).parent / "swapctl"
    assert swapctl_bin.exists(), f"no {swapctl_bin}: the venv's swapctl console script"
    base_vars = {
        "swapctl_become": False,  # already root
        "swapctl_bin": str(swapctl_bin),
        "swapctl_state_dir": str(work.state_dir),
        "swapctl_persist": False,
        "swap_path": str(work.swapdir / "swapfile"),
        "swap_size": "16M",
        "ansible_python_interpreter": sys.executable,
    }

    def run(*args: str, **extra_vars: Any) -> Run:
        stamp = time.monotonic_ns()
        record = tmp_path / f"record-{stamp}.jsonl"
        vars_file = tmp_path / f"vars-{stamp}.json"
        vars_file.write_text(json.dumps({**base_vars, **extra_vars}))
        env = ansible_env(home, config, collections)
        return run_playbook(env, tmp_path, record, ["-e", f"@{vars_file}", *args, str(PLAYBOOK)])

    return run


def values_diff(task: dict[str, Any]) -> dict[str, str]:
    """The task's diff entry of the values: {"before": "...", "after": "..."}."""
    entries = [d for d in task["diff"] or [] if d.get("before_header") == "values"]
    assert len(entries) == 1, task["diff"]
    return entries[0]


def facts(run: Run) -> dict[str, Any]:
    task = run.task(FACTS)
    assert task["status"] == "ok" and task["changed"] is False, task
    return task["ansible_facts"]["swapctl"]


# --- against the real machine ---------------------------------------------------------------------------


@privileged
@pytest.mark.privileged
@needs_ansible
def test_collection_check_diff_then_first_run_then_second_run_then_a_drift_shows_in_check_diff(
    playbook,
    work: Workspace,
    swappiness: int,  # noqa: F811  (the fixture imported above)
) -> None:
    swapfile = work.swapdir / "swapfile"
    target = 13 if swappiness != 13 else 14
    drifted = target + 7
    names = {"swapfile": SWAPFILE.format(path=swapfile, size="16M"), "vm": VM.format(value=target)}
    fstab_before = fstab_view(work)

    # --check --diff: both would change, the diff says how, and nothing on the machine moves.
    check = playbook("--check", "--diff", vm_swappiness=target)
    assert check.returncode == 0, str(check)
    for name in names.values():
        task = check.task(name)
        assert task["status"] == "ok" and task["changed"] is True, task
        assert task["transaction"] is None and task["actions"], task
        assert all(a["status"] == "planned" for a in task["actions"]), task["actions"]
    sf = values_diff(check.task(names["swapfile"]))
    assert f"swap area {swapfile}: off" in sf["before"] and f"swap area {swapfile}: on" in sf["after"], sf
    vm = values_diff(check.task(names["vm"]))
    assert vm == {
        "before_header": "values",
        "after_header": "values",
        "before": f"vm.swappiness: {swappiness}\n",
        "after": f"vm.swappiness: {target}\n",
    }, vm
    assert f"-vm.swappiness: {swappiness}" in check.stdout and f"+vm.swappiness: {target}" in check.stdout
    seen = facts(check)
    assert seen["areas"] == [] or all(str(work.root) not in a.get("path", "") for a in seen["areas"]), seen
    assert seen["vm"]["vm.swappiness"]["value"] == swappiness
    assert check.recap()["changed"] == 2 and check.recap()["failed"] == 0
    assert work.swaps() == {} and not swapfile.exists() and work.listing() == []
    assert int(SWAPPINESS.read_text()) == swappiness, "check mode wrote vm.swappiness"
    assert fstab_view(work) == fstab_before, "check mode edited /etc/fstab"

    # The same with persist: the diff also holds each file swapctl would edit, before and after; none is edited.
    sysctl_d = sorted(os.listdir("/etc/sysctl.d"))
    persisted = playbook("--check", "--diff", vm_swappiness=target, swapctl_persist=True)
    assert persisted.returncode == 0, str(persisted)
    files = {d["before_header"]: d for d in persisted.task(names["swapfile"])["diff"] if d["before_header"] != "values"}
    assert list(files) == ["/etc/fstab"], files
    assert str(swapfile) not in files["/etc/fstab"]["before"] and str(swapfile) in files["/etc/fstab"]["after"]
    files = {d["before_header"]: d for d in persisted.task(names["vm"])["diff"] if d["before_header"] != "values"}
    assert len(files) == 1 and next(iter(files)).startswith("/etc/sysctl.d/"), files
    assert f"vm.swappiness = {target}" in next(iter(files.values()))["after"], files
    assert persisted.recap()["changed"] == 2
    assert fstab_view(work) == fstab_before and sorted(os.listdir("/etc/sysctl.d")) == sysctl_d
    assert work.swaps() == {} and int(SWAPPINESS.read_text()) == swappiness

    # First run: both change, each in a journaled transaction; the kernel says so independently.
    first = playbook(vm_swappiness=target)
    assert first.returncode == 0, str(first)
    for name in names.values():
        task = first.task(name)
        assert task["status"] == "ok" and task["changed"] is True, task
        assert task["transaction"], task
        assert task["diff"] is None, "no --diff asked, no diff returned"
    assert first.recap()["changed"] == 2 and first.recap()["failed"] == 0
    swaps = areas(work)
    assert swaps == {str(swapfile): ("file", (16 * MiB - PAGE) // 1024)}, swaps
    assert int(SWAPPINESS.read_text()) == target
    assert fstab_view(work) == fstab_before, "persist: false still edited /etc/fstab"
    seen = facts(first)
    assert str(swapfile) in [a["path"] for a in seen["areas"]], seen["areas"]
    assert seen["vm"]["vm.swappiness"]["value"] == target
    assert "vm.swappiness" in seen["drift"], "not persisted, so the next boot differs"
    assert seen["pending_transaction"] is None
    ident = file_id(swapfile)

    # Second run: already so, changed=0, nothing touched.
    second = playbook(vm_swappiness=target)
    assert second.returncode == 0, str(second)
    for name in names.values():
        task = second.task(name)
        assert task["status"] == "ok" and task["changed"] is False and task["actions"] == [], task
    assert second.recap()["changed"] == 0 and second.recap()["failed"] == 0
    assert areas(work) == swaps and file_id(swapfile) == ident
    assert int(SWAPPINESS.read_text()) == target

    # Someone ran `sysctl -w vm.swappiness=...` by hand: --check --diff shows exactly that, and changes nothing.
    SWAPPINESS.write_text(f"{drifted}\n")
    drift = playbook("--check", "--diff", vm_swappiness=target)
    assert drift.returncode == 0, str(drift)
    assert drift.task(names["swapfile"])["changed"] is False
    task = drift.task(names["vm"])
    assert task["changed"] is True, task
    vm = values_diff(task)
    assert (vm["before"], vm["after"]) == (f"vm.swappiness: {drifted}\n", f"vm.swappiness: {target}\n"), vm
    assert f"-vm.swappiness: {drifted}" in drift.stdout and f"+vm.swappiness: {target}" in drift.stdout
    assert facts(drift)["vm"]["vm.swappiness"]["value"] == drifted
    assert drift.recap()["changed"] == 1 and drift.recap()["failed"] == 0
    assert int(SWAPPINESS.read_text()) == drifted, "check mode wrote vm.swappiness"
    assert areas(work) == swaps

    counts = [r.recap()["changed"] for r in (check, first, second, drift)]
    print(f"changed counts: check={counts[0]} first={counts[1]} second={counts[2]} drift-check={counts[3]}")


# --- no root, no change: a missing swapctl and the collection's shape -----------------------------------


@needs_ansible
def test_a_missing_swapctl_fails_the_task_with_how_to_install_it(installed, tmp_path: Path) -> None:
    collections, home, config = installed
    env = ansible_env(home, config, collections)
    missing = tmp_path / "no-such" / "swapctl"
    proc = subprocess.run(
        [sys.executable, "-m", "ansible", "adhoc", "localhost", "-c", "local", "-i", "localhost,"]
        + ["-e", f"ansible_python_interpreter={sys.executable}"]
        + ["-m", "swapctl.swap.swapctl_facts", "-a", f"swapctl={missing}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"swapctl not found at {missing}" in out and "dist/swapctl.pyz" in out and "tools/build-pyz" in out, out


@needs_ansible
def test_every_module_documents_itself_to_ansible_doc(installed) -> None:
    collections, home, config = installed
    env = ansible_env(home, config, collections)
    proc = subprocess.run(
        [sys.executable, "-m", "ansible", "doc", "--json", *(f"swapctl.swap.{m}" for m in MODULES)],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    docs = json.loads(proc.stdout)
    assert set(docs) == {f"swapctl.swap.{m}" for m in MODULES}, list(docs)
    for name, doc in docs.items():
        options = doc["doc"]["options"]
        assert {"swapctl", "state_dir", "root"} <= set(options), name
        assert doc["examples"].strip() and doc["return"], name


@privileged
@pytest.mark.privileged
@needs_ansible
def test_apply_with_an_inline_state_is_one_transaction_and_idempotent(
    installed: tuple[Path, Path, Path], work: Workspace, tmp_path: Path
) -> None:
    """swapctl.swap.apply with `state` inline: written to a temporary YAML file on the target, applied."""
    collections, home, config = installed
    applied = work.swapdir / "applied"
    play = [
        {
            "name": "apply",
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Desired state",
                    "swapctl.swap.apply": {
                        "swapctl": str(Path(sys.executable).parent / "swapctl"),
                        "state_dir": str(work.state_dir),
                        "state": {"swapfiles": [{"path": str(applied), "size": "16M"}], "persist": False},
                    },
                }
            ],
        }
    ]
    book = tmp_path / "apply.yml"
    book.write_text(json.dumps(play))  # JSON is YAML

    def run(*args: str) -> Run:
        record = tmp_path / f"record-{time.monotonic_ns()}.jsonl"
        env = ansible_env(home, config, collections)
        tail = ["-e", f"ansible_python_interpreter={sys.executable}", *args, str(book)]
        return run_playbook(env, tmp_path, record, tail)

    check = run("--check", "--diff")
    assert check.returncode == 0, str(check)
    task = check.task("Desired state")
    assert task["changed"] is True and task["transaction"] is None and task["diff"], task
    assert work.swaps() == {} and not applied.exists()

    first = run()
    assert first.returncode == 0, str(first)
    task = first.task("Desired state")
    assert task["changed"] is True and task["transaction"], task
    assert areas(work) == {str(applied): ("file", (16 * MiB - PAGE) // 1024)}

    second = run()
    assert second.returncode == 0, str(second)
    assert second.task("Desired state")["changed"] is False and second.recap()["changed"] == 0
