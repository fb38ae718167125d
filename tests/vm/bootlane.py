"""The boot lane: a real Debian bookworm userland booted by systemd under QEMU on the lane's Debian kernels.

What is cached under CACHE (built once, rebuilt only when its recipe changes, always built under a temporary
name and renamed into place, so an interrupted build never leaves a broken entry behind):

- images/<variant>-<recipe>.img: a raw ext4 root filesystem made by debootstrap (minbase) plus systemd, udev and
  python3, with the lane's agent in it; "zram" adds systemd-zram-generator; "sysv" has sysvinit (sysvinit-core,
  initscripts) as init instead of systemd, and udev started by /etc/init.d/udev. Tests never write to it: each
  Machine boots a throwaway qcow2 overlay backed by it.
- bootlane/modules/<release>-<recipe>/lib/modules/<release>: the kernel's modules the guest may modprobe (zram,
  its compressors, loop, btrfs, xfs, ...), depmod'ed, shared read-only over 9p and mounted at /usr/lib/modules
  by the initramfs, so one image serves every kernel (the image holds no modules of its own).
- bootlane/initramfs-<release>-<recipe>.cpio: static busybox and the modules needed to mount the root (virtio,
  ext4, 9p); it mounts the overlay (/dev/vda) read-only, mounts the modules share and switch_roots to systemd.
- bootlane/swapctl/<sources>-<kind>/: swapctl and its pure-Python dependencies (pip install --target into lib/,
  or one swapctl.pyz zipapp: PAYLOAD), shared read-only over 9p at /opt/swapctl; /usr/local/bin/swapctl runs
  whichever it finds on the guest's own /usr/bin/python3.
- bootlane/vmlinux-<release>: the ELF kernel inside the package's bzImage, booted through its PVH entry.

Control channel: a third 9p share per boot (/run/vmxfer in the guest), read by swapctl-vm-agent.service, which
starts after multi-user.target (in the sysv image: an /etc/inittab respawn entry after rc 2, which mounts both
shares itself), says "ready" and runs the host's commands one by one as root (cmd.N -> out.N, err.N, rc.N). A
boot that fails before the agent says ready (panic, Oops, hang, QEMU dying) is retried at most twice on the disk
as it was before that boot; nothing is retried once the agent has run a command.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import lzma
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import zipapp
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.vm import harness
from tests.vm.harness import CACHE, QEMU, REPO, Kernel, Result, Unavailable

SUITE = "bookworm"
MIRROR = os.environ.get("SWAPCTL_VM_MIRROR", "http://deb.debian.org/debian")
# Bump when the build below changes in a way the recipe's data does not show.
BUILD_VERSION = 1
# What systemd needs to boot to multi-user.target on a serial console (bash, mount, ... come with minbase);
# kmod for modprobe, procps for sysctl and free, e2fsprogs for mkfs/e2fsck in scenarios.
PACKAGES = ("systemd", "systemd-sysv", "udev", "util-linux", "procps", "python3", "kmod", "e2fsprogs")
VARIANTS: dict[str, tuple[str, ...]] = {"base": (), "zram": ("systemd-zram-generator",)}
# "sysv": the same userland booted by Debian's sysvinit instead (its /sbin/init, rcS and runlevel 2), with udev
# started by its own /etc/init.d/udev. Not a VARIANTS entry: its recipe is its own (SYSV_* below), so that
# nothing of it enters the hashes of the systemd images cached on CI. udev needs no systemd in bookworm, so
# none is installed (no systemctl: Guest.poweroff uses sysvinit's own).
SYSV = "sysv"
SYSV_BUILD_VERSION = 2
SYSV_PACKAGES = (
    "sysvinit-core",
    "initscripts",
    "sysv-rc",
    "udev",
    "util-linux",
    "procps",
    "python3",
    "kmod",
    "e2fsprogs",
)
IMAGE_MIB = 3072  # the root filesystem's size; sparse on the host, so only what is used takes space

IMAGES = CACHE / "images"
WORK = CACHE / "bootlane"
DEBS = WORK / "debs"  # debootstrap's --cache-dir: a second variant or a rebuild downloads nothing again
BUILD = WORK / "build"

# Units that only cost boot time in a throwaway test guest with no network, no login and no time to wait.
# Never mask here what the lane exists to test: systemd-sysctl, systemd-fstab-generator, swap.target and
# swap units, systemd-tmpfiles-setup, systemd-modules-load, the zram generator and systemd-zram-setup@.
MASKED = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "systemd-tmpfiles-clean.timer",
    "getty.target",
    "getty@.service",
    "serial-getty@.service",
    "getty-static.service",
    "console-getty.service",
    # would prompt on the console (and so hang the boot) if /etc/machine-id were ever left uninitialized
    "systemd-firstboot.service",
    "systemd-pstore.service",
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
    "sys-fs-fuse-connections.mount",  # (debugfs stays: zswap's counters are in /sys/kernel/debug/zswap)
    "systemd-pcrphase.service",
    "systemd-pcrphase-sysinit.service",
    "systemd-repart.service",
    "remote-fs.target",
    "systemd-ask-password-wall.path",
    "systemd-ask-password-console.path",
    # on the way to multi-user.target, for logins and utmp records that no test guest has
    "systemd-user-sessions.service",
    "systemd-update-utmp.service",
    "systemd-update-utmp-runlevel.service",
)

# Modules a guest may load (with their dependencies): zram and what it compresses with, zswap's pools and
# compressors (zswap itself is built in), loop and the filesystems a swap file may live on, and what the
# initramfs loads (so modprobe in the guest knows them too). Anything not listed is not there to modprobe.
GUEST_MODULES = (
    "zram",
    "zsmalloc",
    "zbud",
    "z3fold",
    "lz4",
    "lz4hc",
    "lzo",
    "lzo_rle",
    "zstd",
    "842",
    "deflate",
    "loop",
    "ext4",
    "btrfs",
    "xfs",
    "configs",
    "autofs4",
    *harness.WANTED_MODULES,
)
MODULE_FILES = ("modules.builtin", "modules.builtin.modinfo", "modules.order")

XFER_MOUNT = "/run/vmxfer"
SWAPCTL_MOUNT = "/opt/swapctl"

# ---- what goes into the image --------------------------------------------------------------------------

AGENT = r'''"""swapctl test lane agent: runs the host's commands from the 9p share one by one, as root."""
import json
import lzma
import os
import signal
import subprocess
import sys
import time

XFER = sys.argv[1]
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
       "LC_ALL": "C.UTF-8", "COLUMNS": "200", "TERM": "dumb"}


def put(name, text):
    # rename makes the host see a whole file or none
    tmp = os.path.join(XFER, "." + name)
    with open(tmp, "w") as fh:
        fh.write(text)
    os.rename(tmp, os.path.join(XFER, name))


def child_setup():
    # The agent is shielded from the OOM killer (a test may exhaust memory); the commands it runs are not.
    with open("/proc/self/oom_score_adj", "w") as fh:
        fh.write("0")
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def main():
    with open("/proc/uptime") as fh:
        uptime = float(fh.read().split()[0])
    with open("/proc/sys/kernel/random/boot_id") as fh:
        boot_id = fh.read().strip()
    put("ready", json.dumps({"uptime": uptime, "boot_id": boot_id, "release": os.uname().release}) + "\n")
    print(f"swapctl-vm-agent: ready after {uptime:.2f}s of uptime", flush=True)
    i = 0
    while True:
        cmd = os.path.join(XFER, f"cmd.{i}")
        if not os.path.exists(cmd):
            time.sleep(0.02)
            continue
        with open(os.path.join(XFER, f"out.{i}"), "wb") as out, open(os.path.join(XFER, f"err.{i}"), "wb") as err:
            rc = subprocess.call(["/bin/sh", cmd], stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=ENV,
                                 cwd="/root", preexec_fn=child_setup, start_new_session=True)
        put(f"rc.{i}", f"{rc if rc >= 0 else 128 - rc}\n")
        i += 1


if __name__ == "__main__":
    sys.exit(main())
'''

AGENT_UNIT = f"""[Unit]
Description=swapctl test lane agent (runs the host's commands as root)
# Ready means booted: the agent starts once multi-user.target is reached.
After=multi-user.target opt-swapctl.mount
Wants=opt-swapctl.mount
RequiresMountsFor={XFER_MOUNT}

[Service]
ExecStart=/usr/bin/python3 -u /usr/local/lib/swapctl-vm/agent.py {XFER_MOUNT}
OOMScoreAdjust=-1000

[Install]
WantedBy=multi-user.target
"""

XFER_UNIT = f"""[Unit]
Description=swapctl test lane: the host's command share

[Mount]
What=vmxfer
Where={XFER_MOUNT}
Type=9p
Options=trans=virtio,version=9p2000.L,msize=262144
"""

SWAPCTL_UNIT = f"""[Unit]
Description=swapctl test lane: swapctl from the host's checkout (read-only)

[Mount]
What=swapctl
Where={SWAPCTL_MOUNT}
Type=9p
Options=ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose
"""

# The guest's own python3 runs swapctl: a zipapp when the share holds one, else the pip --target directory.
WRAPPER = f"""#!/bin/sh
# swapctl from the host's checkout on this guest's own python3 (tests/vm/bootlane.py shares it read-only)
if [ -f {SWAPCTL_MOUNT}/swapctl.pyz ]; then
  exec /usr/bin/python3 {SWAPCTL_MOUNT}/swapctl.pyz "$@"
fi
PYTHONPATH={SWAPCTL_MOUNT}/lib${{PYTHONPATH:+:$PYTHONPATH}} exec /usr/bin/python3 -m swapctl "$@"
"""

# The sysv image's /etc/inittab: rcS, then runlevel 2, then the agent. init starts a runlevel's entries in this
# order and waits for each `wait` one, so the agent starts once rc 2 is done: ready means booted, as under
# systemd. No getty (no login on a test guest); the agent is not in runlevels 0 and 6, so init stops it first.
SYSV_INITTAB = """# /etc/inittab of a swapctl boot-lane guest (sysvinit)
id:2:initdefault:
si::sysinit:/etc/init.d/rcS
l0:0:wait:/etc/init.d/rc 0
l1:1:wait:/etc/init.d/rc 1
l2:2:wait:/etc/init.d/rc 2
l3:3:wait:/etc/init.d/rc 3
l4:4:wait:/etc/init.d/rc 4
l5:5:wait:/etc/init.d/rc 5
l6:6:wait:/etc/init.d/rc 6
ca:12345:ctrlaltdel:/sbin/shutdown -t1 -r now
ag:2345:respawn:/usr/local/lib/swapctl-vm/agent-start
"""

# What the systemd images' agent unit and mount units do, for init: the two shares, then the agent, shielded from
# the OOM killer (OOMScoreAdjust=-1000). Its output goes to init's /dev/console, the serial console.
SYSV_AGENT_START = f"""#!/bin/sh
# swapctl boot lane: started by init (/etc/inittab) once rc 2 is done
set -e
mkdir -p {XFER_MOUNT} {SWAPCTL_MOUNT}
mountpoint -q {XFER_MOUNT} || mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 vmxfer {XFER_MOUNT}
mountpoint -q {SWAPCTL_MOUNT} || \\
  mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose swapctl {SWAPCTL_MOUNT}
echo -1000 > /proc/self/oom_score_adj
exec /usr/bin/python3 -u /usr/local/lib/swapctl-vm/agent.py {XFER_MOUNT}
"""

# Pass 0: systemd-fsck-root would hold the read-write remount (and so local-fs.target) until udev has announced
# /dev/vda, seconds under TCG; after a power cut the kernel's ext4 journal replay is the recovery that matters.
FSTAB = """# /etc/fstab of a swapctl boot-lane guest
# <file system> <mount point> <type> <options> <dump> <pass>
/dev/vda / ext4 errors=remount-ro 0 0
"""

# A hung stop job must not hold a clean poweroff for systemd's default 90 s; the harness waits 120 s at most.
SYSTEM_CONF = "[Manager]\nDefaultTimeoutStopSec=20s\n"


def _recipe(variant: str) -> dict:
    if variant == SYSV:
        return {
            "build": SYSV_BUILD_VERSION,
            "suite": SUITE,
            "init": "sysvinit",
            "packages": sorted(SYSV_PACKAGES),
            "files": [AGENT, SYSV_INITTAB, SYSV_AGENT_START, WRAPPER, FSTAB],
            "mib": IMAGE_MIB,
        }
    return {
        "build": BUILD_VERSION,
        "suite": SUITE,
        "packages": sorted(PACKAGES + VARIANTS[variant]),
        "masked": sorted(MASKED),
        "files": [AGENT, AGENT_UNIT, XFER_UNIT, SWAPCTL_UNIT, WRAPPER, FSTAB, SYSTEM_CONF],
        "mib": IMAGE_MIB,
    }


def packages(variant: str) -> tuple[str, ...]:
    """What debootstrap installs (with their dependencies) for a variant."""
    return SYSV_PACKAGES if variant == SYSV else PACKAGES + VARIANTS[variant]


def init_of(variant: str) -> str:
    """What a variant's guests boot as init: "systemd" or "sysvinit"."""
    return "sysvinit" if variant == SYSV else "systemd"


def _tag(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def check_host() -> None:
    """Raise Unavailable unless this host can build and boot the lane's images."""
    if os.geteuid() != 0:
        raise Unavailable("needs root: debootstrap, and an image whose files belong to root")
    for tool, pkg in (
        (QEMU, "qemu-system-x86"),
        ("qemu-img", "qemu-utils"),
        ("debootstrap", "debootstrap"),
        ("mkfs.ext4", "e2fsprogs"),
        ("depmod", "kmod"),
    ):
        if not shutil.which(tool):
            raise Unavailable(f"{tool} not found (apt-get install -y {pkg}; scripts/install-test-deps does)")
    if not harness._busybox():
        raise Unavailable("static busybox not found (apt-get install -y busybox-static)")


@contextmanager
def _lock(name: str) -> Iterator[None]:
    """One builder at a time per cache (two pytest runs may start together)."""
    WORK.mkdir(parents=True, exist_ok=True)
    with open(WORK / f"{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def _remove_tree(path: Path) -> None:
    """Remove a build tree, first unmounting what a killed debootstrap left mounted in it (its /proc, /sys)."""
    if not path.exists():
        return
    for point in _mounts_under(path):
        _run(["umount", "-l", point])
    # --one-file-system: never descend into a mount that could not be unmounted (it could be the host's /dev)
    _run(["rm", "-rf", "--one-file-system", str(path)])


# ---- the image -------------------------------------------------------------------------------------------


@dataclass
class ImageInfo:
    path: Path
    build_seconds: float | None  # None: taken from the cache
    apparent_mib: int
    used_mib: int


def image(variant: str = "base") -> ImageInfo:
    """The cached root image of a variant, built first if its recipe changed (minutes: debootstrap)."""
    if variant not in VARIANTS and variant != SYSV:
        raise ValueError(f"unknown image variant {variant!r} (one of {', '.join([*VARIANTS, SYSV])})")
    out = IMAGES / f"{variant}-{_tag(_recipe(variant))}.img"
    seconds = None
    if not out.exists():
        with _lock("image"):
            if not out.exists():
                t0 = time.monotonic()
                _build_image(variant, out)
                seconds = time.monotonic() - t0
                print(f"bootlane: built {out} in {seconds:.0f}s", file=sys.stderr, flush=True)
    st = out.stat()
    return ImageInfo(out, seconds, st.st_size >> 20, (st.st_blocks * 512) >> 20)


def _build_image(variant: str, out: Path) -> None:
    check_host()
    for d in (IMAGES, DEBS, BUILD):
        d.mkdir(parents=True, exist_ok=True)
    # We hold the lock: whatever is in BUILD (or a .tmp image) was left by a build that was interrupted.
    for stale in BUILD.iterdir():
        _remove_tree(stale)
    for stale in IMAGES.glob(".*.img.tmp"):
        stale.unlink()
    work = BUILD / out.stem
    root = work / "root"
    work.mkdir()
    log = work.parent / f"{out.stem}.log"
    tmp_img = IMAGES / f".{out.name}.tmp"
    try:
        with open(log, "w") as fh:
            cp = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(packages(variant))}",
                    f"--cache-dir={DEBS}",
                    SUITE,
                    str(root),
                    MIRROR,
                ],
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=1500,
            )
        if cp.returncode:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise Unavailable(f"debootstrap {SUITE} from {MIRROR} failed (exit {cp.returncode}; log {log}):\n{tail}")
        if variant == SYSV:
            _customize_sysv(root)
        else:
            _customize(root)
        _slim(root)
        tmp_img.unlink(missing_ok=True)
        cp = _run(["mkfs.ext4", "-q", "-F", "-L", "swapctl-root", "-d", str(root), str(tmp_img), f"{IMAGE_MIB}M"])
        if cp.returncode:
            raise RuntimeError(f"mkfs.ext4 -d {root} failed: {cp.stderr.strip()}")
        os.fsync(os.open(tmp_img, os.O_RDONLY))
        tmp_img.rename(out)
    finally:
        tmp_img.unlink(missing_ok=True)
        _remove_tree(work)
    for stale in IMAGES.glob(f"{variant}-*.img"):
        if stale != out:
            stale.unlink(missing_ok=True)


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    p = root / rel.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    p.chmod(mode)


def _link(root: Path, rel: str, target: str) -> None:
    p = root / rel.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.is_symlink() or p.exists():
        p.unlink()
    p.symlink_to(target)


def _customize(root: Path) -> None:
    _write(root, "etc/fstab", FSTAB)
    _write(root, "etc/hostname", "swapctl-guest\n")
    _write(root, "etc/hosts", "127.0.0.1 localhost\n127.0.1.1 swapctl-guest\n::1 localhost ip6-localhost\n")
    _write(root, "etc/systemd/system.conf.d/swapctl-vm.conf", SYSTEM_CONF)
    _write(root, "usr/local/lib/swapctl-vm/agent.py", AGENT)
    _write(root, "usr/local/bin/swapctl", WRAPPER, 0o755)
    units = root / "etc/systemd/system"
    _write(root, "etc/systemd/system/swapctl-vm-agent.service", AGENT_UNIT)
    _write(root, "etc/systemd/system/run-vmxfer.mount", XFER_UNIT)
    _write(root, "etc/systemd/system/opt-swapctl.mount", SWAPCTL_UNIT)
    _link(
        root,
        "etc/systemd/system/multi-user.target.wants/swapctl-vm-agent.service",
        "/etc/systemd/system/swapctl-vm-agent.service",
    )
    for unit in MASKED:
        _link(root, f"etc/systemd/system/{unit}", "/dev/null")
    # Links that only pull in masked units: gone, so systemd does not log about each of them at every boot.
    for wants in units.glob("*.wants/*"):
        if wants.name in MASKED:
            wants.unlink()
    for d in ("usr/lib/modules", SWAPCTL_MOUNT.lstrip("/"), "root"):
        (root / d).mkdir(parents=True, exist_ok=True)
    # The machine id debootstrap's systemd made stays: an empty one would make every boot a "first boot".
    if not (root / "etc/machine-id").read_text().strip():
        raise RuntimeError("debootstrap left /etc/machine-id empty")


def _customize_sysv(root: Path) -> None:
    """The sysv image: the same fstab, agent and swapctl wrapper as the systemd ones, started by init."""
    init = root / "sbin/init"
    if init.is_symlink() or not init.is_file():
        raise RuntimeError(f"/sbin/init of the sysv image is not sysvinit's ({init} -> {os.path.realpath(init)})")
    for want in ("etc/init.d/udev", "etc/init.d/kmod", "lib/init/rcS"):  # (/etc/init.d/rcS links to /lib/init/rcS)
        if not (root / want).is_file():
            raise RuntimeError(f"the sysv image has no /{want}")
    if not list(root.glob("etc/rcS.d/S*udev")):
        raise RuntimeError("debootstrap left /etc/init.d/udev out of rcS (no /etc/rcS.d/S*udev)")
    _write(root, "etc/fstab", FSTAB)
    _write(root, "etc/hostname", "swapctl-guest\n")
    _write(root, "etc/hosts", "127.0.0.1 localhost\n127.0.1.1 swapctl-guest\n::1 localhost ip6-localhost\n")
    _write(root, "etc/inittab", SYSV_INITTAB)
    (root / "etc/inittab.d").mkdir(exist_ok=True)  # else init says at every boot that it found none
    # what checkroot.sh would migrate at the first boot of every overlay, saying so on the console each time
    _link(root, "etc/mtab", "/proc/mounts")
    _write(root, "usr/local/lib/swapctl-vm/agent.py", AGENT)
    _write(root, "usr/local/lib/swapctl-vm/agent-start", SYSV_AGENT_START, 0o755)
    _write(root, "usr/local/bin/swapctl", WRAPPER, 0o755)
    for d in ("usr/lib/modules", SWAPCTL_MOUNT.lstrip("/"), "root"):
        (root / d).mkdir(parents=True, exist_ok=True)


def _slim(root: Path) -> None:
    """Drop what a test guest never reads: apt's caches and lists, docs, man pages, translations, logs."""
    for pattern in (
        "var/cache/apt/archives/*.deb",
        "var/cache/apt/*.bin",
        "var/lib/apt/lists/*_*",
        "usr/share/doc/*",
        "usr/share/man/*",
        "usr/share/info/*",
        "usr/share/locale/*/",
        "usr/share/lintian/*",
        "var/log/*.log",
        "var/log/apt/*",
        "var/cache/debconf/*-old",
        "var/lib/dpkg/*-old",
    ):
        for p in root.glob(pattern):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    # systemd's ConditionNeedsUpdate= units (ldconfig, hwdb, sysusers, journal catalog) run when /usr is newer
    # than /etc/.updated: the build already did their work, so stamp /etc and /var as up to date.
    usr = root / "usr"
    now = int(time.time())
    os.utime(usr, (now, now))
    for d in ("etc", "var"):
        stamp = root / d / ".updated"
        stamp.write_text(f"# written by the swapctl boot-lane image build\nTIMESTAMP_NSEC={now * 10**9}\n")
        os.utime(stamp, (now, now))


# ---- per-kernel modules and initramfs --------------------------------------------------------------------


def _closure(moddir: Path, wanted: tuple[str, ...]) -> list[Path]:
    """The module files of `wanted` and their dependencies (names not found are built in)."""
    index = harness._module_index(moddir)
    seen: dict[str, Path] = {}

    def visit(name: str) -> None:
        if name in seen or name not in index:
            return
        seen[name] = index[name]
        for dep in harness._depends(harness._ko_bytes(index[name])):
            visit(dep)

    for name in wanted:
        visit(name)
    return sorted(seen.values())


def modules_tree(kernel: Kernel) -> Path:
    """A depmod'ed tree with the guest's modules for a kernel; the directory to share as /usr/lib/modules."""
    tag = _tag({"modules": sorted(GUEST_MODULES), "files": MODULE_FILES, "v": 1})
    out = WORK / "modules" / f"{kernel.release}-{tag}"
    if out.is_dir():
        return out / "lib" / "modules"
    with _lock("modules"):
        if out.is_dir():
            return out / "lib" / "modules"
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        dest = tmp / "lib" / "modules" / kernel.release
        for src in _closure(kernel.modules, GUEST_MODULES):
            target = dest / src.relative_to(kernel.modules)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
        for name in MODULE_FILES:
            if (kernel.modules / name).exists():
                shutil.copy2(kernel.modules / name, dest / name)
        cp = _run(["depmod", "-b", str(tmp), kernel.release])
        if cp.returncode:
            raise RuntimeError(f"depmod for {kernel.release} failed: {cp.stderr.strip()}")
        tmp.rename(out)
    for stale in (WORK / "modules").glob(f"{kernel.release}-*"):
        if stale != out and not stale.name.endswith(".tmp"):
            shutil.rmtree(stale, ignore_errors=True)
    return out / "lib" / "modules"


# Boot the ELF vmlinux inside Debian's bzImage through its PVH entry point: under TCG, QEMU's firmware path and
# the kernel's own xz decompression cost 3-7 s of every 6.1 boot (measured), the PVH entry none of it. The
# kernel is the same one, byte for byte; SWAPCTL_VM_PVH=0 boots the bzImage as the package ships it.
PVH = os.environ.get("SWAPCTL_VM_PVH", "1") != "0"
XEN_ELFNOTE_PHYS32_ENTRY = 18


def _has_pvh_entry(elf: bytes) -> bool:
    """Does this ELF64 kernel carry the Xen PHYS32_ENTRY note that QEMU's PVH boot looks for?"""
    if elf[:5] != b"\x7fELF\x02":
        return False
    phoff = int.from_bytes(elf[0x20:0x28], "little")
    phentsize = int.from_bytes(elf[0x36:0x38], "little")
    for i in range(int.from_bytes(elf[0x38:0x3A], "little")):
        ph = elf[phoff + i * phentsize : phoff + (i + 1) * phentsize]
        if int.from_bytes(ph[0:4], "little") != 4:  # PT_NOTE
            continue
        off, size = int.from_bytes(ph[8:16], "little"), int.from_bytes(ph[32:40], "little")
        pos = off
        while pos + 12 <= off + size:
            namesz, descsz, ntype = (int.from_bytes(elf[pos + k : pos + k + 4], "little") for k in (0, 4, 8))
            name = elf[pos + 12 : pos + 12 + namesz]
            if name == b"Xen\x00" and ntype == XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def _unpack(how: str, data: bytes) -> bytes:
    try:
        if how == "xz":
            return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
        if how == "gzip":
            return zlib.decompressobj(wbits=31).decompress(data)
        if how == "zstd" and shutil.which("zstd"):
            # a zstd frame followed by the rest of the bzImage: zstd -d stops at the frame's end
            cp = subprocess.run(["zstd", "-dcq"], input=data, capture_output=True, timeout=120)
            return cp.stdout
    except (lzma.LZMAError, zlib.error, subprocess.TimeoutExpired):
        pass
    return b""


def boot_kernel(kernel: Kernel) -> Path:
    """What QEMU's -kernel gets: the vmlinux unpacked from the bzImage when it has a PVH entry, else the bzImage."""
    if not PVH:
        return kernel.vmlinuz
    out = WORK / f"vmlinux-{kernel.release}"
    if out.exists():
        return out
    data = kernel.vmlinuz.read_bytes()
    for magic, how in ((b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"\x1f\x8b\x08", "gzip")):
        off = data.find(magic)
        while off >= 0:
            elf = _unpack(how, data[off:])
            if _has_pvh_entry(elf):
                WORK.mkdir(parents=True, exist_ok=True)
                tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
                tmp.write_bytes(elf)
                tmp.rename(out)
                # a kernel whose package the lane no longer has unpacked will not be booted again
                for stale in WORK.glob("vmlinux-*"):
                    if stale.name.removeprefix("vmlinux-") not in _releases():
                        stale.unlink(missing_ok=True)
                return out
            off = data.find(magic, off + 1)
    return kernel.vmlinuz


def _releases() -> list[str]:
    unpacked = CACHE / "unpacked"
    return [p.name.removeprefix("linux-image-") for p in unpacked.iterdir()] if unpacked.is_dir() else []


INIT = r"""#!/bin/busybox sh
# Boot-lane initramfs: load what mounting the root needs, mount the overlay read-only (systemd-remount-fs makes
# it read-write from fstab, as on a real machine), lend it the kernel's modules, and hand over to systemd.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
fail() { echo "bootlane-initramfs: FAILED: $*"; poweroff -f; }
for m in $(cat /modules.list); do insmod /lib/mod/$m.ko 2>/dev/null; done
i=0
while [ ! -b /dev/vda ]; do
  i=$((i+1)); [ $i -gt 1000 ] && fail "no /dev/vda"
  sleep 0.01
done
mkdir -p /newroot
mount -t ext4 -o ro /dev/vda /newroot || fail "cannot mount /dev/vda"
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose modules /newroot/usr/lib/modules \
  || fail "no modules share"
[ -L /newroot/sbin/init ] || [ -x /newroot/sbin/init ] || fail "no /sbin/init on /dev/vda"
echo "bootlane-initramfs: root mounted, starting systemd"
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
"""


def build_initramfs(kernel: Kernel) -> Path:
    """The boot lane's initramfs for a kernel (rebuilt when INIT, its modules or busybox change)."""
    bb = harness._busybox()
    if not bb:
        raise Unavailable("static busybox not found (apt-get install -y busybox-static)")
    digest = hashlib.sha256(INIT.encode() + str(harness.WANTED_MODULES).encode() + Path(bb).read_bytes())
    out = WORK / f"initramfs-{kernel.release}-{digest.hexdigest()[:12]}.cpio"
    if out.exists():
        return out
    WORK.mkdir(parents=True, exist_ok=True)
    cpio = harness._Cpio()
    for d in ("bin", "dev", "proc", "sys", "lib", "lib/mod", "newroot"):
        cpio.dir(d)
    cpio.file("bin/busybox", Path(bb).read_bytes(), 0o755)
    cpio.symlink("bin/sh", "busybox")
    mods = harness._module_closure(kernel.modules, harness.WANTED_MODULES)
    for name, data in mods:
        cpio.file(f"lib/mod/{name}.ko", data)
    cpio.file("modules.list", ("\n".join(n for n, _ in mods) + "\n").encode())
    cpio.file("init", INIT.encode(), 0o755)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(cpio.bytes())
    tmp.rename(out)
    for stale in WORK.glob(f"initramfs-{kernel.release}-*.cpio"):
        if stale != out:
            stale.unlink(missing_ok=True)
    return out


# ---- swapctl for the guest's own python ------------------------------------------------------------------

# "dir": a pip --target directory on PYTHONPATH; "pyz": one zipapp file. The guest's wrapper takes either.
PAYLOAD = os.environ.get("SWAPCTL_VM_PAYLOAD", "dir")
PAYLOAD_VERSION = 1


def _sources_digest() -> str:
    h = hashlib.sha256(f"payload {PAYLOAD_VERSION}\n".encode())
    files = [
        REPO / "pyproject.toml",
        *sorted(p for p in (REPO / "swapctl").rglob("*") if p.is_file() and "__pycache__" not in p.parts),
    ]
    for p in files:
        h.update(str(p.relative_to(REPO)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def swapctl_payload(kind: str = PAYLOAD) -> Path:
    """The directory shared as /opt/swapctl: swapctl and its deps in pure Python, rebuilt when sources change."""
    if kind not in ("dir", "pyz"):
        raise ValueError(f"payload kind is dir or pyz, not {kind!r}")
    out = WORK / "swapctl" / f"{_sources_digest()}-{kind}"
    if out.is_dir():
        os.utime(out)  # in use: see the pruning below
        return out
    with _lock("swapctl"):
        if out.is_dir():
            return out
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        src = tmp / "src"
        src.mkdir(parents=True)
        # pip builds in a copy: building in the checkout would leave build/ and egg-info behind in it.
        shutil.copytree(REPO / "swapctl", src / "swapctl", ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(REPO / name, src / name)
        lib = tmp / "lib"
        cp = _run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "--no-compile",
                "--target",
                str(lib),
                str(src),
            ],
            timeout=600,
        )
        if cp.returncode:
            # not a skip: CI installs the checkout with the same pip and index before any test runs
            raise RuntimeError(f"pip install --target of the checkout failed: {cp.stderr.strip()[-800:]}")
        shutil.rmtree(lib / "bin", ignore_errors=True)  # console scripts naming the host's interpreter
        # PyYAML's wheel brings its libyaml binding; without it yaml uses its pure-Python code, which runs
        # on any guest Python.
        for so in lib.rglob("*.so"):
            so.unlink()
        shutil.rmtree(src)
        if kind == "pyz":
            zipapp.create_archive(lib, tmp / "swapctl.pyz", interpreter="/usr/bin/python3", main="swapctl.cli.app:main")
            shutil.rmtree(lib)
        else:
            # Bytecode made here for the guest (bookworm's python3 is 3.11 too): compiling rich and typer on
            # every run under TCG costs seconds. unchecked-hash: the directory never changes once built.
            _run(
                [sys.executable, "-m", "compileall", "-q", "-j0", "--invalidation-mode", "unchecked-hash", str(lib)],
                timeout=600,
            )
        tmp.rename(out)
    # An older build may still be shared with a guest of another pytest run on this machine (sources change
    # with every edit): only those unused for a day go.
    for stale in (WORK / "swapctl").glob(f"*-{kind}"):
        if stale != out and time.time() - stale.stat().st_mtime > 86400:
            shutil.rmtree(stale, ignore_errors=True)
    os.utime(out)
    return out


# ---- machines and guests ---------------------------------------------------------------------------------

DEFAULT_BOOT_TIMEOUT = float(os.environ.get("SWAPCTL_VM_BOOT_TIMEOUT", "240"))
INITRAMFS_FAILED = re.compile(r"bootlane-initramfs: FAILED.*")
# What the console says when a boot cannot get to the agent at all, without retry helping: systemd gave up.
EMERGENCY = re.compile(
    r"You are in (emergency|rescue) mode|Failed to start .*Emergency Shell|"
    r"Cannot open access to console, the root account is locked|"
    # sysvinit's: an rcS script (checkroot.sh, checkfs.sh) gave up and runs sulogin
    r"Give root password for maintenance|Press Enter for maintenance"
)


@dataclass
class Boot:
    """One boot of a machine, for the report: how long to ready, attempts, and how it ended."""

    number: int
    kernel: str
    accel: str
    seconds: float = 0.0
    attempts: int = 1
    failures: list[str] = field(default_factory=list)
    ended: str = "running"  # poweroff, reboot, power cut, died


@dataclass
class Machine:
    """A throwaway disk (a qcow2 overlay on a cached image) that can be booted, powered off and booted again.

    boot() returns a running Guest; after poweroff(), power_cut() or a crash, boot() again boots the same disk."""

    kernel: Kernel
    workdir: Path
    variant: str = "base"
    memory_mib: int = 1024
    cpus: int = 2  # under TCG a second vCPU (a second host thread) cuts systemd's part of the boot by a third
    cmdline: str = ""
    payload: str = PAYLOAD
    retries: int = harness.BOOT_RETRIES
    boot_timeout: float = DEFAULT_BOOT_TIMEOUT
    boots: list[Boot] = field(default_factory=list)
    guest: Guest | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.base = image(self.variant).path
        self.modules = modules_tree(self.kernel)
        self.initrd = build_initramfs(self.kernel)
        self.vmlinux = boot_kernel(self.kernel)
        self.swapctl_dir = swapctl_payload(self.payload)
        self.overlay = self.workdir / "overlay.qcow2"
        self._new_overlay()

    def _new_overlay(self) -> None:
        self.overlay.unlink(missing_ok=True)
        cp = _run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(self.base), "-F", "raw", str(self.overlay)])
        if cp.returncode:
            raise RuntimeError(f"qemu-img create failed: {cp.stderr.strip()}")

    def boot(self) -> Guest:
        """Boot the disk and wait for the agent; a boot that fails before it is ready is retried at most
        `retries` times, each from the disk as it was before this boot."""
        if self.guest is not None and self.guest.alive:
            raise RuntimeError("this machine is running: poweroff() or power_cut() it before booting it again")
        number = len(self.boots) + 1
        accel = harness.choose_accel(self.kernel)
        record = Boot(number, self.kernel.release, accel)
        self.boots.append(record)
        keep = self.workdir / "overlay.before-boot.qcow2"
        fresh = number == 1
        if not fresh and self.retries:
            shutil.copyfile(self.overlay, keep)
        try:
            for attempt in range(1, self.retries + 2):
                record.attempts = attempt
                name = f"boot{number}" + ("" if attempt == 1 else f".attempt{attempt}")
                guest = Guest(self, record, self.workdir / name)
                try:
                    guest.start(accel)
                except harness.BootFailed as exc:
                    record.failures.append(str(exc))
                    if attempt > self.retries:
                        record.ended = "never ready"
                        raise RuntimeError(
                            f"{self.kernel.release} boot {number} failed {attempt} times before "
                            f"userspace was ready:\n"
                            + "\n".join(record.failures)
                            + f"\nconsole:\n{guest.console_tail()}"
                        ) from None
                    harness.announce_retry(f"{self.kernel.release} boot {number}", attempt, self.retries, str(exc))
                    # The retry boots the disk this boot started from, not what the failed attempt left.
                    if fresh:
                        self._new_overlay()
                    else:
                        shutil.copyfile(keep, self.overlay)
                    continue
                record.seconds = guest.boot_seconds
                self.guest = guest
                return guest
        finally:
            keep.unlink(missing_ok=True)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.guest is not None:
            self.guest.kill("killed at teardown")


class Guest:
    """One running boot of a Machine. run() executes a /bin/sh command inside, as root, through the agent."""

    def __init__(self, machine: Machine, record: Boot, workdir: Path) -> None:
        self.machine = machine
        self.record = record
        self.workdir = workdir
        self.xfer = workdir / "xfer"
        self.console = workdir / "console.log"
        self.boot_seconds = 0.0
        self.ready: dict = {}
        self._proc: subprocess.Popen | None = None
        self._seq = 0

    # -- boot --

    def _argv(self, accel: str) -> list[str]:
        m = self.machine
        kvm = accel == "kvm"
        cmdline = " ".join(
            filter(
                None,
                [
                    "console=ttyS0",
                    "panic=-1",
                    "oops=panic",
                    "loglevel=4",
                    "mitigations=off",
                    "tsc=reliable",
                    "sysrq_always_enabled",
                    m.cmdline,
                ],
            )
        )
        return [
            QEMU,
            "-machine",
            f"q35,accel={accel}",
            "-cpu",
            harness._cpu_model(kvm),
            "-m",
            f"{m.memory_mib}M",
            "-smp",
            str(m.cpus),
            "-kernel",
            str(m.vmlinux),
            "-initrd",
            str(m.initrd),
            "-append",
            cmdline,
            # -nodefaults: no default NIC, CD-ROM or VGA for udev to probe at every boot
            "-nodefaults",
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            f"file:{self.console}",
            "-no-reboot",
            "-nic",
            "none",
            "-drive",
            f"file={m.overlay},if=virtio,format=qcow2,cache=writeback,discard=unmap",
            "-virtfs",
            f"local,path={m.modules},mount_tag=modules,security_model=none,readonly=on,multidevs=remap",
            "-virtfs",
            f"local,path={m.swapctl_dir},mount_tag=swapctl,security_model=none,readonly=on",
            "-virtfs",
            f"local,path={self.xfer},mount_tag=vmxfer,security_model=none",
        ]

    def start(self, accel: str) -> None:
        """Start QEMU and wait for the agent; BootFailed when it will not come (the caller may retry)."""
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.xfer.mkdir(parents=True)
        t0 = time.monotonic()
        with open(self.workdir / "qemu.out", "wb") as out:
            self._proc = subprocess.Popen(
                self._argv(accel),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = t0 + self.machine.boot_timeout
        ready = self.xfer / "ready"
        while not ready.exists():
            if self._proc.poll() is not None:
                raise harness.BootFailed(
                    f"QEMU exited ({self._proc.returncode}) before userspace was ready: "
                    f"{self._first_fault() or self._qemu_out() or 'no panic on the console'}"
                )
            text = self._console_text()
            if EMERGENCY.search(text):
                self.kill("emergency mode")
                # Not a kernel flake: the disk or the units cannot boot; a retry would only fail again.
                raise RuntimeError(
                    f"the guest went to systemd's emergency mode (sysvinit's: sulogin)\nconsole:\n{self.console_tail()}"
                )
            if time.monotonic() > deadline:
                self.kill("boot timeout")
                raise harness.BootFailed(
                    f"no agent after {self.machine.boot_timeout:.0f}s "
                    f"({self._first_fault() or 'no panic on the console'})"
                )
            time.sleep(0.05)
        self.boot_seconds = time.monotonic() - t0
        self.ready = json.loads(ready.read_text())

    def _console_text(self) -> str:
        try:
            return self.console.read_text(errors="replace")
        except OSError:
            return ""

    def _first_fault(self) -> str:
        text = self._console_text()
        m = harness.FAULT.search(text) or INITRAMFS_FAILED.search(text)
        return m.group(0).strip() if m else ""

    def _qemu_out(self) -> str:
        try:
            return (self.workdir / "qemu.out").read_text(errors="replace").strip()[-300:]
        except OSError:
            return ""

    def console_tail(self, lines: int = 60) -> str:
        text = self._console_text()
        return "\n".join(text.splitlines()[-lines:]) if text else "(no console output)"

    # -- commands --

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _send(self, cmd: str) -> int:
        i = self._seq
        self._seq += 1
        tmp = self.xfer / f".cmd.{i}"
        tmp.write_text(cmd + "\n")
        tmp.rename(self.xfer / f"cmd.{i}")
        return i

    def run(self, cmd: str, timeout: float = 120.0, check: bool = False) -> Result:
        """Run a /bin/sh command in the guest as root (cwd /root, stdin /dev/null); wait for its exit code."""
        if not self.alive:
            raise RuntimeError(f"the guest is not running (boot {self.record.number}: {self.record.ended})")
        i = self._send(cmd)
        rc_file = self.xfer / f"rc.{i}"
        deadline = time.monotonic() + timeout
        while not rc_file.exists():
            if not self.alive:
                self.record.ended = "died"
                raise RuntimeError(f"the guest died while running {cmd!r}\nconsole:\n{self.console_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{cmd!r} did not finish in {timeout}s\nconsole:\n{self.console_tail()}")
            time.sleep(0.02)
        res = Result(
            cmd,
            int(rc_file.read_text().strip() or "-1"),
            (self.xfer / f"out.{i}").read_text(errors="replace"),
            (self.xfer / f"err.{i}").read_text(errors="replace"),
        )
        if check and res.rc != 0:
            raise AssertionError(f"{cmd!r} exited {res.rc}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        return res

    def swapctl(self, *args: str, env: str = "", timeout: float = 120.0) -> Result:
        """Run the checkout's swapctl on the guest's python3, e.g. swapctl("-o", "json", "vm", "get")."""
        return self.run(f"{env} swapctl {shlex.join(args)}".strip(), timeout=timeout)

    # -- the end of a boot --

    def _wait_gone(self, cmd: str, how: str, timeout: float) -> None:
        if not self.alive:
            return
        self._send(cmd)
        if not self.wait_exit(timeout):
            self.kill(f"{how} timed out")
            raise TimeoutError(f"the guest was still up {timeout:.0f}s after {cmd!r}\nconsole:\n{self.console_tail()}")
        self.record.ended = how

    @property
    def init(self) -> str:
        """What this guest booted as init: "systemd" or "sysvinit"."""
        return init_of(self.machine.variant)

    def _halt(self, how: str) -> str:
        # sysvinit's poweroff and reboot (not in runlevel 0 or 6) ask init to change runlevel and return: rc 0 or
        # rc 6 stops the scripts, turns swap off, unmounts and syncs; then halt powers off (or reboots).
        return how if self.init == "sysvinit" else f"systemctl {how} --no-block"

    def poweroff(self, timeout: float = 120.0) -> None:
        """A clean shutdown: systemctl poweroff inside (units stopped, swap off, disks synced), or sysvinit's
        poweroff (rc 0); wait for QEMU."""
        self._wait_gone(self._halt("poweroff"), "poweroff", timeout)

    def reboot(self, timeout: float = 120.0) -> Guest:
        """systemctl reboot (sysvinit's reboot) inside (QEMU runs with -no-reboot, so it exits), then boot the same
        disk again."""
        self._wait_gone(self._halt("reboot"), "reboot", timeout)
        return self.machine.boot()

    def power_cut(self) -> None:
        """Pull the plug: SIGKILL QEMU. What the guest has not flushed to its disk is lost."""
        self.kill("power cut")

    def run_and_lose_power(self, cmd: str, timeout: float = 120.0) -> None:
        """Run a command that ends the guest by itself (e.g. `...; echo o > /proc/sysrq-trigger`); wait for QEMU."""
        self._wait_gone(cmd, "power cut", timeout)

    def wait_exit(self, timeout: float = 30.0) -> bool:
        """Wait for QEMU to exit by itself (poweroff, panic); True when it did."""
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def kill(self, how: str = "killed") -> None:
        if self.alive:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)
            self.record.ended = how
