"""Hostile but possible files on a machine (or a --root tree), by class: lines split as the real readers split
them, a journal that disks and people damaged, directories and links swapctl did not make, files that never end
or never answer, numbers from outside, and the right answers on real installs. Every input must end with a
documented exit code and one clear error line, never a hang, a traceback or exit 70; a refusal changes nothing;
nothing outside the tree is ever touched; and each input's own check (the edit a sysadmin expects) holds."""

from __future__ import annotations

import json
import os
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from swapctl.system.host import Host
from tests.conftest import is_root
from tests.figures import report
from tests.hostile import STATE, Case, Tree, build_template, invoke, invoke_isolated, shows_outside_value, tree

INPUTS: Counter[str] = Counter()
FAILED: Counter[str] = Counter()

ROOTLINE = b"UUID=abcd / ext4 errors=remount-ro 0 1\n"
SWAPS_HEADER = b"Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
# Line breaks for str.splitlines() that no real reader of fstab, sysctl.d or the journal breaks at.
SEPS = {
    "CR": b"\r",
    "VT": b"\x0b",
    "FF": b"\x0c",
    "FS": b"\x1c",
    "GS": b"\x1d",
    "RS": b"\x1e",
    "NEL": "\x85".encode(),
    "LS": "\u2028".encode(),
    "PS": "\u2029".encode(),
}
TX1, TX2, TX3 = "20261201T000000-aaaa", "20261201T000100-bbbb", "20261201T000200-cccc"
BOOT = "11111111-2222-3333-4444-555555555555"
HUGE = "9" * 5000  # past Python's 4300-digit limit for int(str)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("hostile-files"))


# --- building blocks ---------------------------------------------------------------------------------------


def kernel_escape(path: str) -> str:
    return path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")


def active(
    t: Tree, path: str, *, kind: str = "file", kib: int = 16380, used: int = 0, prio: int = -2, make: bool = True
) -> None:
    """An active swap area in the tree's proc/swaps (and, for a file, the swap file itself)."""
    swaps = t.root / "proc/swaps"
    name = kernel_escape(path)
    line = f"{name}{' ' * max(40 - len(name), 1)}{kind}\t\t{kib}\t\t{used}\t\t{prio}\n"
    swaps.write_bytes(swaps.read_bytes() + line.encode("utf-8", "surrogateescape"))
    if make and kind == "file":
        data = bytearray((kib + 4) * 1024)
        data[4096 - 10 : 4096] = b"SWAPSPACE2"
        p = t.root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(bytes(data))
        os.chmod(p, 0o600)


def entry(**fields: object) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def begin(tx: str, command: str = "vm set", **extra: object) -> bytes:
    return entry(t="begin", tx=tx, command=command, time=1764547200.0, boot_id=BOOT, kernel="6.1.0", meta={}, **extra)


def intent(tx: str, seq: int, kind: str, params: dict, undo: dict) -> bytes:
    return entry(t="intent", tx=tx, seq=seq, step={"kind": kind, "params": params}, undo=undo)


def done(tx: str, seq: int) -> bytes:
    return entry(t="done", tx=tx, seq=seq)


def end(tx: str, status: str = "committed") -> bytes:
    return entry(t="end", tx=tx, status=status)


def sysctl_tx(tx: str, value: int = 10, old: int = 60) -> list[bytes]:
    return [
        begin(tx),
        intent(
            tx,
            0,
            "sysctl-write",
            {"name": "swappiness", "value": value, "mode": "set", "planned_old": old},
            {"old": old},
        ),
        done(tx, 0),
        end(tx),
    ]


def journal(t: Tree, lines: list[bytes], tail: bytes = b"\n") -> None:
    d = t.state_dir or t.root / STATE
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    (d / "journal.jsonl").write_bytes(b"\n".join(lines) + tail)
    os.chmod(d / "journal.jsonl", 0o600)


def data(case: Case) -> dict:
    return json.loads(case.stdout)["data"]


def setting(case: Case, key: str) -> dict:
    return next(s for s in data(case)["settings"] if s["key"] == key)


@dataclass
class Input:
    cls: str
    name: str
    setup: Callable[[Tree], None]
    steps: list[list[str]]
    codes: tuple[int, ...] = (0,)  # allowed for every step
    check: Callable[[Tree, list[Case]], None] | None = None
    isolated: bool = False  # a child process with --root, a memory limit and a time limit
    with_host: bool = True
    needs_root: bool = False
    env: dict[str, str] | None = None


def run_input(template: Path, inp: Input) -> None:
    if inp.needs_root and not is_root():
        pytest.skip("needs root (mknod, or a dry run that predicts a root-only change)")
    INPUTS[inp.cls] += 1
    try:
        with tree(template) as t:
            inp.setup(t)
            cases = []
            for argv in inp.steps:
                case = (
                    invoke_isolated(t, argv) if inp.isolated else invoke(t, argv, env=inp.env, with_host=inp.with_host)
                )
                cases.append(case)
                assert not case.hung, f"hung: {case}"
                assert not case.crashed, f"crashed: {case}"
                assert not case.outside_changed, f"touched a file outside the tree: {case}"
                assert case.code in inp.codes, str(case)
                if case.code != 0:
                    assert case.one_line_error, f"not one clear error line: {case}"
                if case.code in (2, 3):
                    assert not case.changed, f"refused, yet the tree changed: {case}"
            if inp.check is not None:
                inp.check(t, cases)
    except BaseException:
        FAILED[inp.cls] += 1
        raise


# --- 1. lines are split the way the real readers split them ------------------------------------------------


def _fstab(t: Tree, text: bytes) -> None:
    t.write("etc/fstab", text)


def _same_fstab(text: bytes) -> Callable[[Tree, list[Case]], None]:
    def check(t: Tree, cases: list[Case]) -> None:
        assert (t.root / "etc/fstab").read_bytes() == text, (t.root / "etc/fstab").read_bytes()

    return check


def _not_persisted(t: Tree, cases: list[Case]) -> None:
    areas = {a["path"]: a for a in data(cases[-1])["areas"]}
    assert areas["/swapfile"]["persisted"] is False, areas


def _appended(text: bytes) -> Callable[[Tree, list[Case]], None]:
    def check(t: Tree, cases: list[Case]) -> None:
        now = (t.root / "etc/fstab").read_bytes()
        assert now.startswith(text) and now[len(text) :].split() == [
            b"/swapfile",
            b"none",
            b"swap",
            b"defaults",
            b"0",
            b"0",
        ], now

    return check


def _conf_kept_and(first: bytes, key: str, value: int) -> Callable[[Tree, list[Case]], None]:
    def check(t: Tree, cases: list[Case]) -> None:
        now = (t.root / "etc/sysctl.d/90-swapctl.conf").read_bytes()
        assert now.startswith(first), now
        assert now[len(first) :].strip() == f"{key} = {value}".encode(), now

    return check


def _conf_is(text: bytes) -> Callable[[Tree, list[Case]], None]:
    def check(t: Tree, cases: list[Case]) -> None:
        assert (t.root / "etc/sysctl.d/90-swapctl.conf").read_bytes() == text

    return check


def _boot_default(t: Tree, cases: list[Case]) -> None:
    s = setting(cases[-1], "vm.swappiness")
    assert s["boot_value"] == 60 and s["boot_source"] == "kernel default", s


def line_inputs() -> list[Input]:
    out = []
    for sname, sep in SEPS.items():
        comment = b"# swap moved" + sep + b"/swapfile none swap sw 0 0\n" + ROOTLINE
        glued = b"/swapfile none swap sw 0 0" + sep + ROOTLINE
        conf_glued = b"vm.swappiness = 10" + sep + b"vm.page-cluster = 3\n"
        conf_comment = b"# old" + sep + b"vm.swappiness = 10\n"

        def on(text: bytes) -> Callable[[Tree], None]:
            def setup(t: Tree) -> None:
                _fstab(t, text)
                active(t, "/swapfile")

            return setup

        def conf(text: bytes) -> Callable[[Tree], None]:
            return lambda t: t.write("etc/sysctl.d/90-swapctl.conf", text)

        def apply_conf(text: bytes) -> Callable[[Tree], None]:
            def setup(t: Tree) -> None:
                t.write("etc/sysctl.d/90-swapctl.conf", text)
                t.write("x.yaml", b"persist: true\nvm:\n  swappiness: 20\n")

            return setup

        out += [
            Input(
                "lines",
                f"{sname}: remove keeps a comment and the root line",
                on(comment),
                [["remove", "/swapfile", "--keep-file"]],
                check=_same_fstab(comment),
            ),
            Input(
                "lines",
                f"{sname}: a comment does not persist",
                on(comment),
                [["-o", "json", "list"]],
                check=_not_persisted,
            ),
            Input(
                "lines",
                f"{sname}: a line libmount rejects does not persist",
                on(glued),
                [["-o", "json", "list"]],
                check=_not_persisted,
            ),
            Input(
                "lines",
                f"{sname}: create appends beside a rejected line",
                on(glued),
                [["create", "/swapfile", "--size", "16M"]],
                check=_appended(glued),
            ),
            Input(
                "lines",
                f"{sname}: vm set --persist keeps a glued line",
                conf(conf_glued),
                [["vm", "set", "page-cluster=5", "--persist"]],
                # systemd-sysctl reads a line at a \r: there page-cluster = 3 is a setting, and is changed in place
                check=_conf_is(b"vm.swappiness = 10\nvm.page-cluster = 5\n")
                if sname == "CR"
                else _conf_kept_and(conf_glued, "vm.page-cluster", 5),
            ),
            # After a \r systemd-sysctl reads a live setting, not a comment: that one is changed where it is.
            Input(
                "lines",
                f"{sname}: vm set --persist never writes into a comment",
                conf(conf_comment),
                [["vm", "set", "swappiness=20", "--persist"]],
                check=_conf_is(b"# old\nvm.swappiness = 20\n")
                if sname == "CR"
                else _conf_kept_and(conf_comment, "vm.swappiness", 20),
            ),
            Input(
                "lines",
                f"{sname}: apply never writes into a comment",
                apply_conf(conf_comment),
                [["apply", "@ROOT@/x.yaml"]],
                check=_conf_is(b"# old\nvm.swappiness = 20\n")
                if sname == "CR"
                else _conf_kept_and(conf_comment, "vm.swappiness", 20),
            ),
            Input(
                "lines",
                f"{sname}: vm get reads a comment as a comment",
                conf(conf_comment),
                [["-o", "json", "vm", "get"]],
                check=_boot_default,
            ),
        ]
    for sname in ("NEL", "LS", "PS"):  # valid inside a JSON string, and no line break to a JSON lines reader
        raw = SEPS[sname]

        def with_raw(raw: bytes = raw) -> Callable[[Tree], None]:
            def setup(t: Tree) -> None:
                lines = sysctl_tx(TX1)
                lines[0] = lines[0].replace(b'"vm set"', b'"vm set' + raw + b'x"')
                journal(t, lines)

            return setup

        def history_one(t: Tree, cases: list[Case]) -> None:
            assert [x["id"] for x in data(cases[0])["transactions"]] == [TX1]

        out.append(
            Input(
                "lines",
                f"{sname}: a journal string holding it is one line",
                with_raw(),
                [["-o", "json", "history"]],
                check=history_one,
            )
        )
    return out


# --- 2. the journal survives what disks and people do to it ------------------------------------------------


def _torn(cut: int | None, tail: bytes) -> Callable[[Tree], None]:
    def setup(t: Tree) -> None:
        t.write("proc/sys/vm/swappiness", b"10\n")
        lines = sysctl_tx(TX1)
        second = (
            begin(TX2)
            + b"\n"
            + intent(
                TX2,
                0,
                "sysctl-write",
                {"name": "swappiness", "value": 30, "mode": "set", "planned_old": 10},
                {"old": 10},
            )
        )
        body = b"\n".join(lines) + b"\n" + (second if cut is None else second[:cut])
        d = t.root / STATE
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        (d / "journal.jsonl").write_bytes(body + tail)

    return setup


def _journal_whole(t: Tree, cases: list[Case]) -> None:
    text = (t.root / STATE / "journal.jsonl").read_bytes()
    assert text.endswith(b"\n") and b"\0" not in text, text[-200:]
    assert all(isinstance(json.loads(line), dict) for line in text.splitlines()), text[-400:]


def _names_line(n: int) -> Callable[[Tree, list[Case]], None]:
    def check(t: Tree, cases: list[Case]) -> None:
        for c in cases:
            if c.code == 3:
                assert f"line {n}" in c.stderr, c

    return check


def malformed() -> dict[str, bytes]:
    deep = b"[" * 100000 + b"]" * 100000
    return {
        "an array": b"[]",
        "a number": b"1",
        "a string": b'"x"',
        "null": b"null",
        "an empty object": b"{}",
        "no type": entry(tx=TX2),
        "an unknown type": entry(t="bogus", tx=TX2),
        "begin without tx": entry(t="begin", command="x", time=1.0, boot_id="", kernel="", meta={}),
        "tx not a string": entry(t="begin", tx=5, command="x", time=1.0, boot_id="", kernel="", meta={}),
        "tx with path characters": begin("../../etc/passwd"),
        "time NaN": begin(TX2).replace(b"1764547200.0", b"NaN"),
        "time Infinity": begin(TX2).replace(b"1764547200.0", b"Infinity"),
        "time 1e300": begin(TX2).replace(b"1764547200.0", b"1e300"),
        "time -1e300": begin(TX2).replace(b"1764547200.0", b"-1e300"),
        "time a string": begin(TX2).replace(b"1764547200.0", b'"noon"'),
        "meta a list": begin(TX2).replace(b'"meta":{}', b'"meta":[]'),
        "command a number": begin(TX2).replace(b'"vm set"', b"7"),
        "seq a string": entry(t="done", tx=TX1, seq="0"),
        "seq a bool": entry(t="done", tx=TX1, seq=True),
        "seq negative": entry(t="done", tx=TX1, seq=-1),
        "seq with 5000 digits": b'{"t":"done","tx":"' + TX1.encode() + b'","seq":' + HUGE.encode() + b"}",
        "seq missing": entry(t="done", tx=TX1),
        "step not an object": entry(t="intent", tx=TX1, seq=1, step=[], undo={}),
        "step kind unknown": intent(TX1, 1, "format-disk", {}, {}),
        "step params a list": entry(t="intent", tx=TX1, seq=1, step={"kind": "mkswap", "params": []}, undo={}),
        "undo a list": entry(t="intent", tx=TX1, seq=1, step={"kind": "mkswap", "params": {"path": "/s"}}, undo=[]),
        "end status unknown": entry(t="end", tx=TX1, status="exploded"),
        "end status a number": entry(t="end", tx=TX1, status=1),
        "invalid UTF-8": begin(TX2).replace(b'"vm set"', b'"vm \xff\xfe set"'),
        "nested 100000 deep": deep,
        "a NUL inside": entry(t="done", tx=TX1, seq=0)[:10] + b"\0" + entry(t="done", tx=TX1, seq=0)[10:],
        "a raw control character in a string": begin(TX2).replace(b'"vm set"', b'"vm\x01set"'),
        "orphan done": entry(t="done", tx="20261201T000900-ffff", seq=0),
    }


def _bad_line(bad: bytes) -> Callable[[Tree], None]:
    def setup(t: Tree) -> None:
        t.write("proc/sys/vm/swappiness", b"10\n")
        # Line 2 is the bad one; a whole transaction follows it, so it is no torn tail.
        lines = sysctl_tx(TX1)
        journal(t, lines[:1] + [bad] + lines[1:] + sysctl_tx(TX3, 10, 10))

    return setup


def _forged(kind: str, params: dict, undo: dict, prep: Callable[[Tree], None] | None = None) -> Callable[[Tree], None]:
    def setup(t: Tree) -> None:
        if prep:
            prep(t)
        journal(t, [begin(TX1, "create"), intent(TX1, 0, kind, params, undo), done(TX1, 0), end(TX1)])

    return setup


def _untouched(t: Tree, cases: list[Case]) -> None:
    assert (t.root / "etc/passwd").read_bytes().startswith(b"root:x:0:0"), "a forged entry changed etc/passwd"


FSTAB_OLD = "# old\n"


def forged_entries() -> dict[str, tuple[str, dict, dict]]:
    edit = {"old": FSTAB_OLD, "new": "x\n", "new_sha256": None, "made_parent": False}
    return {
        "fstab edit of etc/passwd": ("fstab-set", {"path": "/etc/passwd", "swap": "/s", "line": None}, edit),
        "fstab edit through ..": ("fstab-set", {"path": "/etc/../etc/passwd", "swap": "/s", "line": None}, edit),
        "fstab edit with a relative path": (
            "fstab-set",
            {"path": "../../../outside/fstab", "swap": "/s", "line": None},
            edit,
        ),
        "fstab edit of a path outside": ("fstab-set", {"path": "@OUTSIDE@/fstab", "swap": "/s", "line": None}, edit),
        "sysctl.d edit of etc/passwd": (
            "sysctl-persist",
            {"path": "/etc/passwd", "settings": {"vm.swappiness": 1}},
            edit,
        ),
        "sysctl.d edit through ..": (
            "sysctl-persist",
            {"path": "/etc/sysctl.d/../passwd", "settings": {"vm.swappiness": 1}},
            edit,
        ),
        "sysctl.d edit of a key swapctl does not manage": (
            "sysctl-persist",
            {"path": "/etc/sysctl.d/90-swapctl.conf", "settings": {"kernel.panic": 1}},
            edit,
        ),
        "sysctl write of kernel/panic": (
            "sysctl-write",
            {"name": "../../kernel/panic", "value": 1, "mode": "set", "planned_old": 0},
            {"old": 0},
        ),
        "sysctl write of drop_caches": (
            "sysctl-write",
            {"name": "drop_caches", "value": 3, "mode": "set", "planned_old": 0},
            {"old": 0},
        ),
        "sysctl write with a string value": (
            "sysctl-write",
            {"name": "swappiness", "value": "10; rm", "mode": "set", "planned_old": 60},
            {"old": "60"},
        ),
        "create-file of etc/passwd": ("create-file", {"path": "/etc/passwd", "nocow": False}, {}),
        "create-file through ..": ("create-file", {"path": "/var/tmp/../../etc/passwd", "nocow": False}, {}),
        "create-file with a relative path": ("create-file", {"path": "etc/passwd", "nocow": False}, {}),
        "delete-file of 2^70 bytes": ("delete-file", {"path": "/var/tmp/big", "size": 2**70, "nocow": False}, {}),
        "delete-file with a size that is text": (
            "delete-file",
            {"path": "/var/tmp/big", "size": "1G", "nocow": False},
            {},
        ),
        "rename of etc/passwd": ("rename", {"src": "/etc/shadow", "dst": "/etc/passwd"}, {}),
        "params missing": ("swapoff", {}, {}),
        "params with extra keys": ("mkswap", {"path": "/var/tmp/s", "shell": "rm -rf /"}, {}),
        "a path with a NUL": ("create-file", {"path": "/var/tmp/a\0b", "nocow": False}, {}),
    }


def journal_inputs() -> list[Input]:
    out = []
    for cut in (1, 9, 30, 64, None):
        for tname, tail in (("", b""), (" and a NUL-filled tail", b"\0" * 4096)):
            if cut is None and not tail:
                continue
            out.append(
                Input(
                    "journal",
                    f"torn at {cut}{tname}",
                    _torn(cut, tail),
                    [["rollback"], ["-o", "json", "history"], ["vm", "set", "swappiness=30"], ["list"]],
                    codes=(0,),
                    check=_journal_whole,
                )
            )
    for name, bad in malformed().items():
        for argv in (["history"], ["list"], ["rollback", "--dry-run"], ["vm", "set", "swappiness=20", "--dry-run"]):
            out.append(
                Input(
                    "journal", f"{name}: {' '.join(argv)}", _bad_line(bad), [argv], codes=(0, 3), check=_names_line(2)
                )
            )

    def pruned(t: Tree) -> None:
        journal(t, [begin(TX2, "rollback", rollback_of="20260101T000000-dead")])

    out.append(
        Input(
            "journal",
            "a pending rollback of a pruned transaction",
            pruned,
            [["history"], ["rollback"], ["vm", "set", "swappiness=30"]],
            codes=(0, 3),
        )
    )
    for name, (kind, params, undo) in forged_entries().items():
        prep = (lambda t: t.write("var/tmp/s", b"")) if kind == "mkswap" else None
        for argv in (["-o", "json", "history"], ["rollback"]):
            codes = (0,) if argv[-1] == "history" else (3,)
            out.append(
                Input(
                    "journal",
                    f"forged {name}: {argv[-1]}",
                    _forged(kind, params, undo, prep),
                    [argv],
                    codes=codes,
                    check=_untouched,
                )
            )
    return out


# --- 3. directories and files swapctl did not make are left alone ------------------------------------------


def _state(mode: int | None, *, kind: str = "dir") -> Callable[[Tree], None]:
    def setup(t: Tree) -> None:
        d = t.work / "state"  # beside the tree, as a --state-dir on the host is
        if kind == "file":
            d.write_bytes(b"")
        elif kind == "missing":
            pass
        else:
            d.mkdir()
            assert mode is not None
            os.chmod(d, mode)
        t.state_dir = d

    return setup


def _mode_kept(mode: int | None) -> Callable[[Tree, list[Case]], None]:
    def check(t: Tree, cases: list[Case]) -> None:
        d = t.work / "state"
        if mode is None:
            return
        assert stat.S_IMODE(os.lstat(d).st_mode) == mode, oct(os.lstat(d).st_mode)

    return check


def _root_untouched(t: Tree, cases: list[Case]) -> None:
    for c in cases:
        assert c.code == 2, c


def dir_inputs() -> list[Input]:
    out = []
    commands = [
        ["list"],
        ["history"],
        ["rollback"],
        ["vm", "set", "swappiness=20", "--dry-run"],
        ["vm", "set", "swappiness=20"],
        ["create", "/var/tmp/s", "--size", "16M", "--dry-run"],
    ]
    for mode in (0o1777, 0o777, 0o757, 0o775, 0o722):
        for argv in commands:
            out.append(
                Input(
                    "dirs",
                    f"state dir {mode:o}: {' '.join(argv)}",
                    _state(mode),
                    [argv],
                    codes=(3,),
                    check=_mode_kept(mode),
                )
            )
    for argv in commands:
        out.append(
            Input(
                "dirs",
                f"state dir 755 is used and kept: {' '.join(argv)}",
                _state(0o755),
                [argv],
                codes=(0,),
                check=_mode_kept(0o755),
            )
        )
        out.append(
            Input(
                "dirs",
                f"state dir a regular file: {' '.join(argv)}",
                _state(None, kind="file"),
                [argv],
                codes=(0, 3) if argv in (["list"], ["history"]) else (3,),
            )
        )

    def read_only_makes_nothing(t: Tree, cases: list[Case]) -> None:
        assert not (t.work / "state").exists(), "a read-only command created the state dir"

    for argv in (["list"], ["history"], ["rollback", "--dry-run"], ["vm", "set", "swappiness=20", "--dry-run"]):
        out.append(
            Input(
                "dirs",
                f"a missing state dir stays missing: {' '.join(argv)}",
                _state(None, kind="missing"),
                [argv],
                check=read_only_makes_nothing,
            )
        )

    def made_0700(t: Tree, cases: list[Case]) -> None:
        assert stat.S_IMODE(os.lstat(t.work / "state").st_mode) == 0o700

    out.append(
        Input(
            "dirs",
            "a missing state dir is made 0700 by a change",
            _state(None, kind="missing"),
            [["vm", "set", "swappiness=20"]],
            check=made_0700,
        )
    )
    for rname, make in (("missing", None), ("a regular file", b"x"), ("a dangling link", "link")):
        for argv in (
            ["list"],
            ["vm", "get"],
            ["watermarks"],
            ["history"],
            ["create", "/var/tmp/s", "--size", "16M", "--dry-run"],
        ):

            def setup(t: Tree, make=make) -> None:
                bad = t.work / "typo"
                if make == "link":
                    os.symlink(t.work / "nowhere", bad)
                elif make is not None:
                    bad.write_bytes(make)

            def nothing_made(t: Tree, cases: list[Case]) -> None:
                assert not (t.work / "nowhere").exists()
                bad = t.work / "typo"
                assert not bad.exists() or bad.is_file(), "something was created under a mistyped --root"

            out.append(
                Input(
                    "dirs",
                    f"--root {rname}: {' '.join(argv)}",
                    setup,
                    [["--root", "@ROOT@/../typo", *argv]],
                    codes=(2,),
                    check=nothing_made,
                    with_host=False,
                )
            )
    escapes = {
        "etc/sysctl.d to an absolute path outside": ("etc/sysctl.d", "@OUTSIDE@/sysctl.d"),
        "etc/sysctl.d up and out": ("etc/sysctl.d", "../../../../../../../../../../../@OUTSIDE@/sysctl.d"),
        "proc to an absolute path outside": ("proc", "@OUTSIDE@/proc"),
        "proc/sys up and out": ("proc/sys", "../../../../../../../../../../@OUTSIDE@/proc/sys"),
        "the state dir outside": (STATE, "@OUTSIDE@/state"),
        "etc/fstab outside": ("etc/fstab", "@OUTSIDE@/fstab"),
        "etc outside": ("etc", "@OUTSIDE@"),
    }
    for ename, (rel, target) in escapes.items():
        for argv in (
            ["vm", "set", "swappiness=20", "--persist"],
            ["-o", "json", "vm", "get"],
            ["list"],
            ["create", "/var/tmp/s", "--size", "16M"],
            ["rollback"],
        ):

            def setup(t: Tree, rel=rel, target=target) -> None:
                journal(t, sysctl_tx(TX1)) if rel != STATE else None
                t.link(
                    rel,
                    target.replace(
                        "@OUTSIDE@", str(t.outside).lstrip("/") if target.startswith("..") else str(t.outside)
                    ),
                )

            def no_outside_values(t: Tree, cases: list[Case]) -> None:
                for c in cases:
                    assert not shows_outside_value(c.stdout), f"read a value from outside: {c}"
                    assert "/outside-swap" not in c.stdout, f"read the fstab outside: {c}"

            out.append(
                Input("dirs", f"{ename}: {' '.join(argv)}", setup, [argv], codes=(0, 1, 2, 3), check=no_outside_values)
            )

    def linked_fstab(t: Tree) -> None:
        (t.root / "etc/fstab").rename(t.root / "etc/fstab.real")
        t.link("etc/fstab", "fstab.real")

    def fstab_link_kept(t: Tree, cases: list[Case]) -> None:
        assert os.readlink(t.root / "etc/fstab") == "fstab.real"
        assert (
            t.root / "etc/fstab.real"
        ).read_bytes() == b"# /etc/fstab: static file system information.\n" + ROOTLINE, (
            t.root / "etc/fstab.real"
        ).read_bytes()

    out.append(
        Input(
            "dirs",
            "create then rollback through a linked fstab",
            linked_fstab,
            [["create", "/var/tmp/s", "--size", "16M"], ["rollback"]],
            check=fstab_link_kept,
        )
    )

    def masked(t: Tree) -> None:
        t.link("etc/sysctl.d/90-swapctl.conf", "/dev/null")

    def mask_kept(t: Tree, cases: list[Case]) -> None:
        assert os.readlink(t.root / "etc/sysctl.d/90-swapctl.conf") == "/dev/null"

    out.append(
        Input(
            "dirs",
            "vm set --persist on a masked 90-swapctl.conf",
            masked,
            [["vm", "set", "swappiness=20", "--persist"]],
            codes=(3,),
            check=mask_kept,
        )
    )

    def masked_since(t: Tree) -> None:
        masked(t)
        journal(
            t,
            [
                begin(TX1),
                intent(
                    TX1,
                    0,
                    "sysctl-persist",
                    {"path": "/etc/sysctl.d/90-swapctl.conf", "settings": {"vm.swappiness": 20}},
                    {"old": None, "new": "vm.swappiness = 20\n", "new_sha256": None, "made_parent": False},
                ),
                done(TX1, 0),
                end(TX1),
            ],
        )

    out.append(
        Input(
            "dirs",
            "rollback of an edit whose file is masked since",
            masked_since,
            [["rollback"]],
            codes=(0, 3),
            check=mask_kept,
        )
    )

    def dangling_since(t: Tree) -> None:
        (t.root / "etc/fstab").unlink()
        t.link("etc/fstab", "fstab.gone")
        journal(
            t,
            [
                begin(TX1, "create"),
                intent(
                    TX1,
                    0,
                    "fstab-set",
                    {"path": "/etc/fstab", "swap": "/var/tmp/s", "line": "/var/tmp/s none swap defaults 0 0"},
                    {
                        "old": None,
                        "new": "/var/tmp/s none swap defaults 0 0\n",
                        "new_sha256": None,
                        "made_parent": False,
                    },
                ),
                done(TX1, 0),
                end(TX1),
            ],
        )

    def dangling_kept(t: Tree, cases: list[Case]) -> None:
        assert os.readlink(t.root / "etc/fstab") == "fstab.gone"

    out.append(
        Input(
            "dirs",
            "rollback of an fstab edit whose fstab is a dangling link since",
            dangling_since,
            [["rollback"]],
            codes=(0, 3),
            check=dangling_kept,
        )
    )
    return out


# --- 4. no hangs, no unbounded reads -----------------------------------------------------------------------

READERS = {
    "etc/fstab": [["list"], ["create", "/var/tmp/s", "--size", "16M", "--dry-run"]],
    "etc/sysctl.d/50-x.conf": [["vm", "get"], ["vm", "set", "swappiness=20", "--dry-run"]],
    "etc/sysctl.conf": [["vm", "get"]],
    "usr/lib/sysctl.d/50-y.conf": [["vm", "get"]],
    f"{STATE}/journal.jsonl": [["list"], ["history"], ["vm", "set", "swappiness=20", "--dry-run"]],
    f"{STATE}/lock": [["vm", "set", "swappiness=20"]],
    "proc/swaps": [["list"], ["create", "/var/tmp/s", "--size", "16M", "--dry-run"]],
    "proc/meminfo": [["list"], ["watermarks"]],
    "proc/zoneinfo": [["watermarks"], ["vm", "get"]],
    "proc/sys/vm/swappiness": [["vm", "get"], ["vm", "set", "swappiness=20", "--dry-run"]],
    "proc/self/mountinfo": [["create", "/var/tmp/s", "--size", "16M", "--dry-run"]],
    "proc/sys/kernel/osrelease": [["vm", "get"], ["watermarks"]],
    "sys/devices/system/node/has_memory": [["numa"], ["vm", "get"]],
    "sys/devices/system/node/node0/meminfo": [["numa"]],
    "sys/kernel/mm/transparent_hugepage/enabled": [["vm", "get"]],
}


def _special(rel: str, kind: str) -> Callable[[Tree], None]:
    def setup(t: Tree) -> None:
        p = t.root / rel
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if p.is_symlink() or p.is_file():
            p.unlink()
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "zero device":
            os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(1, 5))
        elif kind == "link to /dev/zero":
            (t.root / "dev").mkdir(exist_ok=True)
            if not (t.root / "dev/zero").exists():
                os.mknod(t.root / "dev/zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
            os.symlink("/dev/zero", p)
        elif kind == "huge file":
            with open(p, "wb") as fh:
                fh.truncate(256 << 20)
        elif kind == "directory":
            p.mkdir()

    return setup


RANGES = {
    "has_memory 0-999999999": ("sys/devices/system/node/has_memory", b"0-999999999\n"),
    "has_memory 0-4294967295": ("sys/devices/system/node/has_memory", b"0-4294967295\n"),
    "online 0-999999999,5": ("sys/devices/system/node/online", b"0-999999999,5\n"),
    "cpulist 0-999999999": ("sys/devices/system/node/node0/cpulist", b"0-999999999\n"),
    "has_cpu 3-1": ("sys/devices/system/node/has_cpu", b"3-1\n"),
    "has_memory 1-" + "9" * 30: ("sys/devices/system/node/has_memory", b"1-" + b"9" * 30 + b"\n"),
}


def unbounded_inputs() -> list[Input]:
    out = []
    for rel, commands in READERS.items():
        for kind in ("fifo", "zero device", "link to /dev/zero", "huge file", "directory"):
            for argv in commands:
                out.append(
                    Input(
                        "unbounded",
                        f"{rel} a {kind}: {' '.join(argv)}",
                        _special(rel, kind),
                        [argv],
                        codes=(0, 2, 3),
                        isolated=True,
                        needs_root=True,
                    )
                )
    for name, (rel, text) in RANGES.items():
        for argv in (["numa"], ["vm", "get"], ["watermarks"]):
            out.append(
                Input(
                    "unbounded",
                    f"{name}: {' '.join(argv)}",
                    lambda t, rel=rel, text=text: t.write(rel, text),
                    [argv],
                    codes=(0, 2, 3),
                    isolated=True,
                )
            )
    return out


# --- 5. numbers from outside never crash -------------------------------------------------------------------


def number_inputs() -> list[Input]:
    out = []
    argvs = [
        ["vm", "set", f"swappiness={HUGE}"],
        ["vm", "set", f"swappiness=>{HUGE}"],
        ["vm", "set", f"swappiness=<{HUGE}"],
        ["vm", "set", f"swappiness=-{HUGE}"],
        ["watermarks", "--what-if", f"min_free_kbytes={HUGE}"],
        ["watermarks", "--what-if", f"watermark_scale_factor={HUGE}"],
        ["create", "/var/tmp/s", "--size", "16M", "-p", HUGE],
        ["create", "/var/tmp/s", "--size", HUGE],
        ["create", "/var/tmp/s", "--size", HUGE + "K"],
        ["watermarks", "--node", HUGE],
        ["stress", "--dry-run", "--max-direct-reclaim", HUGE],
        ["stress", "--dry-run", "--duration", HUGE],
        ["stress", "--dry-run", "--max-psi-full", HUGE],
        ["stress", "--dry-run", "--memory-limit", HUGE],
    ]
    for argv in argvs:
        out.append(Input("numbers", f"command line: {argv[0]} {argv[-1][:12]}...", lambda t: None, [argv], codes=(2,)))
    # a history limit only caps a count: any number beyond the journal's shows it all
    out.append(
        Input(
            "numbers",
            "command line: history 999999999999...",
            lambda t: None,
            [["history", "--limit", HUGE]],
            codes=(0,),
        )
    )
    for yname, doc in {
        "vm value": f"vm:\n  swappiness: {HUGE}\n",
        "priority": (f"swapfiles:\n  - path: /var/tmp/s\n    size: 16M\n    priority: {HUGE}\n"),
        "size": f"swapfiles:\n  - path: /var/tmp/s\n    size: {HUGE}\n",
        "persist": f"persist: {HUGE}\n",
    }.items():
        out.append(
            Input(
                "numbers",
                f"YAML {yname}",
                lambda t, doc=doc: t.write("x.yaml", doc.encode()),
                [["apply", "@ROOT@/x.yaml"]],
                codes=(2,),
            )
        )
    big = b"1" + b"0" * 400
    files = {
        "zoneinfo min 10^400": (
            "proc/zoneinfo",
            lambda b: b.replace(b"        min      ", b"        min      " + big + b" #", 1),
        ),
        "zoneinfo managed negative": ("proc/zoneinfo", lambda b: b.replace(b"managed  ", b"managed  -", 1)),
        "zoneinfo min without a value": ("proc/zoneinfo", lambda b: _drop_value(b, b"        min ")),
        "zoneinfo pages free 10^400": (
            "proc/zoneinfo",
            lambda b: b.replace(b"pages free     ", b"pages free     " + big + b"#", 1),
        ),
        "meminfo MemTotal 10^400": ("proc/meminfo", lambda b: _set_meminfo(b, b"MemTotal", big)),
        "meminfo MemTotal negative": ("proc/meminfo", lambda b: _set_meminfo(b, b"MemTotal", b"-5")),
        "meminfo MemAvailable 10^400": ("proc/meminfo", lambda b: _set_meminfo(b, b"MemAvailable", big)),
        "meminfo MemTotal missing a value": ("proc/meminfo", lambda b: _set_meminfo(b, b"MemTotal", b"")),
        "node meminfo MemFree 10^400": (
            "sys/devices/system/node/node0/meminfo",
            lambda b: b.replace(b"MemFree:", b"MemFree: " + big + b" kB #", 1),
        ),
        "vm swappiness 10^400": ("proc/sys/vm/swappiness", lambda b: big + b"\n"),
        "vm swappiness -10^400": ("proc/sys/vm/swappiness", lambda b: b"-" + big + b"\n"),
        "vm swappiness empty": ("proc/sys/vm/swappiness", lambda b: b""),
        "vm swappiness text": ("proc/sys/vm/swappiness", lambda b: b"abc\n"),
        "vm min_free_kbytes 10^400": ("proc/sys/vm/min_free_kbytes", lambda b: big + b"\n"),
        "vm watermark_scale_factor 10^400": ("proc/sys/vm/watermark_scale_factor", lambda b: big + b"\n"),
        "vm lowmem_reserve_ratio 10^400": ("proc/sys/vm/lowmem_reserve_ratio", lambda b: b"256 " + big + b" 32\n"),
        "osrelease 10^400": ("proc/sys/kernel/osrelease", lambda b: big + b"." + big + b"\n"),
    }
    swaps = {
        "swaps size 10^400": b"/var/tmp/a                              file\t\t" + big + b"\t\t0\t\t-2\n",
        "swaps used negative": b"/var/tmp/a                              file\t\t16380\t\t-4\t\t-2\n",
        "swaps priority 10^400": b"/var/tmp/a                              file\t\t16380\t\t0\t\t" + big + b"\n",
        "swaps a NUL in a name": b"/var/tmp/a\0b                            file\t\t16380\t\t0\t\t-2\n",
        "swaps a missing column": b"/var/tmp/a                              file\t\t16380\t\t0\n",
        "swaps text for a size": b"/var/tmp/a                              file\t\tlots\t\t0\t\t-2\n",
    }
    for name, body in swaps.items():
        files[name] = ("proc/swaps", lambda b, body=body: SWAPS_HEADER + body)
    for name, (rel, edit) in files.items():
        for argv in (
            ["list"],
            ["-o", "json", "vm", "get"],
            ["watermarks"],
            ["numa"],
            ["create", "/var/tmp/s", "--size", "16M", "--dry-run"],
            ["vm", "set", "swappiness=20", "--dry-run"],
        ):

            def setup(t: Tree, rel=rel, edit=edit) -> None:
                p = t.root / rel
                p.write_bytes(edit(p.read_bytes() if p.exists() else b""))

            out.append(Input("numbers", f"{name}: {' '.join(argv)}", setup, [argv], codes=(0, 2, 3)))
    return out


def _drop_value(text: bytes, prefix: bytes) -> bytes:
    i = text.index(prefix)
    j = text.index(b"\n", i)
    return text[:i] + prefix.rstrip() + text[j:]


def _set_meminfo(text: bytes, key: bytes, value: bytes) -> bytes:
    out = []
    for line in text.split(b"\n"):
        if line.startswith(key + b":"):
            line = key + b":       " + value + (b" kB" if value else b"")
        out.append(line)
    return b"\n".join(out)


# --- 6. right answers on real machines ---------------------------------------------------------------------


def _partition(fstab_line: bytes) -> Callable[[Tree], None]:
    def setup(t: Tree) -> None:
        active(t, "/dev/vdb2", kind="partition", make=False)
        for d, name in (
            ("by-uuid", "1111-2222"),
            ("by-label", "SWAP"),
            ("by-partuuid", "abcd-02"),
            ("by-partlabel", "swap0"),
            ("by-id", "virtio-xyz-part2"),
        ):
            t.link(f"dev/disk/{d}/{name}", "../../vdb2")
        t.link("dev/mapper/vg-swap", "../vdb2")
        t.write("dev/vdb2", b"")
        _fstab(t, b"# /etc/fstab\n" + ROOTLINE + fstab_line + b"\n")

    return setup


def _persisted(want: bool) -> Callable[[Tree, list[Case]], None]:
    def check(t: Tree, cases: list[Case]) -> None:
        areas = {a["path"]: a for a in data(cases[0])["areas"]}
        assert areas["/dev/vdb2"]["persisted"] is want, areas

    return check


def _line_dropped(t: Tree, cases: list[Case]) -> None:
    assert (t.root / "etc/fstab").read_bytes() == b"# /etc/fstab\n" + ROOTLINE


def answer_inputs() -> list[Input]:
    out = []
    specs = [
        b"UUID=1111-2222",
        b'UUID="1111-2222"',
        b"LABEL=SWAP",
        b"PARTUUID=abcd-02",
        b"PARTLABEL=swap0",
        b"/dev/disk/by-uuid/1111-2222",
        b"/dev/disk/by-id/virtio-xyz-part2",
        b"/dev/mapper/vg-swap",
        b"/dev/vdb2",
    ]
    for spec in specs:
        line = spec + b" none swap sw 0 0"
        out.append(
            Input(
                "answers",
                f"{spec.decode()} persists",
                _partition(line),
                [["-o", "json", "list"]],
                check=_persisted(True),
            )
        )
        out.append(
            Input(
                "answers",
                f"{spec.decode()} noauto does not persist",
                _partition(spec + b" none swap sw,noauto 0 0"),
                [["-o", "json", "list"]],
                check=_persisted(False),
            )
        )
        out.append(
            Input(
                "answers",
                f"remove drops the {spec.decode()} line",
                _partition(line),
                [["remove", "/dev/vdb2"]],
                check=_line_dropped,
            )
        )
    for cname, ch in (
        ("NBSP", "\u00a0"),
        ("VT", "\x0b"),
        ("FS", "\x1c"),
        ("NEL", "\x85"),
        ("LS", "\u2028"),
        ("FF", "\x0c"),
        ("CR", "\r"),
    ):
        name = f"/var/tmp/a{ch}b"

        def shown(t: Tree, cases: list[Case], name: str = name) -> None:
            assert [a["path"] for a in data(cases[0])["areas"]] == [name], cases[0].stdout

        out.append(
            Input(
                "answers",
                f"a {cname} in a swap name",
                lambda t, name=name: active(t, name),
                [["-o", "json", "list"]],
                check=shown,
            )
        )
        out.append(
            Input("answers", f"a {cname} in a swap name, as a table", lambda t, name=name: active(t, name), [["list"]])
        )

    class Unreadable(Host):
        """A non-root user's view: the 0600 file cannot be read (the test itself runs as root)."""

        def read_bytes(self, path: str, *, limit: int = 1 << 26) -> bytes:
            if path.endswith("/50-secret.conf"):
                raise PermissionError(13, "Permission denied", path)
            return super().read_bytes(path, limit=limit)

    def secret(t: Tree) -> None:
        t.write("etc/sysctl.d/50-secret.conf", b"vm.swappiness = 5\n", mode=0o600)
        t.host_factory = Unreadable
        t.uid = 1000

    def warned(t: Tree, cases: list[Case]) -> None:
        doc = json.loads(cases[0].stdout)
        assert any("50-secret.conf" in w for w in doc["warnings"]), doc["warnings"]

    out.append(
        Input(
            "answers",
            "an unreadable sysctl.d file is a warning in vm get",
            secret,
            [["-o", "json", "vm", "get"]],
            check=warned,
        )
    )
    wsf = "watermark_scale_factor"
    for release, item, code in (
        ("5.15.0", f"{wsf}=2000", 0),
        ("5.15.120", f"{wsf}=2000", 0),
        ("5.14.21", f"{wsf}=2000", 2),
        ("4.6.7", f"{wsf}=100", 0),
        ("4.5.7", f"{wsf}=100", 2),
    ):
        out.append(
            Input(
                "answers",
                f"what-if on {release}: {item}",
                lambda t, r=release: t.write("proc/sys/kernel/osrelease", r.encode() + b"\n"),
                [["-o", "json", "watermarks", "--what-if", item]],
                codes=(code,),
            )
        )

    def is_json(t: Tree, cases: list[Case]) -> None:
        json.loads(cases[0].stdout)

    for argv in (["list", "-o", "json"], ["-o", "json", "list"], ["vm", "get", "-o", "json"]):
        out.append(
            Input(
                "answers",
                f"SWAPCTL_OUTPUT=xml and {' '.join(argv)}",
                lambda t: None,
                [argv],
                env={"SWAPCTL_OUTPUT": "xml"},
                check=is_json,
            )
        )
    out.append(
        Input(
            "answers", "SWAPCTL_OUTPUT=xml alone", lambda t: None, [["list"]], codes=(2,), env={"SWAPCTL_OUTPUT": "xml"}
        )
    )
    return out


# --- the tests ---------------------------------------------------------------------------------------------

ALL = line_inputs() + journal_inputs() + dir_inputs() + unbounded_inputs() + number_inputs() + answer_inputs()


@pytest.mark.parametrize("inp", ALL, ids=[f"{i.cls}: {i.name}" for i in ALL])
def test_a_hostile_file_gets_a_clear_answer_and_the_edit_a_sysadmin_expects(template: Path, inp: Input) -> None:
    run_input(template, inp)


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield
    report(
        "hostile-files",
        inputs=dict(INPUTS),
        failed=dict(FAILED),
        total=sum(INPUTS.values()),
        failures=sum(FAILED.values()),
    )
