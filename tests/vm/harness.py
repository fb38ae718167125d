"""Boot throwaway QEMU guests on real Debian kernels and run commands (swapctl among them) inside them.

A guest is: a Debian kernel unpacked from its .deb (never installed), an initramfs built here (static busybox,
the kernel's virtio/9p/ext4 modules and an init script), the host's root shared read-only over virtio-9p (so
the host's Python, the venv and the swapctl checkout are visible), and a small ext4 disk image that holds the
guest's /etc and /var (fstab, sysctl.d, the swapctl state dir, swap files), so a guest can be powered off hard
and the same disk booted again. Commands go in and results come out through a second, writable 9p share.
"""

from __future__ import annotations

import json
import lzma
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CACHE = Path(os.environ.get("SWAPCTL_VM_CACHE", "/var/cache/swapctl-vm"))
REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
QEMU = "qemu-system-x86_64"
BUSYBOX_CANDIDATES = ("/usr/bin/busybox", "/bin/busybox")
# Modules the guest needs before it can mount its filesystems; depends= in each module's modinfo pulls the rest.
WANTED_MODULES = ("virtio_pci", "virtio_blk", "9pnet_virtio", "9p", "ext4", "crc32c_generic", "crc32c_intel")
# Kernel series the lane knows; the newest Debian package of each series is taken.
SERIES = {
    "6.1": re.compile(r"^linux-image-(6\.1\.0-\d+)-amd64$"),
    "6.12": re.compile(r"^linux-image-(6\.12\.\d+\+deb\d+)-amd64$"),
}


class Unavailable(RuntimeError):
    """QEMU, busybox or a kernel package cannot be had: the tests skip with this reason."""


# ---- boot retries ----------------------------------------------------------------------------------------

# A guest may fail before its userspace runs anything: a 6.12 kernel under TCG once took an
# `Oops: int3 ... sched_clock_cpu` during early boot and failed a CI run. Such a boot is retried, at most this
# many times and each retry printed; a guest that has run a test's command is never retried.
BOOT_RETRIES = int(os.environ.get("SWAPCTL_VM_BOOT_RETRIES", "2"))
# The console's first sign that the kernel itself went wrong (quoted in the retry message).
FAULT = re.compile(r"^.*(Kernel panic|Oops|BUG:|general protection fault|watchdog: BUG|Call Trace).*$", re.M)
# Every retry of this process, for the session's summary (conftest prints it at the end).
RETRY_LOG: list[str] = []


class BootFailed(RuntimeError):
    """The guest failed before its userspace said it was ready: the one failure that a boot retries."""


def announce_retry(what: str, attempt: int, retries: int, reason: str) -> None:
    """Print a retried boot to stderr (seen with pytest -s, kept in the test's report) and log it."""
    msg = f"{what}: boot attempt {attempt} of {retries + 1} failed before userspace was ready, retrying: {reason}"
    RETRY_LOG.append(msg)
    print(f"swapctl-vm: {msg}", file=sys.stderr, flush=True)


@dataclass
class Kernel:
    series: str
    release: str  # uname -r, e.g. 6.1.0-56-amd64
    vmlinuz: Path
    modules: Path  # lib/modules/<release>


@dataclass
class Result:
    cmd: str
    rc: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def check_host() -> None:
    """Raise Unavailable unless this host can run the lane at all."""
    if os.geteuid() != 0:
        raise Unavailable("needs root: the guests share the host's root filesystem read-only over 9p")
    if not shutil.which(QEMU):
        raise Unavailable(f"{QEMU} not found (apt-get install -y qemu-system-x86)")
    if not _busybox():
        raise Unavailable("static busybox not found (apt-get install -y busybox-static)")
    if not shutil.which("mkfs.ext4"):
        raise Unavailable("mkfs.ext4 not found (apt-get install -y e2fsprogs)")
    if not (VENV_BIN / "swapctl").exists():
        raise Unavailable(f"{VENV_BIN}/swapctl not found: the guest runs the checkout's venv")


def _busybox() -> str | None:
    for cand in BUSYBOX_CANDIDATES:
        p = Path(cand)
        # A dynamic busybox names its loader (PT_INTERP) near the top of the file; the initramfs has no libc.
        if p.exists() and b"ld-linux" not in p.read_bytes()[:4096]:
            return cand
    return None


def _cpu_model(kvm: bool) -> str:
    # Nested KVM hosts often refuse the ARCH_CAPABILITIES MSR that "-cpu host" passes through (QEMU aborts).
    return os.environ.get("SWAPCTL_VM_CPU") or ("host,-arch-capabilities" if kvm else "max")


def _kvm_boots(kernel: Kernel) -> bool:
    """Does a KVM guest get as far as the kernel's banner? Nested KVM can open /dev/kvm and then hang."""
    argv = [
        QEMU,
        "-machine",
        "q35,accel=kvm",
        "-cpu",
        _cpu_model(True),
        "-m",
        "256M",
        "-kernel",
        str(kernel.vmlinuz),
        "-append",
        "console=ttyS0 panic=-1",
        "-display",
        "none",
        "-vga",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-nic",
        "none",
    ]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=8)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return b"Linux version" in out


def choose_accel(kernel: Kernel) -> str:
    """kvm when it really boots a guest here, else tcg; SWAPCTL_VM_ACCEL overrides; probed once per host boot."""
    forced = os.environ.get("SWAPCTL_VM_ACCEL")
    if forced:
        return forced
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
    except OSError:
        return "tcg"
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    memo = CACHE / f"accel-{boot_id}"
    if not memo.exists():
        memo.write_text("kvm\n" if _kvm_boots(kernel) else "tcg\n")
    return memo.read_text().strip()


def _newest_package(series: str) -> str:
    pattern = SERIES[series]
    cp = _run(["apt-cache", "search", "--names-only", f"^linux-image-{re.escape(series)}"])
    names = [line.split(" ", 1)[0] for line in cp.stdout.splitlines()]
    hits = [n for n in names if pattern.match(n)]
    if not hits:
        raise Unavailable(
            f"no linux-image {series} amd64 package in apt's lists (apt-cache search linux-image-{series})"
        )

    def key(name: str) -> list[int]:
        return [int(x) for x in re.findall(r"\d+", pattern.match(name).group(1))]

    return max(hits, key=key)


def fetch_kernel(series: str) -> Kernel:
    """The newest Debian kernel of a series, downloaded once into CACHE and unpacked with dpkg -x."""
    if series not in SERIES:
        raise Unavailable(f"unknown kernel series {series}")
    CACHE.mkdir(parents=True, exist_ok=True)
    # A pin file keeps the lane on one package between runs (and offline) until it is deleted.
    pin = CACHE / f"series-{series}.pkg"
    pkg = pin.read_text().strip() if pin.exists() else None
    if not pkg:
        if not shutil.which("apt-get"):
            raise Unavailable("apt-get not found: cannot fetch a Debian kernel")
        pkg = _newest_package(series)
    unpacked = CACHE / "unpacked" / pkg
    if not (unpacked / "boot").is_dir():
        debs = list(CACHE.glob(f"{pkg}_*.deb"))
        if not debs:
            cp = _run(["apt-get", "download", pkg], cwd=CACHE, timeout=600)
            debs = list(CACHE.glob(f"{pkg}_*.deb"))
            if not debs:
                raise Unavailable(f"apt-get download {pkg} failed: {cp.stderr.strip()[-300:]}")
        tmp = unpacked.with_name(unpacked.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        cp = _run(["dpkg", "-x", str(debs[0]), str(tmp)])
        if cp.returncode:
            raise Unavailable(f"dpkg -x {debs[0].name} failed: {cp.stderr.strip()}")
        tmp.rename(unpacked)
    pin.write_text(pkg + "\n")
    vmlinuz = next((unpacked / "boot").glob("vmlinuz-*"))
    release = vmlinuz.name.removeprefix("vmlinuz-")
    return Kernel(series, release, vmlinuz, unpacked / "lib" / "modules" / release)


# ---- initramfs -------------------------------------------------------------------------------------------


def _ko_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".zst"):
        cp = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True)
        return cp.stdout
    return data


def _module_index(moddir: Path) -> dict[str, Path]:
    index = {}
    for p in moddir.rglob("*.ko*"):
        name = p.name.split(".ko")[0].replace("-", "_")
        index[name] = p
    return index


def _depends(ko: bytes) -> list[str]:
    m = re.search(rb"(?:^|\x00)depends=([^\x00]*)\x00", ko)
    if not m or not m.group(1):
        return []
    return [d.decode().replace("-", "_") for d in m.group(1).split(b",") if d]


def _module_closure(moddir: Path, wanted: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """The wanted modules that are not built in, with their dependencies, in load order."""
    index = _module_index(moddir)
    order: list[tuple[str, bytes]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in index:  # not in the index: built into the kernel
            return
        seen.add(name)
        data = _ko_bytes(index[name])
        for dep in _depends(data):
            visit(dep)
        order.append((name, data))

    for name in wanted:
        visit(name)
    return order


class _Cpio:
    """A newc cpio archive written in memory (what the kernel unpacks as an initramfs)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"") -> None:
        nameb = name.encode() + b"\x00"
        hdr = b"070701" + b"".join(
            f"{v:08x}".encode() for v in (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nameb), 0)
        )
        self.ino += 1
        blob = hdr + nameb
        blob += b"\x00" * (-len(blob) % 4)
        blob += data + b"\x00" * (-len(data) % 4)
        self.parts.append(blob)

    def dir(self, name: str) -> None:
        self._entry(name, 0o040755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, 0o120777, target.encode())

    def bytes(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        out = b"".join(self.parts)
        return out + b"\x00" * (-len(out) % 512)


INIT = r"""#!/bin/busybox sh
# Guest init: load modules, mount the host root (ro) and the disk, then run the host's commands one by one.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules.list); do insmod /lib/mod/$m.ko 2>/dev/null; done
mkdir -p /xfer /disk /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 xfer /xfer || { echo "init: no xfer"; poweroff -f; }
fail() { echo "$*" > /xfer/init-error; echo "init: $*"; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose hostroot /newroot || fail "no host root"
mount -t ext4 /dev/vda /disk || fail "cannot mount the disk"
R=/newroot
mount --bind /disk/etc $R/etc && mount --bind /disk/var $R/var || fail "bind mounts"
mount -t proc proc $R/proc; mount -t sysfs sys $R/sys; mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/shm $R/dev/pts 2>/dev/null; mount -t tmpfs shm $R/dev/shm
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
# systemd hands the memory controller down to child cgroups at boot; do the same unless told not to.
[ -f /xfer/bare-cgroup ] || echo "+memory +cpu +io +pids" > $R/sys/fs/cgroup/cgroup.subtree_control
mount -t tmpfs tmp $R/tmp; mount -t tmpfs run $R/run
mkdir -p $R/tmp/xfer; mount --bind /xfer $R/tmp/xfer
# The checkout (and its venv) at its own path, whatever the mounts above hide (a CI clone under /tmp).
REPO=$(cat /xfer/repo)
mkdir -p $R$REPO 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose repo $R$REPO || fail "no repo share"
# What a real boot does with these files: systemd-sysctl applies sysctl.d, swapon -a enables fstab's swap.
if [ -f /xfer/boot-apply ]; then
  for f in $R/etc/sysctl.d/*.conf; do
    [ -f "$f" ] && chroot $R /bin/busybox sysctl -p "${f#$R}" >>/xfer/boot.log 2>&1
  done
  chroot $R /bin/busybox swapon -a >>/xfer/boot.log 2>&1
fi
echo "$(cat /proc/uptime)" > /xfer/ready
i=0
while true; do
  if [ -f /xfer/cmd.$i ]; then
    if [ "$(cat /xfer/cmd.$i)" = "__poweroff__" ]; then
      sync; umount $R/var $R/etc 2>/dev/null; umount /disk 2>/dev/null; poweroff -f
    fi
    chroot $R /bin/sh /tmp/xfer/cmd.$i > /xfer/out.$i 2> /xfer/err.$i < /dev/null
    echo $? > /xfer/rc.$i.tmp && mv /xfer/rc.$i.tmp /xfer/rc.$i
    i=$((i+1))
  else
    sleep 0.02
  fi
done
"""


def build_initramfs(kernel: Kernel) -> Path:
    """The initramfs for a kernel: busybox, its modules and INIT; rebuilt when INIT or busybox changes."""
    bb = _busybox()
    if not bb:
        raise Unavailable("static busybox not found (apt-get install -y busybox-static)")
    import hashlib

    tag = hashlib.sha256(INIT.encode() + str(WANTED_MODULES).encode() + Path(bb).read_bytes()).hexdigest()[:12]
    out = CACHE / f"initramfs-{kernel.release}-{tag}.cpio"
    if out.exists():
        return out
    cpio = _Cpio()
    for d in ("bin", "dev", "proc", "sys", "lib", "lib/mod", "tmp"):
        cpio.dir(d)
    cpio.file("bin/busybox", Path(bb).read_bytes(), 0o755)
    cpio.symlink("bin/sh", "busybox")
    mods = _module_closure(kernel.modules, WANTED_MODULES)
    for name, data in mods:
        cpio.file(f"lib/mod/{name}.ko", data)
    cpio.file("modules.list", ("\n".join(n for n, _ in mods) + "\n").encode())
    cpio.file("init", INIT.encode(), 0o755)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(cpio.bytes())
    tmp.rename(out)
    for stale in CACHE.glob(f"initramfs-{kernel.release}-*.cpio"):
        if stale != out:
            stale.unlink(missing_ok=True)
    return out


# ---- disk image ------------------------------------------------------------------------------------------

HOST_ETC_FILES = ("ld.so.cache", "passwd", "group", "nsswitch.conf", "hosts", "os-release", "localtime")
FSTAB = "# /etc/fstab of a swapctl test guest\n# <file system> <mount point> <type> <options> <dump> <pass>\n"


def make_disk(path: Path, size_mib: int = 768, fstab: str = FSTAB, sysctl_d: dict[str, str] | None = None) -> Path:
    """An ext4 image holding the guest's /etc and /var (fstab, sysctl.d, /var/lib/swapctl, /var/tmp)."""
    with tempfile.TemporaryDirectory(prefix="swapctl-vm-disk-") as td:
        top = Path(td)
        etc = top / "etc"
        (etc / "sysctl.d").mkdir(parents=True)
        for name in HOST_ETC_FILES:
            src = Path("/etc") / name
            if src.exists():
                shutil.copy2(src.resolve(), etc / name)
        (etc / "fstab").write_text(fstab)
        for name, text in (sysctl_d or {}).items():
            (etc / "sysctl.d" / name).write_text(text)
        for d in ("var/lib/swapctl", "var/tmp", "var/log", "var/cache", "var/swap"):
            (top / d).mkdir(parents=True)
        (top / "var/tmp").chmod(0o1777)
        path.unlink(missing_ok=True)
        cp = _run(["mkfs.ext4", "-q", "-F", "-L", "guestdisk", "-d", str(top), str(path), f"{size_mib}M"])
        if cp.returncode:
            raise Unavailable(f"mkfs.ext4 failed: {cp.stderr.strip()}")
    return path


# ---- the guest -------------------------------------------------------------------------------------------


@dataclass
class Topology:
    """Memory per NUMA node in MiB (one node: a plain -m), CPUs and extra kernel command line."""

    nodes_mib: tuple[int, ...] = (512,)
    cpus: int = 1
    cmdline: str = ""

    @property
    def memory_mib(self) -> int:
        return sum(self.nodes_mib)

    def qemu_args(self) -> list[str]:
        cpus = max(self.cpus, len(self.nodes_mib)) if len(self.nodes_mib) > 1 else self.cpus
        args = ["-m", f"{self.memory_mib}M", "-smp", str(cpus)]
        if len(self.nodes_mib) > 1:
            per = cpus // len(self.nodes_mib)
            for i, mib in enumerate(self.nodes_mib):
                first, last = i * per, (i + 1) * per - 1 if i < len(self.nodes_mib) - 1 else cpus - 1
                args += [
                    "-object",
                    f"memory-backend-ram,id=m{i},size={mib}M",
                    "-numa",
                    f"node,nodeid={i},cpus={first}-{last},memdev=m{i}",
                ]
        return args


@dataclass
class Guest:
    """One running guest. Use as a context manager; run() executes a shell command inside, as root."""

    kernel: Kernel
    topology: Topology
    disk: Path
    boot_apply: bool = False
    bare_cgroup: bool = False  # leave the cgroup2 root's subtree_control empty (no controller for children)
    boot_timeout: float = 90.0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="swapctl-vm-")))
    boot_seconds: float = 0.0
    # A second raw disk, /dev/vdb in the guest, and its bytes/s throttle (0: none): a slow swap device.
    swap_disk: Path | None = None
    swap_disk_bps: int = 0
    boot_retries: int = BOOT_RETRIES
    boot_attempts: int = 0
    boot_failures: list[str] = field(default_factory=list)
    accel: str = ""
    _proc: subprocess.Popen | None = None
    _seq: int = 0

    @property
    def console(self) -> Path:
        return self.workdir / "console.log"

    @property
    def xfer(self) -> Path:
        return self.workdir / "xfer"

    def console_tail(self, lines: int = 60) -> str:
        try:
            text = self.console.read_text(errors="replace")
        except OSError:
            return "(no console log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> Guest:
        """Boot and wait for the init to say ready; a boot that fails before that is retried (boot_retries)."""
        initrd = build_initramfs(self.kernel)
        self.accel = choose_accel(self.kernel)
        # A retry boots the same disk: before it says ready the init has only mounted it (and with boot_apply
        # read sysctl.d and run swapon -a), and a journal replay that an attempt began, the next one finishes.
        for attempt in range(1, self.boot_retries + 2):
            self.boot_attempts = attempt
            try:
                self._boot_once(initrd)
                return self
            except BootFailed as exc:
                self.boot_failures.append(str(exc))
                if attempt > self.boot_retries:
                    raise RuntimeError(
                        f"guest did not boot in {attempt} attempts:\n"
                        + "\n".join(self.boot_failures)
                        + f"\nconsole:\n{self.console_tail()}"
                    ) from None
                # the failed attempt's console stays beside the next one's
                if self.console.exists():
                    self.console.rename(self.workdir / f"console.attempt{attempt}.log")
                announce_retry(f"{self.kernel.release} {self.topology}", attempt, self.boot_retries, str(exc))
        raise AssertionError("unreachable")

    def _boot_once(self, initrd: Path) -> None:
        self.xfer.mkdir(parents=True, exist_ok=True)
        for p in self.xfer.iterdir():
            p.unlink()
        (self.xfer / "repo").write_text(f"{REPO}\n")
        if self.boot_apply:
            (self.xfer / "boot-apply").write_text("1\n")
        if self.bare_cgroup:
            (self.xfer / "bare-cgroup").write_text("1\n")
        kvm = self.accel == "kvm"
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
                    self.topology.cmdline,
                ],
            )
        )
        argv = [
            QEMU,
            "-machine",
            f"q35,accel={self.accel}",
            "-cpu",
            _cpu_model(kvm),
            *self.topology.qemu_args(),
            "-kernel",
            str(self.kernel.vmlinuz),
            "-initrd",
            str(initrd),
            "-append",
            cmdline,
            "-display",
            "none",
            "-vga",
            "none",
            "-monitor",
            "none",
            "-serial",
            f"file:{self.console}",
            "-no-reboot",
            "-nic",
            "none",
            "-virtfs",
            "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs",
            f"local,path={self.xfer},mount_tag=xfer,security_model=none",
            "-virtfs",
            f"local,path={REPO},mount_tag=repo,security_model=none,readonly=on,multidevs=remap",
            "-drive",
            f"file={self.disk},if=virtio,format=raw,cache=writeback",
        ]
        if self.swap_disk is not None:
            throttle = f",throttling.bps-total={self.swap_disk_bps}" if self.swap_disk_bps else ""
            argv += ["-drive", f"file={self.swap_disk},if=virtio,format=raw,cache=none{throttle}"]
        t0 = time.monotonic()
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=open(self.workdir / "qemu.out", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while time.monotonic() - t0 < self.boot_timeout:
            if (self.xfer / "ready").exists():
                self.boot_seconds = time.monotonic() - t0
                self._seq = 0
                return
            if (self.xfer / "init-error").exists() or self._proc.poll() is not None:
                break
            time.sleep(0.05)
        err = (self.xfer / "init-error").read_text().strip() if (self.xfer / "init-error").exists() else ""
        if not err:
            err = "QEMU exited" if self._proc.poll() is not None else f"no ready after {self.boot_timeout:.0f}s"
        fault = FAULT.search(self.console.read_text(errors="replace")) if self.console.exists() else None
        qemu_out = (self.workdir / "qemu.out").read_text(errors="replace")[-2000:].strip()
        self.kill()
        raise BootFailed(
            f"{err}{'; console: ' + fault.group(0).strip() if fault else ''}{'; qemu: ' + qemu_out if qemu_out else ''}"
        )

    def run(self, cmd: str, timeout: float = 120.0, check: bool = False) -> Result:
        """Run a /bin/sh command in the guest (PATH includes the venv, so `swapctl` is this checkout)."""
        i = self._seq
        self._seq += 1
        script = (
            f"export PATH={VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
            "HOME=/root PYTHONDONTWRITEBYTECODE=1 LC_ALL=C.UTF-8 COLUMNS=200\n" + cmd + "\n"
        )
        tmp = self.xfer / f".cmd.{i}"
        tmp.write_text(script)
        tmp.rename(self.xfer / f"cmd.{i}")
        rc_file = self.xfer / f"rc.{i}"
        deadline = time.monotonic() + timeout
        while not rc_file.exists():
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(f"guest died while running {cmd!r}\nconsole:\n{self.console_tail()}")
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

    def run_and_lose_power(self, cmd: str, timeout: float = 120.0) -> None:
        """Run a command that ends with the guest powering itself off hard; wait until QEMU is gone."""
        i = self._seq
        self._seq += 1
        tmp = self.xfer / f".cmd.{i}"
        tmp.write_text(
            f"export PATH={VENV_BIN}:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root PYTHONDONTWRITEBYTECODE=1\n" + cmd + "\n"
        )
        tmp.rename(self.xfer / f"cmd.{i}")
        if not self.wait_exit(timeout):
            self.kill()
            raise TimeoutError(f"the guest was still up {timeout}s after {cmd!r}\nconsole:\n{self.console_tail()}")

    def swapctl(self, *args: str, env: str = "", timeout: float = 120.0) -> Result:
        import shlex

        return self.run(f"{env} swapctl {shlex.join(args)}".strip(), timeout=timeout)

    def poweroff(self, timeout: float = 30.0) -> None:
        """A clean shutdown: sync, unmount the disk, power off."""
        if self._proc is None or self._proc.poll() is not None:
            return
        i = self._seq
        (self.xfer / f".cmd.{i}").write_text("__poweroff__")
        (self.xfer / f".cmd.{i}").rename(self.xfer / f"cmd.{i}")
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Pull the plug: SIGKILL QEMU. Nothing the guest kernel has not yet written reaches the disk image."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)

    def wait_exit(self, timeout: float = 30.0) -> bool:
        """Wait for the guest to stop by itself (poweroff, panic); True when it did."""
        try:
            self._proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Guest:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()
