"""Running the real procps `sysctl --system` and systemd-sysctl on a tree, safely, recording every write they make
to /proc/sys; and comparing those writes with what `swapctl vm get` predicts."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.pairs import pairs
from tests.system.sysctl_trees import FAKE_MARKER, KNOBS, Tree, host_tree

REPO = Path(__file__).resolve().parents[2]
SEARCH_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# The peers run with nothing of ours in their environment: no CREDENTIALS_DIRECTORY (systemd-sysctl would read
# sysctl.extra from it), no SYSTEMD_LOG_*, and the C locale (procps lstrip/rstrip use isspace(3)).
PEER_ENV = {"PATH": SEARCH_PATH, "LC_ALL": "C"}
STRACE_STRLEN = 4 << 20  # the 1 MiB line case writes a value of that size: strace must show all of it
PEER_TIMEOUT = 60
# Every test that writes the real /proc/sys takes this lock (tests/system/test_vm_real.py); holding it while the
# peers run keeps another test's short-lived vm.swappiness change from looking like a leak of ours.
REAL_SYSCTL_LOCK = Path("/var/tmp/swapctl-real-sysctl-tests.lock")
LIVE_PROC = Path("/proc/sys")
# Write-only, or reading has an effect: never read by the guard.
_UNREAD = {"drop_caches", "compact_memory", "stat_refresh"}
CONFIG_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")


def _which(*candidates: str) -> Path | None:
    for c in candidates:
        found = shutil.which(c, path=SEARCH_PATH) if "/" not in c else (c if os.access(c, os.X_OK) else None)
        if found:
            return Path(os.path.realpath(found))
    return None


@dataclass(frozen=True)
class Peer:
    """A boot-time sysctl applier: how the boot runs it."""

    name: str  # "procps" | "systemd": the key in swapctl's persisted{}
    host_binary: Path | None
    argv: tuple[str, ...]  # inside the chroot, as the boot runs it

    @property
    def chroot_binary(self) -> str:
        return self.argv[0]


PEERS: dict[str, Peer] = {
    # Debian's /etc/init.d/procps runs `sysctl -q --system`; -q only silences the "* Applying" lines, which we keep.
    "procps": Peer("procps", _which("sysctl", "/sbin/sysctl"), ("/usr/sbin/sysctl", "--system")),
    # systemd-sysctl.service: ExecStart=/lib/systemd/systemd-sysctl, no arguments.
    "systemd": Peer(
        "systemd",
        _which("/usr/lib/systemd/systemd-sysctl", "/lib/systemd/systemd-sysctl"),
        ("/usr/lib/systemd/systemd-sysctl",),
    ),
}


def unavailable(peer: str | None = None) -> str | None:
    """Why the oracle cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "needs root: runs the real procps and systemd-sysctl in a private mount namespace and a chroot"
    for tool in ("unshare", "strace", "chroot", "mount", "ldd"):
        if shutil.which(tool, path=SEARCH_PATH) is None:
            return f"needs {tool} (util-linux / strace / coreutils / libc-bin)"
    for name in [peer] if peer else list(PEERS):
        if PEERS[name].host_binary is None:
            return f"the {name} peer is not installed (no {PEERS[name].chroot_binary})"
    return None


# --- the live /proc/sys guard ----------------------------------------------------------------------------------
class LiveSysctlChanged(RuntimeError):
    """A live /proc/sys value changed while the peers ran (it has been put back)."""


class LiveGuard:
    """The live vm.* values and kernel.pid_max, checked before and after every peer run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.baseline = self.read()
        self.notes: list[str] = []

    @staticmethod
    def read() -> dict[str, str]:
        values = {}
        for p in sorted((LIVE_PROC / "vm").iterdir()) + [LIVE_PROC / "kernel/pid_max"]:
            if p.name in _UNREAD or not p.stat().st_mode & stat.S_IRUSR:
                continue
            with contextlib.suppress(OSError):
                values[f"{p.parent.name}.{p.name}"] = p.read_text()
        return values

    def check(self, when: str, texts: Iterable[str] = ()) -> None:
        with self._lock:
            now = self.read()
            if now == self.baseline:
                return
            for _ in range(20):  # another test may be between its write and its restore: look again
                time.sleep(0.1)
                now = self.read()
                if now == self.baseline:
                    self.notes.append(f"{when}: a live value changed and came back within 2 s (another test?)")
                    return
            changed = {
                k: (self.baseline.get(k), now.get(k))
                for k in set(now) | set(self.baseline)
                if now.get(k) != self.baseline.get(k)
            }
            ours = {t.strip() for t in texts if t.strip()}
            if set(changed) == {"vm.swappiness"} and (now["vm.swappiness"].strip() not in ours):
                self.notes.append(
                    f"{when}: vm.swappiness went {changed['vm.swappiness'][0]!r} -> "
                    f"{changed['vm.swappiness'][1]!r}, not a value of ours: someone else's; adopted"
                )
                self.baseline = now
                return
            for key, (old, _new) in changed.items():
                if old is not None:
                    with contextlib.suppress(OSError):
                        (LIVE_PROC / key.replace(".", "/", 1)).write_text(old)
            after = self.read()
            raise LiveSysctlChanged(
                f"LIVE /proc/sys CHANGED {when}: {changed}; written back to the values found "
                f"before, now { ({k: after.get(k) for k in changed}) }"
            )


@contextlib.contextmanager
def real_sysctl_lock(timeout: float = 120.0) -> Iterator[bool]:
    """The machine-wide real-sysctl test lock, if it can be had within timeout (yields whether it was)."""
    fd = os.open(REAL_SYSCTL_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    held = False
                    break
                time.sleep(0.2)
        try:
            yield held
        finally:
            if held:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --- the chroot ------------------------------------------------------------------------------------------------
class Skeleton:
    """The peers' binaries, their shared libraries and the ELF loader, copied once; hard-linked into each chroot.
    Libraries go to their real paths (/usr/lib/x86_64-linux-gnu/...), so the tree's own /lib (a link to usr/lib
    or a directory holding only sysctl.d) stays as the tree has it; the loader gets a /lib64 of its own."""

    def __init__(self, base: Path, peers: Iterable[Peer]) -> None:
        self.base = base
        self.files: list[str] = []
        for peer in peers:
            if peer.host_binary is None:
                continue
            self._copy(peer.host_binary, peer.chroot_binary)
            out = subprocess.run(
                ["ldd", str(peer.host_binary)], capture_output=True, text=True, check=True, env=PEER_ENV, timeout=30
            ).stdout
            for line in out.splitlines():
                m = re.match(r"\s*(\S+) => (/\S+) \(", line)
                if m:
                    # Under its soname (libacl.so.1, a link on the host) in its directory's real path.
                    dest = os.path.join(os.path.realpath(os.path.dirname(m.group(2))), os.path.basename(m.group(2)))
                    self._copy(Path(os.path.realpath(m.group(2))), dest)
                elif re.match(r"\s*/\S+ \(", line):
                    interp = line.split()[0]  # the loader, at the path the binary names (PT_INTERP)
                    self._copy(Path(os.path.realpath(interp)), interp)

    def _copy(self, src: Path, dest: str) -> None:
        rel = dest.lstrip("/")
        if rel in self.files:
            return
        target = self.base / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        self.files.append(rel)

    def install(self, root: Path) -> None:
        for rel in self.files:
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.link(self.base / rel, dest)
        (root / "dev").mkdir(exist_ok=True)
        os.mknod(root / "dev/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))


def assert_fake_proc_sys(root: Path) -> None:
    """Refuse to run a peer unless the chroot's /proc/sys is a folder of plain files of ours."""
    proc_sys = root / "proc/sys"
    if not (root / FAKE_MARKER).is_file():
        raise AssertionError(f"{proc_sys} lacks {FAKE_MARKER}: not our fake /proc/sys")
    if proc_sys.is_symlink() or os.stat(proc_sys).st_dev != os.stat(root).st_dev or os.path.ismount(proc_sys):
        raise AssertionError(f"{proc_sys} is not a plain folder on the tree's filesystem")
    if os.path.samefile(proc_sys, LIVE_PROC):
        raise AssertionError(f"{proc_sys} is the live /proc/sys")


# Run inside the private mount namespace: cover the live /proc/sys with an empty read-only tmpfs (so even a peer
# that escaped its chroot could write nothing there), check that it is covered and that the fake one is ours.
_NAMESPACE_SCRIPT = r"""
root=$1; shift
mount -t tmpfs -o ro,nosuid,nodev,noexec,size=4k,mode=0555 swapctl-guard /proc/sys || exit 97
test ! -e /proc/sys/vm/swappiness || exit 98
test -f "$root/proc/sys/.swapctl-fake" || exit 99
exec "$@"
"""


# --- what a run records ----------------------------------------------------------------------------------------
@dataclass
class Write:
    """The bytes one open of a /proc/sys file received (one setting: both peers open, write, close)."""

    path: str  # in the machine, resolved: "/proc/sys/vm/swappiness"
    data: bytes

    @property
    def text(self) -> str:
        """The contract's text: the bytes without the one trailing newline, UTF-8 with surrogateescape."""
        raw = self.data[:-1] if self.data.endswith(b"\n") else self.data
        return raw.decode("utf-8", "surrogateescape")


@dataclass
class Opened:
    """A config file the peer opened (or failed to)."""

    path: str  # as the peer named it
    resolved: str | None  # in the machine, after links ("/dev/null" for a mask); None when the open failed
    error: str | None


@dataclass
class PeerRun:
    peer: str
    rc: int
    stdout: str
    stderr: str
    writes: list[Write]
    opened: list[Opened]
    contents: dict[str, bytes] = field(default_factory=dict)  # opened path -> the bytes the peer read
    problems: list[str] = field(default_factory=list)  # the recording's own self-checks

    def knob_writes(self, knob: str) -> list[Write]:
        return [w for w in self.writes if w.path == f"/proc/sys/vm/{knob}"]

    def sources(self, data: bytes) -> list[tuple[str, int]]:
        """Where a written text stands in the files the peer read: (file as opened, line) for each occurrence."""
        needle = data[:-1] if data.endswith(b"\n") else data
        if not needle:
            return []
        found = []
        for path, content in self.contents.items():
            start = 0
            while (i := content.find(needle, start)) >= 0:
                start = i + 1
                before = content[i - 1 : i]
                after = content[i + len(needle) : i + len(needle) + 1]
                if before.isalnum() or after.isalnum():
                    continue  # "500" inside "5000"
                found.append((path, line_number(content, i, self.peer)))
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "rc": self.rc,
            "stdout": self.stdout[-20000:],
            "stderr": self.stderr[-20000:],
            "writes": [
                {
                    "path": w.path,
                    "text": w.text,
                    "bytes": repr(w.data) if len(w.data) < 4096 else repr(w.data[:4096]) + f"... ({len(w.data)} bytes)",
                    "sources": [list(s) for s in self.sources(w.data)],
                }
                for w in self.writes
            ],
            "opened": [{"path": o.path, "resolved": o.resolved, "error": o.error} for o in self.opened],
            "problems": self.problems,
        }


def line_number(content: bytes, offset: int, peer: str) -> int:
    """The line the peer counts offset in. procps getline(3) splits at \\n only; systemd read_line() ends a line at
    \\n, \\r or NUL, taking \\r\\n, \\n\\r and a following NUL as one ending (fileio.c read_line_full)."""
    if peer == "procps":
        return content.count(b"\n", 0, offset) + 1
    return _systemd_line_index(content, offset)


_EOL = {10: 2, 13: 4, 0: 1}  # systemd EOL_TEN, EOL_THIRTEEN, EOL_ZERO


def _systemd_line_index(content: bytes, offset: int) -> int:
    line, i, n = 0, 0, len(content)
    while i < n:
        line += 1
        prev = 0
        while i < n:
            eol = _EOL.get(content[i], 0)
            if prev & 1 or (eol == 0 and prev) or (eol and prev & eol):
                break
            if offset == i:
                return line
            prev |= eol
            i += 1
        if offset < i:
            return line
    return line


# --- strace parsing ----------------------------------------------------------------------------------------------
_HEX = r"(?:\\x[0-9a-f]{2})*"
_OPEN = re.compile(
    rf"^(?P<pid>\d+) +(?:openat\((?P<dirfd>[A-Z_]+|\d+)(?:<(?P<dirpath>{_HEX})>)?, |open\()"
    rf'"(?P<path>{_HEX})", (?P<flags>[A-Z0-9_|]+)(?:, 0\d*)?\) = (?P<ret>-?\d+)'
    rf"(?:<(?P<retpath>{_HEX})>)?(?: (?P<errno>E[A-Z0-9]+))?"
)
_WRITE = re.compile(
    rf'^(?P<pid>\d+) +write\((?P<fd>\d+)(?:<(?P<fdpath>{_HEX})>)?, "(?P<data>{_HEX})"'
    rf"(?P<cut>\.\.\.)?, (?P<n>\d+)\) = (?P<ret>-?\d+)"
)


def _unhex(s: str | None) -> bytes:
    return bytes.fromhex(s.replace("\\x", "")) if s else b""


def parse_strace(text: str, root: Path) -> tuple[list[Write], list[Opened]]:
    """The successful writes under the chroot's /proc/sys, one per open, in order; and the config files opened."""
    prefix = os.fsencode(root)

    def inside(host: bytes) -> str | None:
        if host == prefix:
            return "/"
        if host.startswith(prefix + b"/"):
            return os.fsdecode(host[len(prefix) :])
        return None

    sessions: dict[tuple[str, int], Write] = {}
    writes: list[Write] = []
    opened: list[Opened] = []
    for line in text.splitlines():
        if " openat(" in line or " open(" in line:
            m = _OPEN.match(line)
            if not m:
                if "resumed>" in line or "unfinished" in line:
                    raise AssertionError(f"strace split a call (more than one process?): {line[:200]}")
                continue
            ret = int(m["ret"])
            path = os.fsdecode(_unhex(m["path"]))
            in_chroot = m["dirfd"] == "AT_FDCWD" and inside(_unhex(m["dirpath"])) == "/"
            if ret >= 0:
                sessions.pop((m["pid"], ret), None)
            flags = m["flags"].split("|")
            if (
                in_chroot
                and "O_DIRECTORY" not in flags
                and "O_PATH" not in flags
                and (os.path.dirname(path) in CONFIG_DIRS or path == "/etc/sysctl.conf")
            ):
                resolved = inside(_unhex(m["retpath"])) if ret >= 0 else None
                opened.append(Opened(path, resolved, None if ret >= 0 else m["errno"]))
            continue
        if " write(" not in line:
            continue
        m = _WRITE.match(line)
        if not m:
            raise AssertionError(f"unparsed strace write: {line[:200]}")
        if m["cut"]:
            raise AssertionError(f"strace cut a write short (raise STRACE_STRLEN): {line[:200]}")
        target = inside(_unhex(m["fdpath"]))
        if int(m["ret"]) <= 0 or target is None or not target.startswith("/proc/sys/"):
            continue
        data = _unhex(m["data"])[: int(m["ret"])]
        key = (m["pid"], int(m["fd"]))
        if key in sessions and sessions[key].path == target:
            sessions[key].data += data
        else:
            sessions[key] = Write(target, data)
            writes.append(sessions[key])
    return writes, opened


# --- running -------------------------------------------------------------------------------------------------------
def run_peer(tree: Tree, peer: Peer, work: Path, skeleton: Skeleton, guard: LiveGuard, keep: bool = False) -> PeerRun:
    """Run one peer on one tree, as at boot, in a private mount namespace + chroot, under strace."""
    root = work / f"{tree.id}.{peer.name}.root"
    trace = work / f"{tree.id}.{peer.name}.strace"
    tree.write(root)
    skeleton.install(root)
    assert_fake_proc_sys(root)
    guard.check(f"before {peer.name} on {tree.id}")
    argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        _NAMESPACE_SCRIPT,
        "sh",
        str(root),
        "strace",
        "-f",
        "-qq",
        "-o",
        str(trace),
        "-e",
        "trace=openat,open,write",
        "--seccomp-bpf",
        "-s",
        str(STRACE_STRLEN),
        "-xx",
        "-y",
        "--",
        "chroot",
        str(root),
        *peer.argv,
    ]
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            env=PEER_ENV,
            cwd=work,
            stdin=subprocess.DEVNULL,
            timeout=PEER_TIMEOUT,
            check=False,
        )
    finally:
        guard.check(f"after {peer.name} on {tree.id}", tree.texts)
    if proc.returncode in (97, 98, 99) or not trace.exists():
        raise AssertionError(
            f"{peer.name} on {tree.id}: the namespace guard refused (exit {proc.returncode}): "
            f"{proc.stderr.decode(errors='replace')}"
        )
    writes, opened = parse_strace(trace.read_text(), root)
    run = PeerRun(
        peer.name,
        proc.returncode,
        proc.stdout.decode("utf-8", "surrogateescape"),
        proc.stderr.decode("utf-8", "surrogateescape"),
        writes,
        opened,
    )
    for o in opened:
        host = root / o.resolved.lstrip("/") if o.resolved else None
        if o.path not in run.contents:
            regular = host is not None and host.is_file() and not host.is_symlink()
            run.contents[o.path] = host.read_bytes() if regular else b""
    if peer.name == "procps":
        # procps opens with O_TRUNC: each fake file must now hold exactly the last write to it.
        last = {w.path: w.data for w in writes}
        for path, data in last.items():
            now = (root / path.lstrip("/")).read_bytes()
            if now != data:
                run.problems.append(f"{path} holds {now[:80]!r}, the last recorded write was {data[:80]!r}")
    run.problems.extend(line_number_problems(run))
    if not keep:
        shutil.rmtree(root)
        trace.unlink()
    return run


# The peers' own words for a line they skip: procps xwarnx("%s(%d): invalid syntax, continuing...") (sysctl.c:667)
# and systemd log_syntax(..., "Line is not an assignment, ignoring: %s") (sysctl.c:280).
_PROCPS_SYNTAX = re.compile(r"^sysctl: (/.*)\((\d+)\): invalid syntax, continuing\.\.\.$", re.M)
_SYSTEMD_SYNTAX = re.compile(r"^(/[^:\n]*):(\d+): Line is not an assignment, ignoring: (probe\d+)$", re.M)


def line_number_problems(run: PeerRun) -> list[str]:
    """Check line_number() against the line numbers the peer itself printed for the probe lines it skipped."""
    out = []
    if run.peer == "systemd":
        for path, n, token in _SYSTEMD_SYNTAX.findall(run.stderr):
            content = run.contents.get(path, b"")
            at = content.find(token.encode())
            if at < 0 or line_number(content, at, "systemd") != int(n):
                out.append(
                    f"systemd counts {token} in {path} as line {n}, the oracle as "
                    f"{line_number(content, at, 'systemd') if at >= 0 else '?'}"
                )
    else:
        for path, n in _PROCPS_SYNTAX.findall(run.stderr):
            lines = run.contents.get(path, b"").split(b"\n")
            line = lines[int(n) - 1] if int(n) <= len(lines) else b""
            if b"probe" in run.contents.get(path, b"") and (b"=" in line or b"probe" not in line):
                out.append(f"procps calls line {n} of {path} invalid, the oracle's line {n} is {line[:60]!r}")
    return out


@dataclass
class Oracle:
    """Both peers' runs on a set of trees."""

    trees: list[Tree]
    runs: dict[str, dict[str, PeerRun]]  # tree id -> peer -> run
    guard_notes: list[str]
    seconds: float
    locked: bool


def scratch_dir() -> Path:
    """A fresh work dir for the chroots, on tmpfs when there is one (a disk's journal makes each run 3x slower)."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="swapctl-sysctl-oracle-", dir=base))


def run_peers(
    trees: list[Tree],
    work: Path | None = None,
    peers: Iterable[str] = tuple(PEERS),
    jobs: int | None = None,
    take_lock: bool = True,
    keep: bool = False,
) -> Oracle:
    """Run every peer on every tree (in parallel); the live /proc/sys is checked around each run. The chroots
    live in `work` (default: a scratch dir, removed afterwards unless keep)."""
    own = work is None
    work = scratch_dir() if work is None else work
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _run_peers(trees, work, peers, jobs, take_lock, keep)
    finally:
        if own and not keep:
            shutil.rmtree(work, ignore_errors=True)


def _run_peers(
    trees: list[Tree], work: Path, peers: Iterable[str], jobs: int | None, take_lock: bool, keep: bool
) -> Oracle:
    chosen = [PEERS[p] for p in peers if PEERS[p].host_binary is not None]
    started = time.monotonic()
    skeleton = Skeleton(work / "skeleton", chosen)
    guard = LiveGuard()
    runs: dict[str, dict[str, PeerRun]] = {t.id: {} for t in trees}
    lock = real_sysctl_lock() if take_lock else contextlib.nullcontext(False)
    with lock as locked, ThreadPoolExecutor(max_workers=jobs or max(2, 2 * (os.cpu_count() or 1))) as pool:
        futures = {
            pool.submit(run_peer, t, p, work, skeleton, guard, keep): (t.id, p.name) for t in trees for p in chosen
        }
        for fut, (tid, pname) in futures.items():
            runs[tid][pname] = fut.result()
        guard.check("at the end", [x for t in trees for x in t.texts])
    if not keep:
        shutil.rmtree(work / "skeleton")
    return Oracle(trees, runs, guard.notes, time.monotonic() - started, bool(locked))


def last_values_on_this_machine(keys: list[str], work: Path | None = None) -> dict[str, dict[str, str | None]]:
    """What each peer would set last for each key ("vm.swappiness") from this machine's own files, found by running
    it on a copy of them: peer -> key -> text (None: not written). Takes no lock (callers may hold it)."""
    oracle = run_peers([host_tree()], work, take_lock=False)
    out: dict[str, dict[str, str | None]] = {}
    for peer, run in oracle.runs["host"].items():
        last = {w.path: w.text for w in run.writes}
        out[peer] = {k: last.get("/proc/sys/" + k.replace(".", "/")) for k in keys}
    return out


# --- swapctl's answer and the comparison -------------------------------------------------------------------------
def swapctl_python() -> str:
    venv = REPO / ".venv/bin/python"
    return str(venv) if venv.exists() else sys.executable


def swapctl_vm_get(root: Path, checkout: Path = REPO) -> tuple[dict[str, dict[str, Any]], str | None]:
    """`swapctl --root ROOT -o json vm get`: rows by key, or an error text. The swapctl package is the one in
    `checkout` (the venv's python, run from there: its directory comes first on sys.path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWAPCTL_")}
    proc = subprocess.run(
        [swapctl_python(), "-m", "swapctl", "--root", str(root), "-o", "json", "vm", "get"],
        capture_output=True,
        text=True,
        env=env,
        cwd=checkout,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {}, f"exit {proc.returncode}, no JSON: {proc.stderr.strip()[-500:]}"
    if not doc.get("ok"):
        return {}, f"exit {proc.returncode}: {doc.get('error')}"
    return {row["key"]: row for row in doc["data"]["settings"]}, None


# What a peer wrote to one knob: [(text, [(file, line) the text stands at in what the peer read])], in order.
Observed = list[tuple[str, list[tuple[str, int]]]]


def observed(run: PeerRun, knob: str) -> Observed:
    return [(w.text, run.sources(w.data)) for w in run.knob_writes(knob)]


def observed_from_json(result: dict[str, Any], knob: str) -> Observed:
    """The same, from a dumped result.json's per-peer part."""
    return [
        (w["text"], [(f, n) for f, n in w["sources"]]) for w in result["writes"] if w["path"] == f"/proc/sys/vm/{knob}"
    ]


def collapse(items: list[Any], key: Any = lambda x: x) -> list[list[Any]]:
    """Runs of consecutive items with the same key (systemd skips a write the file already holds)."""
    runs: list[list[Any]] = []
    for item in items:
        if runs and key(runs[-1][0]) == key(item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def compare_writes(real: Observed, predicted: list[dict[str, Any]]) -> str | None:
    """None when swapctl's predicted writes match the peer's: the texts, consecutive repeats collapsed; and each
    write's file and line wherever the tree's unique texts say where the peer read it."""
    got = collapse(real, key=lambda w: w[0])
    ours = collapse(predicted, key=lambda w: w.get("text"))
    if [r[0][0] for r in got] != [o[0].get("text") for o in ours]:
        return f"texts: peer {[r[0][0][:60] for r in got]!r} swapctl {[o[0].get('text') for o in ours]!r}"
    for r, o in pairs(got, ours):
        candidates = {tuple(s) for _, sources in r for s in sources}
        if not candidates:
            continue  # an empty text, or one the tree does not make unique
        for w in o:
            if (w.get("file"), w.get("line")) not in candidates:
                return (
                    f"source of {r[0][0][:60]!r}: swapctl says {w.get('file')}:{w.get('line')}, the peer read it "
                    f"at {sorted(candidates)}"
                )
    return None


def compare_knob(peer: str, real: Observed, row: dict[str, Any] | None) -> str | None:
    """One peer, one knob: the writes swapctl predicts against those the peer made."""
    if row is None:
        return "swapctl gave no row"
    said = (row.get("persisted") or {}).get(peer)
    if not isinstance(said, dict) or "writes" not in said:
        return "no persisted writes"
    return compare_writes(real, said["writes"])


def compare_tree(seen: dict[str, dict[str, Observed]], rows: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Every disagreement on one tree: (peer, knob, what). seen: peer -> knob -> what it wrote."""
    return [
        (peer, knob, why)
        for peer, by_knob in seen.items()
        for knob in KNOBS
        if (why := compare_knob(peer, by_knob.get(knob, []), rows.get(f"vm.{knob}")))
    ]


def report(
    tree_id: str,
    tags: Iterable[str],
    listing: dict[str, str],
    peer: str,
    knob: str,
    why: str,
    real: Observed,
    rc: int,
    row: dict[str, Any] | None,
) -> str:
    """A compact account of one disagreement: the tree, what the peer wrote, what swapctl said."""
    lines = [f"tree {tree_id} [{', '.join(tags)}] {peer} vm.{knob}: {why}"]
    for path, desc in listing.items():
        lines.append(f"    {path}: {desc if len(desc) < 300 else desc[:300] + '...'}")
    lines.append(f"  {peer} wrote (exit {rc}): {[(t[:80], s) for t, s in real]}")
    said = (row or {}).get("persisted") or {}
    said = said.get(peer)
    lines.append(f"  swapctl said: {json.dumps(said)[:600]}")
    return "\n".join(lines)
