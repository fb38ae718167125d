"""Host: the one object through which swapctl sees and changes a machine (paths under --root, a runner).

Every method takes the machine's own path ("/etc/fstab"), never a joined one: the Host resolves it under the
root (links followed inside the tree) and bounds what it reads."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swapctl.core.errors import Refused
from swapctl.kernel.procsys import INT_MAX, INT_MIN
from swapctl.system import files, paths, procfs, signals
from swapctl.system.paths import SysPaths
from swapctl.system.runner import Runner

# The largest value a kernel counter or size can hold (unsigned long on 64-bit), and an int sysctl's range.
ULONG_MAX = (1 << 64) - 1


class MachineFileError(Refused):
    """A file of the machine (or of a --root tree) holds what the kernel never writes there."""


class Host:
    def __init__(
        self,
        paths: SysPaths | None = None,
        runner: Runner | None = None,
        uid: int | None = None,
        page_size: int | None = None,
        progress: Callable[[str, int], Any] | None = None,
        live: bool | None = None,
    ) -> None:
        self.paths = paths if paths is not None else SysPaths()
        # at_root: the files are this machine's own (root "/"): paths are shown as they are and the kernel
        # resolves links. live: a kernel stands behind the files, so swapon, swapoff and a load in a cgroup act
        # on them. Both hold for the running machine, neither for a --root tree (a snapshot, an image); a test
        # tree whose fake runner plays the kernel is live without being at the root.
        self.at_root = os.path.realpath(self.paths.root) == "/"
        self.live = self.at_root if live is None else live
        self.runner = runner if runner is not None else Runner(live=self.live)
        self.uid = uid if uid is not None else os.geteuid()
        self.page_size = page_size if page_size is not None else os.sysconf("SC_PAGE_SIZE")
        # Set by the CLI on a terminal (table output only): progress(label, total bytes) -> a bar with
        # update(done) and close().
        self.progress = progress

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    def require_live(self, what: str) -> None:
        """Refuse (exit 3) what only the running kernel can do (swapon, swapoff, a load in a cgroup) when the
        files are a --root tree: a test tree or an image, whose swap file the live kernel would really use."""
        if not self.live:
            raise Refused(
                f"{what}: --root {self.paths.root} is a file tree, not the running machine",
                hint="run it on the machine itself, without --root",
            )

    def signals_held(self):
        """A context in which SIGINT/SIGTERM wait (undo and cleanup run to the end; see system/signals.py)."""
        return signals.held()

    # --- where things are --------------------------------------------------------------------------------
    def real(self, path: str, *, follow: bool = True) -> Path:
        return self.paths.real(path, follow=follow)

    def shown(self, path: str) -> str:
        """A path as a message shows it: the machine's own, or under --root the file in the tree."""
        return path if self.at_root else str(self.paths.root / path.lstrip("/"))

    # --- reading -----------------------------------------------------------------------------------------
    def read_bytes(self, path: str, *, limit: int = files.PROC_LIMIT) -> bytes:
        """A regular file's bytes, at most `limit` (FileNotFoundError when absent; a FIFO, a device, a
        directory or a larger file is refused with a message naming it)."""
        return files.read_regular(self.real(path), limit, self.shown(path))

    def read_text(self, path: str, *, limit: int = files.PROC_LIMIT) -> str:
        return self.read_bytes(path, limit=limit).decode("utf-8", "surrogateescape")

    def read_bytes_or_none(self, path: str) -> bytes | None:
        """A config file's bytes, None when it is not there (nor under a file, nor through a link loop)."""
        try:
            return self.read_bytes(path, limit=files.CONFIG_LIMIT)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read_text_or_none(self, path: str) -> str | None:
        """A config file's text as written (bytes that are not UTF-8 survive a round trip), None if absent."""
        data = self.read_bytes_or_none(path)
        return None if data is None else data.decode("utf-8", "surrogateescape")

    def lstat(self, path: str) -> os.stat_result | None:
        """None when nothing is there, including under a file (ENOTDIR) or through a link loop (ELOOP)."""
        try:
            return os.lstat(self.real(path, follow=False))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return None
            raise

    def stat(self, path: str) -> os.stat_result | None:
        """As lstat, with a last link followed (inside the root)."""
        try:
            return os.stat(self.real(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return None
            raise

    def is_symlink(self, path: str) -> bool:
        st = self.lstat(path)
        return st is not None and stat.S_ISLNK(st.st_mode)

    def is_dir(self, path: str) -> bool:
        st = self.stat(path)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def resolve(self, path: str) -> str:
        """The in-machine path a chain of links at `path` ends at (resolved inside the root)."""
        if self.at_root:
            return os.path.realpath(path)
        return self.paths.inside(self.real(path))

    def list_dir(self, path: str) -> list[str] | None:
        """Entry names of an in-machine directory, or None when it does not exist (or is not one)."""
        try:
            return os.listdir(self.real(path))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def readlink(self, path: str) -> str | None:
        """The target of an in-machine symbolic link as written in it, or None when path is not a link."""
        try:
            return os.readlink(self.real(path, follow=False))
        except OSError:
            return None

    def has_symlink_in(self, path: str) -> bool:
        """Whether any component of an in-machine directory path is a symbolic link."""
        current = ""
        for part in [p for p in path.split("/") if p]:
            current += "/" + part
            if self.is_symlink(current):
                return True
        return False

    def owned_by_root_or_self(self, st: os.stat_result) -> bool:
        return st.st_uid in (0, os.geteuid())

    # --- the machine's state, read ---------------------------------------------------------------------------
    def boot_id(self) -> str:
        try:
            return self.read_text(paths.BOOT_ID).strip()
        except OSError:
            return ""

    def kernel_release(self) -> str:
        try:
            return self.read_text(paths.OSRELEASE).strip()
        except OSError:
            return os.uname().release if self.at_root else ""

    def swaps(self) -> list[procfs.SwapArea]:
        try:
            return procfs.parse_swaps(self.read_text(paths.SWAPS))
        except FileNotFoundError:
            return []
        except ValueError as exc:
            raise MachineFileError(f"{self.shown(paths.SWAPS)}: {exc}") from None

    def zoneinfo(self) -> list:
        """/proc/zoneinfo parsed (FileNotFoundError when absent, ZoneinfoError when malformed)."""
        from swapctl.system.zoneinfo import parse_zoneinfo

        return parse_zoneinfo(self.read_text(paths.ZONEINFO))

    def meminfo(self, path: str = paths.MEMINFO) -> dict[str, int]:
        try:
            return procfs.parse_meminfo(self.read_text(path))
        except ValueError as exc:
            raise MachineFileError(f"{self.shown(path)}: {exc}") from None

    def vm_value(self, name: str) -> int | None:
        """The runtime value of /proc/sys/vm/<name>; None when this kernel has no such file."""
        path = paths.vm_sysctl(name)
        try:
            text = self.read_text(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return procfs.parse_int(text.split()[0] if text.split() else "", INT_MIN, INT_MAX)
        except ValueError:
            raise MachineFileError(
                f"{self.shown(path)} holds {text.strip()[:40]!r}, not an integer the kernel would show"
            ) from None

    def vm_values(self, name: str) -> list[int] | None:
        """A vector sysctl (lowmem_reserve_ratio); None when absent or not a list of ints."""
        try:
            return [procfs.parse_int(x, INT_MIN, INT_MAX) for x in self.read_text(paths.vm_sysctl(name)).split()]
        except (OSError, ValueError):
            return None

    def mount_of(self, path: str) -> procfs.Mount | None:
        try:
            mounts = procfs.parse_mountinfo(self.read_text(paths.MOUNTINFO))
        except FileNotFoundError:
            return None
        return procfs.mount_for(path, mounts)

    def free_bytes(self, path: str) -> int:
        return files.free_bytes(self.real(path))

    def total_bytes(self, path: str) -> int:
        st = os.statvfs(self.real(path))
        return st.f_blocks * st.f_frsize

    def is_nocow(self, path: str) -> bool:
        return bool((self.inode_flags(path) or 0) & files.FS_NOCOW_FL)

    def swap_signature(self, path: str) -> dict | None:
        try:
            return files.read_swap_signature(self.real(path, follow=False), self.page_size)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def all_zeros(self, path: str) -> bool:
        """Whether a regular file (not through a link) holds only zeros (holes skipped, not read)."""
        return files.all_zeros(self.real(path, follow=False))

    def head(self, path: str, size: int = 4096) -> bytes:
        """The first bytes of a regular file (not through a link), without reading the rest."""
        return files.read_head(self.real(path, follow=False), size)

    def inode_flags(self, path: str) -> int | None:
        try:
            return files.get_inode_flags(self.real(path, follow=False))
        except OSError:
            return None

    # --- writing -----------------------------------------------------------------------------------------
    def write_atomic(self, path: str, data: bytes, *, mode: int | None = None) -> None:
        """Replace the file at path (not through a link there: callers resolve links they mean to follow)."""
        files.atomic_write(self.real(path, follow=False), data, mode=mode)

    def write_sysctl(self, path: str, value: str) -> None:
        """A /proc/sys write: one write(2), no temp file (procfs cannot rename)."""
        files.write_regular(self.real(path), value.encode("ascii"), self.shown(path))

    def create_exclusive(self, path: str, mode: int = 0o600) -> None:
        files.create_exclusive(self.real(path, follow=False), mode)

    def set_nocow(self, path: str) -> None:
        files.set_nocow(self.real(path, follow=False))

    def fallocate(self, path: str, size: int) -> None:
        files.fallocate(self.real(path, follow=False), size)

    def zero_fill(self, path: str, size: int) -> None:
        bar = self.progress(f"writing zeros to {path}", size) if self.progress else None
        try:
            files.zero_fill(self.real(path, follow=False), size, bar.update if bar else None)
        finally:
            if bar:
                bar.close()  # before any error is printed: a Ctrl-C must not leave the bar drawn below it

    def swapoff(self, path: str) -> Any:
        """Run swapoff on an area; on a terminal a bar shows its used pages coming back into memory (read from
        /proc/swaps as it goes: swapoff of gigabytes takes minutes)."""
        argv = ["swapoff", str(self.real(path))]
        area = next((a for a in self.swaps() if a.path == path), None)
        if not self.progress or area is None or area.used == 0:
            return self.runner.run(argv)
        bar = self.progress(f"swapoff {path}: paging back in", area.used)

        def watch() -> None:
            now = next((a for a in self.swaps() if a.path == path), None)
            bar.update(area.used - (now.used if now is not None else 0))

        try:
            return self.runner.run(argv, watch=watch)
        finally:
            bar.close()

    def unlink(self, path: str) -> bool:
        return files.unlink_if_exists(self.real(path, follow=False))

    def rename(self, src: str, dst: str) -> None:
        os.replace(self.real(src, follow=False), self.real(dst, follow=False))
        files.fsync_dir(self.real(dst, follow=False).parent)

    def makedirs(self, path: str, mode: int = 0o755) -> None:
        self.real(path).mkdir(mode=mode, parents=True, exist_ok=True)

    def remove_dir_if_empty(self, path: str) -> None:
        try:
            os.rmdir(self.real(path, follow=False))
        except OSError:
            pass  # gone already, or someone put files in it since: theirs now

    # --- memory cgroups and the stress worker (swapctl stress) ---------------------------------------------
    def memory_controller(self):
        """Where the memory cgroup controller is mounted (v1 or v2), or None without one."""
        from swapctl.system import cgroup

        try:
            mounts = procfs.parse_mountinfo(self.read_text(paths.MOUNTINFO))
        except OSError:
            return None
        return cgroup.detect(mounts, self.real)

    def stale_stress_cgroups(self, controller) -> list:
        from swapctl.system import cgroup

        return cgroup.stale_groups(controller)

    def create_stress_cgroup(self, controller, limit: int, swap_allowance: int | None):
        from swapctl.system import cgroup

        return cgroup.TransientCgroup.create(controller, limit, swap_allowance)

    def spawn_stress_worker(self, **kwargs):
        from swapctl.system.stress_worker import WorkerProcess

        return WorkerProcess.spawn(**kwargs)


class ReadOnce(Host):
    """The same machine, with each file read at most once: a second read of a path gets the bytes (or the error)
    of the first. A diagnosis (`swapctl doctor`) asks several readers about one machine, and some look at the
    same file (meminfo, vmstat, the node lists): this way they all decide from one reading. `fresh` is the Host
    underneath, for a reading that must be taken again on purpose (vmstat a second time, for rates)."""

    def __init__(self, host: Host) -> None:
        self.__dict__.update(host.__dict__)
        self.fresh = host
        self._memo: dict[str, tuple[int, bytes | OSError]] = {}

    def read_bytes(self, path: str, *, limit: int = files.PROC_LIMIT) -> bytes:
        got = self._memo.get(path)
        if got is None or got[0] != limit:  # another bound is another question (rare: read it again)
            try:
                data = super().read_bytes(path, limit=limit)
            except OSError as exc:
                self._memo[path] = (limit, exc)
                raise
            self._memo[path] = (limit, data)
            return data
        if isinstance(got[1], OSError):
            raise got[1]
        return got[1]
