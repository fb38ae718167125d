"""`zram create | resize | remove` run for real on a fake machine whose sysfs is played by a fake zram driver
(ZramKernel below: the rules of drivers/block/zram/zram_drv.c that swapctl relies on), then rolled back: the
sysfs writes in the kernel's order, the errors the kernel gives, the undo when someone else changed a device
since, the zram-generator drop-in, and the journal checks of each step. The dry-run plans are in
tests/cli/test_zram_write_cli.py; the real kernel in tests/system/test_zram_zswap_real.py."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from swapctl.core.errors import OperationFailed, Refused
from swapctl.core.journal import Journal
from swapctl.core.plan import Plan, Step, StepRecordError, UndoContext, execute
from swapctl.ops import zram_set
from tests.cli.test_zram_zswap_cli import swaps, zram_device
from tests.fakes import fake_host, systemd_init

MIB, GIB = 1 << 20, 1 << 30
FREE = "0 0 0 0 0 0 0 0 0\n"
DEFAULT = "[lzo-rle] lzo lz4 zstd \n"  # what a new or reset device selects
DROP_IN = "etc/systemd/zram-generator.conf.d/90-swapctl.conf"


class ZramKernel:
    """Plays zram's sysfs on a fake root: a read of zram-control/hot_add adds the lowest free device and answers
    its id; comp_algorithm and disksize are taken only before the device is initialised (EBUSY), disksize
    initialises it (and makes /dev/zramN, for mkswap and swapon); reset empties it (EBUSY while swapped on);
    hot_remove takes an id (EBUSY while set up). `writes` lists every write as (zramN/attr, value)."""

    def __init__(self, root: Path, host: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root, self.host = root, host
        self.writes: list[tuple[str, str]] = []
        self.refuse: dict[str, OSError] = {}  # "disksize", "comp_algorithm", "hot_remove", ... -> the error
        self.answer: str | None = None  # what hot_add answers instead of the device it adds
        self.added: str | None = None  # the device hot_add adds instead of the lowest free one
        self.reads_back: int | None = None  # a disksize the device shows instead of the one written
        control = root / "sys/class/zram-control"
        control.mkdir(parents=True, exist_ok=True)
        (control / "hot_add").write_text("")
        (control / "hot_remove").write_text("")
        read_text = host.read_text

        def read(path: str, **kw: Any) -> str:
            return self.hot_add() if path == zram_set.HOT_ADD else read_text(path, **kw)

        monkeypatch.setattr(host, "read_text", read)
        monkeypatch.setattr(host, "write_sysctl", self.write)

    def dev(self, name: str) -> Path:
        return self.root / "sys/block" / name

    def initialised(self, name: str) -> bool:
        return (self.dev(name) / "initstate").read_text().strip() == "1"

    def swapped_on(self, name: str) -> bool:
        return f"/dev/{name} " in (self.root / "proc/swaps").read_text()

    def hot_add(self) -> str:
        if "hot_add" in self.refuse:
            raise self.refuse["hot_add"]
        taken = {int(n[4:]) for n in os.listdir(self.root / "sys/block") if n.startswith("zram")}
        name = self.added or f"zram{min(set(range(len(taken) + 1)) - taken)}"
        zram_device(self.root, name, disksize=0, mm=FREE)
        (self.dev(name) / "comp_algorithm").write_text(DEFAULT)
        return (self.answer if self.answer is not None else name[4:]) + "\n"

    def write(self, path: str, value: str) -> None:
        parts = path.split("/")
        name, attr = parts[-2], parts[-1]
        self.writes.append((f"{name}/{attr}", value))
        if attr in self.refuse:
            raise self.refuse[attr]
        if attr == "hot_remove":
            target = f"zram{value}"
            if not self.dev(target).is_dir():
                raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
            if self.initialised(target):
                raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
            shutil.rmtree(self.dev(target))
            (self.root / "dev" / target).unlink(missing_ok=True)
            return
        d = self.dev(name)
        if attr in ("comp_algorithm", "algorithm_params", "disksize") and self.initialised(name):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        if attr == "comp_algorithm":
            names = (d / "comp_algorithm").read_text().replace("[", "").replace("]", "").split()
            if value not in names:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            (d / "comp_algorithm").write_text(" ".join(f"[{n}]" if n == value else n for n in names) + " \n")
        elif attr == "mem_limit":
            mm = (d / "mm_stat").read_text().split()
            mm[3] = value
            (d / "mm_stat").write_text(" ".join(mm) + "\n")
        elif attr == "disksize":
            size = int(value) if self.reads_back is None else self.reads_back
            (d / "disksize").write_text(f"{size}\n")
            (d / "initstate").write_text("1\n" if size else "0\n")
            (self.root / "dev").mkdir(exist_ok=True)
            with open(self.root / "dev" / name, "wb") as fh:
                fh.truncate(int(value))
        elif attr == "reset":
            if self.swapped_on(name):
                raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
            (d / "disksize").write_text("0\n")
            (d / "initstate").write_text("0\n")
            (d / "mm_stat").write_text(FREE)
            (d / "comp_algorithm").write_text(DEFAULT)


@pytest.fixture
def kernel(root: Path, host: Any, monkeypatch: pytest.MonkeyPatch) -> ZramKernel:
    return ZramKernel(root, host, monkeypatch)


def run(cli: Any, *args: str) -> tuple[int, dict]:
    r = cli("-o", "json", *args)
    return r.exit_code, json.loads(r.stdout)


def steps(doc: dict) -> list[str]:
    return [a["step"] for a in doc["actions"]]


def in_use(root: Path, name: str = "zram0", size: int = 64 * MIB, prio: int = 100) -> None:
    """A device set up and swapped on by someone (the journal has nothing of it)."""
    zram_device(root, name, disksize=size, mm=FREE)
    line = f"/dev/{name}                              partition\t{size // 1024 - 4}\t\t0\t\t{prio}"
    old = (root / "proc/swaps").read_text().splitlines()[1:]
    swaps(root, *old, line)


def generator(root: Path) -> None:
    g = root / "usr/lib/systemd/system-generators/zram-generator"
    g.parent.mkdir(parents=True)
    g.write_text("")
    systemd_init(root)


def journal_of(host: Any) -> Journal:
    return Journal(host.paths.state_dir, boot_id=host.boot_id(), kernel=host.kernel_release())


# --- create, applied and rolled back --------------------------------------------------------------------------
def test_create_writes_algorithm_then_mem_limit_then_disksize_and_rollback_resets_it(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    zram_device(root, disksize=0, mm=FREE)
    code, doc = run(cli, "zram", "create", "--size", "64M", "--algorithm", "lzo", "--mem-limit", "32M")
    assert code == 0 and doc["changed"], doc
    assert steps(doc) == ["zram-setup", "zram-mkswap", "swapon"]
    assert kernel.writes == [
        ("zram0/comp_algorithm", "lzo"),
        ("zram0/mem_limit", str(32 * MIB)),
        ("zram0/disksize", str(64 * MIB)),
    ]
    assert kernel.swapped_on("zram0") and "\t100" in (root / "proc/swaps").read_text()
    status = json.loads(cli("-o", "json", "zram", "status").stdout)["data"]["devices"][0]
    assert status["algorithm"] == "lzo" and status["disksize"] == 64 * MIB
    code, doc = run(cli, "rollback")
    assert code == 0, doc
    assert kernel.writes[3:] == [("zram0/reset", "1")]
    assert not kernel.swapped_on("zram0") and not kernel.initialised("zram0")
    assert kernel.dev("zram0").is_dir()  # not added by swapctl: it stays
    assert [a["step"] for a in doc["actions"]] == ["swapon", "zram-setup"]  # mkswap has nothing to undo


def test_create_leaves_the_algorithm_alone_when_the_device_has_it_already(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    zram_device(root, disksize=0, mm=FREE)  # lz4 selected
    assert run(cli, "zram", "create", "--size", "64M", "--algorithm", "lz4")[0] == 0
    assert kernel.writes == [("zram0/disksize", str(64 * MIB))]


def test_create_adds_a_device_and_rollback_removes_it_again(cli: Any, root: Path, kernel: ZramKernel) -> None:
    in_use(root)
    code, doc = run(cli, "zram", "create", "--size", "32M", "--priority", "5")
    assert code == 0 and steps(doc) == ["zram-hot-add", "zram-setup", "zram-mkswap", "swapon"], doc
    assert doc["data"]["device"] == "/dev/zram1" and kernel.swapped_on("zram1")
    assert kernel.writes == [("zram1/disksize", str(32 * MIB))]
    code, doc = run(cli, "rollback")
    assert code == 0, doc
    assert kernel.writes[1:] == [("zram1/reset", "1"), ("zram-control/hot_remove", "1")]
    assert not kernel.dev("zram1").exists() and kernel.swapped_on("zram0")


def test_a_device_another_program_added_meanwhile_is_removed_again_and_nothing_is_left(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    in_use(root)
    kernel.added = "zram2"  # zram1 was taken (and freed) between the plan and hot_add
    r = cli("zram", "create", "--size", "32M")
    assert r.exit_code == 1, r.output
    assert (
        "the kernel added zram2, not the planned zram1 (another program added a device meanwhile); it was removed "
        "again" in r.output
    )
    assert kernel.writes == [("zram-control/hot_remove", "2")]
    assert not kernel.dev("zram2").exists() and not kernel.dev("zram1").exists()


@pytest.mark.parametrize(
    ("answer", "error", "says"),
    [
        ("x1", None, "zram-control/hot_add answered 'x1', not a device number"),
        (None, OSError(errno.ENOMEM, "Cannot allocate memory"), "adding a zram device: Cannot allocate memory"),
        (None, OSError("no strerror"), "adding a zram device: no strerror"),
    ],
)
def test_a_hot_add_that_gives_no_device_fails_the_create_with_its_words(
    cli: Any, root: Path, kernel: ZramKernel, answer: str | None, error: OSError | None, says: str
) -> None:
    in_use(root)
    kernel.answer = answer
    if error is not None:
        kernel.refuse["hot_add"] = error
    r = cli("zram", "create", "--size", "32M")
    assert r.exit_code == 1 and says in r.output, r.output
    assert "add /dev/zram1 (zram-control/hot_add) failed" in r.output
    assert kernel.writes == []


@pytest.mark.parametrize(
    ("attr", "err", "says"),
    [
        (
            "disksize",
            errno.EBUSY,
            f"disksize {64 * MIB} on /dev/zram1: the kernel refused it: Device or resource busy (the device is "
            "initialised or open)",
        ),
        ("comp_algorithm", errno.EINVAL, "algorithm lzo on /dev/zram1: the kernel refused it: Invalid argument;"),
        ("mem_limit", errno.ENOMEM, "mem_limit on /dev/zram1: the kernel refused it: Cannot allocate memory;"),
    ],
)
def test_a_write_the_kernel_refuses_fails_with_its_reason_and_the_added_device_goes(
    cli: Any, root: Path, kernel: ZramKernel, attr: str, err: int, says: str
) -> None:
    in_use(root)
    kernel.refuse[attr] = OSError(err, os.strerror(err))
    r = cli("zram", "create", "--size", "64M", "--algorithm", "lzo", "--mem-limit", "1G")
    assert r.exit_code == 1, r.output
    assert says in " ".join(r.output.split()), r.output
    assert r.output.count("(the device is initialised or open)") == (err == errno.EBUSY)
    assert kernel.writes[-1] == ("zram-control/hot_remove", "1") and not kernel.dev("zram1").exists()


def test_an_error_without_strerror_is_said_as_it_is(root: Path, kernel: ZramKernel) -> None:
    zram_device(root, disksize=0, mm=FREE)
    kernel.refuse["disksize"] = OSError("odd failure")
    with pytest.raises(OperationFailed) as e:
        zram_set.ZramSetup(device="zram0", disksize=64 * MIB).apply(kernel.host, {})
    assert e.value.message == f"disksize {64 * MIB} on /dev/zram0: the kernel refused it: odd failure"


@pytest.mark.parametrize(("shown", "says"), [(0, "0 B"), (32 * MIB, "32 MiB")])
def test_a_disksize_that_reads_back_otherwise_fails_the_create(
    cli: Any, root: Path, kernel: ZramKernel, shown: int, says: str
) -> None:
    zram_device(root, disksize=0, mm=FREE)
    kernel.reads_back = shown
    r = cli("zram", "create", "--size", "64M")
    assert r.exit_code == 1
    assert f"/dev/zram0 reads back {says} after disksize 64 MiB was written" in r.output
    assert not kernel.swapped_on("zram0")


def test_a_device_gone_before_set_up_or_set_up_by_someone_else_meanwhile_is_a_failure_or_a_refusal(
    root: Path, kernel: ZramKernel
) -> None:
    step = zram_set.ZramSetup(device="zram0", disksize=64 * MIB)
    with pytest.raises(OperationFailed, match="^/dev/zram0 does not exist$"):
        step.apply(kernel.host, {})
    in_use(root, size=GIB)
    with pytest.raises(Refused, match=r"^/dev/zram0 is already set up \(1 GiB\)$"):
        step.apply(kernel.host, {})
    assert kernel.writes == []


@pytest.mark.parametrize("tool", ["mkswap", "swapon"])
def test_a_failed_mkswap_or_swapon_resets_the_device_and_removes_the_one_added(
    cli: Any, root: Path, kernel: ZramKernel, tool: str
) -> None:
    in_use(root)
    kernel.host.runner.fail[tool] = (1, f"{tool}: failed")
    r = cli("zram", "create", "--size", "32M")
    assert r.exit_code == 1 and "every change was rolled back" in r.output, r.output
    assert kernel.writes == [
        ("zram1/disksize", str(32 * MIB)),
        ("zram1/reset", "1"),
        ("zram-control/hot_remove", "1"),
    ]


def test_zram_steps_are_refused_on_a_root_tree_and_so_is_their_rollback(root: Path) -> None:
    tree = fake_host(root)
    tree.live = False
    for step in (
        zram_set.ZramHotAdd(device="zram1"),
        zram_set.ZramSetup(device="zram1", disksize=64 * MIB),
        zram_set.ZramReset(device="zram1"),
        zram_set.ZramHotRemove(device="zram1"),
    ):
        with pytest.raises(Refused, match="is a file tree, not the running machine"):
            step.check(tree)
        with pytest.raises(Refused, match="is a file tree, not the running machine"):
            step.check_undo(tree, {}, UndoContext())
    zram_device(root, disksize=0, mm=FREE)
    r = fake_cli(tree, "zram", "create", "--size", "64M", "--dry-run")
    assert r.exit_code == 3 and "set up /dev/zram0: 64 MiB: --root" in r.output


def fake_cli(host: Any, *args: str) -> Any:
    from swapctl.cli.app import app
    from swapctl.cli.context import Invocation
    from tests.runner import CliRunner

    return CliRunner().invoke(app, list(args), obj=Invocation(host=host), catch_exceptions=False)


# --- undo when someone else changed the device since ------------------------------------------------------------
def test_rollback_of_a_create_leaves_a_device_someone_set_up_again_unless_forced(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    in_use(root)
    assert run(cli, "zram", "create", "--size", "32M")[0] == 0
    # Someone swaps it off, resets it and sets it up again at another size.
    swaps(root, "/dev/zram0                              partition\t65532\t\t0\t\t100")
    (kernel.dev("zram1") / "disksize").write_text(f"{48 * MIB}\n")
    r = cli("rollback")
    assert r.exit_code == 5, r.output
    said = " ".join(r.output.split())
    assert "/dev/zram1 is 48 MiB now, not the 32 MiB swapctl set up; not resetting it" in said
    assert "/dev/zram1 is in use again (set up by someone else?); not removing it" in said
    assert kernel.dev("zram1").is_dir() and ("zram1/reset", "1") not in kernel.writes
    code, doc = run(cli, "rollback", "--force")
    assert code == 0, doc
    assert kernel.writes[-2:] == [("zram1/reset", "1"), ("zram-control/hot_remove", "1")]


def test_the_undo_of_a_hot_add_or_set_up_whose_device_is_gone_or_reset_already_does_nothing(
    root: Path, kernel: ZramKernel
) -> None:
    host, ctx = kernel.host, UndoContext()
    zram_set.ZramHotAdd(device="zram1").undo(host, {}, ctx)  # gone already
    zram_set.ZramSetup(device="zram1", disksize=64 * MIB).undo(host, {}, ctx)
    zram_device(root, "zram1", disksize=0, mm=FREE)
    zram_set.ZramSetup(device="zram1", disksize=64 * MIB).undo(host, {}, ctx)  # reset already
    assert kernel.writes == []
    swaps(root, "/dev/zram1                              partition\t65532\t\t0\t\t-2")  # a swap area again
    with pytest.raises(OperationFailed, match=r"^/dev/zram1 is in use again \(set up by someone else\?\)"):
        zram_set.ZramHotAdd(device="zram1").undo(host, {}, ctx)
    in_use(root, "zram2")
    with pytest.raises(OperationFailed, match="^/dev/zram2 is an active swap area; not resetting it$"):
        zram_set.ZramSetup(device="zram2", disksize=64 * MIB).undo(host, {}, ctx)
    with pytest.raises(OperationFailed, match="^/dev/zram2 is an active swap area"):
        zram_set.ZramSetup(device="zram2", disksize=32 * MIB).undo(host, {}, UndoContext(force=True))
    assert kernel.writes == []


# --- remove, applied and rolled back -------------------------------------------------------------------------
def test_remove_of_a_device_swapctl_added_and_its_rollback_set_it_up_as_it_was(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    in_use(root)
    assert run(cli, "zram", "create", "--size", "32M", "--algorithm", "lz4", "--mem-limit", "16M")[0] == 0
    kernel.writes.clear()
    code, doc = run(cli, "zram", "remove", "zram1")
    assert code == 0 and steps(doc) == ["swapoff", "zram-reset", "zram-hot-remove"], doc
    assert doc["warnings"] == []
    assert kernel.writes == [("zram1/reset", "1"), ("zram-control/hot_remove", "1")]
    assert not kernel.dev("zram1").exists()
    kernel.writes.clear()
    code, doc = run(cli, "rollback")
    assert code == 0, doc
    assert [a["description"] for a in doc["actions"]] == [
        "add /dev/zram1 again (zram-control/hot_add)",
        "set up /dev/zram1 again and mkswap it",
        "swapon /dev/zram1",
    ]
    assert kernel.writes == [
        ("zram1/comp_algorithm", "lz4"),
        ("zram1/mem_limit", str(16 * MIB)),
        ("zram1/disksize", str(32 * MIB)),
    ]
    assert kernel.swapped_on("zram1")
    assert (root / "dev/zram1").read_bytes()[4096 - 10 : 4096] == b"SWAPSPACE2"  # mkswap'd again


def test_remove_of_a_device_without_mem_limit_sets_none_on_undo(cli: Any, root: Path, kernel: ZramKernel) -> None:
    in_use(root, size=32 * MIB)
    code, doc = run(cli, "zram", "remove", "zram0")
    assert code == 0 and steps(doc) == ["swapoff", "zram-reset"]
    kernel.writes.clear()
    assert run(cli, "rollback")[0] == 0
    assert kernel.writes == [("zram0/comp_algorithm", "lz4"), ("zram0/disksize", str(32 * MIB))]


def test_remove_of_an_unused_device_swapctl_added_only_hot_removes_it(cli: Any, root: Path, kernel: ZramKernel) -> None:
    in_use(root)
    host = kernel.host
    plan = Plan("zram create")
    plan.add(zram_set.ZramHotAdd(device="zram1"))
    execute(plan, host, journal_of(host))
    code, doc = run(cli, "zram", "remove", "zram1")
    assert code == 0 and steps(doc) == ["zram-hot-remove"] and doc["warnings"] == [], doc
    assert not kernel.dev("zram1").exists()
    code, doc = run(cli, "rollback")
    assert code == 0 and kernel.dev("zram1").is_dir()
    code, doc = run(cli, "zram", "remove", "zram1")  # the journal's latest word: swapctl added it again
    assert code == 0 and steps(doc) == ["zram-hot-remove"], doc


def test_the_undo_of_a_reset_checks_the_device_first(root: Path, kernel: ZramKernel) -> None:
    host, ctx = kernel.host, UndoContext()
    record = {"algorithm": "lz4", "mem_limit": None, "disksize": 64 * MIB}
    step = zram_set.ZramReset(device="zram0", algorithm_params=None)
    with pytest.raises(OperationFailed, match="^/dev/zram0 does not exist$"):
        step.undo(host, record, ctx)
    in_use(root, size=64 * MIB)
    step.undo(host, record, ctx)  # set up as it was: an undo that ran before a crash
    in_use(root, "zram1", size=32 * MIB)
    with pytest.raises(OperationFailed, match="^/dev/zram1 was set up again by someone else; leaving it$"):
        zram_set.ZramReset(device="zram1").undo(host, record, ctx)
    assert kernel.writes == []


def test_a_reset_refuses_a_device_still_swapped_on_or_not_set_up(root: Path, kernel: ZramKernel) -> None:
    in_use(root)
    step = zram_set.ZramReset(device="zram0")
    with pytest.raises(OperationFailed, match="^/dev/zram0 is still an active swap area$"):
        step.apply(kernel.host, {})
    zram_device(root, "zram1", disksize=0, mm=FREE)
    with pytest.raises(OperationFailed, match="^/dev/zram1 is not set up$"):
        zram_set.ZramReset(device="zram1").snapshot(kernel.host)
    with pytest.raises(OperationFailed, match="^/dev/zram3 is not set up$"):
        zram_set.ZramReset(device="zram3").snapshot(kernel.host)
    assert kernel.writes == []


def test_the_undo_of_a_hot_remove_adds_the_device_only_when_it_is_gone(root: Path, kernel: ZramKernel) -> None:
    zram_device(root, disksize=0, mm=FREE)
    step = zram_set.ZramHotRemove(device="zram0")
    step.undo(kernel.host, {}, UndoContext())
    assert not kernel.dev("zram1").exists()
    shutil.rmtree(kernel.dev("zram0"))
    step.undo(kernel.host, {}, UndoContext())
    assert kernel.dev("zram0").is_dir()


def test_remove_of_a_set_up_device_that_is_not_swap_with_force_resets_it_and_keeps_it(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    zram_device(root, disksize=64 * MIB, mm=FREE)
    code, doc = run(cli, "zram", "remove", "zram0", "--force")
    assert code == 0 and steps(doc) == ["zram-reset"]
    assert doc["warnings"] == ["/dev/zram0 was not added by swapctl, so it stays (reset, empty)"]
    code, doc = run(cli, "zram", "remove", "zram0")  # reset now: nothing to do
    assert code == 0 and steps(doc) == [] and doc["warnings"] == []


# --- resize ---------------------------------------------------------------------------------------------------
def test_resize_swaps_off_resets_sets_up_and_swaps_on_with_the_same_priority_and_mem_limit(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    in_use(root, size=32 * MIB, prio=7)
    zram_device_mm(root, "zram0", mem_limit=8 * MIB)
    code, doc = run(cli, "zram", "resize", "/dev/zram0", "--size", "ram / 375")
    assert code == 0, doc
    assert doc["data"]["old_disksize"] == 32 * MIB and doc["data"]["disksize"] == 64 * MIB
    assert doc["data"]["size_rule"] == {"expression": "ram / 375", "ram_mib": 24000.0, "size": 64 * MIB}
    assert kernel.writes == [  # the reset gave it the default algorithm back: lz4 is written again
        ("zram0/reset", "1"),
        ("zram0/comp_algorithm", "lz4"),
        ("zram0/mem_limit", str(8 * MIB)),
        ("zram0/disksize", str(64 * MIB)),
    ]
    assert "\t7" in (root / "proc/swaps").read_text()
    code, doc = run(cli, "zram", "resize", "zram0", "--size", "64M")
    assert code == 0 and doc["actions"] == [] and "size_rule" not in doc["data"]


def zram_device_mm(root: Path, name: str, *, mem_limit: int) -> None:
    mm = (root / "sys/block" / name / "mm_stat").read_text().split()
    mm[3] = str(mem_limit)
    (root / "sys/block" / name / "mm_stat").write_text(" ".join(mm) + "\n")


def test_resize_of_a_device_that_is_set_up_but_not_swap_is_refused(cli: Any, root: Path) -> None:
    zram_device(root, disksize=64 * MIB, mm=FREE)
    r = cli("zram", "resize", "zram0", "--size", "128M")
    assert r.exit_code == 3 and "/dev/zram0 is not an active zram swap area" in r.output
    assert "swapctl zram create --device zram0 --size 128M" in r.output


# --- sizes, devices and algorithms ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "code", "says"),
    [
        ("40960", 0, "set up /dev/zram0: 40 KiB"),  # exactly the 10 pages mkswap takes
        ("40959", 0, "set up /dev/zram0: 40 KiB"),  # rounded up to whole pages
        ("36864", 2, "--size 36864 gives 36 KiB: below the 10 pages mkswap accepts"),
        ("  AUTO ", 0, "set up /dev/zram0: 4 GiB"),
        ("ram - 23999", 0, "set up /dev/zram0: 1 MiB"),
        ("ram - 30000", 2, "--size ram - 30000 gives 0 B: below the 10 pages"),
        ("ram * 100000000000", 2, "--size ram * 100000000000 is larger than swapctl accepts"),
        ("max(ram, 1)", 0, "set up /dev/zram0: 23.4 GiB"),
        ("12 G B", 2, "size '12 G B' is not a size"),
        ("-5", 2, "--size -5 gives 0 B"),
        ("1 +", 2, "--size '1 +' is neither a size nor a zram-size expression"),
    ],
)
def test_create_sizes(cli: Any, root: Path, size: str, code: int, says: str) -> None:
    zram_device(root, disksize=0, mm=FREE)
    r = cli("-o", "json", "zram", "create", "--size", size, "--dry-run")
    assert r.exit_code == code, r.output
    if code:
        assert says in r.stderr, r.stderr
    else:
        assert json.loads(r.stdout)["actions"][0]["description"] == says


def test_a_size_rule_is_said_with_memtotal_in_mib_to_a_tenth(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    (root / "proc/meminfo").write_text("MemTotal:        1000000 kB\nMemAvailable:     900000 kB\n")
    code, doc = run(cli, "zram", "create", "--size", "ram / 2", "--dry-run")
    assert code == 0 and doc["data"]["size_rule"]["ram_mib"] == 976.6
    assert doc["data"]["disksize"] == 500000 * 1024  # 488.28125 MiB, whole pages
    assert doc["warnings"] == []


def test_a_disksize_over_twice_the_ram_is_warned_about(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    code, doc = run(cli, "zram", "create", "--size", "ram * 2", "--dry-run")
    assert code == 0 and doc["warnings"] == []
    code, doc = run(cli, "zram", "create", "--size", "ram * 2 + 1", "--dry-run")
    assert doc["warnings"] == [
        "a disksize of 46.9 GiB is more than twice the RAM (23.4 GiB): zram stores pages at 2:1 to 4:1, so a full "
        "device may not fit in memory (set --mem-limit)"
    ]


def test_an_algorithm_is_checked_against_the_devices_list_or_only_its_name_without_one(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    (root / "sys/block/zram0/comp_algorithm").write_text("")  # a list that cannot be read
    code, doc = run(cli, "zram", "create", "--size", "64M", "--algorithm", "zstd", "--dry-run")
    assert code == 0 and doc["data"]["algorithm"] == "zstd"
    r = cli("zram", "create", "--size", "64M", "--algorithm", "Zstd!", "--dry-run")
    assert r.exit_code == 2 and "zram has no compression algorithm 'Zstd!'\n" in r.output


def test_an_explicit_device_can_be_named_by_its_dev_path_and_must_be_the_next_to_add(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    (root / "sys/class/zram-control").mkdir(parents=True)
    (root / "sys/class/zram-control/hot_add").write_text("")
    code, doc = run(cli, "zram", "create", "--device", "/dev/zram0", "--size", "64M", "--dry-run")
    assert code == 0 and steps(doc) == ["zram-setup", "zram-mkswap", "swapon"]
    code, doc = run(cli, "zram", "create", "--device", "zram1", "--size", "64M", "--dry-run")
    assert code == 0 and steps(doc) == ["zram-hot-add", "zram-setup", "zram-mkswap", "swapon"], doc
    r = cli("zram", "create", "--device", "zram2", "--size", "64M", "--dry-run")
    assert r.exit_code == 2 and "use --device auto (or the next name) to add a device" in r.output


def test_auto_takes_a_device_that_is_not_set_up_and_not_swap(cli: Any, root: Path) -> None:
    in_use(root)
    zram_device(root, "zram1", disksize=0, mm=FREE)
    swaps(root, "/dev/zram0 partition\t65532\t\t0\t\t100", "/dev/zram1 partition\t65532\t\t0\t\t100")
    zram_device(root, "zram2", disksize=0, mm=FREE)
    code, doc = run(cli, "zram", "create", "--size", "32M", "--dry-run")
    assert code == 0 and doc["data"]["device"] == "/dev/zram2", doc


@pytest.mark.parametrize(
    ("line_prio", "args", "same"),
    [
        (100, [], True),
        (5, [], False),
        (5, ["--priority", "5"], True),
        (-2, ["--priority", "-1"], True),  # automatic: the kernel's own negative one
        (100, ["--priority", "-1"], False),
        (100, ["--algorithm", "lz4"], True),
        (100, ["--algorithm", "lzo"], False),
    ],
)
def test_create_again_is_the_same_only_with_the_same_size_algorithm_and_priority(
    cli: Any, root: Path, line_prio: int, args: list[str], same: bool
) -> None:
    in_use(root, prio=line_prio)
    r = cli("-o", "json", "zram", "create", "--device", "zram0", "--size", "64M", *args, "--dry-run")
    if same:
        assert r.exit_code == 0 and json.loads(r.stdout)["actions"] == [], r.output
    else:
        assert r.exit_code == 3 and "/dev/zram0 is already set up (64 MiB, lz4)" in r.output, r.output
    code, doc = run(cli, "zram", "create", "--size", "32M", *args, "--dry-run")
    assert code == 3 or doc["data"]["device"] == "/dev/zram0"  # 32M is never the same


def test_a_swap_area_on_a_device_that_is_not_initialised_is_not_taken(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    swaps(root, "/dev/zram0                              partition\t65532\t\t0\t\t100")
    r = cli("zram", "create", "--device", "zram0", "--size", "64M", "--dry-run")
    assert r.exit_code == 3 and "/dev/zram0 is already set up" in r.output


# --- --algorithm-params -----------------------------------------------------------------------------------------
def test_algorithm_params_are_probed_on_the_device_named_else_on_any(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    zram_device(root, "zram1", disksize=0, mm=FREE)
    (root / "sys/block/zram1/algorithm_params").write_text("")
    r = cli("zram", "create", "--device", "zram0", "--size", "64M", "--algorithm-params", "level=3", "--dry-run")
    assert r.exit_code == 3 and "takes no algorithm_params" in r.output
    r = cli("zram", "create", "--size", "64M", "--algorithm-params", "level=3", "--dry-run")
    assert r.exit_code == 0, r.output
    r = cli("zram", "create", "--device", "zram1", "--size", "64M", "--algorithm-params", "level=3", "--dry-run")
    assert r.exit_code == 0, r.output


def test_a_dictionary_must_be_a_regular_file(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    (root / "sys/block/zram0/algorithm_params").write_text("")
    (root / "etc/dicts").mkdir()
    r = cli("zram", "create", "--size", "64M", "--algorithm-params", "dict=/etc/dicts", "--dry-run")
    assert r.exit_code == 2 and "--algorithm-params dict /etc/dicts is not a regular file" in r.output


def test_create_again_with_params_warns_they_were_not_checked(cli: Any, root: Path) -> None:
    in_use(root)
    (root / "sys/block/zram0/algorithm_params").write_text("")
    code, doc = run(cli, "zram", "create", "--size", "64M", "--algorithm-params", "level=3", "--dry-run")
    assert code == 0 and doc["actions"] == []
    assert doc["warnings"] == [
        "/dev/zram0 is already set up as asked but for --algorithm-params, which the kernel does not show: it was "
        "left as it is (remove and create it to be sure of them)"
    ]
    code, doc = run(cli, "zram", "create", "--size", "64M", "--dry-run")
    assert code == 0 and doc["warnings"] == []


def test_params_swapctl_set_are_set_again_by_the_undo_of_a_remove(cli: Any, root: Path, kernel: ZramKernel) -> None:
    zram_device(root, disksize=0, mm=FREE)
    (root / "sys/block/zram0/algorithm_params").write_text("")
    code, doc = run(cli, "zram", "create", "--size", "64M", "--algorithm-params", "level=3")
    assert code == 0, doc
    assert kernel.writes == [("zram0/algorithm_params", "level=3"), ("zram0/disksize", str(64 * MIB))]
    assert run(cli, "zram", "remove", "zram0")[0] == 0
    kernel.writes.clear()
    assert run(cli, "rollback")[0] == 0
    assert kernel.writes == [
        ("zram0/comp_algorithm", "lz4"),
        ("zram0/algorithm_params", "level=3"),
        ("zram0/disksize", str(64 * MIB)),
    ]


def test_the_params_history_follows_the_journals_committed_transactions(root: Path) -> None:
    host = fake_host(root)
    journal = journal_of(host)

    def commit(*steps_: Step) -> str:
        tx = journal.begin("zram create", {})
        for seq, s in enumerate(steps_):
            journal.intent(tx, seq, s, {})
            journal.done(tx, seq)
        journal.commit(tx)
        return tx

    lock = journal.locked()
    lock.__enter__()
    commit(zram_set.ZramHotAdd(device="zram1"), zram_set.ZramSetup(device="zram1", algorithm_params=["level=2"]))
    commit(zram_set.ZramSetup(device="zram2", algorithm_params=["level=5"]))
    assert zram_set.history(journal) == ({"zram1"}, {"zram1": ["level=2"], "zram2": ["level=5"]})
    tx = commit(zram_set.ZramHotRemove(device="zram1"), zram_set.ZramSetup(device="zram2", algorithm_params=None))
    assert zram_set.history(journal) == (set(), {"zram1": None, "zram2": None})
    rb = journal.begin("rollback", {"target": tx}, rollback_of=tx)
    journal.intent(rb, 0, zram_set.ZramHotAdd(device="zram3"), {})
    journal.commit(rb)
    aborted = journal.begin("zram create", {})
    journal.intent(aborted, 0, zram_set.ZramHotAdd(device="zram4"), {})
    journal.end(aborted, "aborted")
    lock.__exit__(None, None, None)
    # The remove rolled back: zram1 is swapctl's again, with the params before it; a rollback's own entries and
    # an aborted transaction count for nothing.
    assert zram_set.history(journal) == ({"zram1"}, {"zram1": ["level=2"], "zram2": ["level=5"]})


# --- --persist: the zram-generator drop-in -----------------------------------------------------------------------
def test_persist_with_an_automatic_priority_and_params_names_the_devices_algorithm(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    (root / "sys/block/zram0/algorithm_params").write_text("")
    generator(root)
    code, doc = run(
        cli, "zram", "create", "--size", "64M", "--priority", "-1", "--algorithm-params", "level=3",
        "--mem-limit", "8M", "--persist", "--dry-run",
    )  # fmt: skip
    assert code == 0, doc
    assert doc["actions"][-1]["description"] == (
        f"persist [zram0] zram-size = 64, compression-algorithm = lz4(level=3) in /{DROP_IN}"
    )
    assert doc["data"]["persist"] == f"/{DROP_IN}"
    assert doc["warnings"] == ["the drop-in does not carry --mem-limit: zram-generator sets no mem_limit"]
    code, doc = run(cli, "zram", "create", "--size", "64M", "--dry-run")
    assert doc["data"]["persist"] is None and "zram-persist" not in steps(doc)


def test_persist_through_the_lib_generator_and_rollback_puts_back_only_swapctls_section(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    in_use(root, prio=100)
    g = root / "lib/systemd/system-generators/zram-generator"
    g.parent.mkdir(parents=True)
    g.write_text("")
    systemd_init(root)
    code, doc = run(cli, "zram", "create", "--size", "64M", "--persist")
    assert code == 0 and steps(doc) == ["zram-persist"] and doc["warnings"] == [], doc
    written = (root / DROP_IN).read_text()
    assert written == zram_set.PERSIST_HEADER + "[zram0]\nzram-size = 64\nswap-priority = 100\n"
    (root / DROP_IN).write_text(written + "[zram3]\nzram-size = 16\n")  # someone adds a section since
    code, doc = run(cli, "rollback")
    assert code == 0, doc
    assert (root / DROP_IN).read_text() == zram_set.PERSIST_HEADER + "[zram3]\nzram-size = 16\n"
    assert any("was edited since" in n for n in doc["data"]["notes"])


def test_rollback_of_a_resize_puts_the_old_section_back_in_a_file_edited_since(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    in_use(root, size=32 * MIB)
    generator(root)
    (root / DROP_IN).parent.mkdir(parents=True)
    (root / DROP_IN).write_text(
        "[zram0]\nzram-size = 32\n# note = old\n; another = one\nswap-priority = 100\nfs-type = ext4\nbroken line\n"
    )
    code, doc = run(cli, "zram", "resize", "zram0", "--size", "64M")
    assert code == 0 and steps(doc)[-1] == "zram-persist", doc
    assert (root / DROP_IN).read_text() == "[zram0]\nzram-size = 64\nswap-priority = 100\n"
    (root / DROP_IN).write_text("[zram0]\nzram-size = 64\nswap-priority = 100\n\n[zram5]\nzram-size = 8\n")
    code, doc = run(cli, "rollback")
    assert code == 0, doc
    assert (root / DROP_IN).read_text() == (
        "[zram0]\nzram-size = 32\nswap-priority = 100\nfs-type = ext4\n[zram5]\nzram-size = 8\n"
    )


def test_resize_without_zram_generator_leaves_the_drop_in_alone(cli: Any, root: Path) -> None:
    in_use(root, size=32 * MIB)
    (root / DROP_IN).parent.mkdir(parents=True)
    (root / DROP_IN).write_text("[zram0]\nzram-size = 32\n")
    code, doc = run(cli, "zram", "resize", "zram0", "--size", "64M", "--dry-run")
    assert code == 0 and steps(doc) == ["swapoff", "zram-reset", "zram-setup", "zram-mkswap", "swapon"]
    generator(root)
    code, doc = run(cli, "zram", "resize", "zram0", "--size", "32M", "--dry-run")
    assert code == 0 and steps(doc) == []  # the same size: the drop-in is not touched either


def test_remove_drops_the_section_only_where_there_is_one_and_without_the_generator_leaves_it(
    cli: Any, root: Path
) -> None:
    in_use(root)
    (root / DROP_IN).parent.mkdir(parents=True)
    (root / DROP_IN).write_text("[zram1]\nzram-size = 32\n")
    code, doc = run(cli, "zram", "remove", "zram0", "--dry-run")
    assert code == 0 and steps(doc) == ["swapoff", "zram-reset"]
    (root / DROP_IN).write_text("[zram0]\nzram-size = 32\n")
    code, doc = run(cli, "zram", "remove", "zram0", "--dry-run")
    assert code == 0 and steps(doc) == ["swapoff", "zram-reset"]  # no zram-generator: nothing to drop it for
    generator(root)
    code, doc = run(cli, "zram", "remove", "zram0", "--dry-run")
    assert steps(doc) == ["swapoff", "zram-reset", "zram-persist"]


@pytest.mark.parametrize(
    ("text", "device", "settings", "out"),
    [
        # A second section of the same device is dropped with the first.
        ("[zram0]\na = 1\n[zram1]\nb = 2\n[zram0]\nc = 3\n", "zram0", {"x": "9"}, "[zram0]\nx = 9\n[zram1]\nb = 2\n"),
        ("[zram0]\na = 1\n[zram1]\nb = 2\n[ zram0 ]\nc = 3\n", "zram0", None, "[zram1]\nb = 2\n"),
        # A last line without its newline gets one before the new section.
        ("[zram1]\nb = 2", "zram0", {"x": "9"}, "[zram1]\nb = 2\n[zram0]\nx = 9\n"),
        ("", "zram0", {"x": "9"}, "[zram0]\nx = 9\n"),
        ("  [zram0]  \nx = 1\n# kept\n", "zram0", None, None),
        ("# a comment\n[zram0]\nx = 1\n", "zram0", None, "# a comment\n"),
        (zram_set.PERSIST_HEADER + "[zram0]\nx = 1\n", "zram0", None, None),
        ("[zram1\nx = 1\n", "zram1", {"x": "2"}, "[zram1\nx = 1\n[zram1]\nx = 2\n"),
        ("[zram0x\n", "zram0", None, "[zram0x\n"),  # not a section line: kept as it is
    ],
)
def test_the_drop_in_editor(text: str, device: str, settings: dict | None, out: str | None) -> None:
    assert zram_set.set_section(text, device, settings) == out


# --- journal entries: what rollback accepts -------------------------------------------------------------------
PERSIST = {"path": f"/{DROP_IN}", "device": "zram0"}


@pytest.mark.parametrize(
    ("kind", "params", "record"),
    [
        ("zram-hot-add", {"device": 5}, None),
        ("zram-hot-add", {"device": ["zram0"]}, None),
        ("zram-setup", {"device": "zram0", "disksize": GIB, "algorithm": 5}, None),
        ("zram-setup", {"device": "zram0", "disksize": GIB, "algorithm_params": "level=3"}, None),
        ("zram-setup", {"device": "zram0", "disksize": GIB, "algorithm_params": [3]}, None),
        ("zram-setup", {"device": "zram0", "disksize": GIB, "algorithm_params": ["level=3", "level=4"]}, None),
        ("zram-setup", {"device": "zram0", "disksize": GIB, "algorithm_params": ["level=3,dict=/x"]}, None),
        ("zram-setup", {"device": "zram0", "disksize": GIB, "algorithm_params": ["level", "=3"]}, None),
        ("zram-setup", {"device": "zram0", "disksize": GIB, "mem_limit": -1}, None),
        ("zram-reset", {"device": "zram0"}, {"algorithm": "lz4", "mem_limit": "1G", "disksize": GIB}),
        ("zram-persist", {**PERSIST, "settings": {"fs-type": "ext4"}}, None),
        ("zram-persist", {**PERSIST, "settings": {"zram-size": "ram; x"}}, None),
        ("zram-persist", {**PERSIST, "settings": {"zram-size": 4}}, None),
        ("zram-persist", {**PERSIST, "settings": {"compression-algorithm": "a b"}}, None),
        ("zram-persist", {**PERSIST, "settings": {"swap-priority": "lz4(x=1)"}}, None),
        ("zram-persist", {**PERSIST, "settings": ["zram-size"]}, None),
    ],
)
def test_a_forged_entry_is_refused(kind: str, params: dict, record: dict | None) -> None:
    with pytest.raises(StepRecordError):
        Step.from_record({"kind": kind, "params": params}, record)


@pytest.mark.parametrize(
    ("kind", "params", "record"),
    [
        ("zram-setup", {"device": "zram0", "disksize": 1}, None),  # entries of older swapctls: fields missing
        ("zram-setup", {"device": "zram0", "disksize": GIB, "algorithm": None, "algorithm_params": None}, None),
        ("zram-setup", {"device": "zram0", "disksize": GIB, "algorithm": "zstd", "mem_limit": 0}, None),
        ("zram-setup", {"device": "zram0", "disksize": GIB, "algorithm_params": ["level=-3", "dict=/etc/d"]}, None),
        ("zram-reset", {"device": "zram0"}, {"algorithm": "lz4", "mem_limit": None, "disksize": GIB}),
        ("zram-reset", {"device": "zram0"}, {"disksize": GIB}),
        ("zram-reset", {"device": "zram0", "algorithm_params": ["level=1"]}, {"algorithm": None, "disksize": 1}),
        ("zram-persist", {**PERSIST, "settings": None}, None),
        (
            "zram-persist",
            {
                **PERSIST,
                "settings": {
                    "zram-size": "min(ram / 2, 4096)",
                    "compression-algorithm": "zstd(level=3)",
                    "swap-priority": "100",
                },
            },
            None,
        ),
    ],
)
def test_an_entry_swapctl_writes_is_taken(kind: str, params: dict, record: dict | None) -> None:
    step = Step.from_record({"kind": kind, "params": params}, record)
    assert step.kind == kind


def test_the_swapoff_of_a_zram_device_counts_other_swap_areas_and_memfree_without_memavailable(
    cli: Any, root: Path
) -> None:
    # 2 GiB stored in 512 MiB: swapoff needs 1.5 GiB more, plus a margin of 128 MiB.
    need = (3 * GIB // 2 + 128 * MIB) // 1024  # kB
    mm = f"{2 * GIB} {GIB // 2} {GIB // 2} 0 {GIB // 2} 0 0 0 0\n"
    zram_device(root, disksize=4 * GIB, mm=mm)
    area = f"/dev/zram0                              partition\t{4 << 20}\t\t{2 << 20}\t\t100"
    swaps(root, area)
    (root / "proc/meminfo").write_text(f"MemTotal:        1000000 kB\nMemFree:         {need} kB\n")
    assert cli("zram", "remove", "zram0", "--dry-run").exit_code == 0  # just fits
    (root / "proc/meminfo").write_text(f"MemTotal:        1000000 kB\nMemFree:         {need - 4} kB\n")
    r = cli("zram", "remove", "zram0", "--dry-run")
    assert r.exit_code == 3 and "(and 0 B free in other swap areas)" in r.output, r.output
    swaps(root, area, "/swapfile                               file\t\t8\t\t4\t\t-2")  # 4 KiB free
    assert cli("zram", "remove", "zram0", "--dry-run").exit_code == 0
    zram_device_mm(root, "zram0", mem_limit=0)
    (root / "sys/block/zram0/mm_stat").write_text(FREE)  # nothing stored: nothing to fit
    swaps(root, area)
    (root / "proc/meminfo").write_text("MemTotal:        1000000 kB\nMemFree:         0 kB\n")
    assert cli("zram", "remove", "zram0", "--dry-run").exit_code == 0


def test_the_diff_of_a_create_shows_the_device_before_and_after(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    code, doc = run(cli, "zram", "create", "--size", "64M", "--algorithm", "lzo", "--dry-run", "--diff")
    assert code == 0
    assert doc["diff"]["values"] == [
        {"what": "/dev/zram0", "before": "not set up", "after": "64 MiB, lzo"},
        *doc["diff"]["values"][1:],
    ]
    in_use(root, "zram1")
    code, doc = run(cli, "zram", "remove", "zram1", "--dry-run", "--diff")
    assert {"what": "/dev/zram1", "before": "set up", "after": "not set up"} in doc["diff"]["values"]


# --- what each step says, and rollback after a reboot ---------------------------------------------------------
def test_each_step_says_what_it_does_and_what_its_undo_does(cli: Any, root: Path, kernel: ZramKernel) -> None:
    in_use(root)
    code, doc = run(cli, "zram", "create", "--size", "32M")
    assert code == 0
    assert [a["description"] for a in doc["actions"]] == [
        "add /dev/zram1 (zram-control/hot_add)",
        "set up /dev/zram1: 32 MiB",
        "mkswap /dev/zram1",
        "swapon /dev/zram1 priority 100",
    ]
    assert (root / "dev/zram1").read_bytes()[4096 - 10 : 4096] == b"SWAPSPACE2"
    code, doc = run(cli, "rollback", "--dry-run")
    assert [a["description"] for a in doc["actions"]] == [
        "swapoff /dev/zram1",
        "reset /dev/zram1",
        "remove /dev/zram1 (zram-control/hot_remove)",
    ]
    code, doc = run(cli, "zram", "remove", "zram1", "--dry-run")
    assert [a["description"] for a in doc["actions"]] == [
        "swapoff /dev/zram1",
        "reset /dev/zram1",
        "remove /dev/zram1 (zram-control/hot_remove)",
    ]


def test_rollback_after_a_reboot_skips_the_zram_steps_and_restores_the_drop_in(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    in_use(root)
    generator(root)
    code, doc = run(cli, "zram", "create", "--size", "32M", "--persist")
    assert code == 0 and (root / DROP_IN).is_file(), doc
    # A reboot: zram1 is gone with the old kernel, zram0 is someone's again.
    (root / "proc/sys/kernel/random/boot_id").write_text("99999999-2222-3333-4444-555555555555\n")
    shutil.rmtree(kernel.dev("zram1"))
    swaps(root, "/dev/zram0                              partition\t65532\t\t0\t\t100")
    kernel.writes.clear()
    code, doc = run(cli, "rollback")
    assert code == 0, doc
    assert [(a["step"], a["status"]) for a in doc["actions"]] == [
        ("zram-persist", "done"),
        ("swapon", "done"),  # not swapped on in this boot: nothing to swap off
        ("zram-setup", "skipped"),
        ("zram-hot-add", "skipped"),
    ]
    assert doc["actions"][0]["description"] == f"restore /{DROP_IN}"
    assert not (root / DROP_IN).exists() and kernel.writes == []
    skipped = [n for n in doc["data"]["notes"] if n.startswith("skipped")]
    assert len(skipped) == 2 and not any("mkswap" in n for n in skipped)  # mkswap's undo is nothing at any boot


# --- planning corners ----------------------------------------------------------------------------------------
def test_remove_and_resize_need_root_and_resize_checks_the_size(cli: Any, root: Path) -> None:
    in_use(root)
    user = fake_host(root, uid=1000)
    r = cli("zram", "remove", "zram0", host_override=user)
    assert r.exit_code == 3 and "removing zram needs root" in r.output
    r = cli("zram", "resize", "zram0", "--size", "128M", host_override=user)
    assert r.exit_code == 3 and "resizing zram needs root" in r.output
    r = cli("zram", "resize", "zram0", "--size", "16K")
    assert r.exit_code == 2 and "--size 16K gives 16 KiB: below the 10 pages mkswap accepts" in r.output


def test_the_largest_disksize_swapctl_accepts(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    code, doc = run(cli, "zram", "create", "--size", "1099511627776 * 1", "--dry-run")  # 2**40 MiB = 2**60 B
    assert code == 0 and doc["data"]["disksize"] == 1 << 60, doc
    r = cli("zram", "create", "--size", "1099511627777 * 1", "--dry-run")
    assert r.exit_code == 2 and "is larger than swapctl accepts" in r.output


def test_a_new_device_with_params_gets_no_warning_and_an_explicit_one_already_set_up_does(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    (root / "sys/block/zram0/algorithm_params").write_text("")
    code, doc = run(cli, "zram", "create", "--size", "64M", "--algorithm-params", "level=3", "--dry-run")
    assert code == 0 and steps(doc) == ["zram-setup", "zram-mkswap", "swapon"] and doc["warnings"] == []
    shutil.rmtree(root / "sys/block/zram0")
    in_use(root)
    (root / "sys/block/zram0/algorithm_params").write_text("")
    code, doc = run(
        cli, "zram", "create", "--device", "zram0", "--size", "64M", "--algorithm-params", "level=3", "--dry-run"
    )
    assert code == 0 and doc["actions"] == [] and doc["data"]["device"] == "/dev/zram0"
    assert doc["warnings"][0].startswith("/dev/zram0 is already set up as asked but for --algorithm-params")


def test_persist_with_priority_zero_writes_it_and_without_mem_limit_warns_nothing(cli: Any, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    generator(root)
    code, doc = run(cli, "zram", "create", "--size", "64M", "--priority", "0", "--persist", "--dry-run")
    assert code == 0 and doc["warnings"] == [], doc
    assert doc["actions"][-1]["description"] == f"persist [zram0] zram-size = 64, swap-priority = 0 in /{DROP_IN}"


def test_an_area_at_priority_zero_is_the_same_as_priority_zero_asked(cli: Any, root: Path) -> None:
    in_use(root, prio=0)
    code, doc = run(cli, "zram", "create", "--device", "zram0", "--size", "64M", "--priority", "0", "--dry-run")
    assert code == 0 and doc["actions"] == [], doc


def test_the_swapoff_counts_what_other_swap_areas_have_free(cli: Any, root: Path) -> None:
    need = (3 * GIB // 2 + 128 * MIB) // 1024  # kB: 1.5 GiB more than it frees, plus the margin
    zram_device(root, disksize=4 * GIB, mm=f"{2 * GIB} {GIB // 2} {GIB // 2} 0 {GIB // 2} 0 0 0 0\n")
    area = f"/dev/zram0                              partition\t{4 << 20}\t\t{2 << 20}\t\t100"
    swaps(root, area, "/swapfile                               file\t\t16\t\t4\t\t-2")  # 12 KiB free
    (root / "proc/meminfo").write_text(f"MemTotal:        1000000 kB\nMemAvailable:    {need - 12} kB\n")
    assert cli("zram", "remove", "zram0", "--dry-run").exit_code == 0
    (root / "proc/meminfo").write_text(f"MemTotal:        1000000 kB\nMemAvailable:    {need - 13} kB\n")
    r = cli("zram", "remove", "zram0", "--dry-run")
    assert r.exit_code == 3 and "(and 12 KiB free in other swap areas)" in r.output, r.output


def test_apply_removes_a_zram_device_only_when_it_is_swap(cli: Any, root: Path, tmp_path: Path) -> None:
    zram_device(root, disksize=64 * MIB, mm=FREE)  # a filesystem's, say
    want = tmp_path / "want.yaml"
    want.write_text("zram:\n  - device: zram0\n    state: absent\n")
    r = cli("apply", str(want), "--dry-run")
    assert r.exit_code == 3 and "/dev/zram0 is set up but is not a swap area" in r.output, r.output


def test_a_failed_set_up_puts_back_the_algorithm_and_mem_limit_it_wrote(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    zram_device(root, disksize=0, mm=FREE)  # lz4, no mem_limit
    kernel.refuse["disksize"] = OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))
    r = cli("zram", "create", "--size", "64M", "--algorithm", "lzo", "--mem-limit", "32M")
    assert r.exit_code == 1 and "every change was rolled back" in r.output, r.output
    assert kernel.writes == [
        ("zram0/comp_algorithm", "lzo"),
        ("zram0/mem_limit", str(32 * MIB)),
        ("zram0/disksize", str(64 * MIB)),
        ("zram0/comp_algorithm", "lz4"),
        ("zram0/mem_limit", "0"),
    ]
    assert "[lz4]" in (root / "sys/block/zram0/comp_algorithm").read_text()
    kernel.writes.clear()
    kernel.refuse["mem_limit"] = OSError(errno.EINVAL, os.strerror(errno.EINVAL))  # only the algorithm to put back
    r = cli("zram", "create", "--size", "64M", "--algorithm", "lzo", "--mem-limit", "32M")
    assert r.exit_code == 1 and "mem_limit on /dev/zram0: the kernel refused it: Invalid argument" in r.output
    assert kernel.writes == [
        ("zram0/comp_algorithm", "lzo"),
        ("zram0/mem_limit", str(32 * MIB)),
        ("zram0/comp_algorithm", "lz4"),
    ]


def test_a_failed_set_up_leaves_a_device_someone_set_up_meanwhile_alone(
    root: Path, kernel: ZramKernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    zram_device(root, disksize=0, mm=FREE)
    kernel.refuse["disksize"] = OSError(errno.EBUSY, os.strerror(errno.EBUSY))
    real = kernel.write

    def someone_sets_it_up(path: str, value: str) -> None:
        if path.endswith("/disksize"):
            (kernel.dev("zram0") / "initstate").write_text("1\n")
        real(path, value)

    monkeypatch.setattr(kernel.host, "write_sysctl", someone_sets_it_up)
    with pytest.raises(OperationFailed, match="Device or resource busy"):
        zram_set.ZramSetup(device="zram0", algorithm="lzo", mem_limit=MIB, disksize=64 * MIB).apply(kernel.host, {})
    assert kernel.writes == [
        ("zram0/comp_algorithm", "lzo"),
        ("zram0/mem_limit", str(MIB)),
        ("zram0/disksize", str(64 * MIB)),
    ]


# --- --persist without zram-generator: swapctl's unit (ops/zram_boot.py) ------------------------------------------
UNIT = "etc/systemd/system/swapctl-zram-0.service"


def test_a_unit_carries_the_algorithm_asked_for_and_the_size_an_expression_came_to(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    systemd_init(root)
    zram_device(root, disksize=0, mm=FREE)  # the driver's own zram0, free, lz4 now
    code, doc = run(cli, "zram", "create", "--size", "ram / 1000", "--algorithm", "lzo", "-p", "5", "--persist")
    assert code == 0 and doc["data"]["persist_via"] == "systemd", doc
    unit = (root / UNIT).read_text()
    assert 'Environment="ALGORITHM=lzo"' in unit and f'Environment="DISKSIZE={doc["data"]["disksize"]}"' in unit
    assert any("carries the size ram / 1000 comes to now" in w for w in doc["warnings"]), doc["warnings"]
    assert (root / "run/swapctl/zram-0").read_text() == "zram0\n"  # the driver's: never hot-removed


def test_a_device_swapctl_set_up_but_did_not_add_is_recorded_as_not_added(
    cli: Any, root: Path, kernel: ZramKernel
) -> None:
    systemd_init(root)
    zram_device(root, disksize=0, mm=FREE)
    assert run(cli, "zram", "create", "--size", "32M", "-p", "5")[0] == 0  # its journal has zram0's set-up
    code, doc = run(cli, "zram", "create", "--size", "32M", "-p", "5", "--persist")
    assert code == 0 and steps(doc) == ["zram-boot-file"] * 3, doc
    assert (root / "run/swapctl/zram-0").read_text() == "zram0\n"
    code, doc = run(cli, "zram", "remove", "zram0", "--dry-run")
    assert "zram-hot-remove" not in steps(doc), doc
