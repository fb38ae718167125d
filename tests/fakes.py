"""Test doubles at the Host seam: a fake machine root on disk and a runner whose tools act on it."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from swapctl.system.host import Host
from swapctl.system.paths import SWAPS, SysPaths
from swapctl.system.runner import Result

# Real captures of /proc and /sys (tests/fixtures/README.md says where each comes from).
FIXTURES = Path(__file__).resolve().parent / "fixtures"

SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
MEMINFO = """MemTotal:       24576000 kB
MemFree:        23000000 kB
MemAvailable:   23500000 kB
SwapTotal:             0 kB
SwapFree:              0 kB
"""


def make_root(base: Path, *, fstype: str = "ext4", meminfo: str = MEMINFO, osrelease: str = "6.18.0") -> Path:
    """A minimal machine under `base`: /proc bits, an fstab, a mountinfo saying / is `fstype`."""
    (base / "proc/sys/kernel/random").mkdir(parents=True, exist_ok=True)
    (base / "proc/sys/vm").mkdir(parents=True, exist_ok=True)
    (base / "proc/self").mkdir(parents=True, exist_ok=True)
    (base / "etc").mkdir(exist_ok=True)
    (base / "var/tmp").mkdir(parents=True, exist_ok=True)
    (base / "proc/swaps").write_text(SWAPS_HEADER)
    (base / "proc/meminfo").write_text(meminfo)
    (base / "proc/sys/kernel/random/boot_id").write_text("11111111-2222-3333-4444-555555555555\n")
    (base / "proc/sys/kernel/osrelease").write_text(osrelease + "\n")
    (base / "proc/self/mountinfo").write_text(
        f"22 1 254:0 / / rw,relatime shared:1 - {fstype} /dev/vda rw\n"
        "23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw\n"
        "24 22 0:22 / /dev/shm rw,nosuid shared:3 - tmpfs tmpfs rw\n"
    )
    (base / "etc/fstab").write_text(
        "# /etc/fstab: static file system information.\nUUID=abcd / ext4 errors=remount-ro 0 1\n"
    )
    return base


def copy_fixture_root(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


@dataclass
class FakeRunner:
    """Acts on the fake root like the real tools would: mkswap writes a header, swapon/swapoff edit
    proc/swaps. `fail` maps a tool name to (returncode, stderr) to make it fail."""

    paths: SysPaths
    page_size: int = 4096
    calls: list[list[str]] = field(default_factory=list)
    fail: dict[str, tuple[int, str]] = field(default_factory=dict)

    def which(self, name: str) -> str | None:
        return f"/usr/sbin/{name}"

    @property
    def _swaps_file(self) -> Path:
        return self.paths.real(SWAPS)

    def _swaps(self) -> list[str]:
        return self._swaps_file.read_text().splitlines(keepends=True)

    def run(self, argv: list[str], *, check: bool = False, timeout: float | None = None, watch=None) -> Result:
        self.calls.append(list(argv))
        if watch is not None:
            watch()  # a progress display looks once while the tool "runs"
        tool = argv[0]
        if tool in self.fail:
            rc, err = self.fail[tool]
            return Result(argv, rc, "", err)
        target = argv[-1]
        if tool == "mkswap":
            p = Path(target)
            size = p.stat().st_size
            with open(p, "r+b") as fh:
                fh.seek(1024)
                fh.write((1).to_bytes(4, "little") + (size // self.page_size - 1).to_bytes(4, "little"))
                fh.seek(self.page_size - 10)
                fh.write(b"SWAPSPACE2")
            return Result(argv, 0, "Setting up swapspace version 1\n", "")
        if tool == "swapon":
            inpath = self.paths.inside(target)
            prio = -2
            if "-p" in argv:
                prio = int(argv[argv.index("-p") + 1])
            kib = Path(target).stat().st_size // 1024 - self.page_size // 1024
            esc = inpath.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")
            lines = self._swaps()
            if any(line.split()[0] == esc for line in lines[1:]):
                return Result(argv, 255, "", f"swapon: {target}: swapon failed: Device or resource busy")
            lines.append(f"{esc:<40}file\t\t{kib}\t\t0\t\t{prio}\n")
            self._swaps_file.write_text("".join(lines))
            return Result(argv, 0, "", "")
        if tool == "swapoff":
            inpath = self.paths.inside(target)
            esc = inpath.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")
            lines = self._swaps()
            kept = [lines[0]] + [line for line in lines[1:] if line.split()[0] != esc]
            if len(kept) == len(lines):
                return Result(argv, 255, "", f"swapoff: {target}: swapoff failed: Invalid argument")
            self._swaps_file.write_text("".join(kept))
            return Result(argv, 0, "", "")
        if tool == "dmesg":
            return Result(argv, 0, "", "")
        return Result(argv, 0, "", "")


def fake_host(root: Path, *, uid: int = 0, state_dir: Path | None = None) -> Host:
    paths = SysPaths(root, state_dir)
    # live: the fake runner plays the tree's kernel (swapon edits its proc/swaps)
    return Host(paths=paths, runner=FakeRunner(paths), uid=uid, page_size=4096, live=True)  # type: ignore[arg-type]


def envelope(output: str) -> dict:
    return json.loads(output)


def systemd_init(root: Path) -> None:
    """The tree's next boot runs systemd: /sbin/init leads to it, as Debian's systemd-sysv makes it."""
    (root / "lib/systemd").mkdir(parents=True, exist_ok=True)
    (root / "lib/systemd/systemd").write_text("")
    (root / "sbin").mkdir(exist_ok=True)
    if not (root / "sbin/init").is_symlink():
        (root / "sbin/init").symlink_to("/lib/systemd/systemd")
