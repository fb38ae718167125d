"""Swap files on real filesystems (issue 2): ext4, xfs and btrfs (NOCOW, and under compress=zstd) on loop
devices, and the refusals on overlayfs and tmpfs; every area, mount and loop device is gone afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import privileged
from tests.system.conftest import RealSwapctl, Workspace

pytestmark = [privileged, pytest.mark.privileged]

PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1 << 20
SBIN_PATH = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
DEPS = "scripts/install-test-deps installs it"


def tool(name: str, package: str) -> str:
    found = shutil.which(name, path=SBIN_PATH)
    if found is None:
        pytest.skip(f"{name} is not installed ({package}; {DEPS})")
    return found


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=120)


def kernel_has(fstype: str) -> bool:
    listed = {ln.split()[-1] for ln in Path("/proc/filesystems").read_text().splitlines() if ln.strip()}
    return fstype in listed or run("modprobe", "-q", fstype).returncode == 0


def loop_filesystem(work: Workspace, fstype: str, size_mib: int, mkfs: list[str], options: str = "") -> Path:
    """A fresh filesystem in a sparse image under the work dir, on its own loop device, mounted on a 0700
    directory; the work fixture swaps off, unmounts, detaches and deletes it all."""
    if not kernel_has(fstype):
        pytest.skip(f"this kernel cannot mount {fstype}")
    image = work.root / f"{fstype}.img"
    with open(image, "wb") as fh:
        fh.truncate(size_mib * MiB)
    r = run(tool("losetup", "util-linux"), "--find", "--show", str(image))
    assert r.returncode == 0, r.stderr
    device = r.stdout.strip()
    work.loops.append(device)
    r = run(*mkfs, device)
    assert r.returncode == 0, f"{' '.join(mkfs)}: {r.stderr}"
    mountpoint = work.mkdir(f"mnt-{fstype}")
    r = run("mount", "-t", fstype, *(["-o", options] if options else []), device, str(mountpoint))
    assert r.returncode == 0, f"mount {fstype}: {r.stderr}"
    os.chmod(mountpoint, 0o700)  # the filesystem's own root: root-owned and 0700, as swapctl wants
    return mountpoint


def lsattr_flags(path: Path) -> str:
    r = run(tool("lsattr", "e2fsprogs"), "-d", str(path))
    assert r.returncode == 0, r.stderr
    return r.stdout.split()[0]


def extents(path: Path) -> list[str]:
    """The flags of each extent, from filefrag -v (e.g. "unwritten", "last,eof")."""
    r = run(tool("filefrag", "e2fsprogs"), "-v", str(path))
    assert r.returncode == 0, r.stderr
    rows = [ln for ln in r.stdout.splitlines() if ln.strip()[:1].isdigit() and ":" in ln]
    return [ln.split(":")[-1].strip() if ln.count(":") >= 4 else "" for ln in rows]


def create_and_check(
    swapctl: RealSwapctl, work: Workspace, path: Path, fstype: str, *extra: str, exact: bool = True
) -> dict:
    r, doc = swapctl.json("create", str(path), "--size", "32M", "--no-persist", *extra)
    assert r.returncode == 0, str(r)
    assert doc["changed"] is True and doc["data"]["filesystem"] == fstype
    area = work.swaps().get(str(path))
    assert area is not None, f"{path} is not active"
    assert area["type"] == "file"
    # The kernel counts the pages after the header; with blocks smaller than a page it also drops the pages
    # that straddle unaligned extents, so there it can only be at most that.
    if exact:
        assert area["size_kib"] * 1024 == 32 * MiB - PAGE
    else:
        assert 16 * MiB < area["size_kib"] * 1024 <= 32 * MiB - PAGE
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600) and os.stat(path).st_size == 32 * MiB
    r, again = swapctl.json("create", str(path), "--size", "32M", "--no-persist", *extra)
    assert r.returncode == 0 and again["changed"] is False, f"a second create was not a no-op: {r}"
    return doc


def remove_and_check(swapctl: RealSwapctl, work: Workspace, path: Path) -> None:
    r = swapctl("remove", str(path))
    assert r.returncode == 0, str(r)
    assert str(path) not in work.swaps() and not path.exists()


# --- filesystems that hold swap ----------------------------------------------------------------------


@pytest.mark.parametrize("block", [4096, 1024], ids=["4k-blocks", "1k-blocks"])
def test_a_swap_file_on_ext4_is_fallocated_works_and_is_created_idempotently(
    swapctl: RealSwapctl, work: Workspace, block: int
) -> None:
    # mke2fs picks 1 KiB blocks for small filesystems ("small" in mke2fs.conf): extents need not be
    # page-aligned there, and the kernel then counts fewer pages than the file holds.
    mnt = loop_filesystem(work, "ext4", 128, [tool("mkfs.ext4", "e2fsprogs"), "-q", "-F", "-b", str(block)])
    path = mnt / "swapfile"
    create_and_check(swapctl, work, path, "ext4", exact=block >= PAGE)
    # fallocate, not zeros: all but the header page mkswap wrote are still unwritten extents.
    assert any("unwritten" in flags for flags in extents(path))
    remove_and_check(swapctl, work, path)


def test_a_swap_file_on_xfs_is_fallocated_and_works(swapctl: RealSwapctl, work: Workspace) -> None:
    mnt = loop_filesystem(work, "xfs", 300, [tool("mkfs.xfs", "xfsprogs"), "-q", "-f"])
    path = mnt / "swapfile"
    create_and_check(swapctl, work, path, "xfs")
    assert any("unwritten" in flags for flags in extents(path))
    remove_and_check(swapctl, work, path)


def test_method_zero_writes_every_block_and_works(swapctl: RealSwapctl, work: Workspace) -> None:
    mnt = loop_filesystem(work, "xfs", 300, [tool("mkfs.xfs", "xfsprogs"), "-q", "-f"])
    path = mnt / "zeroed"
    doc = create_and_check(swapctl, work, path, "xfs", "--method", "zero")
    assert "writing zeros" in doc["actions"][1]["description"]
    flags = extents(path)
    assert flags and not any("unwritten" in f for f in flags), flags
    assert os.stat(path).st_blocks * 512 >= 32 * MiB  # no holes either
    remove_and_check(swapctl, work, path)


@pytest.mark.parametrize("options", ["", "compress=zstd"], ids=["plain", "compress-zstd"])
def test_a_swap_file_on_btrfs_is_made_nocow_and_works(swapctl: RealSwapctl, work: Workspace, options: str) -> None:
    mnt = loop_filesystem(work, "btrfs", 300, [tool("mkfs.btrfs", "btrfs-progs"), "-q", "-f"], options)
    path = mnt / "swapfile"
    doc = create_and_check(swapctl, work, path, "btrfs")
    assert "NOCOW" in doc["actions"][0]["description"]
    flags = lsattr_flags(path)
    assert "C" in flags, f"lsattr shows {flags}: the file is not NOCOW"
    assert "c" not in flags, f"lsattr shows {flags}: the file is marked for compression"
    remove_and_check(swapctl, work, path)


def test_a_copy_on_write_swap_file_on_btrfs_fails_with_the_kernel_reason(swapctl: RealSwapctl, work: Workspace) -> None:
    mnt = loop_filesystem(work, "btrfs", 300, [tool("mkfs.btrfs", "btrfs-progs"), "-q", "-f"])
    path = mnt / "cow"
    # Made by hand without NOCOW: a valid swap header, so create only tries swapon, which the kernel refuses.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.posix_fallocate(fd, 0, 32 * MiB)
    os.close(fd)
    assert run(tool("mkswap", "util-linux"), "-q", str(path)).returncode == 0
    assert "C" not in lsattr_flags(path)
    r, doc = swapctl.json("create", str(path), "--size", "32M", "--no-persist")
    assert r.returncode == 1, str(r)
    message = doc["error"]["message"]
    assert "Invalid argument" in message and "kernel: " in message, message
    assert "swapfile must not be copy-on-write" in message, message  # btrfs's own line, from the kernel log
    assert str(path) not in work.swaps() and path.exists()


# --- filesystems that cannot ---------------------------------------------------------------------------


def test_overlayfs_is_refused_with_exit_3_and_a_reason(swapctl: RealSwapctl, work: Workspace) -> None:
    if not kernel_has("overlay"):
        pytest.skip("this kernel has no overlayfs")
    lower, upper, scratch, mnt = (work.mkdir(n) for n in ("lower", "upper", "ovl-work", "ovl"))
    r = run("mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={scratch}", str(mnt))
    assert r.returncode == 0, r.stderr
    r = swapctl("create", str(mnt / "swapfile"), "--size", "16M", "--no-persist")
    assert r.returncode == 3, str(r)
    assert r.stderr.startswith("swapctl: error: ") and "overlay" in r.stderr and "hint: " in r.stderr
    assert os.listdir(mnt) == [] and os.listdir(upper) == []
    assert not work.swaps()


def test_tmpfs_is_refused_with_exit_3_and_a_reason(swapctl: RealSwapctl, work: Workspace) -> None:
    mnt = work.mkdir("tmpfs")
    r = run("mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "systest", str(mnt))
    assert r.returncode == 0, r.stderr
    r = swapctl("create", str(mnt / "swapfile"), "--size", "16M", "--no-persist")
    assert r.returncode == 3, str(r)
    assert "tmpfs" in r.stderr and "cannot hold swap" in r.stderr
    assert os.listdir(mnt) == [] and not work.swaps()
