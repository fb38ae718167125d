"""Swap files: the steps (create, allocate, mkswap, swapon, swapoff, rename, delete) and the plans for
create, remove and resize, with the checks that refuse before anything changes."""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING, Any, NamedTuple

from swapctl.core import fields
from swapctl.core.errors import OperationFailed, Refused, UsageError
from swapctl.core.plan import Plan, Step, UndoContext, register
from swapctl.core.text import shell_quote as q
from swapctl.core.units import MAX_SIZE, format_bytes, parse_size, round_up_pages
from swapctl.ops import fstab

if TYPE_CHECKING:
    from swapctl.core.journal import Journal
    from swapctl.system.host import Host
    from swapctl.system.procfs import SwapArea

MIN_PAGES = 10  # mkswap refuses fewer (util-linux MIN_GOODPAGES)
PRIORITY_MAX = 32767  # SWAP_FLAG_PRIO_MASK
METHODS = ("auto", "fallocate", "zero")

# Filesystems that cannot hold a swap file, and why (docs/KERNEL.md, "Swap areas").
UNSUPPORTED_FS = {
    "tmpfs": "lives in RAM, so swapping to it cannot free memory",
    "ramfs": "lives in RAM, so swapping to it cannot free memory",
    "overlay": "overlayfs cannot hold swap files (no swap_activate/bmap)",
    "zfs": "ZFS cannot hold swap files (the kernel cannot map their blocks); use a zvol or another filesystem",
    "nfs": "swap over NFS needs CONFIG_NFS_SWAP and is not supported by swapctl",
    "nfs4": "swap over NFS needs CONFIG_NFS_SWAP and is not supported by swapctl",
    "cifs": "network filesystems cannot hold swap files safely",
    "fuse": "FUSE filesystems cannot hold swap files",
    "squashfs": "squashfs is read-only",
    "erofs": "erofs is read-only",
    "iso9660": "iso9660 is read-only",
    "proc": "a virtual filesystem",
    "sysfs": "a virtual filesystem",
    "devtmpfs": "a virtual filesystem",
    "cgroup": "a virtual filesystem",
    "cgroup2": "a virtual filesystem",
}
SUPPORTED_FS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs", "vfat"}
REPLACED = ".swapctl-replaced"  # where create --force moves the file it replaces
# Directories that hold the system's own files (and the kernel's): no place for a swap file. A journal entry
# naming a file there is refused as damaged or forged, so a rollback never makes or deletes one.
SYSTEM_DIRS = (
    "/etc",
    "/usr",
    "/boot",
    "/dev",
    "/proc",
    "/sys",
    "/run",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
)


def off_limits(path: str) -> str | None:
    """Why no swap file may live at `path`, or None. Beside the system directories, a hidden name (any
    component starting with a dot) is refused: that is where shells and programs keep their own files
    (~/.bashrc, ~/.ssh/...), and a swap file there would be hidden from `ls` besides."""
    system = next((d for d in SYSTEM_DIRS if path == d or path.startswith(d + "/")), None)
    if system is not None:
        return f"under {system}, which holds the system's own files"
    hidden = next((c for c in path.split("/") if c.startswith(".")), None)
    if hidden is not None:
        return f"a hidden name ({hidden}), where programs keep their own files"
    return None


def is_swap_path(v: Any) -> bool:
    return fields.is_path(v) and off_limits(v) is None


# What the steps' journal entries hold (core/fields.py): checked before rollback rebuilds a step.
PATH = fields.Field(fields.is_path, "an absolute path")
SWAP_PATH = fields.Field(is_swap_path, "a path a swap file may have (not under a system directory, not hidden)")
SIZE = fields.Field(fields.is_int(1, MAX_SIZE), "a size in bytes")
PRIORITY = fields.Field(fields.optional(fields.is_int(-1, 32767)), "a priority", required=False)
FLAG = fields.Field(fields.is_bool, "true or false", required=False)
DISCARD = fields.Field(
    lambda v: isinstance(v, bool) or v is None or v in fstab.DISCARD_POLICIES, "a discard policy", required=False
)


# --- steps -------------------------------------------------------------------------------------------


def _make_swap_file(host: Host, path: str, size: int, *, nocow: bool, method: str) -> None:
    """Create, allocate and mkswap a file; used by create and by the undo of a delete."""
    host.create_exclusive(path, 0o600)
    if nocow:
        host.set_nocow(path)
    _allocate(host, path, size, method)
    mkswap(host, path)


def _allocate(host: Host, path: str, size: int, method: str) -> None:
    try:
        if method == "zero":
            host.zero_fill(path, size)
            return
        try:
            host.fallocate(path, size)
        except OSError as exc:
            if method == "auto" and exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                host.zero_fill(path, size)  # the filesystem cannot fallocate: write zeros instead
                return
            raise
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OperationFailed(f"no space left for {format_bytes(size)} at {path}") from None
        raise OperationFailed(f"allocating {path}: {exc.strerror}") from None


def mkswap(host: Host, path: str) -> None:
    """mkswap a swap file or a device (a zram one): OperationFailed with mkswap's own words when it fails."""
    result = host.runner.run(["mkswap", str(host.real(path))])
    if not result.ok:
        raise OperationFailed(f"mkswap {path}: {result.error_text()}")


def active_area(host: Host, path: str) -> SwapArea | None:
    for area in host.swaps():
        if area.path == path:
            return area
    return None


def discard_policy(value: Any) -> str | None:
    """A step's discard (journals before policies hold a bool): None, "both", "once" or "pages"."""
    if value is True:
        return "both"
    return value if value in fstab.DISCARD_POLICIES else None


def _swapon(host: Host, path: str, priority: int | None, discard: Any) -> tuple[bool, str]:
    argv = ["swapon"]
    if priority is not None and priority >= 0:
        argv += ["-p", str(priority)]
    policy = discard_policy(discard)
    if policy is not None:
        argv.append("--discard" if policy == "both" else f"--discard={policy}")
    argv.append(str(host.real(path)))
    result = host.runner.run(argv)
    return result.ok, _tool_error(result.error_text())


def _swapoff(host: Host, path: str) -> None:
    # swapoff pages everything back into RAM; it can take long on a full area (the runner's timeout allows it).
    result = host.swapoff(path)
    if not result.ok:
        raise OperationFailed(f"swapoff {path}: {_tool_error(result.error_text())}")


def _tool_error(text: str) -> str:
    """util-linux says "swapon: /x: swapon failed: Invalid argument"; the step's description already names
    the tool and the path, so keep what the kernel said."""
    return text.rsplit("failed: ", 1)[-1] if "failed: " in text else text


def _explain_swapon(host: Host, path: str, error: str) -> str:
    """Say why the kernel said EINVAL, where that can be known (kernel log, filesystem)."""
    if "Invalid argument" not in error:
        return error
    reasons = []
    log = host.runner.run(["dmesg"])
    if log.ok:
        # Only the refusals the swapon paths print ("swapon: swapfile has holes", "swapon: file has
        # unallocated extents", btrfs "swapfile must not be copy-on-write"): a bare "swap" also matches OOM
        # reports' memcg stats and the "Adding ... swap on" line of another area.
        lines = [
            ln
            for ln in log.stdout.splitlines()
            if "swapon: " in ln or "swapfile must" in ln or "swap-space signature" in ln
        ]
        if lines:
            reasons.append("kernel: " + lines[-1].split("] ", 1)[-1].strip())
    mount = host.mount_of(os.path.dirname(path) or "/")
    fs = mount.fstype if mount else "unknown"
    if fs == "btrfs":
        reasons.append("btrfs needs the file NOCOW, uncompressed, on a single device with a single data profile")
    elif not reasons:
        reasons.append(
            f"the file may have holes or unwritten extents the {fs} kernel driver rejects (try --method zero)"
        )
    return f"{error} ({'; '.join(reasons)})"


@register
class CreateFile(Step):
    """params: path, nocow, size (the allocation planned after it: journals before it lack it). The file exists
    with mode 0600 from its first instant (O_EXCL|O_NOFOLLOW)."""

    kind = "create-file"
    params_schema = {
        "path": fields.Field(is_swap_path, "a path a swap file may have"),
        "nocow": FLAG,
        "size": fields.Field(fields.is_int(1, MAX_SIZE), "a size in bytes", required=False),
    }

    def describe(self) -> str:
        extra = ", NOCOW" if self.params.get("nocow") else ""
        return f"create {q(self.params['path'])} (mode 0600{extra})"

    def preview(self) -> dict[str, Any]:
        size = self.params.get("size")
        return {
            "what": self.params["path"],
            "before": "absent",
            "after": f"a {format_bytes(size)} swap file" if size else "a swap file",
        }

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        try:
            host.create_exclusive(self.params["path"], 0o600)
        except FileExistsError:
            raise Refused(f"{self.params['path']} appeared while swapctl was working; not touching it") from None
        if self.params.get("nocow"):
            try:
                host.set_nocow(self.params["path"])
            except OSError:
                host.unlink(self.params["path"])  # ours, made a moment ago: leave nothing behind
                raise

    def undo_description(self) -> str:
        return f"delete {q(self.params['path'])}"

    def _ours(self, host: Host, st: os.stat_result, ctx: UndoContext) -> bool:
        """Whether the file at path can still be the one this step made. A finished create left a swap area, so
        then only a swap area is ours; a create stopped half way (a failure, a crash) may also have left the file
        empty or partly allocated: zeros, no larger than planned. Anything else is someone's, whatever a journal
        says (a path reused since, a forged entry)."""
        path = self.params["path"]
        if host.swap_signature(path) is not None:
            return True
        if ctx.committed:
            return False
        planned = self.params.get("size")
        if planned is not None and st.st_size > planned:
            return False
        try:
            return host.all_zeros(path)
        except OSError:
            return False

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        path = self.params["path"]
        st = host.lstat(path)
        if st is None or not stat.S_ISREG(st.st_mode) or active_area(host, path) is not None:
            return
        if self._ours(host, st, ctx):
            host.unlink(path)
        else:
            ctx.notes.append(f"{path} holds data that is not the swap area swapctl made; kept")


@register
class Allocate(Step):
    """params: path, size, method. Real blocks, no holes (swapon rejects holes)."""

    kind = "allocate"
    undo_is_noop = True
    params_schema = {"path": SWAP_PATH, "size": SIZE, "method": fields.Field(fields.one_of(*METHODS), "a method")}

    def describe(self) -> str:
        how = {"zero": "by writing zeros", "fallocate": "with fallocate"}.get(
            self.params["method"], "with fallocate (zeros if refused)"
        )
        return f"allocate {format_bytes(self.params['size'])} for {q(self.params['path'])} {how}"

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        _allocate(host, self.params["path"], self.params["size"], self.params["method"])

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        """Nothing to do: the file itself goes with the create-file step's undo."""


@register
class MkSwap(Step):
    """params: path."""

    kind = "mkswap"
    undo_is_noop = True
    params_schema = {"path": SWAP_PATH}

    def describe(self) -> str:
        return f"mkswap {q(self.params['path'])}"

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        mkswap(host, self.params["path"])

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        """Nothing to do: the file itself goes with the create-file step's undo."""


@register
class SwapOn(Step):
    """params: path, priority (None: automatic), discard, refill (bytes: rewrite with zeros and retry once
    when swapon rejects fallocate'd extents, as ext4 did around 5.7-5.9)."""

    kind = "swapon"
    params_schema = {
        "path": PATH,
        "priority": PRIORITY,
        "discard": DISCARD,
        "refill": fields.Field(fields.optional(fields.is_int(1, MAX_SIZE)), "a size", required=False),
    }

    def describe(self) -> str:
        prio = self.params.get("priority")
        opts = (f" priority {prio}" if prio is not None and prio >= 0 else "") + (
            {None: "", "both": " with discard"}.get(
                p := discard_policy(self.params.get("discard")), f" with discard={p}"
            )
        )
        return f"swapon {q(self.params['path'])}{opts}"

    def preview(self) -> dict[str, Any]:
        prio = self.params.get("priority")
        on = f"on, priority {prio}" if prio is not None and prio >= 0 else "on"
        return {"what": f"swap area {self.params['path']}", "before": "off", "after": on}

    def check(self, host: Host) -> None:
        host.require_live(self.describe())

    def check_undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        host.require_live(self.undo_description())
        area = active_area(host, self.params["path"])
        if area is not None:
            check_swapoff_fits(host, area)  # the undo's swapoff brings its pages back into memory

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        path, prio, discard = self.params["path"], self.params.get("priority"), self.params.get("discard", False)
        ok, error = _swapon(host, path, prio, discard)
        if not ok and "Invalid argument" in error and self.params.get("refill"):
            host.zero_fill(path, self.params["refill"])
            mkswap(host, path)
            ok, error = _swapon(host, path, prio, discard)
        if not ok:
            raise OperationFailed(_explain_swapon(host, path, error))

    def undo_description(self) -> str:
        return f"swapoff {q(self.params['path'])}"

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        if active_area(host, self.params["path"]) is not None:
            _swapoff(host, self.params["path"])


@register
class SwapOff(Step):
    """params: path, priority, discard (to swap it back on as it was)."""

    kind = "swapoff"
    params_schema = {"path": PATH, "priority": PRIORITY, "discard": DISCARD}

    def describe(self) -> str:
        return f"swapoff {q(self.params['path'])}"

    def preview(self) -> dict[str, Any]:
        return {"what": f"swap area {self.params['path']}", "before": "on", "after": "off"}

    def check(self, host: Host) -> None:
        host.require_live(self.describe())

    def check_undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        host.require_live(self.undo_description())

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        _swapoff(host, self.params["path"])

    def undo_description(self) -> str:
        return f"swapon {q(self.params['path'])}"

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        path = self.params["path"]
        if active_area(host, path) is None and host.lstat(path) is not None:
            ok, error = _swapon(host, path, self.params.get("priority"), self.params.get("discard", False))
            if not ok:
                raise OperationFailed(f"swapon {path}: {error}")


@register
class Rename(Step):
    """params: src, dst."""

    kind = "rename"
    params_schema = {"src": SWAP_PATH, "dst": SWAP_PATH}

    @classmethod
    def invalid(cls, params: dict[str, Any], record: dict[str, Any] | None) -> str | None:
        why = super().invalid(params, record)
        if why is None and params["dst"] != params["src"] + REPLACED:
            return f"rename moves a file only to its {REPLACED} name"
        return why

    def describe(self) -> str:
        return f"rename {q(self.params['src'])} -> {q(self.params['dst'])}"

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        host.rename(self.params["src"], self.params["dst"])

    def undo_description(self) -> str:
        return f"rename {q(self.params['dst'])} -> {q(self.params['src'])}"

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        src, dst = self.params["src"], self.params["dst"]
        if host.lstat(src) is None and host.lstat(dst) is not None:
            host.rename(dst, src)


@register
class DeleteFile(Step):
    """params: path, size, nocow. Undone by making a fresh swap file of the same size (its contents were
    swap pages of processes that are gone, so nothing else can be restored)."""

    kind = "delete-file"
    params_schema = {"path": SWAP_PATH, "size": SIZE, "nocow": FLAG}

    def check_undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        if host.lstat(self.params["path"]) is None:
            check_location(host, self.params["path"], force=True)
            check_space(host, self.params["path"], self.params["size"])

    def describe(self) -> str:
        return f"delete {q(self.params['path'])}"

    def preview(self) -> dict[str, Any]:
        return {
            "what": self.params["path"],
            "before": f"a {format_bytes(self.params['size'])} swap file",
            "after": "absent",
        }

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        host.unlink(self.params["path"])

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        path = self.params["path"]
        if host.lstat(path) is None:
            _make_swap_file(host, path, self.params["size"], nocow=self.params.get("nocow", False), method="auto")

    def undo_description(self) -> str:
        return f"recreate {q(self.params['path'])} ({format_bytes(self.params['size'])})"


@register
class DiscardReplaced(Step):
    """params: path. Deletes the file that `create --force` moved aside; its contents cannot come back."""

    kind = "discard-replaced"
    params_schema = {"path": SWAP_PATH}

    @classmethod
    def invalid(cls, params: dict[str, Any], record: dict[str, Any] | None) -> str | None:
        why = super().invalid(params, record)
        if why is None and not params["path"].endswith(REPLACED):
            return f"discard-replaced deletes only a {REPLACED} file"
        return why

    def describe(self) -> str:
        return f"delete the replaced file {q(self.params['path'])}"

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        host.unlink(self.params["path"])

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        if host.lstat(self.params["path"]) is None:
            ctx.notes.append(f"the contents of the replaced file {self.params['path']} cannot be restored")


# --- who made what -------------------------------------------------------------------------------------


def area_priority(area: SwapArea) -> int | None:
    """The priority to swap an area on again with: its own (at most 32767, as swapon clamps), or automatic."""
    return min(area.priority, PRIORITY_MAX) if area.priority >= 0 else None


def running_discard(journal: Journal, path: str, entry: fstab.Entry | None) -> str | None:
    """The discard policy an active area runs with (/proc/swaps does not say): as swapctl last swapped it on in
    this boot (its journal), else as its fstab line asked at boot, else none (swapon's default)."""
    for tx in reversed(journal.transactions()):
        if tx.status != "committed" or tx.boot_id != journal.boot_id:
            continue
        for s in reversed(tx.steps):
            if s.step.get("kind") == "swapon" and s.step.get("params", {}).get("path") == path:
                return discard_policy(s.step["params"].get("discard"))
    return fstab.swap_options(entry.options)[1] if entry is not None else None


def managed_paths(journal: Journal) -> set[str]:
    """Swap files swapctl made and still owns, replayed from the journal's committed transactions."""
    from swapctl.ops.rollback import rebuild

    owned: set[str] = set()
    for tx in journal.transactions():
        if tx.status != "committed" or tx.rollback_of:
            continue
        for s in tx.steps:
            kind = s.step["kind"]
            if kind not in ("create-file", "rename", "delete-file"):
                continue
            p = rebuild(journal, s).params
            if kind == "create-file":
                owned.add(p["path"])
            elif kind == "rename" and p["src"] in owned:
                owned.discard(p["src"])
                owned.add(p["dst"])
            elif kind == "delete-file":
                owned.discard(p["path"])
    return owned


# --- checks shared by the plans ----------------------------------------------------------------------------


class Target(NamedTuple):
    path: str
    area: SwapArea | None
    st: os.stat_result | None
    fstab_text: str | None
    entries: list[fstab.Entry]  # the fstab lines that name the area (noauto ones too)

    @property
    def entry(self) -> fstab.Entry | None:
        return self.entries[0] if self.entries else None

    @property
    def sources(self) -> list[str]:
        return [e.source for e in self.entries]


def validate_path(path: str) -> str:
    if not path or not path.startswith("/"):
        raise UsageError(f"{path!r} is not an absolute path", hint="give the full path, e.g. /swapfile")
    if "\0" in path or "\n" in path:
        raise UsageError(f"{path!r} contains a character a swap path cannot hold")
    encoded = path.encode("utf-8", "surrogateescape")
    if len(encoded) >= 4096 or any(len(part) > 255 for part in encoded.split(b"/")):
        # PATH_MAX and NAME_MAX (linux/limits.h): the kernel would answer ENAMETOOLONG.
        raise UsageError(f"{path[:48]!r}... is longer than Linux allows (255 bytes a name, 4095 a path)")
    norm = os.path.normpath(path)
    if norm != path or norm == "/":  # a trailing slash names a directory
        raise UsageError(f"{path!r} is not a normalised file path", hint=f"write it as {norm}")
    return norm


def validate_priority(priority: int | None) -> int | None:
    if priority is not None and not -1 <= priority <= PRIORITY_MAX:
        raise UsageError(f"priority {priority} is out of range", hint=f"use -1 (automatic) to {PRIORITY_MAX}")
    return priority


def validate_size(text: str, page_size: int) -> int:
    size = round_up_pages(parse_size(text), page_size)
    if size < MIN_PAGES * page_size:
        raise UsageError(
            f"size {text} is below the minimum of {MIN_PAGES} pages "
            f"({format_bytes(MIN_PAGES * page_size)}) that mkswap accepts"
        )
    return size


def _auto_size(host: Host, path: str, policy: str) -> tuple[int, dict[str, Any]]:
    """--size auto for a file at `path`: the space it may use counts what a file already there holds, so the
    same create run again picks the same size and changes nothing."""
    from swapctl.ops import sizing

    if policy not in sizing.POLICIES:
        raise UsageError(f"size policy {policy!r} is not one of {', '.join(sizing.POLICIES)}")
    parent = os.path.dirname(path)
    if not host.is_dir(parent):
        raise Refused(f"{parent} does not exist", hint="create the directory first")
    free = host.free_bytes(parent)
    st = host.lstat(path)
    if st is not None and stat.S_ISREG(st.st_mode):
        free += st.st_blocks * 512
    mem_total = host.meminfo().get("MemTotal", 0)
    if mem_total <= 0:
        raise Refused("--size auto: /proc/meminfo has no MemTotal to size by", hint="give --size")
    return sizing.auto_size(mem_total, free, host.page_size, policy)


def require_root(host: Host, journal: Journal | None = None, what: str = "changing swap") -> None:
    """Before any planning: root, and no half-done transaction (which must be rolled back first)."""
    if not host.is_root:
        raise Refused(f"{what} needs root", hint="run it with sudo, or as root")
    if journal is not None:
        journal.refuse_if_pending()


def examine(host: Host, path: str) -> Target:
    """What is at `path` now: its active area, its lstat, the fstab text and the fstab lines that name it."""
    area = active_area(host, path)
    text = host.read_text_or_none(fstab.FSTAB)
    return Target(
        path, area, host.lstat(path), text, fstab.lines_for(host, text, path, area.type if area is not None else "file")
    )


def check_location(host: Host, path: str, *, force: bool) -> str:
    """Refuse a place that cannot or must not hold a swap file. Returns the filesystem type."""
    parent = os.path.dirname(path)
    if path.startswith(("/proc/", "/sys/")):
        raise Refused(f"{path} is on a virtual filesystem, which cannot hold swap")
    mount = host.mount_of(parent)
    fs = mount.fstype if mount else "unknown"
    base = fs.split(".")[0]
    if base in UNSUPPORTED_FS:
        raise Refused(
            f"{path} is on {fs}, which cannot hold swap: {UNSUPPORTED_FS[base]}",
            hint="choose a directory on ext4, xfs or btrfs",
        )
    why = off_limits(path)
    if why is not None:
        raise Refused(
            f"{path} is {why}: no place for a swap file",
            hint="put it at / or in a directory of its own, such as /var/lib/swap",
        )
    if base not in SUPPORTED_FS and not force:
        raise Refused(
            f"{path} is on {fs}, which swapctl does not know to hold swap files",
            hint="use ext4, xfs or btrfs, or --force to try anyway",
        )
    pst = host.lstat(parent)
    if pst is None or not stat.S_ISDIR(pst.st_mode):
        if pst is not None and stat.S_ISLNK(pst.st_mode):
            raise Refused(
                f"{parent} is a symbolic link; swapctl does not follow links it did not make",
                hint="give the real path of the directory",
            )
        raise Refused(f"the directory {parent} does not exist", hint=f"create it first: mkdir -p {parent}")
    if host.has_symlink_in(parent):
        raise Refused(
            f"{parent} goes through a symbolic link; swapctl does not follow links it did not make",
            hint="give the real path of the directory",
        )
    if pst.st_mode & 0o022 or not host.owned_by_root_or_self(pst):
        raise Refused(
            f"{parent} is writable by other users, who could swap the file for a link",
            hint="put the swap file in a directory only root can write, such as / or /var/lib",
        )
    return base


def check_space(host: Host, path: str, size: int) -> None:
    parent = os.path.dirname(path)
    free = host.free_bytes(parent)
    total = host.total_bytes(parent)
    reserve = min(total // 20, 1 << 30)  # leave 5% of the filesystem, at most 1 GiB, for everything else
    if size + reserve > free:
        raise Refused(
            f"{format_bytes(size)} at {path} would leave {format_bytes(max(free - size, 0))} free "
            f"on its filesystem ({format_bytes(free)} free now; swapctl keeps {format_bytes(reserve)})",
            hint="choose a smaller size or another filesystem",
        )


def swapoff_margin(mem: dict[str, int]) -> int:
    # Room the rest of the machine needs while swapoff pulls pages back: at least 128 MiB or 2% of RAM.
    return max(128 << 20, mem.get("MemTotal", 0) // 50)


def check_swapoff_fits(host: Host, area: SwapArea, extra_swap: int = 0) -> None:
    """swapoff must page every used swap page back in; refuse when that would push the machine to OOM."""
    if area.used == 0:
        return
    mem = host.meminfo()
    available = mem.get("MemAvailable", mem.get("MemFree", 0))
    other_free = sum(a.size - a.used for a in host.swaps() if a.path != area.path) + extra_swap
    margin = swapoff_margin(mem)
    if area.used + margin > available + other_free:
        raise Refused(
            f"swapoff {area.path} would need {format_bytes(area.used)} back in memory plus a margin of "
            f"{format_bytes(margin)}, but only {format_bytes(available)} is available "
            f"(and {format_bytes(other_free)} free in other swap areas)",
            hint="free memory first, or add another swap area before removing this one",
        )


# --- plans ---------------------------------------------------------------------------------------------


def plan_create(
    host: Host,
    journal: Journal,
    path: str,
    size_text: str,
    *,
    priority: int | None = None,
    discard: bool | None = None,
    persist: bool = True,
    method: str = "auto",
    force: bool = False,
    size_policy: str = "cloud-init",
) -> Plan:
    """priority/discard None: as the area runs now and its fstab line says (off for a new area), so running the
    same create again changes nothing. size_text "auto": by the size policy (ops/sizing.py)."""
    path = validate_path(path)
    auto = None
    if size_text.strip().lower() == "auto":
        size, auto = _auto_size(host, path, size_policy)
        size_text = "auto"
    else:
        size = validate_size(size_text, host.page_size)
    priority = validate_priority(priority)
    if method not in METHODS:
        raise UsageError(f"method {method!r} is not one of {', '.join(METHODS)}")
    require_root(host, journal)
    plan = Plan("create", data={"path": path, "size": size, "priority": priority, "persisted": persist})
    if auto is not None:
        plan.data["size_auto"] = auto
    target = examine(host, path)
    if target.st is not None and stat.S_ISLNK(target.st.st_mode):
        raise Refused(
            f"{path} is a symbolic link; swapctl does not follow links it did not make",
            hint="give the path of the file itself (see: readlink -f), or remove the link",
        )
    fs = check_location(host, path, force=force)
    plan.data["filesystem"] = fs
    entry = target.entry
    line_prio, line_discard = fstab.swap_options(entry.options if entry else None)
    asked_discard = discard
    # Not given: as the fstab line asks (what `swapon -a` would do), else as the area runs now. --discard keeps
    # the line's own policy (discard=once stays once), else both, as swapon's --discard does.
    policy: str | None
    if discard is None:
        policy = line_discard if entry is not None or target.area is None else running_discard(journal, path, entry)
    else:
        policy = (line_discard or "both") if discard else None
    if priority is None and entry is not None:
        wanted_prio = line_prio
    elif priority is None and target.area is not None and target.area.priority >= 0:
        wanted_prio = area_priority(target.area)  # set by hand at swapon: keep it at boot too
    else:
        wanted_prio = priority if priority is not None and priority >= 0 else None  # -1: automatic

    def persist_step() -> None:
        # A line that asks for the same (whatever its spelling: "sw", "defaults") is left as it is.
        if not persist:
            return
        if entry is None:
            plan.add(fstab.fstab_set(path, fstab.swap_line(path, wanted_prio, policy)))
        elif (line_prio, line_discard, entry.auto) != (wanted_prio, policy, True) or len(target.entries) > 1:
            # Its own line, with the options asked for and swapped on at boot (noauto dropped); the line's
            # other options and spelling are kept, and duplicates dropped.
            line = fstab.rewrite(target.fstab_text or "", entry, wanted_prio, policy)
            plan.add(fstab.fstab_set(path, line, sources=target.sources))

    if target.area is not None:
        # The file's own size decides: the kernel's count drops the header page and, where the block size is
        # below the page size (ext4 with 1 KiB blocks), the pages that straddle unaligned extents.
        same_size = (target.st.st_size if target.st is not None else target.area.size + host.page_size) == size
        same_prio = (
            priority is None or priority == target.area.priority or (priority == -1 and target.area.priority < 0)
        )
        if not (same_size and same_prio):
            hint = (
                f"use 'swapctl resize {path} --size {size_text}' to change its size"
                if not same_size
                else f"to change its priority: swapctl remove --keep-file {path}, then swapctl create {path} "
                f"--size {size_text} --priority {priority}"
            )
            raise Refused(
                f"{path} is already active with {format_bytes(target.area.size + host.page_size)} "
                f"at priority {target.area.priority}",
                hint=hint,
            )
        runs = running_discard(journal, path, entry)
        if asked_discard is not None and asked_discard != (runs is not None):
            # Like the priority: the kernel takes discard at swapon only, so the running area cannot change it;
            # persisting it alone would make fstab and the running area disagree silently.
            flag = "--discard" if asked_discard else "--no-discard"
            raise Refused(
                f"{path} is already active {'with' if runs else 'without'} discard",
                hint=f"to change discard: swapctl remove --keep-file {path}, then swapctl create {path} "
                f"--size {size_text} {flag}",
            )
        persist_step()
        return plan
    if target.st is not None:
        if not stat.S_ISREG(target.st.st_mode):
            raise Refused(f"{path} exists and is not a regular file; swapctl will not touch it")
        header = host.swap_signature(path)
        if header is not None and target.st.st_size == size:
            plan.add(SwapOn(path=path, priority=wanted_prio, discard=policy, refill=None))
            persist_step()
            return plan
        if not force:
            what = "a swap area of another size" if header else "not a swap area"
            raise Refused(
                f"{path} exists and is {what}; swapctl will not overwrite it",
                hint="choose another path, or --force to replace the file",
            )
        aside = path + REPLACED
        if host.lstat(aside) is not None:
            raise Refused(f"{aside} exists (left by an earlier --force?)", hint="remove it first")
        check_space(host, path, size)
        plan.add(Rename(src=path, dst=aside))
        _add_make_steps(plan, path, size, fs, method, wanted_prio, policy)
        persist_step()
        plan.add(DiscardReplaced(path=aside))
        return plan
    check_space(host, path, size)
    _add_make_steps(plan, path, size, fs, method, wanted_prio, policy)
    persist_step()
    return plan


def _add_make_steps(
    plan: Plan, path: str, size: int, fs: str, method: str, priority: int | None, discard: str | None
) -> None:
    plan.add(CreateFile(path=path, nocow=fs == "btrfs", size=size))
    plan.add(Allocate(path=path, size=size, method=method))
    plan.add(MkSwap(path=path))
    plan.add(SwapOn(path=path, priority=priority, discard=discard, refill=size if method == "auto" else None))


def plan_remove(host: Host, journal: Journal, path: str, *, keep_file: bool = False, force: bool = False) -> Plan:
    path = validate_path(path)
    require_root(host, journal)
    plan = Plan("remove", data={"path": path})
    target = examine(host, path)
    if target.st is not None and stat.S_ISLNK(target.st.st_mode):
        raise Refused(
            f"{path} is a symbolic link; swapctl does not follow links it did not make",
            hint="give the path of the file itself (see: readlink -f), or remove the link",
        )
    file_st = target.st if target.st is not None and stat.S_ISREG(target.st.st_mode) else None
    is_file = file_st is not None
    header = host.swap_signature(path) if is_file else None
    managed = path in managed_paths(journal)
    if target.area is None and not target.entries:
        if target.st is None:
            return plan  # already gone
        if not is_file or header is None:
            raise Refused(f"{path} is not a swap area; swapctl will not delete it")
        if not managed and not force:
            raise Refused(
                f"{path} is a swap file that swapctl did not make; not deleting it",
                hint="delete it by hand, or use --force",
            )
    discard = running_discard(journal, path, target.entry)
    if target.area is not None:
        check_swapoff_fits(host, target.area)
        plan.add(SwapOff(path=path, priority=area_priority(target.area), discard=discard))
    if target.entries:
        plan.add(fstab.fstab_set(path, None, sources=target.sources))
    if file_st is not None and not keep_file:
        if header is None and target.area is None and not force:
            raise Refused(f"{path} is not a swap area; swapctl will not delete it")
        if off_limits(path) is not None:
            plan.warnings.append(
                f"{path} is {off_limits(path)}: swapctl never deletes a file there, so it was kept (delete it by hand)"
            )
        elif managed or force:
            plan.add(DeleteFile(path=path, size=file_st.st_size, nocow=host.is_nocow(path)))
        else:
            plan.warnings.append(f"{path} was not made by swapctl, so it was kept (delete it by hand, or --force)")
    return plan


def plan_resize(host: Host, journal: Journal, path: str, size_text: str) -> Plan:
    path = validate_path(path)
    size = validate_size(size_text, host.page_size)
    require_root(host, journal)
    target = examine(host, path)
    if target.area is not None and target.area.type == "partition":
        zram = path.startswith("/dev/zram")
        raise Refused(
            f"{path} is an active {'zram device' if zram else 'swap partition'}, not a swap file: resize "
            "remakes swap files only",
            hint="use 'swapctl zram resize' for zram"
            if zram
            else "resize the partition with your partitioning tools, then mkswap and swapon it",
        )
    if target.area is None or target.st is None or not stat.S_ISREG(target.st.st_mode):
        what = "does not exist" if target.st is None else "is not an active swap file"
        raise Refused(f"{path} {what}", hint=f"use 'swapctl create {q(path)} --size {size_text}' to make it")
    plan = Plan("resize", data={"path": path, "size": size, "old_size": target.st.st_size})
    if target.st.st_size == size:
        return plan
    fs = check_location(host, path, force=True)
    # The kernel refuses to rename or unlink an active swap file (EPERM), so the new area cannot be made
    # beside the old and moved into place. Instead a bridge area takes the old one's pages while the file
    # at PATH is remade: swap never shrinks below what is in use.
    bridge = f"{path}.swapctl-bridge"
    if host.lstat(bridge) is not None:
        raise Refused(f"{bridge} exists (left by an interrupted resize?)", hint="remove it, then try again")
    bridge_size = round_up_pages(max(target.area.used + (64 << 20), MIN_PAGES * host.page_size), host.page_size)
    bridge_size = min(bridge_size, size)
    check_space(host, bridge, bridge_size + max(size - target.st.st_size, 0))
    check_swapoff_fits(host, target.area, extra_swap=bridge_size - host.page_size)
    prio = area_priority(target.area)
    discard = running_discard(journal, path, target.entry)
    nocow = host.is_nocow(path)
    _add_make_steps(plan, bridge, bridge_size, fs, "auto", prio, discard)
    plan.add(SwapOff(path=path, priority=prio, discard=discard))
    plan.add(DeleteFile(path=path, size=target.st.st_size, nocow=nocow))
    _add_make_steps(plan, path, size, fs, "auto", prio, discard)
    plan.add(SwapOff(path=bridge, priority=prio, discard=discard))
    plan.add(DeleteFile(path=bridge, size=bridge_size, nocow=nocow))
    return plan
