"""File-system primitives with the safety swapctl promises: bounded reads of regular files only, atomic replace,
exclusive 0600 create, no symlinks."""

from __future__ import annotations

import fcntl
import os
import stat
import struct
from collections.abc import Callable
from pathlib import Path

from swapctl.core.errors import Refused

# What a file swapctl reads may hold at most: a config file (fstab, sysctl.d) is a few kB, the largest /proc
# file it reads (zoneinfo of 8 nodes x 256 CPUs) a few MB. A file past its cap is refused, not read.
CONFIG_LIMIT = 1 << 20
PROC_LIMIT = 64 << 20

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


class NotRegularFile(Refused):
    """Something swapctl reads as a file is not one (a FIFO would hang the read, /dev/zero never end it)."""


def check_regular(fd: int, shown: str) -> os.stat_result:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise NotRegularFile(
            f"{shown} is {kind}, not a regular file: swapctl does not read or write it", hint="put the real file there"
        )
    return st


def read_regular(path: Path, limit: int, shown: str | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. Opened O_NONBLOCK (a FIFO cannot hang the open) and
    checked after opening (no race with a swap for a device); anything else, or a larger file, is refused."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        check_regular(fd, shown or str(path))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise Refused(
            f"{shown or path} is larger than {limit >> 20} MiB: not a file swapctl expects there",
            hint="check what the file is",
        )
    return b"".join(chunks)


def read_head(path: Path, size: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        check_regular(fd, str(path))
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def all_zeros(path: Path, chunk: int = 8 << 20) -> bool:
    """Only zeros in the file: its data regions read (SEEK_DATA/SEEK_HOLE skip the holes), a byte at a time
    compared by bytes.count, stopping at the first one that is not zero."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        size = check_regular(fd, str(path)).st_size
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break  # ENXIO: only a hole after pos
            end = os.lseek(fd, start, os.SEEK_HOLE)
            while start < end:
                data = os.pread(fd, min(chunk, end - start), start)
                if not data:
                    break
                if data.count(0) != len(data):
                    return False
                start += len(data)
            pos = end
        return True
    finally:
        os.close(fd)


def write_regular(path: Path, data: bytes, shown: str | None = None) -> None:
    """One write(2) to an existing regular file (a /proc/sys value: procfs cannot rename); never to a FIFO or a
    device that a --root tree holds in its place."""
    # O_TRUNC as a shell's `>` has it: procfs ignores it, a tree's plain file needs it.
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        check_regular(fd, shown or str(path))
        os.write(fd, data)
    finally:
        os.close(fd)


# linux/fs.h: the inode flags ioctl and the no-copy-on-write flag btrfs needs for a swapfile.
FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_NOCOW_FL = 0x00800000
FS_COMPR_FL = 0x00000004


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write a temp file in the same directory, fsync, rename over: readers see old bytes or new, never a mix."""
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
    _remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.swapctl-{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


def _remove_stale_temps(path: Path) -> None:
    """A swapctl killed between writing its temp file and the rename leaves .NAME.swapctl-PID.tmp beside the
    file; the next edit removes those whose writer is gone (the real file was never touched)."""
    for tmp in path.parent.glob(f".{path.name}.swapctl-*.tmp"):
        pid = tmp.name[len(path.name) + 10 : -4]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        if not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def create_exclusive(path: Path, mode: int = 0o600) -> None:
    """Create an empty file that did not exist, with its final mode from the first instant; never via a link."""
    old = os.umask(0o077)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    finally:
        os.umask(old)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _open_nofollow(path: Path, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC)


def _flags(fd: int) -> int:
    return struct.unpack("l", fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("l", 0)))[0]


def get_inode_flags(path: Path) -> int:
    fd = _open_nofollow(path, os.O_RDONLY)
    try:
        return _flags(fd)
    finally:
        os.close(fd)


def set_nocow(path: Path) -> None:
    """chattr +C: btrfs honours it only while the file is still empty."""
    fd = _open_nofollow(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("l", (_flags(fd) | FS_NOCOW_FL) & ~FS_COMPR_FL))
    finally:
        os.close(fd)


def fallocate(path: Path, size: int) -> None:
    """Reserve real blocks (no holes). Raises OSError(EOPNOTSUPP) where the filesystem cannot."""
    fd = _open_nofollow(path, os.O_WRONLY)
    try:
        os.posix_fallocate(fd, 0, size)
        os.fsync(fd)
    finally:
        os.close(fd)


ZERO_FILL_LAG = 64 << 20  # how far behind the writes zero_fill drops the file's pages from the cache


def zero_fill(path: Path, size: int, progress: Callable[[int], None] | None = None, chunk: int = 8 << 20) -> None:
    """Write zeros over the whole file (works on every filesystem that can hold swap)."""
    fd = _open_nofollow(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, 0)
        # A memoryview slices without copying (a bytes slice would copy 8 MiB per write); 8 MiB per write
        # keeps the syscall count low.
        zeros = memoryview(bytes(chunk))
        written = dropped = 0
        while written < size:
            n = os.write(fd, zeros[: min(chunk, size - written)])
            written += n
            if written - dropped >= ZERO_FILL_LAG + chunk:
                # DONTNEED starts writeback of what is still dirty and drops what is already clean: the disk
                # works while we write (faster than dd, which leaves it all to the final fsync: bench/run.py),
                # and a gigabyte of dirty zeros does not evict the machine's working set or stall its other
                # writers at the dirty limit.
                os.posix_fadvise(fd, dropped, chunk, os.POSIX_FADV_DONTNEED)
                dropped += chunk
            if progress:
                progress(written)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # all clean now: what was still in flight goes too
    finally:
        os.close(fd)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def unlink_if_exists(path: Path) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def read_swap_signature(path: Path, page_size: int) -> dict | None:
    """The swap header mkswap writes (linux/swap.h union swap_header): signature at the end of page 0,
    version and last_page after 1024 boot bytes. None when the file is not a swap area."""
    fd = _open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO in a tree must not hang the open
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
            return None
        head = os.pread(fd, page_size, 0)
    finally:
        os.close(fd)
    if len(head) < page_size or head[page_size - 10 :] != b"SWAPSPACE2":
        return None
    version, last_page = struct.unpack_from("<II", head, 1024)
    # sws_uuid[16] and sws_volume[16] follow version, last_page and nr_badpages (what blkid reads).
    raw_uuid, raw_label = head[1036:1052], head[1052:1068]
    uuid = raw_uuid.hex() if raw_uuid.strip(b"\0") else None
    if uuid:
        uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
    label = raw_label.split(b"\0", 1)[0].decode("utf-8", "replace") or None
    return {"version": version, "last_page": last_page, "page_size": page_size, "uuid": uuid, "label": label}
