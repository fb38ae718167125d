"""The swap file lifecycle (issue 2) on the real kernel: create, list, remove, resize, history, rollback and
crash recovery, through the real CLI in a child process, always swapped off, deleted and restored."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import privileged
from tests.system.conftest import FSTAB, RealSwapctl, Workspace, logging_shims, write_shim

pytestmark = [privileged, pytest.mark.privileged]

PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1 << 20
AREA_FIELDS = {"path", "type", "size", "used", "priority", "managed", "persisted", "encrypted", "encryption"}
TOOLS = ("fallocate", "mkswap", "swapon", "swapoff", "dmesg", "chattr", "lsattr", "losetup")


def fstab_lines_for(path: str) -> list[str]:
    escaped = path.replace("\\", "\\134").replace(" ", "\\040")
    return [
        ln
        for ln in (FSTAB.read_bytes() if FSTAB.exists() else b"").decode().splitlines()
        if ln.split()[:1] == [escaped] and not ln.startswith("#")
    ]


def kernel_size(area: dict) -> int:
    """Bytes the kernel counts for an area: /proc/swaps gives KiB without the header page."""
    return area["size_kib"] * 1024


def assert_untouched(work: Workspace, fstab_before: bytes | None, swaps_before: dict | None = None) -> None:
    assert work.areas() == (swaps_before or {}), "a swap area was left active"
    assert work.listing() == [], "a file was left behind"
    assert work.fstab() == fstab_before, "/etc/fstab changed"


def assert_refused(r, code: int = 3) -> None:
    assert r.returncode == code, str(r)
    assert r.stderr.startswith("swapctl: error: "), str(r)
    assert "Traceback" not in r.stderr + r.stdout


# --- create -------------------------------------------------------------------------------------------


def test_create_makes_an_active_root_owned_0600_swap_file_of_the_asked_size(
    swapctl: RealSwapctl, work: Workspace
) -> None:
    path = str(work.swapdir / "swapfile")
    r, doc = swapctl.json("create", path, "--size", "32M", "--no-persist")
    assert r.returncode == 0, str(r)
    assert doc["ok"] is True and doc["changed"] is True and doc["dry_run"] is False
    assert doc["data"]["size"] == 32 * MiB
    assert [a["status"] for a in doc["actions"]] == ["done"] * len(doc["actions"])
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0 and st.st_gid == 0
    assert st.st_size == 32 * MiB
    with open(path, "rb") as fh:
        assert fh.read(PAGE)[-10:] == b"SWAPSPACE2"
    area = work.swaps()[path]
    assert area["type"] == "file" and kernel_size(area) == 32 * MiB - PAGE


def test_create_leaves_a_0600_file_when_killed_just_after_creating_it_and_rollback_removes_it(
    swapctl: RealSwapctl, work: Workspace
) -> None:
    path = work.swapdir / "early"
    # umask 0 in the child: a mode that came from the umask instead of the open() would show as 0666.
    r = swapctl("create", str(path), "--size", "16M", "--no-persist", fault="create-file:0:after:kill", umask=0)
    assert r.returncode == -9, str(r)
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == 0 and st.st_size == 0
    r = swapctl("rollback")
    assert r.returncode == 0, str(r)
    assert not path.exists()


def test_create_opens_the_file_exclusively_without_following_links_and_with_mode_0600_in_one_call(
    swapctl: RealSwapctl, work: Workspace, tmp_path: Path
) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed: cannot watch the open(2) flags")
    path = str(work.swapdir / "traced")
    log = tmp_path / "strace.log"
    r = swapctl(
        "create",
        path,
        "--size",
        "16M",
        "--no-persist",
        umask=0,
        wrap=[strace, "-f", "-qq", "-y", "-o", str(log), "-e", "trace=openat,open,creat,chmod,fchmod,fchmodat"],
    )
    assert r.returncode == 0, str(r)
    calls = [ln for ln in log.read_text().splitlines() if path in ln]
    creating = [ln for ln in calls if "O_CREAT" in ln]
    assert len(creating) == 1, calls
    assert re.search(r"O_EXCL", creating[0]) and "O_NOFOLLOW" in creating[0], creating[0]
    assert re.search(r", 0600\) = \d+", creating[0]), creating[0]
    assert calls.index(creating[0]) == 0, "the file was touched before it was created: " + calls[0]
    chmods = [ln for ln in calls if "chmod" in ln]
    assert all(", 0600)" in ln for ln in chmods), chmods


def test_create_again_on_the_same_active_file_reports_no_change(swapctl: RealSwapctl, work: Workspace) -> None:
    path = str(work.swapdir / "again")
    assert swapctl("create", path, "--size", "16M", "--no-persist").returncode == 0
    before = os.stat(path)
    swaps_before = work.areas()
    r, doc = swapctl.json("create", path, "--size", "16M", "--no-persist")
    assert r.returncode == 0, str(r)
    assert doc["changed"] is False and doc["actions"] == []
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert work.areas() == swaps_before


def test_create_only_swaps_on_an_inactive_valid_swap_file_of_that_size(swapctl: RealSwapctl, work: Workspace) -> None:
    path = work.swapdir / "inactive"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.posix_fallocate(fd, 0, 16 * MiB)
    os.close(fd)
    mk = shutil.which("mkswap", path=os.environ["PATH"] + ":/usr/sbin:/sbin")
    assert mk and os.spawnv(os.P_WAIT, mk, [mk, "-q", str(path)]) == 0
    ino = os.stat(path).st_ino
    r, doc = swapctl.json("create", str(path), "--size", "16M", "--no-persist")
    assert r.returncode == 0, str(r)
    assert doc["changed"] is True and [a["step"] for a in doc["actions"]] == ["swapon"]
    assert os.stat(path).st_ino == ino
    assert str(path) in work.swaps()


def test_create_refuses_an_existing_file_that_is_not_swap_and_leaves_it_untouched(
    swapctl: RealSwapctl, work: Workspace
) -> None:
    path = work.swapdir / "data"
    payload = os.urandom(MiB)
    path.write_bytes(payload)
    os.chmod(path, 0o644)
    before = os.stat(path)
    fstab_before = work.fstab()
    r = swapctl("create", str(path), "--size", "16M")
    assert_refused(r)
    assert "not a swap area" in r.stderr and "hint: " in r.stderr
    after = os.stat(path)
    assert path.read_bytes() == payload
    assert (after.st_ino, after.st_mtime_ns, stat.S_IMODE(after.st_mode)) == (before.st_ino, before.st_mtime_ns, 0o644)
    assert work.swaps() == {} and work.listing() == ["data"] and work.fstab() == fstab_before


def test_create_on_dev_shm_is_refused_and_creates_nothing(swapctl: RealSwapctl, work: Workspace) -> None:
    if not os.path.isdir("/dev/shm"):
        pytest.skip("/dev/shm does not exist here")
    path = Path(f"/dev/shm/swapctl-systest-{os.getpid()}")
    fstab_before = work.fstab()
    try:
        r = swapctl("create", str(path), "--size", "16M")
        assert_refused(r)
        assert r.stdout == ""
        assert not path.exists()
        assert work.fstab() == fstab_before
        assert str(path) not in "".join(Path("/proc/swaps").read_text().splitlines()[1:])
    finally:
        if path.exists():  # only if the refusal failed: never leave a swap file in RAM
            subprocess.run(["swapoff", str(path)], capture_output=True, check=False)
            path.unlink()


@pytest.mark.parametrize("tool", ["swapon", "mkswap"])
def test_a_failing_tool_makes_create_exit_1_and_leaves_the_machine_as_before(
    swapctl: RealSwapctl, work: Workspace, shim_dir: Path, tool: str
) -> None:
    write_shim(
        shim_dir,
        tool,
        f'for a; do last="$a"; done\necho "{tool}: $last: {tool} failed: Invalid argument" >&2\nexit 1\n',
    )
    fstab_before = work.fstab()
    path = str(work.swapdir / "failing")
    r, doc = swapctl.json("create", path, "--size", "16M", path_prefix=shim_dir)
    assert r.returncode == 1, str(r)
    assert doc["ok"] is False and tool in doc["error"]["message"]
    assert "Invalid argument" in doc["error"]["message"]
    # The shim failed, not the kernel: no kernel line may be given as the reason (an OOM report's memcg
    # stats or another area's "Adding ... swap on" line were, before).
    assert "oom-kill" not in doc["error"]["message"] and "Adding" not in doc["error"]["message"]
    steps = [a["step"] for a in doc["actions"]]
    statuses = [a["status"] for a in doc["actions"]]
    failed = steps.index(tool)
    assert statuses[failed] == "failed" and set(statuses[:failed]) == {"undone"}, doc["actions"]
    assert_untouched(work, fstab_before)


# --- list --------------------------------------------------------------------------------------------------


def test_list_reports_each_area_in_bytes_and_decodes_a_name_with_a_space(swapctl: RealSwapctl, work: Workspace) -> None:
    spaced = str(work.swapdir / "a b")
    persisted = str(work.swapdir / "kept")
    assert swapctl("create", spaced, "--size", "16M", "--no-persist", "-p", "3").returncode == 0
    assert swapctl("create", persisted, "--size", "32M").returncode == 0
    assert "a\\040b" in Path("/proc/swaps").read_text()  # the kernel escapes it; list must not
    r, doc = swapctl.json("list")
    assert r.returncode == 0, str(r)
    areas = {a["path"]: a for a in doc["data"]["areas"]}
    assert all(set(a) == AREA_FIELDS for a in areas.values())
    kernel = work.swaps()
    a = areas[spaced]
    assert a["used"] >= 0 and a["used"] % 1024 == 0  # the kernel counts KiB; other tests' pressure moves it
    # /var/tmp is on this machine's plain virtio disk: the stack read from sysfs has no dm-crypt in it.
    disk = os.stat(work.swapdir).st_dev
    assert a["encryption"]["device"] is not None, a["encryption"]
    assert Path(f"/sys/dev/block/{os.major(disk)}:{os.minor(disk)}/dm").exists() or a["encrypted"] is False
    del a["encryption"]
    assert a | {"used": 0} == {
        "path": spaced,
        "type": "file",
        "size": 16 * MiB - PAGE,
        "used": 0,
        "priority": 3,
        "managed": True,
        "persisted": False,
        "encrypted": a["encrypted"],
    }
    b = areas[persisted]
    assert b["size"] == 32 * MiB - PAGE and b["managed"] is True and b["persisted"] is True
    assert b["priority"] == kernel[persisted]["priority"] < 0
    assert doc["data"]["total"] == sum(x["size"] for x in doc["data"]["areas"])
    assert doc["data"]["mem_total"] > doc["data"]["mem_available"] > 0
    table = swapctl("list", env={"COLUMNS": "250"})
    assert table.returncode == 0 and spaced in table.stdout and "\\040" not in table.stdout


# --- remove ------------------------------------------------------------------------------------------------


def test_remove_swaps_off_and_deletes_then_a_second_remove_changes_nothing(
    swapctl: RealSwapctl, work: Workspace
) -> None:
    path = str(work.swapdir / "gone")
    assert swapctl("create", path, "--size", "16M", "--no-persist").returncode == 0
    r, doc = swapctl.json("remove", path)
    assert r.returncode == 0, str(r)
    assert doc["changed"] is True
    assert path not in work.swaps() and work.listing() == []
    r, doc = swapctl.json("remove", path)
    assert r.returncode == 0, str(r)
    assert doc["changed"] is False and doc["actions"] == []


def test_remove_refuses_a_passwd_like_file_and_never_deletes_it(swapctl: RealSwapctl, work: Workspace) -> None:
    path = work.swapdir / "passwd"
    shutil.copyfile("/etc/passwd", path)
    payload = path.read_bytes()
    for extra in ([], ["--force"], ["--keep-file"], ["--dry-run"]):
        r = swapctl("remove", str(path), *extra)
        assert_refused(r)
        assert "not a swap area" in r.stderr
        assert path.read_bytes() == payload, f"remove {extra} changed the file"


def test_persisted_create_then_remove_leaves_fstab_byte_identical(swapctl: RealSwapctl, work: Workspace) -> None:
    path = str(work.swapdir / "per sisted")
    before = work.fstab()
    mode = stat.S_IMODE(FSTAB.stat().st_mode)
    assert swapctl("create", path, "--size", "16M", "-p", "4").returncode == 0
    assert fstab_lines_for(path) == [path.replace(" ", "\\040") + " none swap defaults,pri=4 0 0"]
    after_create = work.fstab()
    assert after_create.startswith(before or b"")  # every line that was there is kept as it was
    r, doc = swapctl.json("create", path, "--size", "16M", "-p", "4")
    assert r.returncode == 0 and doc["changed"] is False
    assert work.fstab() == after_create, "a second create duplicated or rewrote the fstab line"
    assert swapctl("remove", path).returncode == 0
    assert work.fstab() == before
    assert stat.S_IMODE(FSTAB.stat().st_mode) == mode


def test_fstab_without_a_final_newline_comes_back_byte_identical(swapctl: RealSwapctl, work: Workspace) -> None:
    original = FSTAB.read_bytes() if FSTAB.exists() else b""
    # Both added lines name the work dir, so its cleanup drops them even if another test changed fstab too.
    mark = str(work.root).encode()
    FSTAB.write_bytes(original + b"# " + mark + b": tabs\tand trailing spaces   \n#" + mark + b" no final newline")
    odd = work.fstab()  # the work fixture puts the original back
    path = str(work.swapdir / "nl")
    assert swapctl("create", path, "--size", "16M").returncode == 0
    assert len(fstab_lines_for(path)) == 1
    assert swapctl("remove", path).returncode == 0
    assert work.fstab() == odd


# --- resize ------------------------------------------------------------------------------------------------


class SwapSampler(threading.Thread):
    """Counts the areas under a directory in /proc/swaps as fast as it can, while a resize runs."""

    def __init__(self, work: Workspace) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.counts: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.counts.append(len(self.work.swaps()))
            time.sleep(0.0005)

    def __enter__(self) -> SwapSampler:
        self.start()
        while not self.counts:
            time.sleep(0.001)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join()


@pytest.mark.parametrize("sizes", [("32M", "64M"), ("64M", "16M")], ids=["grow", "shrink"])
def test_resize_changes_the_size_in_place_without_a_gap_in_swap(
    swapctl: RealSwapctl, work: Workspace, sizes: tuple[str, str]
) -> None:
    old, new = sizes
    path = str(work.swapdir / "resized")
    assert swapctl("create", path, "--size", old, "-p", "7").returncode == 0
    fstab_line = fstab_lines_for(path)
    with SwapSampler(work) as sampler:
        r, doc = swapctl.json("resize", path, "--size", new)
    assert r.returncode == 0, str(r)
    assert doc["changed"] is True
    assert min(sampler.counts) >= 1, "swap dropped to zero areas during the resize"
    assert max(sampler.counts) == 2, "the sampler never saw the bridge area (sampling too slow?)"
    want = int(new[:-1]) * MiB
    area = work.swaps()
    assert list(area) == [path]
    assert kernel_size(area[path]) == want - PAGE and area[path]["priority"] == 7
    st = os.stat(path)
    assert st.st_size == want and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    assert work.listing() == ["resized"]
    assert fstab_lines_for(path) == fstab_line
    r, doc = swapctl.json("resize", path, "--size", new)
    assert r.returncode == 0 and doc["changed"] is False


# --- history and rollback ------------------------------------------------------------------------------------


def test_rollback_of_a_create_removes_the_file_and_its_fstab_line(swapctl: RealSwapctl, work: Workspace) -> None:
    before = work.fstab()
    path = str(work.swapdir / "undone")
    r, created = swapctl.json("create", path, "--size", "16M")
    assert r.returncode == 0, str(r)
    r, hist = swapctl.json("history")
    newest = hist["data"]["transactions"][0]
    assert (newest["id"], newest["command"], newest["status"]) == (created["transaction"], "create", "committed")
    r, doc = swapctl.json("rollback")
    assert r.returncode == 0, str(r)
    assert doc["changed"] is True and doc["data"]["target"] == created["transaction"]
    assert_untouched(work, before)
    r, hist = swapctl.json("history")
    by_id = {t["id"]: t for t in hist["data"]["transactions"]}
    assert by_id[created["transaction"]]["status"] == "rolled-back"
    r, doc = swapctl.json("rollback")
    assert r.returncode == 0 and doc["changed"] is False, "a second rollback must not undo the rollback"
    assert_untouched(work, before)


def test_rollback_of_a_remove_recreates_the_file_with_its_size_and_priority(
    swapctl: RealSwapctl, work: Workspace
) -> None:
    path = str(work.swapdir / "back")
    assert swapctl("create", path, "--size", "16M", "-p", "5").returncode == 0
    fstab_with_line = work.fstab()
    assert swapctl("remove", path).returncode == 0
    assert work.listing() == []
    r, doc = swapctl.json("rollback")
    assert r.returncode == 0, str(r)
    st = os.stat(path)
    assert st.st_size == 16 * MiB and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    area = work.swaps()[path]
    assert area["priority"] == 5 and kernel_size(area) == 16 * MiB - PAGE
    assert work.fstab() == fstab_with_line
    # Still swapctl's own file: a later remove deletes it.
    assert swapctl("remove", path).returncode == 0
    assert work.listing() == []


# --- crashes -------------------------------------------------------------------------------------------------

CREATE_CRASHES = [
    "create-file:0:before",
    "create-file:0:after",
    "allocate:1:after",
    "mkswap:2:after",
    "swapon:3:before",
    "swapon:3:after",
    "fstab-set:4:before",
    "fstab-set:4:after",
]


@pytest.mark.parametrize("point", CREATE_CRASHES)
def test_a_create_killed_mid_way_blocks_other_changes_until_rollback_restores_the_machine(
    swapctl: RealSwapctl, work: Workspace, point: str
) -> None:
    # An area made before the crash, which remove and resize would otherwise change.
    earlier = str(work.swapdir / "earlier")
    assert swapctl("create", earlier, "--size", "16M", "--no-persist").returncode == 0
    swaps_before = work.areas()
    before = work.fstab()
    path = str(work.swapdir / "crash")
    r = swapctl("create", path, "--size", "16M", fault=f"{point}:kill")
    assert r.returncode == -9, str(r)
    r, hist = swapctl.json("history")
    assert hist["data"]["transactions"][0]["status"] == "pending"
    assert hist["warnings"], "history should point at the unfinished transaction"
    other = str(work.swapdir / "other")
    for args in (["create", other, "--size", "16M"], ["remove", earlier], ["resize", earlier, "--size", "32M"]):
        r = swapctl(*args)
        assert_refused(r)
        if args[0] != "create" and "would need" in r.stderr:
            continue  # refused earlier, for memory: other tests on this machine pushed pages to `earlier`
        assert "pending" in r.stderr and "swapctl rollback" in r.stderr, str(r)
    assert not os.path.exists(other) and work.areas().get(earlier) == swaps_before[earlier]
    r, doc = swapctl.json("rollback")
    assert r.returncode == 0, str(r)
    assert work.areas() == swaps_before and work.listing() == ["earlier"] and work.fstab() == before
    r, hist = swapctl.json("history")
    assert all(t["status"] != "pending" for t in hist["data"]["transactions"])
    assert swapctl("create", path, "--size", "16M", "--no-persist").returncode == 0, "still blocked after rollback"


@pytest.mark.parametrize(
    "point", ["swapoff:0:after", "fstab-set:1:after", "delete-file:2:before", "delete-file:2:after"]
)
def test_a_remove_killed_mid_way_is_rolled_back_to_the_active_persisted_file(
    swapctl: RealSwapctl, work: Workspace, point: str
) -> None:
    path = str(work.swapdir / "crash-rm")
    assert swapctl("create", path, "--size", "16M", "-p", "6").returncode == 0
    persisted = work.fstab()
    r = swapctl("remove", path, fault=f"{point}:kill")
    assert r.returncode == -9, str(r)
    assert_refused(swapctl("create", str(work.swapdir / "x"), "--size", "16M"))
    r = swapctl("rollback")
    assert r.returncode == 0, str(r)
    area = work.swaps().get(path)
    assert area is not None and area["priority"] == 6 and kernel_size(area) == 16 * MiB - PAGE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert work.fstab() == persisted
    assert work.listing() == ["crash-rm"]


@pytest.mark.parametrize("point", ["swapon:3:after", "delete-file:5:after", "swapon:9:after"])
def test_a_resize_killed_mid_way_is_rolled_back_to_the_old_file_with_no_bridge_left(
    swapctl: RealSwapctl, work: Workspace, point: str
) -> None:
    path = str(work.swapdir / "crash-rs")
    assert swapctl("create", path, "--size", "32M", "-p", "2").returncode == 0
    persisted = work.fstab()
    r = swapctl("resize", path, "--size", "16M", fault=f"{point}:kill")
    assert r.returncode == -9, str(r)
    assert work.swaps(), "the kill left no swap at all"
    r = swapctl("rollback")
    assert r.returncode == 0, str(r)
    swaps = work.swaps()
    assert list(swaps) == [path] and swaps[path]["priority"] == 2
    assert kernel_size(swaps[path]) == 32 * MiB - PAGE
    assert work.listing() == ["crash-rs"]
    assert work.fstab() == persisted


# --- dry run -------------------------------------------------------------------------------------------------


def test_dry_run_runs_no_command_and_writes_no_file(
    swapctl: RealSwapctl, work: Workspace, shim_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "calls.log"
    logging_shims(shim_dir, log, TOOLS)
    before = work.fstab()
    path = str(work.swapdir / "dry")

    r, doc = swapctl.json("create", path, "--size", "16M", "--dry-run", path_prefix=shim_dir)
    assert r.returncode == 0, str(r)
    assert doc["dry_run"] is True and doc["transaction"] is None and doc["actions"]
    assert {a["status"] for a in doc["actions"]} == {"planned"}
    assert not log.exists(), log.read_text()
    assert_untouched(work, before)
    assert not work.state_dir.exists() or os.listdir(work.state_dir) in ([], ["lock"]), "the journal was written"

    # The shims do see real runs, so their silence above means something.
    assert swapctl("create", path, "--size", "32M", path_prefix=shim_dir).returncode == 0
    assert {"mkswap", "swapon"} <= {ln.split()[0] for ln in log.read_text().splitlines()}
    log.unlink()

    st = os.stat(path)
    swaps = work.areas()
    with_line = work.fstab()
    journal = {p.name: p.read_bytes() for p in work.state_dir.iterdir() if p.is_file()}
    for args in (
        ["resize", path, "--size", "16M"],
        ["remove", path],
        ["rollback"],
        ["create", str(work.swapdir / "dry2"), "--size", "16M"],
    ):
        r, doc = swapctl.json(*args, "--dry-run", path_prefix=shim_dir)
        assert r.returncode == 0, str(r)
        assert doc["dry_run"] is True and doc["actions"], f"{args[0]} --dry-run planned nothing"
        assert not log.exists(), f"{args[0]} --dry-run ran: {log.read_text()}"
        after = os.stat(path)
        assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
        assert work.areas() == swaps and work.fstab() == with_line and work.listing() == ["dry"]
        assert {p.name: p.read_bytes() for p in work.state_dir.iterdir() if p.is_file()} == journal
