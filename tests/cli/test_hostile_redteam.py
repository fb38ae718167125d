"""Red-team inputs for swapctl, beyond tests/cli/test_hostile_files.py: hostile but possible files, journals,
directories, numbers and names, each with the answer the real reader (libmount/swapon, procps, systemd-sysctl,
the kernel) or swapctl's own promise gives. A test that fails here is a failure of swapctl, not of the test: the
report that came with this file groups them by root cause.

Every input runs on a fresh fake machine (tests/hostile.py): in this process with a fake Host and runner, or as a
child process with --root, a memory limit and a time limit. Checks, for every step: no hang, no traceback, no
exit 70, nothing outside the tree touched, an allowed exit code, one `swapctl: error:` line on failure, and a
refusal (2 or 3) changes nothing; then the input's own check (the bytes a sysadmin expects)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import pytest

from swapctl.system.host import Host
from swapctl.system.paths import SysPaths
from tests.conftest import is_root
from tests.figures import report
from tests.hostile import STATE, Case, Tree, build_template, invoke, invoke_isolated, shows_outside_value, tree

INPUTS: Counter[str] = Counter()
FAILED: Counter[str] = Counter()

HEAD = b"# /etc/fstab: static file system information.\nUUID=abcd / ext4 errors=remount-ro 0 1\n"  # the template's
SWAPS_HEADER = b"Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
SWAP = "/var/tmp/s"
OURS = b"/var/tmp/s none swap sw 0 0\n"
CONF = "etc/sysctl.d/90-swapctl.conf"
HEADER = b"# vm sysctls set by `swapctl vm set --persist`. swapctl keeps other lines as they are.\n"
BOOT = "11111111-2222-3333-4444-555555555555"
TX1, TX2, TX3 = "20261201T000000-aaaa", "20261201T000100-bbbb", "20261201T000200-cccc"
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
SYSTEMD, PROCPS = "systemd-sysctl", "sysctl --system"
HUGE = "9" * 5000

Step = Union[list[str], Callable[[Tree], None]]  # evaluated at run time: no X | Y on Python 3.9


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("hostile-redteam"))


# --- building blocks ---------------------------------------------------------------------------------------


def kernel_escape(path: str) -> str:
    return path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")


def swap_file(t: Tree, path: str = SWAP, kib: int = 16380) -> Path:
    """A 0600 file with a swap signature, (kib + 4) KiB long, as mkswap leaves it."""
    data = bytearray((kib + 4) * 1024)
    data[1024:1032] = (1).to_bytes(4, "little") + ((kib + 4) // 4 - 1).to_bytes(4, "little")
    data[4096 - 10 : 4096] = b"SWAPSPACE2"
    p = t.root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(bytes(data))
    os.chmod(p, 0o600)
    return p


def active(
    t: Tree, path: str = SWAP, *, kind: str = "file", kib: int = 16380, used: int = 0, prio: int = -2, make: bool = True
) -> None:
    """An active swap area in the tree's proc/swaps (and, for a file, the swap file itself)."""
    swaps = t.root / "proc/swaps"
    name = kernel_escape(path)
    swaps.write_bytes(
        swaps.read_bytes() + f"{name:<40}{kind}\t\t{kib}\t\t{used}\t\t{prio}\n".encode("utf-8", "surrogateescape")
    )
    if make and kind == "file":
        swap_file(t, path, kib)


def entry(**fields: object) -> bytes:
    return json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()


def begin(tx: str, command: str = "vm set", **extra: object) -> bytes:
    return entry(t="begin", tx=tx, command=command, time=1764547200.5, boot_id=BOOT, kernel="6.1.0", meta={}, **extra)


def intent(tx: str, seq: int, kind: str, params: dict, undo: dict) -> bytes:
    return entry(t="intent", tx=tx, seq=seq, step={"kind": kind, "params": params}, undo=undo)


def done(tx: str, seq: int) -> bytes:
    return entry(t="done", tx=tx, seq=seq)


def end(tx: str, status: str = "committed") -> bytes:
    return entry(t="end", tx=tx, status=status)


def journal(t: Tree, lines: list[bytes], tail: bytes = b"\n") -> None:
    d = t.state_dir or t.root / STATE
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    (d / "journal.jsonl").write_bytes(b"\n".join(lines) + tail)
    os.chmod(d / "journal.jsonl", 0o600)


def data(case: Case) -> dict:
    return json.loads(case.stdout)["data"]


def areas(case: Case) -> dict[str, dict]:
    return {a["path"]: a for a in data(case)["areas"]}


def read(t: Tree, rel: str) -> bytes | None:
    p = t.root / rel
    return p.read_bytes() if p.is_file() else None


def save(key: str, rel: str) -> Callable[[Tree], None]:
    """A step that keeps a file's bytes (None when absent) for the check."""

    def step(t: Tree) -> None:
        t.saved[key] = read(t, rel)  # type: ignore[attr-defined]

    return step


def saved(t: Tree, key: str) -> Any:
    return t.saved[key]  # type: ignore[attr-defined]


def setting(case: Case, key: str) -> dict:
    return next(s for s in data(case)["settings"] if s["key"] == key)


@dataclass
class Input:
    cls: str
    name: str
    setup: Callable[[Tree], None]
    steps: list[Step]
    codes: tuple[int, ...] = (0,)  # allowed for every step
    check: Callable[[Tree, list[Case]], None] | None = None
    isolated: bool = False  # a child process with --root, a memory limit and a time limit
    with_host: bool = True
    needs_root: bool = False
    env: dict[str, str] | None = None
    stdin: bytes | None = None
    seconds: float = 8.0


def run_input(template: Path, inp: Input) -> None:
    if inp.needs_root and not is_root():
        pytest.skip("needs root (mknod, chown)")
    INPUTS[inp.cls] += 1
    try:
        with tree(template) as t:
            t.saved = {}  # type: ignore[attr-defined]
            inp.setup(t)
            cases: list[Case] = []
            for step in inp.steps:
                if callable(step):
                    step(t)
                    continue
                # Without the fake Host swapctl builds its own: only ever on a --root tree, never this machine.
                assert inp.with_host or "--root" in step, f"{step} would run on this machine"
                env = {
                    "TMPDIR": str(t.work),
                    **{
                        k: v.replace("@WORK@", str(t.work)).replace("@ROOT@", str(t.root))
                        for k, v in (inp.env or {}).items()
                    },
                }  # crash logs stay in work
                case = (
                    invoke_isolated(t, step, seconds=inp.seconds)
                    if inp.isolated
                    else invoke(t, step, env=env, with_host=inp.with_host, stdin=inp.stdin)
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


# --- 1. lines: fstab and sysctl.d files as real machines have them ------------------------------------------

# (lines before our swap line, lines after it): every byte of them is the admin's and must survive every edit.
FSTAB_OTHERS: dict[str, tuple[bytes, bytes]] = {
    "a NUL in a comment": (b"# a\0b\n", b""),
    "a NUL tail after a power cut": (b"", b"\0" * 512),
    "invalid UTF-8 in a comment": (b"# caf\xe9 \xff\xfe\n", b""),
    "invalid UTF-8 in a mount line": (b"/dev/sdb1 /mnt/\xff ext4 defaults 0 2\n", b""),
    "CRLF lines around ours": (b"/dev/sdb1 /srv ext4 defaults 0 2\r\n", b"# end\r\n"),
    "no final newline after ours": (b"", b"/dev/sdb1 /srv ext4 defaults 0 2"),
    "a 200 kB comment": (b"#" + b"x" * 200_000 + b"\n", b""),
    "a 64 kB options field": (b"/dev/sdb1 /srv ext4 " + b"a," * 32_000 + b"defaults 0 2\n", b""),
    "tabs between fields": (b"/dev/sdb1\t/srv\txfs\tdefaults\t0\t2\n", b""),
    "a 2-field line": (b"/dev/sdc1 /data\n", b""),
    "a 4-field line": (b"/dev/sdc1 /data ext4 defaults\n", b""),
    "a 5-field line": (b"/dev/sdc1 /data ext4 defaults 0\n", b""),
    "a 7-field line": (b"/dev/sdc1 /data ext4 defaults 0 2 extra\n", b""),
    "an indented comment holding our line": (b"   \t# /var/tmp/s none swap sw 0 0\n", b""),
    "blank lines of blanks": (b" \t \n\n\t\n", b""),
    "another swap file": (b"/var/tmp/other none swap sw 0 0\n", b""),
    "a swap partition by UUID": (b"UUID=dead-beef none swap sw 0 0\n", b""),
    "x-systemd options": (b"/dev/sdb1 /srv xfs defaults,x-systemd.automount,x-systemd.device-timeout=5s 0 0\n", b""),
    "octal escapes in a mount point": (b"/dev/sdb1 /mnt/my\\040disk ext4 defaults 0 2\n", b""),
    "our path as a mount target": (b"tmpfs /var/tmp/s tmpfs defaults 0 0\n", b""),
    "our path in a 2-field line libmount rejects": (b"/var/tmp/s none\n", b""),
    "our path with a passno libmount rejects": (b"/var/tmp/s none swap sw 0 x\n", b""),
    "our path with a NUL in its options (libmount rejects the line)": (b"/var/tmp/s none swap sw\0x 0 0\n", b""),
    **{
        f"a {n}-glued comment naming our path": (b"# moved" + s + b"/var/tmp/s none swap sw 0 0\n", b"")
        for n, s in SEPS.items()
    },
}


def _fstab_setup(text: bytes, *, area: bool, file: bool = False) -> Callable[[Tree], None]:
    def setup(t: Tree) -> None:
        t.write("etc/fstab", text)
        if area:
            active(t)
        elif file:
            swap_file(t)

    return setup


def _is_swapctl_line(rest: bytes, options: bytes) -> bool:
    return rest.strip(b"\n").split() == [b"/var/tmp/s", b"none", b"swap", options, b"0", b"0"]


def fstab_line_inputs() -> list[Input]:
    out = []
    for name, (before, after) in FSTAB_OTHERS.items():
        with_ours, without = HEAD + before + OURS + after, HEAD + before + after

        def created(t: Tree, cases: list[Case], without: bytes = without) -> None:
            now = saved(t, "after")
            assert now is not None and now.startswith(without), now[-300:] if now else now
            assert _is_swapctl_line(now[len(without) :], b"defaults"), now[len(without) - 40 :]
            assert read(t, "etc/fstab") == without, "rollback did not restore the bytes"

        def removed(t: Tree, cases: list[Case], with_ours: bytes = with_ours, without: bytes = without) -> None:
            now = saved(t, "after")
            # An unterminated last line dropped may take the newline before it (an add then a drop round-trips).
            assert now in (without, without.removesuffix(b"\n")), (now or b"")[-300:]
            assert read(t, "etc/fstab") == with_ours, "rollback did not restore the bytes"

        def untouched(t: Tree, cases: list[Case], with_ours: bytes = with_ours) -> None:
            assert saved(t, "after") == with_ours
            assert read(t, "etc/fstab") == with_ours

        def reprio(
            t: Tree, cases: list[Case], before: bytes = before, after: bytes = after, with_ours: bytes = with_ours
        ) -> None:
            assert saved(t, "after") == HEAD + before + b"/var/tmp/s none swap sw,pri=5 0 0\n" + after, (
                saved(t, "after") or b""
            )[-300:]
            assert read(t, "etc/fstab") == with_ours, "rollback did not restore the bytes"

        rb = ["rollback"]
        out += [
            Input(
                "lines",
                f"fstab {name}: create appends, rollback restores",
                _fstab_setup(without, area=False),
                [["create", SWAP, "--size", "16M"], save("after", "etc/fstab"), rb],
                check=created,
            ),
            Input(
                "lines",
                f"fstab {name}: remove --keep-file drops only our line",
                _fstab_setup(with_ours, area=True),
                [["remove", SWAP, "--keep-file"], save("after", "etc/fstab"), rb],
                check=removed,
            ),
            Input(
                "lines",
                f"fstab {name}: remove --force drops only our line",
                _fstab_setup(with_ours, area=True),
                [["remove", SWAP, "--force"], save("after", "etc/fstab"), rb],
                check=removed,
            ),
            Input(
                "lines",
                f"fstab {name}: resize leaves fstab alone",
                _fstab_setup(with_ours, area=True),
                [["resize", SWAP, "--size", "32M"], save("after", "etc/fstab"), rb],
                check=untouched,
            ),
            Input(
                "lines",
                f"fstab {name}: create --priority 5 rewrites only our line",
                _fstab_setup(with_ours, area=False, file=True),
                [["create", SWAP, "--size", "16M", "--priority", "5"], save("after", "etc/fstab"), rb],
                check=reprio,
            ),
        ]
    return out


OUR_CONF = b"vm.swappiness = 10\n"
CONF_OTHERS: dict[str, tuple[bytes, bytes]] = {
    "a NUL in a comment": (b"# a\0b\n", b""),
    "a NUL tail after a power cut": (b"", b"\0" * 512),
    "invalid UTF-8 in a comment": (b"# caf\xe9 \xff\n", b""),
    "CRLF lines around ours": (b"vm.page-cluster = 3\r\n", b"# end\r\n"),
    "no final newline after ours": (b"", b"vm.page-cluster = 3"),
    "a 200 kB comment": (b"#" + b"x" * 200_000 + b"\n", b""),
    "tabs around =": (b"vm.page-cluster\t=\t3\n", b""),
    "a ; comment": (b"; vm.swappiness = 99\n", b""),
    "an indented # comment naming our key": (b"   \t# vm.swappiness = 99\n", b""),
    "a kernel key": (b"kernel.panic = 10\n", b""),
    "a slash-form key": (b"vm/vfs_cache_pressure = 50\n", b""),
    "a glob line": (b"net.ipv4.conf.*.rp_filter = 1\n", b""),
    "an exclusion line": (b"-net.ipv4.conf.lo.rp_filter\n", b""),
    "an ignore-failure line": (b"-vm.page-cluster = 3\n", b""),
    "a trailing-comment value": (b"vm.page-cluster = 3 # fast\n", b""),
    "a line without =": (b"this is not an assignment\n", b""),
}


def conf_line_inputs() -> list[Input]:
    out = []
    for name, (before, after) in CONF_OTHERS.items():
        with_ours, without = HEADER + before + OUR_CONF + after, HEADER + before + after

        def replaced(
            t: Tree, cases: list[Case], before: bytes = before, after: bytes = after, with_ours: bytes = with_ours
        ) -> None:
            assert saved(t, "after") == HEADER + before + b"vm.swappiness = 20\n" + after, saved(t, "after")[-300:]
            assert read(t, CONF) == with_ours, "rollback did not restore the bytes"

        def appended(t: Tree, cases: list[Case], without: bytes = without) -> None:
            now = saved(t, "after")
            assert now.startswith(without) and now[len(without) :].strip() == b"vm.swappiness = 20", now[-300:]
            assert read(t, CONF) == without, "rollback did not restore the bytes"

        def setup(t: Tree, text: bytes) -> None:
            t.write(CONF, text)
            t.write("x.yaml", b"persist: true\nvm:\n  swappiness: 20\n")

        rb = ["rollback"]
        out += [
            Input(
                "lines",
                f"sysctl.d {name}: vm set --persist replaces our line",
                lambda t, w=with_ours: setup(t, w),
                [["vm", "set", "swappiness=20", "--persist"], save("after", CONF), rb],
                check=replaced,
            ),
            Input(
                "lines",
                f"sysctl.d {name}: vm set --persist appends our line",
                lambda t, w=without: setup(t, w),
                [["vm", "set", "swappiness=20", "--persist"], save("after", CONF), rb],
                check=appended,
            ),
            Input(
                "lines",
                f"sysctl.d {name}: apply replaces our line",
                lambda t, w=with_ours: setup(t, w),
                [["apply", "@ROOT@/x.yaml"], save("after", CONF), rb],
                check=replaced,
            ),
        ]
    return out


# What the boot ends with from one admin file, as systemd-sysctl (read_line() ends a line at \n, \r, \r\n and
# NUL; strstrip() strips " \t\n\r") and procps 4 (getline(), then C strings: a NUL ends the line's text;
# lstrip/rstrip use isspace()) read it and the kernel takes the value (proc_get_long: base 0, only " \t\n" may
# follow the digits). (file bytes, key, systemd's result, procps' result); None: not set, or refused by the kernel.
BOOT_READS: dict[str, tuple[bytes, str, int | None, int | None]] = {
    "CR-glued second assignment, first key": (b"vm.swappiness = 10\rvm.page-cluster = 5\n", "vm.swappiness", 10, None),
    "CR-glued second assignment, second key": (
        b"vm.swappiness = 10\rvm.page-cluster = 5\n",
        "vm.page-cluster",
        5,
        None,
    ),
    "CR ends a comment": (b"# old value\rvm.swappiness = 10\n", "vm.swappiness", 10, None),
    "a lone CR line ending": (b"vm.swappiness = 10\rvm.vfs_cache_pressure = 50\r", "vm.vfs_cache_pressure", 50, None),
    "LF CR line ending": (b"vm.swappiness = 10\n\rvm.page-cluster = 5\n", "vm.page-cluster", 5, 5),
    "a NUL after the value": (b"vm.swappiness = 10\0garbage\n", "vm.swappiness", 10, 10),
    "a NUL tail glued to the last value": (b"vm.swappiness = 10" + b"\0" * 64, "vm.swappiness", 10, 10),
    "a NUL then a second assignment": (b"# c\0vm.swappiness = 10\n", "vm.swappiness", 10, None),
    "a leading FS (not blank to either tool)": (b"\x1cvm.swappiness = 10\n", "vm.swappiness", None, None),
    "a leading NEL (U+0085)": ("\x85vm.swappiness = 10\n".encode(), "vm.swappiness", None, None),
    "a trailing LS (U+2028) after the value": ("vm.swappiness = 10\u2028\n".encode(), "vm.swappiness", None, None),
    "CRLF (control)": (b"vm.swappiness = 10\r\n", "vm.swappiness", 10, 10),
    "a trailing VT (procps strips it, systemd not)": (b"vm.swappiness = 10\x0b\n", "vm.swappiness", None, 10),
}
TOOL_KEYS = {SYSTEMD: (SYSTEMD, "systemd"), PROCPS: (PROCPS, "procps")}  # swapctl's JSON names, then and now


def tool_value(persisted: dict, tool: str) -> Any:
    return next(persisted[k]["value"] for k in TOOL_KEYS[tool] if k in persisted)


def _boot_reads(key: str, want_systemd: int | None, want_procps: int | None) -> Callable[[Tree, list[Case]], None]:
    def check(t: Tree, cases: list[Case]) -> None:
        persisted = setting(cases[0], key)["persisted"]
        for tool, want in ((SYSTEMD, want_systemd), (PROCPS, want_procps)):
            got = tool_value(persisted, tool)
            # Text the kernel refuses may be reported as that text (with a note) or as no value.
            ok = got == want if want is not None else (got is None or isinstance(got, str))
            assert ok, f"{tool}: reports {got!r}; the boot ends with {want!r}"

    return check


def boot_read_inputs() -> list[Input]:
    out = []
    for name, (text, key, sd, pp) in BOOT_READS.items():
        out.append(
            Input(
                "lines",
                f"vm get reads 50-admin.conf with {name}: {key}",
                lambda t, text=text: t.write("etc/sysctl.d/50-admin.conf", text),
                [["-o", "json", "vm", "get", key]],
                check=_boot_reads(key, sd, pp),
            )
        )

    def kept_glued(t: Tree, cases: list[Case]) -> None:
        assert tool_value(setting(cases[-1], "vm.page-cluster")["persisted"], SYSTEMD) == 5, (
            "vm set --persist dropped the assignment systemd-sysctl reads after the CR"
        )

    out.append(
        Input(
            "lines",
            "vm set --persist keeps what systemd-sysctl reads after a CR in our own line",
            lambda t: t.write(CONF, HEADER + b"vm.swappiness = 10\rvm.page-cluster = 5\n"),
            [["vm", "set", "swappiness=20", "--persist"], ["-o", "json", "vm", "get"]],
            check=kept_glued,
        )
    )
    return out


# --- 2. the journal: torn at every byte of a real transaction, and forged or odd in new ways -----------------


def _sha(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


CONF1 = HEADER + b"vm.page-cluster = 5\n"
CONF2 = CONF1 + b"vm.swappiness = 20\n"
PERSIST = "/etc/sysctl.d/90-swapctl.conf"


def _vm_tx(tx: str, name: str, old: int, new: int, conf_old: bytes | None, conf_new: bytes) -> list[bytes]:
    """The lines `vm set NAME=NEW --persist` journals, in swapctl's own format (sorted keys, no spaces)."""
    key = f"vm.{name}"
    return [
        entry(
            t="begin", tx=tx, command="vm set", time=1764547200.5, boot_id=BOOT, kernel="6.1.0", meta={"keys": [key]}
        ),
        intent(tx, 0, "sysctl-write", {"mode": "set", "name": name, "planned_old": old, "value": new}, {"old": old}),
        done(tx, 0),
        intent(
            tx,
            1,
            "sysctl-persist",
            {"path": PERSIST, "settings": {key: new}},
            {
                "made_parent": conf_old is None,
                "new": conf_new.decode(),
                "new_sha256": _sha(conf_new),
                "old": None if conf_old is None else conf_old.decode(),
            },
        ),
        done(tx, 1),
        end(tx),
    ]


VM_TX1 = b"\n".join(_vm_tx(TX1, "page-cluster", 3, 5, None, CONF1)) + b"\n"
VM_TX2_LINES = _vm_tx(TX2, "swappiness", 60, 20, CONF1, CONF2)
VM_TX2 = b"\n".join(VM_TX2_LINES) + b"\n"
CREATE_LINE = "/var/tmp/s none swap defaults 0 0"
CREATE_TX_LINES = [
    entry(
        t="begin",
        tx=TX3,
        command="create",
        time=1764547200.5,
        boot_id=BOOT,
        kernel="6.1.0",
        meta={"argv": {"filesystem": "ext4", "path": SWAP, "persisted": True, "priority": None, "size": 40960}},
    ),
    intent(TX3, 0, "create-file", {"nocow": False, "path": SWAP}, {}),
    done(TX3, 0),
    intent(TX3, 1, "allocate", {"method": "auto", "path": SWAP, "size": 40960}, {}),
    done(TX3, 1),
    intent(TX3, 2, "mkswap", {"path": SWAP}, {}),
    done(TX3, 2),
    intent(TX3, 3, "swapon", {"discard": False, "path": SWAP, "priority": None, "refill": 40960}, {}),
    done(TX3, 3),
    intent(
        TX3,
        4,
        "fstab-set",
        {"line": CREATE_LINE, "path": "/etc/fstab", "swap": SWAP},
        {
            "made_parent": False,
            "new": (HEAD + CREATE_LINE.encode() + b"\n").decode(),
            "new_sha256": _sha(HEAD + CREATE_LINE.encode() + b"\n"),
            "old": HEAD.decode(),
        },
    ),
    done(TX3, 4),
    end(TX3),
]
CREATE_TX = b"\n".join(CREATE_TX_LINES) + b"\n"


def _ends(lines: list[bytes]) -> list[int]:
    out, pos = [], 0
    for line in lines:
        pos += len(line) + 1
        out.append(pos)
    return out


def _journal_whole(t: Tree) -> None:
    text = (t.root / STATE / "journal.jsonl").read_bytes()
    assert text.endswith(b"\n") and b"\0" not in text, text[-200:]
    assert all(isinstance(json.loads(line), dict) for line in text.splitlines()), text[-400:]


def _torn_vm(cut: int, tail: bytes) -> tuple[Callable[[Tree], None], Callable[[Tree, list[Case]], None]]:
    e = _ends(VM_TX2_LINES)

    def setup(t: Tree) -> None:
        # The machine as TX1 left it, and as much of TX2 as its whole intents allow (written ahead of the change).
        t.write("proc/sys/vm/page-cluster", b"5\n")
        t.write(CONF, CONF1)
        if cut >= e[1]:
            t.write("proc/sys/vm/swappiness", b"20\n")
        if cut >= e[3]:
            t.write(CONF, CONF2)
        journal(t, [VM_TX1.rstrip(b"\n")], tail=b"\n" + VM_TX2[:cut] + tail)

    def check(t: Tree, cases: list[Case]) -> None:
        got = (read(t, "proc/sys/vm/page-cluster"), read(t, "proc/sys/vm/swappiness"), read(t, CONF))
        if cut >= e[0]:  # TX2 began: the rollback finishes (or undoes) it
            assert got == (b"5\n", b"60", CONF1) or got == (b"5\n", b"60\n", CONF1), got
        else:  # TX2 never began: the rollback undoes TX1
            assert got[0] in (b"3", b"3\n") and got[1] in (b"60", b"60\n") and got[2] is None, got
            assert not (t.root / "etc/sysctl.d").exists(), "the directory TX1 made is still there"
        _journal_whole(t)

    return setup, check


def _torn_create(cut: int, tail: bytes) -> tuple[Callable[[Tree], None], Callable[[Tree, list[Case]], None]]:
    e = _ends(CREATE_TX_LINES)
    whole = [i for i in range(5) if cut >= e[1 + 2 * i]]  # the steps whose intent is on disk

    def setup(t: Tree) -> None:
        if whole:
            p = t.root / SWAP.lstrip("/")
            p.write_bytes(b"")
            os.chmod(p, 0o600)
        if 1 in whole:
            p.write_bytes(bytes(40960))
        if 2 in whole:
            swap_file(t, SWAP, 36)
        if 3 in whole:
            active(t, SWAP, kib=36, make=False)
        if 4 in whole:
            t.write("etc/fstab", HEAD + CREATE_LINE.encode() + b"\n")
        journal(t, [], tail=CREATE_TX[:cut] + tail)

    def check(t: Tree, cases: list[Case]) -> None:
        assert not (t.root / SWAP.lstrip("/")).exists(), "the swap file is still there"
        assert read(t, "proc/swaps") == SWAPS_HEADER, read(t, "proc/swaps")
        assert read(t, "etc/fstab") == HEAD, read(t, "etc/fstab")
        if (t.root / STATE / "journal.jsonl").stat().st_size:
            _journal_whole(t)

    return setup, check


def torn_inputs() -> list[Input]:
    out = []
    for cut in range(len(VM_TX2) + 1):
        tail = b"\0" * 4096 if cut % 16 == 5 else b""
        setup, check = _torn_vm(cut, tail)
        out.append(
            Input(
                "journal",
                f"vm set tx torn at byte {cut}/{len(VM_TX2)}{' + NUL tail' if tail else ''}",
                setup,
                [["rollback"], ["-o", "json", "history"]],
                check=check,
            )
        )
    e = _ends(CREATE_TX_LINES)
    near = {p + d for p in [0, *e] for d in (-2, -1, 0, 1, 2)}
    for cut in sorted({*range(0, len(CREATE_TX) + 1, 5), *near}):
        if not 0 <= cut <= len(CREATE_TX):
            continue
        tail = b"\0" * 4096 if cut % 10 == 3 else b""
        setup, check = _torn_create(cut, tail)
        out.append(
            Input(
                "journal",
                f"create tx torn at byte {cut}/{len(CREATE_TX)}{' + NUL tail' if tail else ''}",
                setup,
                [["rollback"], ["-o", "json", "history"]],
                check=check,
            )
        )
    return out


def _sysctl_tx(tx: str, name: str, old: int, new: int, *, close: bool = True) -> list[bytes]:
    lines = [
        begin(tx),
        intent(tx, 0, "sysctl-write", {"mode": "set", "name": name, "planned_old": old, "value": new}, {"old": old}),
        done(tx, 0),
    ]
    return lines + ([end(tx)] if close else [])


def _values(**want: bytes) -> Callable[[Tree, list[Case]], None]:
    def check(t: Tree, cases: list[Case]) -> None:
        for name, value in want.items():
            got = read(t, f"proc/sys/vm/{name.replace('_', '-') if name == 'page_cluster' else name}")
            assert got is not None and got.strip() == value, f"{name}: {got!r}, expected {value!r}"

    return check


def _forged(kind: str, params: dict, undo: dict, command: str = "create") -> list[bytes]:
    return [begin(TX1, command), intent(TX1, 0, kind, params, undo), done(TX1, 0), end(TX1)]


def journal_inputs() -> list[Input]:
    out = []

    def two_pending(t: Tree) -> None:
        t.write("proc/sys/vm/page-cluster", b"5\n")
        t.write("proc/sys/vm/swappiness", b"20\n")
        journal(
            t, _sysctl_tx(TX1, "page-cluster", 3, 5, close=False) + _sysctl_tx(TX2, "swappiness", 60, 20, close=False)
        )

    out.append(
        Input(
            "journal",
            "two pending transactions: two rollbacks undo both",
            two_pending,
            [["rollback"], ["rollback"], ["-o", "json", "history"]],
            check=_values(page_cluster=b"3", swappiness=b"60"),
        )
    )

    def end_before_begin(t: Tree) -> None:
        t.write("proc/sys/vm/swappiness", b"20\n")
        journal(t, [end(TX1)] + _sysctl_tx(TX1, "swappiness", 60, 20, close=False))

    out.append(
        Input(
            "journal",
            "an end before its begin",
            end_before_begin,
            [["-o", "json", "history"], ["rollback"], ["list"]],
            codes=(0, 3),
        )
    )

    def undone_without_intent(t: Tree) -> None:
        t.write("proc/sys/vm/swappiness", b"20\n")
        journal(t, _sysctl_tx(TX1, "swappiness", 60, 20) + [entry(t="undone", tx=TX1, seq=7)])

    out.append(
        Input(
            "journal",
            "an undone without its intent",
            undone_without_intent,
            [["-o", "json", "history"], ["rollback"]],
            check=_values(swappiness=b"60"),
        )
    )

    def dup_done(t: Tree) -> None:
        t.write("proc/sys/vm/swappiness", b"20\n")
        lines = _sysctl_tx(TX1, "swappiness", 60, 20)
        journal(t, lines[:3] + [done(TX1, 0), done(TX1, 0)] + lines[3:])

    out.append(Input("journal", "the same done three times", dup_done, [["rollback"]], check=_values(swappiness=b"60")))

    def intent_after_end(t: Tree) -> None:
        t.write("proc/sys/vm/swappiness", b"20\n")
        journal(
            t,
            _sysctl_tx(TX1, "swappiness", 60, 20)
            + [
                intent(
                    TX1,
                    1,
                    "sysctl-write",
                    {"mode": "set", "name": "page-cluster", "planned_old": 3, "value": 3},
                    {"old": 3},
                )
            ],
        )

    out.append(
        Input(
            "journal",
            "an intent after its transaction's end",
            intent_after_end,
            [["-o", "json", "history"], ["rollback"]],
            codes=(0, 3),
        )
    )

    def with_rollback(t: Tree) -> None:
        journal(t, _sysctl_tx(TX1, "swappiness", 60, 20) + [begin(TX2, "rollback", rollback_of=TX1), end(TX2)])

    out.append(Input("journal", "rollback ID of a rollback is refused", with_rollback, [["rollback", TX2]], codes=(3,)))
    out.append(
        Input(
            "journal",
            "rollback --dry-run ID of a rollback is refused",
            with_rollback,
            [["rollback", "--dry-run", TX2]],
            codes=(3,),
        )
    )

    def self_rollback(t: Tree) -> None:
        journal(t, _sysctl_tx(TX1, "swappiness", 60, 60) + [begin(TX2, "rollback", rollback_of=TX2)])

    out.append(
        Input(
            "journal",
            "a pending rollback of itself",
            self_rollback,
            [["-o", "json", "history"], ["rollback", "--dry-run"], ["rollback"], ["rollback"]],
            codes=(0, 3),
        )
    )

    def rollback_of_later(t: Tree) -> None:
        journal(t, [begin(TX1, "rollback", rollback_of=TX2)] + _sysctl_tx(TX2, "swappiness", 60, 60))

    out.append(
        Input(
            "journal",
            "a pending rollback of a later transaction",
            rollback_of_later,
            [["-o", "json", "history"], ["rollback"], ["vm", "set", "swappiness=30"]],
            codes=(0, 3),
        )
    )

    # An empty ID (a script's unset variable: swapctl rollback "$ID") names no transaction: it must not undo one.
    def committed(t: Tree) -> None:
        t.write("proc/sys/vm/swappiness", b"20\n")
        journal(t, _sysctl_tx(TX1, "swappiness", 60, 20))

    for tx_id in ("", " ", "\t"):
        out.append(
            Input(
                "journal",
                f"rollback {tx_id!r} is bad input",
                committed,
                [["rollback", tx_id]],
                codes=(2,),
                check=_values(swappiness=b"20"),
            )
        )
        out.append(
            Input(
                "journal",
                f"rollback --dry-run {tx_id!r} is bad input",
                committed,
                [["rollback", "--dry-run", tx_id]],
                codes=(2,),
            )
        )

    def crlf(t: Tree) -> None:
        journal(t, [line + b"\r" for line in _sysctl_tx(TX1, "swappiness", 60, 20)])

    out.append(
        Input("journal", "CRLF line ends (edited in a Windows editor)", crlf, [["-o", "json", "history"]], codes=(0, 3))
    )

    def bom(t: Tree) -> None:
        journal(
            t,
            ["\ufeff".encode() + _sysctl_tx(TX1, "swappiness", 60, 20)[0]] + _sysctl_tx(TX1, "swappiness", 60, 20)[1:],
        )

    out.append(
        Input(
            "journal", "a UTF-8 BOM before the first line", bom, [["-o", "json", "history"], ["rollback"]], codes=(0, 3)
        )
    )

    def big_boot_id(t: Tree) -> None:
        lines = _sysctl_tx(TX1, "swappiness", 60, 60)
        lines[0] = lines[0].replace(BOOT.encode(), b"b" * (8 << 20))
        journal(t, lines)

    out.append(Input("journal", "an 8 MiB boot_id", big_boot_id, [["history"], ["rollback"]], codes=(0, 3)))

    # Forged (or damaged) entries that pass the kind's schema: each must be refused or undone harmlessly.
    edited = HEAD + b"/var/tmp/s none swap defaults 0 0\n# edited since\n"
    for line in ("", "   ", "\t"):

        def blank_line(t: Tree, line: str = line) -> None:
            t.write("etc/fstab", edited)
            journal(
                t,
                _forged(
                    "fstab-set",
                    {"path": "/etc/fstab", "swap": SWAP, "line": line},
                    {
                        "old": HEAD.decode(),
                        "new": (HEAD + b"/var/tmp/s none swap defaults 0 0\n").decode(),
                        "new_sha256": None,
                        "made_parent": False,
                    },
                ),
            )

        for argv in (["rollback", "--dry-run"], ["rollback"]):
            out.append(
                Input("journal", f"fstab-set with line {line!r}: {' '.join(argv)}", blank_line, [argv], codes=(0, 3))
            )
    for where, params in {
        "a mkswap path": ("mkswap", {"path": "/var/tmp/\ud800"}),
        "a create-file path": ("create-file", {"path": "/var/tmp/\udfff", "nocow": False}),
        "fstab-set sources": (
            "fstab-set",
            {"path": "/etc/fstab", "swap": SWAP, "line": None, "sources": ["/var/tmp/\ud800"]},
        ),
    }.items():
        kind, p = params
        undo = (
            {"old": HEAD.decode(), "new": HEAD.decode(), "new_sha256": None, "made_parent": False}
            if kind == "fstab-set"
            else {}
        )

        def lone(t: Tree, kind: str = kind, p: dict = p, undo: dict = undo) -> None:
            journal(t, _forged(kind, p, undo))

        for argv in (
            ["history"],
            ["-o", "json", "history"],
            ["rollback", "--dry-run"],
            ["rollback"],
            ["list"],
            ["remove", SWAP, "--dry-run"],
        ):
            out.append(
                Input(
                    "journal",
                    f"a lone surrogate (JSON \\ud800) in {where}: {' '.join(argv)}",
                    lone,
                    [argv],
                    codes=(0, 3),
                )
            )

    def lone_command(t: Tree) -> None:
        lines = _sysctl_tx(TX1, "swappiness", 60, 60)
        lines[0] = lines[0].replace(b'"vm set"', b'"vm \\ud800 set"').replace(b'"6.1.0"', b'"6.1\\udc80"')
        journal(t, lines)

    for argv in (["history"], ["-o", "yaml", "history"], ["rollback"]):
        out.append(
            Input(
                "journal",
                f"a lone surrogate in a begin's command and kernel: {' '.join(argv)}",
                lone_command,
                [argv],
                codes=(0, 3),
            )
        )

    def kept(rel: str, data_: bytes) -> Callable[[Tree, list[Case]], None]:
        def check(t: Tree, cases: list[Case]) -> None:
            assert read(t, rel) == data_, f"rollback changed {rel}: {read(t, rel)!r:.200}"

        return check

    def absent(rel: str) -> Callable[[Tree, list[Case]], None]:
        def check(t: Tree, cases: list[Case]) -> None:
            assert not (t.root / rel).exists(), f"rollback made {rel}"

        return check

    zero_head = bytes(4096) + b"precious data " * 100
    for rel, content in (("etc/subuid", b""), ("var/lib/dpkg/lock", b""), ("var/tmp/disk.img", zero_head)):

        def admin_file(t: Tree, rel: str = rel, content: bytes = content) -> None:
            t.write(rel, content, mode=0o644)
            journal(t, _forged("create-file", {"path": "/" + rel, "nocow": False}, {}))

        out.append(
            Input(
                "journal",
                f"forged create-file of an admin's /{rel} ({len(content)} bytes)",
                admin_file,
                [["rollback"]],
                codes=(0, 3),
                check=kept(rel, content),
            )
        )
    for rel in ("etc/ld.so.preload", "etc/cron.d/swapctl", "root/.bashrc"):

        def deleted(t: Tree, rel: str = rel) -> None:
            (t.root / rel).parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            journal(t, _forged("delete-file", {"path": "/" + rel, "size": 40960, "nocow": False}, {}, "remove"))

        out.append(
            Input(
                "journal",
                f"forged delete-file of /{rel} that swapctl never made",
                deleted,
                [["rollback"]],
                codes=(0, 3),
                check=absent(rel),
            )
        )
    distro = b"# distribution defaults\nvm.swappiness = 60\nkernel.panic = 10\n"
    for name in ("99-sysctl.conf", "10-network-security.conf", "50-default.conf"):

        def foreign(t: Tree, name: str = name) -> None:
            t.write(f"etc/sysctl.d/{name}", distro)
            journal(
                t,
                _forged(
                    "sysctl-persist",
                    {"path": f"/etc/sysctl.d/{name}", "settings": {"vm.swappiness": 1}},
                    {"old": "", "new": distro.decode(), "new_sha256": _sha(distro), "made_parent": False},
                    "vm set",
                ),
            )

        out.append(
            Input(
                "journal",
                f"forged sysctl-persist of the admin's /etc/sysctl.d/{name}",
                foreign,
                [["rollback"]],
                codes=(0, 3),
                check=kept(f"etc/sysctl.d/{name}", distro),
            )
        )

    def reused(t: Tree) -> None:
        # swapctl made /var/tmp/s, then swapped it off and let it go; the path now holds an image of someone's.
        journal(
            t,
            [
                begin(TX1, "create"),
                intent(TX1, 0, "create-file", {"path": SWAP, "nocow": False}, {}),
                done(TX1, 0),
                end(TX1),
            ],
        )
        t.write(SWAP.lstrip("/"), zero_head, mode=0o600)

    out.append(
        Input(
            "journal",
            "rollback of a create whose path now holds data after a zero first page",
            reused,
            [["rollback", TX1]],
            codes=(0, 3),
            check=kept(SWAP.lstrip("/"), zero_head),
        )
    )
    return out


# --- 3. directories and links -------------------------------------------------------------------------------


def _state_dir(kind: str) -> Callable[[Tree], None]:
    def setup(t: Tree) -> None:
        d = t.work / "state"
        real = t.work / "state.real"
        if kind == "owned by uid 65534":
            d.mkdir(mode=0o700)
            os.chown(d, 65534, 65534)
        elif kind == "a link to a 0700 dir":
            real.mkdir(mode=0o700)
            os.symlink(real, d)
        elif kind == "a link to a 0777 dir":
            real.mkdir()
            os.chmod(real, 0o777)
            os.symlink(real, d)
        elif kind == "a dangling link":
            os.symlink(t.work / "nowhere", d)
        elif kind == "a FIFO":
            os.mkfifo(d)
        elif kind == "a socket":
            s = socket.socket(socket.AF_UNIX)
            s.bind(str(d))
            s.close()
        elif kind == "under a regular file":
            (t.work / "file").write_bytes(b"x")
            d = t.work / "file/state"
        elif kind == "three missing parents":
            d = t.work / "a/b/c/state"
        elif kind == "a 0700 dir in a 0777 parent":
            (t.work / "open").mkdir()
            os.chmod(t.work / "open", 0o777)
            d = t.work / "open/state"
            d.mkdir(mode=0o700)
        t.state_dir = d

    return setup


STATE_KINDS = (
    "owned by uid 65534",
    "a link to a 0700 dir",
    "a link to a 0777 dir",
    "a dangling link",
    "a FIFO",
    "a socket",
    "under a regular file",
    "three missing parents",
    "a 0700 dir in a 0777 parent",
)
STATE_COMMANDS = (
    ["list"],
    ["history"],
    ["-o", "yaml", "history"],
    ["vm", "set", "swappiness=20", "--dry-run"],
    ["vm", "set", "swappiness=20"],
    ["rollback"],
)


def _root_variant(kind: str) -> Callable[[Tree], str]:
    def where(t: Tree) -> str:
        if kind == "a trailing slash":
            return str(t.root) + "/"
        if kind == "a doubled slash inside":
            return str(t.root).replace("/root", "//root")
        if kind == "a leading //":
            return "/" + str(t.root)
        if kind == "a trailing /.":
            return str(t.root) + "/."
        if kind == "a /x/.. detour":
            return str(t.root) + "/etc/.."
        link = t.work / "rootlink"
        if not link.exists():
            os.symlink(t.root, link)
        return str(link)

    return where


def dir_inputs() -> list[Input]:
    out = []
    for kind in STATE_KINDS:
        for argv in STATE_COMMANDS:
            ok = kind in ("a link to a 0700 dir", "three missing parents", "a 0700 dir in a 0777 parent") or (
                argv[-1] in ("list", "history") and kind not in ("a link to a 0777 dir",)
            )
            out.append(
                Input(
                    "dirs",
                    f"state dir {kind}: {' '.join(argv)}",
                    _state_dir(kind),
                    [argv],
                    codes=(0, 3) if ok else (3,),
                    needs_root=kind.startswith("owned"),
                )
            )

    def env_state(t: Tree) -> None:
        (t.work / "open").mkdir()
        os.chmod(t.work / "open", 0o777)

    for argv in (["vm", "set", "swappiness=20"], ["history"]):
        out.append(
            Input(
                "dirs",
                f"SWAPCTL_STATE_DIR world-writable: {' '.join(argv)}",
                env_state,
                [["--root", "@ROOT@", *argv]],
                codes=(3,),
                with_host=False,
                env={"SWAPCTL_STATE_DIR": "@WORK@/open"},
            )
        )

    for kind in (
        "a trailing slash",
        "a doubled slash inside",
        "a leading //",
        "a trailing /.",
        "a /x/.. detour",
        "a link to the tree",
    ):
        where = _root_variant(kind)

        def setup(t: Tree, where: Callable[[Tree], str] = where) -> None:
            t.saved["root"] = where(t)  # type: ignore[attr-defined]

        def via(argv: list[str]) -> Callable[[Tree], None]:
            def step(t: Tree) -> None:
                case = invoke(t, ["--root", saved(t, "root"), *argv], with_host=False, env={"TMPDIR": str(t.work)})
                t.saved.setdefault("cases", []).append(case)  # type: ignore[attr-defined]

            return step

        def check(t: Tree, cases: list[Case]) -> None:
            first, second, third = saved(t, "cases")
            for c in (first, second, third):
                assert not c.crashed and not c.outside_changed and c.code == 0, str(c)
            assert b"vm.swappiness = 20" in (saved(t, "conf") or b""), "the change did not land in the tree"
            assert read(t, CONF) is None and read(t, "proc/sys/vm/swappiness").strip() == b"60"

        out.append(
            Input(
                "dirs",
                f"--root with {kind}: vm set --persist, then rollback",
                setup,
                [
                    via(["vm", "set", "swappiness=20", "--persist"]),
                    save("conf", CONF),
                    via(["rollback"]),
                    via(["-o", "json", "history"]),
                ],
                check=check,
            )
        )

    loops = (
        "proc",
        "proc/sys",
        "proc/sys/vm",
        "etc",
        "etc/fstab",
        "etc/sysctl.d",
        CONF,
        STATE,
        f"{STATE}/journal.jsonl",
        "usr/lib/sysctl.d",
        "sys/devices/system/node",
    )
    for rel in loops:
        for argv in (
            ["list"],
            ["-o", "yaml", "list"],
            ["-o", "json", "vm", "get"],
            ["-o", "yaml", "vm", "get"],
            ["vm", "set", "swappiness=20", "--persist"],
            ["create", SWAP, "--size", "16M", "--dry-run"],
            ["history"],
            ["rollback"],
            ["numa"],
        ):

            def loop(t: Tree, rel: str = rel) -> None:
                if rel != STATE and not rel.startswith(STATE + "/"):
                    journal(t, _sysctl_tx(TX1, "swappiness", 60, 60))
                t.link(rel, rel.rsplit("/", 1)[-1])  # a link to itself

            out.append(Input("dirs", f"{rel} a link to itself: {' '.join(argv)}", loop, [argv], codes=(0, 1, 2, 3)))

    escapes = {
        "usr/lib/sysctl.d": "@OUTSIDE@/sysctl.d",
        CONF: "@OUTSIDE@/sysctl.d/90-swapctl.conf",
        "proc/sys/vm": "@OUTSIDE@/proc/sys/vm",
        "run/sysctl.d": "@OUTSIDE@/sysctl.d",
        "etc/sysctl.conf": "@OUTSIDE@/sysctl.d/90-swapctl.conf",
    }
    for rel, target in escapes.items():
        for argv in (
            ["-o", "json", "vm", "get"],
            ["vm", "set", "swappiness=20", "--persist"],
            ["rollback"],
            ["-o", "json", "watermarks"],
        ):

            def esc(t: Tree, rel: str = rel, target: str = target) -> None:
                journal(t, _sysctl_tx(TX1, "swappiness", 60, 60))
                t.link(rel, target.replace("@OUTSIDE@", str(t.outside)))

            def no_outside(t: Tree, cases: list[Case]) -> None:
                for c in cases:
                    assert not shows_outside_value(c.stdout), f"read a value from outside: {c}"

            out.append(
                Input(
                    "dirs",
                    f"{rel} -> a path outside: {' '.join(argv)}",
                    esc,
                    [argv],
                    codes=(0, 1, 2, 3),
                    check=no_outside,
                )
            )

    # Links that appear or go away between a change and its rollback: the rollback must finish the job or refuse
    # before it changes anything, never delete the swap file and leave its fstab line behind (a boot that waits
    # for a device that will never come).
    def fstab_linked_since(t: Tree) -> None:
        (t.root / "etc/fstab").rename(t.root / "etc/fstab.real")
        t.link("etc/fstab", "fstab.real")

    def fstab_unlinked_since(t: Tree) -> None:
        real = (t.root / "etc/fstab.real").read_bytes()
        (t.root / "etc/fstab").unlink()
        (t.root / "etc/fstab").write_bytes(real)

    def etc_moved_into_subdir(t: Tree) -> None:
        (t.root / "etc").rename(t.root / "etc.d")
        t.link("etc", "etc.d")

    def etc_loop_since(t: Tree) -> None:
        (t.root / "etc").rename(t.root / "etc.old")
        t.link("etc", "etc")

    def linked_at_create(t: Tree) -> None:
        (t.root / "etc/fstab").rename(t.root / "etc/fstab.real")
        t.link("etc/fstab", "fstab.real")

    def consistent(fstab_rel: str) -> Callable[[Tree, list[Case]], None]:
        def check(t: Tree, cases: list[Case]) -> None:
            text = read(t, fstab_rel) or b""
            file_there = (t.root / SWAP.lstrip("/")).exists()
            assert file_there or b"/var/tmp/s " not in text, (
                f"rollback exited {cases[-1].code} with the swap file deleted and its line left in {fstab_rel}"
            )

        return check

    for name, before, between, rel in (
        ("fstab moved behind a link since", None, fstab_linked_since, "etc/fstab.real"),
        ("fstab link replaced by a copy since", linked_at_create, fstab_unlinked_since, "etc/fstab"),
        ("etc moved behind a link since", None, etc_moved_into_subdir, "etc.d/fstab"),
        ("etc a link loop since", None, etc_loop_since, "etc.old/fstab"),
    ):
        out.append(
            Input(
                "dirs",
                f"create, then {name}, then rollback",
                before or (lambda t: None),
                [["create", SWAP, "--size", "16M"], between, ["rollback"]],
                codes=(0, 3),
                check=consistent(rel),
            )
        )

    def conf_linked_since(t: Tree) -> None:
        (t.root / CONF).rename(t.root / "etc/sysctl.d/swapctl.real")
        t.link(CONF, "swapctl.real")

    def sysctl_d_linked_since(t: Tree) -> None:
        (t.root / "etc/sysctl.d").rename(t.root / "etc/sysctl.d.real")
        t.link("etc/sysctl.d", "sysctl.d.real")

    def swappiness_restored_with_file(conf_rel: str) -> Callable[[Tree, list[Case]], None]:
        def check(t: Tree, cases: list[Case]) -> None:
            if cases[-1].code == 0:
                assert b"vm.swappiness = 20" not in (read(t, conf_rel) or b""), (
                    "rollback exited 0 and left the persisted value for the next boot"
                )

        return check

    for name, between, rel in (
        ("90-swapctl.conf moved behind a link", conf_linked_since, "etc/sysctl.d/swapctl.real"),
        ("etc/sysctl.d moved behind a link", sysctl_d_linked_since, "etc/sysctl.d.real/90-swapctl.conf"),
    ):
        out.append(
            Input(
                "dirs",
                f"vm set --persist, then {name}, then rollback",
                lambda t: None,
                [["vm", "set", "swappiness=20", "--persist"], between, ["rollback"]],
                codes=(0, 3),
                check=swappiness_restored_with_file(rel),
            )
        )
    return out


def test_root_of_two_slashes_is_this_machine_not_a_tree() -> None:
    """`--root //` names this machine's / (POSIX lets // be special, Linux does not): paths resolve to the
    machine's own files, so the Host must treat it as the live machine, as it does `--root /`."""
    INPUTS["dirs"] += 1
    try:
        paths = SysPaths(Path("//"))
        host = Host(paths=paths, runner=object(), uid=0, page_size=4096)  # type: ignore[arg-type]
        assert str(paths.real("/etc/fstab")) != "/etc/fstab" or host.live, (
            "--root // reads and writes this machine's /etc/fstab while calling it a file tree"
        )
    except BaseException:
        FAILED["dirs"] += 1
        raise


# --- 4. no hangs, no unbounded reads -----------------------------------------------------------------------

NODEV = os.makedev(60, 0)  # a local/experimental major no driver has here: open() fails with ENXIO


def _special(rel: str, kind: str) -> Callable[[Tree], None]:
    def setup(t: Tree) -> None:
        p = t.root / rel
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        if p.is_symlink() or p.is_file():
            p.unlink()
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "socket":
            s = socket.socket(socket.AF_UNIX)
            s.bind(str(p))
            s.close()
        elif kind == "char device without a driver":
            os.mknod(p, 0o600 | stat.S_IFCHR, NODEV)
        elif kind == "block device without a driver":
            os.mknod(p, 0o600 | stat.S_IFBLK, NODEV)
        elif kind == "/dev/null device":
            os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        elif kind == "directory":
            p.mkdir()
        elif kind == "link to itself":
            os.symlink(p.name, p)
        elif kind == "63 MiB of newlines":
            p.write_bytes(b"\n" * (63 << 20))
        elif kind == "63 MiB sparse":
            with open(p, "wb") as fh:
                fh.truncate(63 << 20)

    return setup


SWAP_FILE_READERS = [
    ["list"],
    ["remove", SWAP, "--dry-run"],
    ["resize", SWAP, "--size", "32M", "--dry-run"],
    ["create", SWAP, "--size", "16M", "--dry-run"],
]
READERS = {
    "etc/fstab": [["list"], ["create", SWAP, "--size", "16M", "--dry-run"]],
    "etc/sysctl.d/50-x.conf": [["vm", "get"], ["vm", "set", "swappiness=20", "--dry-run"]],
    CONF: [["vm", "set", "swappiness=20", "--persist", "--dry-run"], ["vm", "get"]],
    "run/sysctl.d/50-r.conf": [["vm", "get"]],
    "lib/sysctl.d/50-l.conf": [["vm", "get"]],
    "usr/local/lib/sysctl.d/50-u.conf": [["vm", "get"]],
    "etc/sysctl.conf": [["vm", "get"]],
    f"{STATE}/journal.jsonl": [["list"], ["history"]],
    f"{STATE}/lock": [["vm", "set", "swappiness=20"]],
    "proc/swaps": [["list"]],
    "proc/meminfo": [["list"], ["watermarks"]],
    "proc/zoneinfo": [["watermarks"], ["vm", "get"]],
    "proc/vmstat": [["stress", "--dry-run"], ["watermarks"]],
    "proc/pressure/memory": [["stress", "--dry-run"]],
    "proc/self/mountinfo": [["create", SWAP, "--size", "16M", "--dry-run"]],
    "proc/sys/kernel/osrelease": [["vm", "get"]],
    "proc/sys/kernel/random/boot_id": [["vm", "set", "swappiness=20"], ["history"]],
    "proc/sys/vm/swappiness": [["vm", "get"], ["vm", "set", "swappiness=20", "--dry-run"]],
    "proc/sys/vm/min_free_kbytes": [["watermarks"], ["vm", "get"]],
    "proc/sys/vm/watermark_scale_factor": [["watermarks", "--what-if", "min_free_kbytes=9000"]],
    "proc/sys/vm/lowmem_reserve_ratio": [["watermarks"]],
    "sys/devices/system/node/online": [["numa"]],
    "sys/devices/system/node/node0/distance": [["numa"]],
    "sys/devices/system/node/node0/cpulist": [["numa"]],
    "sys/devices/system/node/has_memory": [["numa"]],
    "sys/kernel/mm/transparent_hugepage/enabled": [["vm", "get"]],
}
KINDS = (
    "fifo",
    "socket",
    "char device without a driver",
    "block device without a driver",
    "/dev/null device",
    "directory",
    "link to itself",
)
PROC_BOMBS = {
    "proc/swaps": ["list"],
    "proc/meminfo": ["list"],
    "proc/zoneinfo": ["watermarks"],
    "proc/self/mountinfo": ["create", SWAP, "--size", "16M", "--dry-run"],
    "proc/vmstat": ["watermarks"],
    "proc/sys/kernel/osrelease": ["vm", "get"],
    "sys/devices/system/node/node0/meminfo": ["numa"],
}


def unbounded_inputs() -> list[Input]:
    out = []
    for rel, commands in READERS.items():
        for kind in KINDS:
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
    for kind in ("fifo", "socket", "char device without a driver", "directory", "link to itself"):
        for argv in SWAP_FILE_READERS:

            def at_swap(t: Tree, kind: str = kind) -> None:
                active(t, make=False)
                t.write("etc/fstab", HEAD + OURS)
                _special(SWAP.lstrip("/"), kind)(t)

            out.append(
                Input(
                    "unbounded",
                    f"the active area's path a {kind}: {' '.join(argv)}",
                    at_swap,
                    [argv],
                    codes=(0, 2, 3),
                    isolated=True,
                    needs_root=True,
                )
            )
        for line in (b"UUID=1111-2222", b"LABEL=SWAP"):

            def at_device(t: Tree, kind: str = kind, line: bytes = line) -> None:
                active(t, "/dev/vdb2", kind="partition", make=False)
                t.write("etc/fstab", HEAD + line + b" none swap sw 0 0\n")
                _special("dev/vdb2", kind)(t)

            out.append(
                Input(
                    "unbounded",
                    f"dev/vdb2 a {kind}, an fstab {line.decode()} line, no by-* link: list",
                    at_device,
                    [["-o", "json", "list"]],
                    codes=(0, 2, 3),
                    isolated=True,
                    needs_root=True,
                )
            )
    for rel, argv in PROC_BOMBS.items():
        for kind in ("63 MiB of newlines", "63 MiB sparse"):
            out.append(
                Input(
                    "unbounded",
                    f"{rel} {kind}: {' '.join(argv)}",
                    _special(rel, kind),
                    [argv],
                    codes=(0, 2, 3),
                    isolated=True,
                    seconds=20,
                )
            )

    def journal_of(body: bytes) -> Callable[[Tree], None]:
        def setup(t: Tree) -> None:
            journal(t, [], tail=body)

        return setup

    orphan = done("20261201T000900-ffff", 0) + b"\n"
    for name, body in (
        ("60 MiB of newlines", b"\n" * (60 << 20)),
        ("60 MiB of orphan done lines", orphan * ((60 << 20) // len(orphan))),
        ("60 MiB of one line", b"{" + b" " * (60 << 20) + b"}\n"),
    ):
        for argv in (["history"], ["rollback"]):
            out.append(
                Input(
                    "unbounded",
                    f"a journal of {name}: {' '.join(argv)}",
                    journal_of(body),
                    [argv],
                    codes=(0, 3),
                    isolated=True,
                    seconds=30,
                )
            )

    # A file swapctl edits grows past its read cap between a change and its rollback: the rollback must refuse
    # before it undoes anything, not stop half way with exit 5.
    def grow(rel: str) -> Callable[[Tree], None]:
        def step(t: Tree) -> None:
            p = t.root / rel
            p.write_bytes(p.read_bytes() + b"#" + b"x" * (1 << 20) + b"\n")

        return step

    for first, rel in (
        (["create", SWAP, "--size", "16M"], "etc/fstab"),
        (["vm", "set", "swappiness=20", "--persist"], CONF),
        (["vm", "set", "swappiness=20", "page-cluster=5", "--persist"], CONF),
    ):
        for argv in (["rollback"], ["rollback", "--dry-run"]):
            out.append(
                Input(
                    "unbounded",
                    f"{' '.join(first)}, then {rel} grows past 1 MiB, then {' '.join(argv)}",
                    lambda t: None,
                    [first, grow(rel), argv],
                    codes=(0, 3),
                )
            )
    return out


# --- 5. numbers ---------------------------------------------------------------------------------------------

# (argv, allowed codes): what a sysadmin types, right or wrong. Python's int() takes "1_0" and "٥" (Arabic-Indic
# five); neither is a number anyone means on a swapctl command line, and no kernel interface reads them.
CLI_NUMBERS: list[tuple[list[str], tuple[int, ...]]] = [
    *[
        (["create", SWAP, "--size", s, "--dry-run"], (0,))
        for s in (" 16M", "16M ", "16 M", "16m", "16MiB", "16mib", "16MB", "16777216", "0.015625G", "16M\n", "16384KiB")
    ],
    *[
        (["create", SWAP, "--size", s, "--dry-run"], (2,))
        for s in (
            "+16M",
            "16M+",
            "0x10M",
            "1e1M",
            "16.M",
            ".5G",
            "16M16M",
            "\uff11\uff16M",
            "16 M B",
            "-16M",
            "16_0M",
            "",
            " ",
            "1" + "0" * 400 + "K",
            "0.000001K",
            "nanM",
            "infM",
            "16\u0663M",
        )
    ],
    *[
        (["create", SWAP, "--size", "16M", "--priority", p, "--dry-run"], (2,))
        for p in ("1_0", "\u0665", "0x5", "5.0", "32768", "-2", "", " ", "1e3", "\u0663\u0662")
    ],
    *[(["create", SWAP, "--size", "16M", "--priority", p, "--dry-run"], (0,)) for p in ("+5", "-1", "0", "32767")],
    *[(["history", "--limit", n], (2,)) for n in ("1_0", "\u0663", "-1", "0x1", "1.0", "", "-" + HUGE)],
    # a limit above the number of transactions shows them all, however many digits it has
    *[(["history", "--limit", n], (0,)) for n in ("0", "+1", "99999999999999999999", "+" + HUGE)],
    *[(["watermarks", "--node", n], (2,)) for n in ("-1", "\u0661", "1_0", "0x0", "0.0", "", "99999999999999999999")],
    *[
        (["watermarks", "--what-if", w], (0,))
        for w in (
            "min_free_kbytes=+5000",
            "min_free_kbytes= 5000 ",
            "watermark_scale_factor=3000",
            "watermark_scale_factor=1",
        )
    ],
    *[
        (["watermarks", "--what-if", w], (2,))
        for w in (
            "min_free_kbytes=5e3",
            "min_free_kbytes=0x1000",
            "min_free_kbytes=-1",
            "watermark_scale_factor=0",
            "watermark_scale_factor=3001",
            "min_free_kbytes=",
            "min_free_kbytes=1_0",
            "min_free_kbytes=\u0665",
            "min_free_kbytes=>5000",
            "swappiness=10",
            "min_free_kbytes=5000 5000",
            "min_free_kbytes==5000",
        )
    ],
    *[
        (["vm", "set", a, "--dry-run"], (2,))
        for a in (
            "swappiness=1_0",
            "swappiness=\u0663\u0660",
            "swappiness=10.0",
            "swappiness=1e1",
            "swappiness=",
            "swappiness==10",
            "swappiness=>=10",
            "page-cluster=32",
            "zone_reclaim_mode=8",
            "min_free_kbytes=>-1",
            "watermark_boost_factor=-1",
            "vfs_cache_pressure=-1",
            "swappiness=201",
            "swappiness=-0x1",
            "swappiness=10\x00",
            "swappiness=\u00a010",
            "swappiness=10\u2028",
        )
    ],
    *[
        (["vm", "set", a, "--dry-run"], (0,))
        for a in (
            "swappiness=+10",
            "swappiness= 10 ",
            "swappiness=-0",
            "swappiness=0000000000000000000010",
            "swappiness=<10",
            "swappiness=>10",
        )
    ],
    *[
        (["stress", "--dry-run", *o], (0, 2, 3))
        for o in (
            ["--duration", "nan"],
            ["--duration", "inf"],
            ["--duration", "-1"],
            ["--duration", "0"],
            ["--duration", "1e-320"],
            ["--duration", "1e400"],
            ["--max-psi-full", "nan"],
            ["--max-psi-full", "-0.1"],
            ["--max-psi-full", "100.1"],
            ["--max-psi-full", "1e400"],
            ["--max-direct-reclaim", "-1"],
            ["--max-direct-reclaim", "1_0"],
            ["--memory-limit", "+64M"],
            ["--memory-limit", "64M "],
            ["--size", "0"],
            ["--file-size", "1" + "0" * 400],
        )
    ],
]

# YAML 1.1 (PyYAML) reads 010 as 8, 1_0 as 10, 1:30 as 90 and 0b11 as 3: an apply file that says any of them says
# something no sysadmin wrote. (document, allowed codes)
YAML_NUMBERS: dict[str, tuple[bytes, tuple[int, ...]]] = {
    "swappiness: 010 (octal 8 to YAML 1.1)": (b"vm:\n  swappiness: 010\n", (2,)),
    "swappiness: 1_0": (b"vm:\n  swappiness: 1_0\n", (2,)),
    "swappiness: 1:30 (sexagesimal 90)": (b"vm:\n  swappiness: 1:30\n", (2,)),
    "swappiness: 0b11": (b"vm:\n  swappiness: 0b11\n", (2,)),
    "priority: 1:00 (sexagesimal 60)": (b"swapfiles:\n  - path: /var/tmp/s\n    size: 16M\n    priority: 1:00\n", (2,)),
    "priority: 0o17": (b"swapfiles:\n  - path: /var/tmp/s\n    size: 16M\n    priority: 0o17\n", (2,)),
    "swappiness: 1e1": (b"vm:\n  swappiness: 1e1\n", (2,)),
    "swappiness: .inf": (b"vm:\n  swappiness: .inf\n", (2,)),
    "swappiness: -.nan": (b"vm:\n  swappiness: -.nan\n", (2,)),
    "swappiness: 10.0": (b"vm:\n  swappiness: 10.0\n", (2,)),
    "swappiness: '>= 1e3'": (b"vm:\n  swappiness: '>= 1e3'\n", (2,)),
    "swappiness: '=>10'": (b"vm:\n  swappiness: '=>10'\n", (2,)),
    "swappiness: ' +10 '": (b"vm:\n  swappiness: ' +10 '\n", (0,)),
    "priority: true": (b"swapfiles:\n  - path: /var/tmp/s\n    size: 16M\n    priority: true\n", (2,)),
    "size: 0x1000000 (an int to YAML)": (b"swapfiles:\n  - path: /var/tmp/s\n    size: 0x1000000\n", (0, 2)),
    "size: 16M with a priority of 2^63": (
        b"swapfiles:\n  - path: /var/tmp/s\n    size: 16M\n    priority: 9223372036854775808\n",
        (2,),
    ),
    "min_free_kbytes: '>=' and 5000 digits": (b"vm:\n  min_free_kbytes: '>=" + HUGE.encode() + b"'\n", (2,)),
}

# Numbers a sysctl.d file holds, as the kernel reads what the boot tools write: proc_dointvec parses with base 0
# (010 is 8, 0x10 is 16), takes no "+", and accepts only " \t\n" after the digits (kernel/sysctl.c proc_get_long).
# (value text, what the boot really sets: an int, or None when the kernel refuses the write; what Python's int()
# would make of it)
BOOT_NUMBERS: dict[str, tuple[bytes, int | None, int]] = {
    "010 (octal to the kernel)": (b"010", 8, 10),
    "0x10 (hex to the kernel)": (b"0x10", 16, 16),
    "1_0": (b"1_0", None, 10),
    "+10": (b"+10", None, 10),
    "Arabic-Indic digits": ("\u0663\u0660".encode(), None, 30),
    "a trailing no-break space (pasted from a web page)": ("10\u00a0".encode(), None, 10),
    "full-width digits": ("\uff11\uff10".encode(), None, 10),
    "-0": (b"-0", 0, 0),
    " 10 (control)": (b" 10 ", 10, 10),
}


def _osrelease(text: bytes) -> Callable[[Tree], None]:
    return lambda t: t.write("proc/sys/kernel/osrelease", text)


def _zoneinfo_edit(old: bytes, new: bytes) -> Callable[[Tree], None]:
    def setup(t: Tree) -> None:
        p = t.root / "proc/zoneinfo"
        p.write_bytes(p.read_bytes().replace(old, new, 1))

    return setup


def number_inputs() -> list[Input]:
    out = []
    for i, (argv, codes) in enumerate(CLI_NUMBERS):
        shown = " ".join(repr(a)[:32] for a in argv)
        out.append(Input("numbers", f"command line #{i}: {shown}", lambda t: None, [argv], codes=codes))
    for name, (doc, codes) in YAML_NUMBERS.items():
        out.append(
            Input(
                "numbers",
                f"apply YAML {name}",
                lambda t, doc=doc: t.write("x.yaml", doc),
                [["apply", "@ROOT@/x.yaml", "--dry-run"]],
                codes=codes,
            )
        )
    for name, (value, boot, naive) in BOOT_NUMBERS.items():

        def boots(t: Tree, cases: list[Case], boot: int | None = boot, naive: int = naive) -> None:
            row = setting(cases[0], "vm.swappiness")
            if boot is None:
                assert row["boot_value"] != naive, f"reports {row['boot_value']!r}; the kernel refuses it"
            else:
                assert row["boot_value"] == boot, f"reports {row['boot_value']!r}; the boot sets {boot}"
                assert not any("reject" in n for n in row["notes"]), row["notes"]

        out.append(
            Input(
                "numbers",
                f"vm get: 50-admin.conf sets swappiness to {name}",
                lambda t, v=value: t.write("etc/sysctl.d/50-admin.conf", b"vm.swappiness = " + v + b"\n"),
                [["-o", "json", "vm", "get", "swappiness"]],
                check=boots,
            )
        )
    releases = {
        "5000 digits of major": HUGE.encode() + b".1\n",
        "5000 digits of minor": b"6." + HUGE.encode() + b"\n",
        "5000 digits of patch": b"6.1." + HUGE.encode() + b"\n",
    }
    for name, text in releases.items():
        for argv in (
            ["-o", "json", "vm", "get"],
            ["watermarks"],
            ["vm", "set", "swappiness=20", "--dry-run"],
            ["watermarks", "--what-if", "watermark_scale_factor=100"],
            ["apply", "-", "--dry-run"],
        ):
            out.append(
                Input(
                    "numbers",
                    f"osrelease {name}: {' '.join(argv)}",
                    _osrelease(text),
                    [argv],
                    codes=(0, 2, 3),
                    stdin=b"vm:\n  swappiness: 20\n",
                )
            )
    zone_edits = {
        "a node number of 5000 digits": (b"Node 0, zone", b"Node " + HUGE.encode() + b", zone"),
        "a node number in Arabic-Indic digits": (b"Node 0, zone", "Node \u0660, zone".encode()),
        "min 1_0": (b"        min      ", b"        min      1_0 #"),
        "min +5": (b"        min      ", b"        min      +"),
        "protection of 5000 digits": (b"protection: (", b"protection: (" + HUGE.encode() + b", "),
    }
    for name, (old, new) in zone_edits.items():
        for argv in (["-o", "json", "vm", "get"], ["watermarks"], ["numa"], ["vm", "set", "swappiness=20"]):
            out.append(
                Input(
                    "numbers", f"zoneinfo {name}: {' '.join(argv)}", _zoneinfo_edit(old, new), [argv], codes=(0, 2, 3)
                )
            )

    # swapctl journals what it read; the journal must then let it undo what it did.
    def prio_area(t: Tree) -> None:
        active(t, prio=99999)
        t.write("etc/fstab", HEAD + b"/var/tmp/s none swap sw,pri=99999 0 0\n")

    out.append(
        Input(
            "numbers",
            "proc/swaps priority 99999: remove --keep-file, then rollback",
            prio_area,
            [["remove", SWAP, "--keep-file"], ["rollback"]],
        )
    )

    def garbage_since(t: Tree) -> None:
        (t.root / "proc/sys/vm/swappiness").write_bytes(b"abc\n")

    for first in (["vm", "set", "swappiness=20", "--persist"], ["vm", "set", "swappiness=20", "page-cluster=5"]):
        out.append(
            Input(
                "numbers",
                f"{' '.join(first)}, then garbage in proc swappiness, then rollback --force",
                lambda t: None,
                [first, garbage_since, ["rollback", "--force"]],
                codes=(0, 3),
            )
        )
    return out


# --- 6. right answers ---------------------------------------------------------------------------------------


def _partition(line: bytes, links: dict[str, str]) -> Callable[[Tree], None]:
    def setup(t: Tree) -> None:
        active(t, "/dev/vdb2", kind="partition", make=False)
        t.write("dev/vdb2", b"")
        for rel, target in links.items():
            t.link(rel, target)
        t.write("etc/fstab", HEAD + line + b"\n")

    return setup


def _persisted(path: str, want: bool) -> Callable[[Tree, list[Case]], None]:
    def check(t: Tree, cases: list[Case]) -> None:
        assert areas(cases[0])[path]["persisted"] is want, areas(cases[0])[path]

    return check


def _plans_fstab_edit(t: Tree, cases: list[Case]) -> None:
    # A dry run: the fake runner's swapoff could not read a /proc/swaps holding bytes that are not UTF-8.
    assert "/etc/fstab" in cases[0].stdout, f"no fstab step planned: {cases[0].stdout}"


def _line_dropped(t: Tree, cases: list[Case]) -> None:
    assert read(t, "etc/fstab") == HEAD, read(t, "etc/fstab")


def answer_inputs() -> list[Input]:
    out = []
    # udev names by-label and by-partlabel links with blkid_encode_string() (a space is \x20, a slash \x2f), and
    # libblkid's evaluate_by_udev() encodes a tag the same way before it looks for the link.
    tags = {
        "PARTLABEL with a space (gdisk's default 'Linux swap')": (
            b"PARTLABEL=Linux\\040swap",
            {"dev/disk/by-partlabel/Linux\\x20swap": "../../vdb2"},
        ),
        "LABEL with a space": (b"LABEL=my\\040swap", {"dev/disk/by-label/my\\x20swap": "../../vdb2"}),
        "quoted LABEL with a space": (b'LABEL="my\\040swap"', {"dev/disk/by-label/my\\x20swap": "../../vdb2"}),
        "PARTLABEL with a slash": (b"PARTLABEL=EFI/swap", {"dev/disk/by-partlabel/EFI\\x2fswap": "../../vdb2"}),
        "LABEL in single quotes": (b"LABEL='SWAP'", {"dev/disk/by-label/SWAP": "../../vdb2"}),
        "UUID through a by-uuid link to a mapper link": (
            b"UUID=1111-2222",
            {"dev/disk/by-uuid/1111-2222": "../../mapper/vg-swap", "dev/mapper/vg-swap": "../vdb2"},
        ),
    }
    for name, (spec, links) in tags.items():
        line = spec + b" none swap sw 0 0"
        out.append(
            Input(
                "answers",
                f"{name} persists",
                _partition(line, links),
                [["-o", "json", "list"]],
                check=_persisted("/dev/vdb2", True),
            )
        )
        out.append(
            Input(
                "answers",
                f"remove drops the {name} line",
                _partition(line, links),
                [["remove", "/dev/vdb2"]],
                check=_line_dropped,
            )
        )

    # libmount's unmangle() turns any \ooo into one byte; the kernel's /proc/swaps escapes only space, tab,
    # newline and backslash, so a non-ASCII name shows there as its raw bytes.
    for name, area, spec in (
        ("octal-escaped UTF-8", "/var/tmp/caf\u00e9", b"/var/tmp/caf\\303\\251"),
        ("an octal-escaped byte that is not UTF-8", "/var/tmp/a\udcffb", b"/var/tmp/a\\377b"),
        ("\\777 (a byte, 0xff, to libmount)", "/var/tmp/a\udcffb", b"/var/tmp/a\\777b"),
        ("an octal-escaped space (control)", "/var/tmp/a b", b"/var/tmp/a\\040b"),
    ):

        def named(t: Tree, area: str = area, spec: bytes = spec) -> None:
            active(t, area)
            t.write("etc/fstab", HEAD + spec + b" none swap sw 0 0\n")

        out.append(
            Input("answers", f"{name} in fstab persists", named, [["-o", "json", "list"]], check=_persisted(area, True))
        )
        out.append(
            Input(
                "answers",
                f"remove --keep-file --dry-run plans to drop the line with {name}",
                named,
                [["remove", area, "--keep-file", "--dry-run"]],
                check=_plans_fstab_edit,
            )
        )

    paths = {
        "a .. after a missing directory (the kernel says ENOENT)": (b"/var/tmp/nowhere/../s", False),
        "a .. after a regular file (ENOTDIR)": (b"/etc/passwd/../../var/tmp/s", False),
        "a doubled slash (control)": (b"/var/tmp//s", True),
        "a /./ (control)": (b"/var/tmp/./s", True),
        "a NUL in the options (libmount rejects the line)": (b"/var/tmp/s none swap sw\0x", False),
        "noauto=1 (libmount matches the option by name)": (b"/var/tmp/s none swap sw,noauto=1", False),
        "noauto inside a quoted option value": (b'/var/tmp/s none swap x-opt="a,noauto,b"', True),
        "noauto (control)": (b"/var/tmp/s none swap sw,noauto", False),
    }
    for name, (spec, want) in paths.items():
        line = spec if b" none " in spec else spec + b" none swap sw"

        def at(t: Tree, line: bytes = line) -> None:
            active(t)
            t.write("etc/fstab", HEAD + line + b" 0 0\n")

        out.append(
            Input(
                "answers",
                f"fstab with {name}: PERSISTED is {want}",
                at,
                [["-o", "json", "list"]],
                check=_persisted(SWAP, want),
            )
        )

    def through_link(t: Tree) -> None:
        active(t)
        t.link("srv", "var/tmp")
        t.write("etc/fstab", HEAD + b"/srv/s none swap sw 0 0\n")

    out.append(
        Input(
            "answers",
            "a path through a symlinked directory persists",
            through_link,
            [["-o", "json", "list"]],
            check=_persisted(SWAP, True),
        )
    )
    out.append(
        Input(
            "answers",
            "remove --keep-file drops the line through a symlinked directory",
            through_link,
            [["remove", SWAP, "--keep-file"]],
            check=_line_dropped,
        )
    )

    # swapon -a reads pri= with strtol(arg, &end, 10) and keeps it only when errno is 0 and end > arg
    # (util-linux sys-utils/swapon.c parse_options), so "abc" and an overflow leave the priority automatic
    # (-2 for the first area); the (int) cast of the long keeps its low 32 bits; do_swapon clamps what it
    # keeps to 32767 (SWAP_FLAG_PRIO_MASK) and ignores a negative one.
    prios = {
        "99999": 32767,
        "32768": 32767,
        "99999999999": 32767,
        "99999999999999999999": -2,
        "5abc": 5,
        "abc": -2,
        "0x10": 0,
        "+5": 5,
        "-5": -2,
        "010": 10,
        "7": 7,
    }
    for text, want in prios.items():

        def line_prio(t: Tree, text: str = text) -> None:
            t.write("etc/fstab", HEAD + f"/var/tmp/s none swap pri={text} 0 0\n".encode())

        def runs_at(t: Tree, cases: list[Case], want: int = want) -> None:
            assert areas(cases[1])[SWAP]["priority"] == want, areas(cases[1])[SWAP]
            assert not (t.root / SWAP.lstrip("/")).exists(), "the rollback did not undo the create"

        out.append(
            Input(
                "answers",
                f"create under an fstab line with pri={text}, then rollback",
                line_prio,
                [["create", SWAP, "--size", "16M"], ["-o", "json", "list"], ["rollback"]],
                check=runs_at,
            )
        )

    for policy in (b"pages", b"once"):

        def discard(t: Tree, policy: bytes = policy) -> None:
            t.write("etc/fstab", HEAD + b"/var/tmp/s none swap discard=" + policy + b",nofail 0 0\n")

        def policy_kept(t: Tree, cases: list[Case], policy: bytes = policy) -> None:
            line = saved(t, "after").splitlines()[-1]
            assert b"discard=" + policy in line, f"the admin's discard policy is gone: {line!r}"

        out.append(
            Input(
                "answers",
                f"create --priority 5 keeps discard={policy.decode()}",
                discard,
                [["create", SWAP, "--size", "16M", "--priority", "5"], save("after", "etc/fstab"), ["rollback"]],
                check=policy_kept,
            )
        )

    # Names with any byte but the four the kernel escapes: output stays one line per message, no terminal escape.
    for name, path in (
        ("ESC [2J", "/var/tmp/a\x1b[2Jb"),
        ("a newline (\\012)", "/var/tmp/x\ny"),
        ("a BEL", "/var/tmp/a\x07b"),
        ("a backspace", "/var/tmp/a\x08b"),
        ("a byte that is not UTF-8", "/var/tmp/a\udcffb"),
        ("a CSI (U+009B)", "/var/tmp/a\x9b2Jb"),
    ):

        def insecure(t: Tree, path: str = path) -> None:
            active(t, path)
            os.chmod(t.root / path.lstrip("/"), 0o644)

        def inert(t: Tree, cases: list[Case]) -> None:
            err = cases[0].stderr
            assert not any(c in err for c in "\x1b\x07\x08\x9b"), repr(err)
            assert all(line.startswith("warning: ") for line in err.splitlines()), repr(err)

        out.append(
            Input("answers", f"list warns about a 0644 area named with {name}", insecure, [["list"]], check=inert)
        )
        out.append(Input("answers", f"list -o json names an area with {name}", insecure, [["-o", "json", "list"]]))

    # watermarks --what-if and vm set ranges by kernel release, around each boundary.
    wsf = "watermark_scale_factor"
    releases = [
        ("4.6.0-rc1", f"{wsf}=100", 0),
        ("4.5.7", f"{wsf}=100", 2),
        ("5.14.21-150400.24", f"{wsf}=3000", 2),
        ("5.15.0-1034-azure", f"{wsf}=3000", 0),
        ("6.6.0-rc1", f"{wsf}=3000", 0),
        ("6.6", f"{wsf}=3000", 0),
        ("6", f"{wsf}=3000", 0),
        ("v6.6", f"{wsf}=3000", 0),
        ("6.1.0\0", f"{wsf}=3000", 0),
        ("6.01.0", f"{wsf}=3000", 0),
        ("4.19.0+", f"{wsf}=1001", 2),
        ("5.7.0", "min_free_kbytes=90112", 0),
        ("5.6.19", "min_free_kbytes=90112", 0),
        ("", f"{wsf}=3000", 0),
        ("6.6.0-\u0661", f"{wsf}=3000", 0),
    ]
    for release, item, code in releases:
        out.append(
            Input(
                "answers",
                f"what-if on {release!r}: {item}",
                lambda t, r=release: t.write("proc/sys/kernel/osrelease", r.encode() + b"\n"),
                [["-o", "json", "watermarks", "--what-if", item]],
                codes=(code,),
            )
        )
    for release, value, code in (("5.7.19", 150, 2), ("5.8.0", 150, 0), ("5.8", 200, 0), ("5.8.0-rc7", 201, 2)):
        out.append(
            Input(
                "answers",
                f"vm set swappiness={value} on {release}",
                lambda t, r=release: t.write("proc/sys/kernel/osrelease", r.encode() + b"\n"),
                [["vm", "set", f"swappiness={value}", "--dry-run"]],
                codes=(code,),
            )
        )
    return out


# --- the tests ---------------------------------------------------------------------------------------------

ALL = (
    fstab_line_inputs()
    + conf_line_inputs()
    + boot_read_inputs()
    + torn_inputs()
    + journal_inputs()
    + dir_inputs()
    + unbounded_inputs()
    + number_inputs()
    + answer_inputs()
)


@pytest.mark.parametrize("inp", ALL, ids=[f"{i.cls}: {i.name}" for i in ALL])
def test_a_red_team_input_gets_a_clear_answer_and_the_edit_a_sysadmin_expects(template: Path, inp: Input) -> None:
    run_input(template, inp)


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield
    report(
        "hostile-redteam",
        inputs=dict(INPUTS),
        failed=dict(FAILED),
        total=sum(INPUTS.values()),
        failures=sum(FAILED.values()),
    )
