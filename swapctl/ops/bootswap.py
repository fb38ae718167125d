"""What swap the next boot turns on: the /etc/fstab swap lines swapon -a (or systemd-fstab-generator's swap
units) activates, the zram devices systemd's zram-generator sets up, and the ones swapctl's own units and udev
rules set up (ops/zram_boot.py), each with its priority and the file (and line) that asks for it. `list` shows
it beside the areas active now, and the boot lane compares it with what a booted machine runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swapctl.kernel import zram as rules
from swapctl.ops import fstab, sizing, zram_boot
from swapctl.ops.zram_boot import generator
from swapctl.system import paths

if TYPE_CHECKING:
    from swapctl.system.host import Host

ZRAM_PRIORITY = 100  # zram-generator's swap-priority when a section sets none


def fstab_areas(text: str | None) -> list[dict[str, Any]]:
    """Each swap line without noauto, in file order (the order swapon -a turns them on in)."""
    out = []
    for e in fstab.parse(text):
        if e.is_swap and e.auto:
            priority, discard = fstab.swap_options(e.options)
            out.append(
                {
                    "source": e.source,
                    "via": "fstab",
                    "priority": priority,  # None: the kernel's automatic one, negative, in activation order
                    "discard": discard,
                    "file": fstab.FSTAB,
                    "line": e.line + 1,
                }
            )
    return out


def _sections(text: str) -> dict[str, dict[str, str]]:
    """An INI file as zram-generator reads it ("#" and ";" comment lines): section -> key -> value; a section
    with no keys is there too (it still makes a device)."""
    out: dict[str, dict[str, str]] = {}
    section = None
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            out.setdefault(section, {})
        elif section is not None and "=" in line:
            key, _, value = line.partition("=")
            out[section][key.strip()] = value.strip()
    return out


# zram-generator.conf(5): the main file (the first directory holding it wins), then the drop-ins of every
# conf.d directory sorted by file name (a name in an earlier directory hides the same name in a later one);
# later files override earlier ones, key by key.
GENERATOR_DIRS = ("/etc/systemd", "/run/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd")


def generator_files(host: Host) -> list[str]:
    main = next(
        (f"{d}/zram-generator.conf" for d in GENERATOR_DIRS if host.lstat(f"{d}/zram-generator.conf") is not None),
        None,
    )
    drop_ins: dict[str, str] = {}
    for d in GENERATOR_DIRS:
        for name in host.list_dir(f"{d}/zram-generator.conf.d") or []:
            if name.endswith(".conf"):
                drop_ins.setdefault(name, f"{d}/zram-generator.conf.d/{name}")
    return ([main] if main else []) + [drop_ins[n] for n in sorted(drop_ins)]


def generator_config(host: Host) -> dict[str, tuple[dict[str, str], str]]:
    """Each zramN section of zram-generator's files merged: its keys, and the last file that has it."""
    devices: dict[str, tuple[dict[str, str], str]] = {}
    for path in generator_files(host):
        for section, keys in _sections(host.read_text_or_none(path) or "").items():
            if rules.DEVICE_NAME.match(section):
                devices[section] = ({**devices.get(section, ({}, ""))[0], **keys}, path)
    return devices


def zram_generator_areas(host: Host) -> list[dict[str, Any]]:
    """The devices zram-generator makes swap at boot: its files merged key by key (a later file wins), a
    section with a mount-point left out (a filesystem, not swap), and one whose zram-size comes to 0. Empty
    where zram-generator is not installed, the next boot's init is not systemd, or the kernel command line says
    systemd.zram=0."""
    config = generator_config(host)
    if not config:
        return []
    if generator(host) is None or "systemd.zram=0" in (host.read_text_or_none(paths.CMDLINE) or "").split():
        return []
    if not zram_boot.systemd_boots(host):
        return []  # a systemd generator: another init never runs it
    ram_mib = host.meminfo().get("MemTotal", 0) / sizing.MIB
    out = []
    for name in sorted(config, key=lambda n: int(n[4:])):
        keys, owner = config[name]
        if keys.get("mount-point") or _over_memory_limit(keys.get("host-memory-limit"), ram_mib):
            continue
        expression = keys.get("zram-size", sizing.ZRAM_DEFAULT)
        try:
            mib = sizing.zram_expression(expression, ram_mib)
        except sizing.ExpressionError:
            mib = None  # zram-generator fails the device's unit: nothing is made
        if mib is None or mib <= 0:
            continue
        try:
            priority = int(keys.get("swap-priority", ZRAM_PRIORITY))
        except ValueError:
            continue
        out.append(
            {
                "source": f"/dev/{name}",
                "via": "zram-generator",
                "priority": priority,
                "discard": None,
                "file": owner,
                "line": None,
                "size": int(mib * sizing.MIB),
                "size_expression": expression,
                "algorithm": keys.get("compression-algorithm"),
            }
        )
    return out


def _over_memory_limit(limit: str | None, ram_mib: float) -> bool:
    """host-memory-limit (MiB, or "none"; deprecated but still read): no device on a machine with more RAM."""
    if limit is None or limit.strip() == "none":
        return False
    try:
        return ram_mib > float(limit)
    except ValueError:
        return False


NEW_DEVICE = "new zram device"  # a unit of swapctl's hot-adds its device at boot: its number is not known


def unit_areas(host: Host) -> list[dict[str, Any]]:
    """The devices swapctl's own units set up at boot (ops/zram_boot.py): each enabled one whose settings
    swapctl can read, where the next boot's init is systemd. device_now: the one it made this boot, if any."""
    if not zram_boot.systemd_boots(host):
        return []
    out = []
    for u in zram_boot.units(host):
        if not u.enabled or u.spec is None:
            continue
        out.append(
            {
                "source": NEW_DEVICE,
                "via": "systemd",
                "priority": u.spec.priority,
                "discard": None,
                "file": u.path,
                "line": None,
                "size": u.spec.disksize,
                "algorithm": u.spec.algorithm,
                "device_now": None if u.device is None else f"/dev/{u.device}",
            }
        )
    return out


def _with_udev(host: Host, areas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An fstab line for a zram device that swapctl's udev rule sets up gets the rule's size and algorithm."""
    rules = zram_boot.rules(host)
    for a in areas:
        line = rules.get(a["source"].removeprefix("/dev/"))
        spec = None if line is None else zram_boot.parse_rule(line)
        if spec is not None:
            a.update(size=spec.disksize, algorithm=spec.algorithm, rule=zram_boot.UDEV_RULES)
    return areas


def at_boot(host: Host, fstab_text: str | None) -> list[dict[str, Any]]:
    return _with_udev(host, fstab_areas(fstab_text)) + zram_generator_areas(host) + unit_areas(host)
