"""The swapctl.swap collection, built with `ansible-galaxy collection build`, installed from the tarball with
`ansible-galaxy collection install`, and run by a real ansible-core against this machine (connection local):
examples/ansible/collection.yml with swapctl.swap.swapfile, swapctl.swap.vm and swapctl.swap.swapctl_facts.
`--check --diff` changes nothing and shows the diff; the first run changes; the second reports changed=0; a
hand-made drift of vm.swappiness shows in the next `--check --diff`. The check run is also the fleet case: the
same playbook against two hosts at once, this machine and a second local host whose facts swapctl reads from a
recorded two-node machine's --root tree. Then swapctl.swap.zram, swapctl.swap.zswap and swapctl.swap.apply (an
inline state with a swap file and vm.swappiness) in one playbook: check, first and second run, then rolled back."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import privileged
from tests.system.conftest import RealSwapctl, Workspace
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
from tests.system.test_zram_zswap_real import (  # noqa: F401  (the fixtures: zram and zswap put back afterwards)
    ZSWAP,
    _zram_names,
    _zram_swaps,
    zram_guard,
    zswap_guard,
)

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / "tests" / "fixtures" / "kernel-recordings" / "6.12" / "n2-1g-1g" / "step0" / "root"  # 2 nodes
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


def facts(run: Run, host: str = "localhost") -> dict[str, Any]:
    task = run.task(FACTS, host)
    assert task["status"] == "ok" and task["changed"] is False, task
    return task["ansible_facts"]["swapctl"]


def zoneinfo_marks(text: str) -> dict[tuple[int, str], dict[str, int]]:
    """(node, zone) -> free/min/low/high pages, read straight from a zoneinfo text (the test's own reading)."""
    zones: dict[tuple[int, str], dict[str, int]] = {}
    here: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"^Node (\d+), zone\s+(\S+)", line)
        if m:
            here = zones.setdefault((int(m[1]), m[2]), {})
            continue
        m = re.match(r"^\s+(?:pages (free)|(min)|(low)|(high))\s+(\d+)$", line)
        if m:
            key = next(g for g in m.groups()[:4] if g)
            here.setdefault(key, int(m[5]))
    return zones


@pytest.fixture
def snapshot_host(tmp_path: Path) -> tuple[Path, Path]:
    """The fleet's second host: an inventory host `snapshot` (connection local, interpreter set) whose swapctl
    reads a copy of a recorded two-node 6.12 machine through --root. Returns (inventory, the copied root)."""
    root = tmp_path / "snapshot-root"
    shutil.copytree(SNAPSHOT, root, symlinks=True)
    inventory = tmp_path / "fleet.ini"
    inventory.write_text(
        f"snapshot ansible_connection=local ansible_python_interpreter={sys.executable} swapctl_root={root}\n"
    )
    return inventory, root


def assert_snapshot_facts(seen: dict[str, Any], root: Path) -> None:
    """The snapshot host's facts are the recorded machine's, not this one's."""
    meminfo = dict(ln.split(":", 1) for ln in (root / "proc/meminfo").read_text().splitlines())
    assert seen["kernel"] == (root / "proc/sys/kernel/osrelease").read_text().strip() != os.uname().release
    assert seen["areas"] == [] and seen["swap_total"] == 0
    assert seen["mem_total"] == int(meminfo["MemTotal"].split()[0]) * 1024
    assert seen["vm"]["vm.swappiness"]["value"] == int((root / "proc/sys/vm/swappiness").read_text())
    assert seen["vm"]["vm.min_free_kbytes"]["value"] == int((root / "proc/sys/vm/min_free_kbytes").read_text())
    assert [f["id"] for f in seen["findings"]] == ["no-swap"] and seen["pending_transaction"] is None
    marks = seen["watermarks"]
    expected = zoneinfo_marks((root / "proc/zoneinfo").read_text())
    got = {(z["node"], z["zone"]): {k: z[k] for k in ("free", "min", "low", "high")} for z in marks["zones"]}
    assert got == expected, (got, expected)
    assert [n["node"] for n in marks["nodes"]] == [0, 1]
    for n in marks["nodes"]:
        mine = [v for (node, _), v in expected.items() if node == n["node"]]
        assert n["free"] == sum(v["free"] for v in mine) and n["low"] == sum(v["low"] for v in mine), n
    assert marks["below_low"] == [] and not any(z["below_low"] for z in marks["zones"])
    assert marks["page_size"] == 4096


def assert_this_machines_watermarks(seen: dict[str, Any]) -> None:
    """This machine's watermarks facts name /proc/zoneinfo's nodes and zones (free pages move, so the marks are
    checked for order, and below_low against swapctl's own state)."""
    marks = seen["watermarks"]
    zones = zoneinfo_marks(Path("/proc/zoneinfo").read_text())
    assert [(z["node"], z["zone"]) for z in marks["zones"]] == list(zones), marks["zones"]
    assert sorted({n["node"] for n in marks["nodes"]}) == sorted({node for node, _ in zones})
    for z in marks["zones"]:
        assert z["below_low"] == (z["state"] in ("below_low", "below_min")), z
        if z["state"] != "empty":
            assert 0 <= z["min"] <= z["low"] <= z["high"], z
    assert marks["below_low"] == [f"{z['node']}/{z['zone']}" for z in marks["zones"] if z["below_low"]]
    assert marks["page_size"] == PAGE


# --- against the real machine ---------------------------------------------------------------------------


@privileged
@pytest.mark.privileged
@needs_ansible
def test_collection_check_diff_then_first_run_then_second_run_then_a_drift_shows_in_check_diff(
    playbook,
    work: Workspace,
    snapshot_host: tuple[Path, Path],
    swappiness: int,  # noqa: F811  (the fixture imported above)
) -> None:
    """The --check --diff run is also the fleet case: the same playbook against two hosts at once, this machine
    and `snapshot` (facts read from a recorded two-node machine's --root tree; its changing tasks skipped)."""
    swapfile = work.swapdir / "swapfile"
    target = 13 if swappiness != 13 else 14
    drifted = target + 7
    names = {"swapfile": SWAPFILE.format(path=swapfile, size="16M"), "vm": VM.format(value=target)}
    fstab_before = fstab_view(work)

    # --check --diff, on two hosts: both tasks would change here, the diff says how, and nothing on the machine
    # moves; the snapshot host only reads its facts, from its own tree.
    inventory, snapshot_root = snapshot_host
    check = playbook("--check", "--diff", "-i", str(inventory), vm_swappiness=target)
    assert check.returncode == 0, str(check)
    for name in names.values():
        assert check.task(name, "snapshot")["status"] == "skipped"
    snap = facts(check, "snapshot")
    assert_snapshot_facts(snap, snapshot_root)
    assert check.recap("snapshot")["changed"] == 0 and check.recap("snapshot")["failed"] == 0
    assert check.task(FACTS, "snapshot")["ansible_facts"] != check.task(FACTS)["ansible_facts"]
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
    assert seen["kernel"] == os.uname().release
    assert_this_machines_watermarks(seen)
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
    mine = {k: seen[k] for k in ("kernel", "mem_total", "swap_total")} | {"below_low": seen["watermarks"]["below_low"]}
    theirs = {k: snap[k] for k in ("kernel", "mem_total", "swap_total")} | {
        "below_low": snap["watermarks"]["below_low"]
    }
    print(f"facts: localhost {mine} nodes={[n['node'] for n in seen['watermarks']['nodes']]}")
    print(f"facts: snapshot {theirs} nodes={[n['node'] for n in snap['watermarks']['nodes']]}")


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


ZRAM = "zram swap 32M"
ZSWAP_POOL = "zswap max_pool_percent {pool}"
APPLY = "Desired state: a swap file and vm.swappiness {value}"


@privileged
@pytest.mark.privileged
@needs_ansible
def test_zram_zswap_and_apply_check_then_first_run_then_second_run_then_all_undone(
    installed: tuple[Path, Path, Path],
    work: Workspace,
    zram_guard: set[str],  # noqa: F811  (the fixture imported above: zram devices reset and removed afterwards)
    zswap_guard: dict[str, str],  # noqa: F811  (zswap's parameters put back afterwards)
    swappiness: int,  # noqa: F811
    tmp_path: Path,
) -> None:
    """swapctl.swap.zram sets up a zram swap device, swapctl.swap.zswap sets max_pool_percent, and
    swapctl.swap.apply makes a whole state (inline: a swap file and vm.swappiness) so in one transaction. Three
    runs of one playbook: --check --diff (all three would change, nothing does), the first (all three change),
    the second (changed=0). Then swapctl rolls back each transaction and the machine is as found."""
    device = min(zram_guard, key=lambda n: int(n[4:]), default=None)
    if device is None:
        pytest.skip("no free zram device to set up (the test never hot-adds one for this)")
    collections, home, config = installed
    applied = work.swapdir / "applied"
    pool = "17" if zswap_guard["max_pool_percent"] != "17" else "18"
    target = 13 if swappiness != 13 else 14
    names = {"zram": ZRAM, "zswap": ZSWAP_POOL.format(pool=pool), "apply": APPLY.format(value=target)}
    state = {"swapfiles": [{"path": str(applied), "size": "16M"}], "vm": {"swappiness": target}, "persist": False}
    swapctl_bin = str(Path(sys.executable).parent / "swapctl")
    play = [
        {
            "name": "zram, zswap and a whole state, through the swapctl.swap collection",
            "hosts": "all",
            "gather_facts": False,
            "module_defaults": {"group/swapctl.swap.all": {"swapctl": swapctl_bin, "state_dir": str(work.state_dir)}},
            "tasks": [
                {"name": names["zram"], "swapctl.swap.zram": {"size": "32M"}},
                {"name": names["zswap"], "swapctl.swap.zswap": {"settings": {"max_pool_percent": int(pool)}}},
                {"name": names["apply"], "swapctl.swap.apply": {"state": state}},
            ],
        }
    ]
    book = tmp_path / "zram-zswap-apply.yml"
    book.write_text(json.dumps(play))  # JSON is YAML
    fstab_before, sysctl_d = fstab_view(work), sorted(os.listdir("/etc/sysctl.d"))

    def run(*args: str) -> Run:
        record = tmp_path / f"record-{time.monotonic_ns()}.jsonl"
        env = ansible_env(home, config, collections)
        return run_playbook(
            env, tmp_path, record, ["-e", f"ansible_python_interpreter={sys.executable}", *args, str(book)]
        )

    def pool_now() -> str:
        return (ZSWAP / "max_pool_percent").read_text().strip()

    def untouched() -> None:
        assert _zram_swaps() == {} and _zram_names() == zram_guard
        assert (Path("/sys/block") / device / "initstate").read_text().strip() == "0"
        assert pool_now() == zswap_guard["max_pool_percent"]
        assert int(SWAPPINESS.read_text()) == swappiness
        assert work.swaps() == {} and not applied.exists()

    # --check --diff: all three would change, with the values before and after; nothing on the machine moves.
    check = run("--check", "--diff")
    assert check.returncode == 0, str(check)
    for name in names.values():
        task = check.task(name)
        assert task["status"] == "ok" and task["changed"] is True and task["transaction"] is None, task
        assert task["actions"] and all(a["status"] == "planned" for a in task["actions"]), task["actions"]
    zram_diff = values_diff(check.task(names["zram"]))
    assert f"/dev/{device}: not set up" in zram_diff["before"] and f"/dev/{device}: 32 MiB" in zram_diff["after"]
    zswap_diff = values_diff(check.task(names["zswap"]))
    assert zswap_diff["before"] == f"zswap max_pool_percent: {zswap_guard['max_pool_percent']}\n", zswap_diff
    assert zswap_diff["after"] == f"zswap max_pool_percent: {pool}\n", zswap_diff
    apply_diff = values_diff(check.task(names["apply"]))
    assert f"vm.swappiness: {swappiness}" in apply_diff["before"] and f"vm.swappiness: {target}" in apply_diff["after"]
    assert f"swap area {applied}: off" in apply_diff["before"], apply_diff
    assert check.recap()["changed"] == 3 and check.recap()["failed"] == 0
    untouched()
    assert not work.state_dir.exists(), "check mode wrote swapctl's journal"

    # First run: all three change, each in its own transaction; the kernel says so independently.
    first = run()
    assert first.returncode == 0, str(first)
    for name in names.values():
        task = first.task(name)
        assert task["status"] == "ok" and task["changed"] is True and task["transaction"], task
    transactions = {k: first.task(n)["transaction"] for k, n in names.items()}
    assert len(set(transactions.values())) == 3, transactions
    assert first.recap()["changed"] == 3 and first.recap()["failed"] == 0
    assert _zram_swaps() == {device: 100} and _zram_names() == zram_guard, "a free device was there: no hot_add"
    assert (Path("/sys/block") / device / "disksize").read_text().strip() == str(32 * MiB)
    assert pool_now() == pool
    assert int(SWAPPINESS.read_text()) == target
    assert areas(work) == {str(applied): ("file", (16 * MiB - PAGE) // 1024)}
    steps = [a["step"] for a in first.task(names["apply"])["actions"]]
    assert "swapon" in steps and "sysctl-write" in steps, steps  # the swap file and the knob: one transaction

    # Second run: already so, changed=0.
    second = run()
    assert second.returncode == 0, str(second)
    for name in names.values():
        task = second.task(name)
        assert task["status"] == "ok" and task["changed"] is False and task["actions"] == [], task
    assert second.recap()["changed"] == 0 and second.recap()["failed"] == 0
    assert _zram_swaps() == {device: 100} and pool_now() == pool and int(SWAPPINESS.read_text()) == target

    # All undone, newest first, by swapctl's own rollback: the machine is as found, /etc untouched throughout.
    sw = RealSwapctl(work.state_dir)
    for key in ("apply", "zswap", "zram"):
        r = sw("rollback", transactions[key])
        assert r.returncode == 0, (key, r)
    untouched()
    assert fstab_view(work) == fstab_before and sorted(os.listdir("/etc/sysctl.d")) == sysctl_d
    counts = [r.recap()["changed"] for r in (check, first, second)]
    seconds = [round(r.seconds, 1) for r in (check, first, second)]
    print(f"zram/zswap/apply changed counts: check={counts[0]} first={counts[1]} second={counts[2]} seconds={seconds}")
