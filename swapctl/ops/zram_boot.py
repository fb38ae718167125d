"""zram at boot where systemd's zram-generator is not installed: which way the next boot can set a device up,
and the files swapctl writes for it (ops/zram_set.py plans them; ops/bootswap.py reads them back for `list`).

- systemd (the next boot's init is systemd): a oneshot unit of swapctl's own, swapctl-zram-K.service, pulled in
  by a swap.target drop-in. It asks zram-control/hot_add for a new device and sets that up: a device is persisted
  by its configuration, not by its number, which depends on what else makes zram devices at boot. The unit
  writes the device it made to /run/swapctl/zram-K, and so does swapctl when it makes the device now; that is
  how `zram remove` and `list` know which unit a running device belongs to. K is the unit's own number.
- udev (udev runs at boot): the recipe of the kernel's and distributions' guides, an udev rule that sets up the
  device when the driver adds it (its attributes in the kernel's order, then mkswap, and swapon where systemd
  does not run: see rule_line) and an /etc/fstab line, which systemd's swap unit turns on. udev can only name a
  device, so only the ones the driver makes when it loads (zram0 up to num_devices) are stable enough; a
  hot-added number is refused. Where zram is a module, a modules-load.d file loads it at boot.
- neither: refused, with the reason."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

from swapctl.core import fields
from swapctl.core.errors import Refused, UsageError
from swapctl.core.plan import register
from swapctl.core.text import split_lines
from swapctl.core.units import format_bytes
from swapctl.ops.fileedit import FileEdit, KeyedLinesEdit
from swapctl.system import paths

if TYPE_CHECKING:
    from swapctl.system.host import Host

WAYS = ("zram-generator", "systemd", "udev")
CHOICES = ("auto", *WAYS)  # --persist-via
GENERATORS = (
    "/usr/lib/systemd/system-generators/zram-generator",
    "/lib/systemd/system-generators/zram-generator",
)
UNIT_DIR = "/etc/systemd/system"
UNIT_NAME = re.compile(r"^swapctl-zram-([0-9]{1,3})\.service$")
RUN_DIR = "/run/swapctl"
UDEV_RULES = "/etc/udev/rules.d/90-swapctl-zram.rules"
MODULES_LOAD = "/etc/modules-load.d/swapctl-zram.conf"
UDEVD = (
    "/lib/systemd/systemd-udevd",
    "/usr/lib/systemd/systemd-udevd",
    "/sbin/udevd",
    "/usr/sbin/udevd",
    "/lib/udev/udevd",
)
# The values a unit or a rule carries: numbers, an algorithm name, algorithm_params words. None of them may hold
# a quote, a backslash, `$` or `%` (systemd's specifiers), so each is written as it is.
VALUE = re.compile(r"^[A-Za-z0-9_.=,/+ -]{0,300}$")


def unit_path(key: int) -> str:
    return f"{UNIT_DIR}/swapctl-zram-{key}.service"


def wants_path(key: int) -> str:
    return f"{UNIT_DIR}/swap.target.d/swapctl-zram-{key}.conf"


def run_path(key: int) -> str:
    return f"{RUN_DIR}/zram-{key}"


OWN_FILE = re.compile(
    r"^(/etc/systemd/system/swapctl-zram-[0-9]{1,3}\.service|/etc/systemd/system/swap\.target\.d/"
    r"swapctl-zram-[0-9]{1,3}\.conf|/run/swapctl/zram-[0-9]{1,3}|" + re.escape(MODULES_LOAD) + ")$"
)


class Spec(NamedTuple):
    """What a persisted device is set up with, in the kernel's order."""

    disksize: int
    algorithm: str | None = None
    params: tuple[str, ...] = ()
    mem_limit: int | None = None
    priority: int | None = None

    def summary(self) -> str:
        parts = [format_bytes(self.disksize)]
        if self.algorithm:
            parts.append(self.algorithm)
        if self.priority is not None:
            parts.append(f"priority {self.priority}")
        return ", ".join(parts)


def generator(host: Host) -> str | None:
    """Where zram-generator is installed, or None."""
    return next((g for g in GENERATORS if host.lstat(g) is not None), None)


# --- which way ----------------------------------------------------------------------------------------------
def boot_init(host: Host) -> str:
    """The program the next boot runs as init, if its kernel command line is this one's: init=, else an rdinit=
    other than an initramfs's own /init, else /sbin/init as its link resolves."""
    words = (host.read_text_or_none(paths.CMDLINE) or "").split()
    given = {k: v for k, _, v in (w.partition("=") for w in words) if k in ("init", "rdinit")}
    if "init" in given:
        return given["init"]
    if given.get("rdinit", "/init") != "/init":
        return given["rdinit"]
    return _sbin_init(host)


def systemd_boots(host: Host, init: str | None = None) -> bool:
    """The next boot's init (`init`, when the caller has it already) is systemd."""
    return (boot_init(host) if init is None else init).rsplit("/", 1)[-1] == "systemd"


def udevd(host: Host) -> str | None:
    return next((p for p in UDEVD if host.lstat(p) is not None), None)


UDEV_STARTERS = ("/etc/init.d/udev", "/etc/init.d/eudev", "/etc/init.d/udevd", "/etc/sv/udevd")


def udev_starts(host: Host, init: str | None = None) -> bool:
    """udev runs at the next boot: systemd starts it, or the distribution's init does (its init script or
    service), when the kernel command line does not name another init."""
    init = boot_init(host) if init is None else init
    started = systemd_boots(host, init) or (
        init == _sbin_init(host) and any(host.lstat(p) is not None for p in UDEV_STARTERS)
    )
    return started and udevd(host) is not None


def _sbin_init(host: Host) -> str:
    return host.resolve("/sbin/init") if host.lstat("/sbin/init") is not None else "/sbin/init"


def choose(host: Host, via: str = "auto") -> str:
    """The way to persist a zram device here: zram-generator where it is installed (it runs under systemd), else a
    systemd unit where the next boot's init is systemd, else an udev rule and an fstab line where udev runs at
    boot. Refused where the way asked for, or every way, cannot work."""
    init = boot_init(host)
    systemd = systemd_boots(host, init)
    can = {
        "zram-generator": systemd and generator(host) is not None,
        "systemd": systemd,
        "udev": udev_starts(host, init),
    }
    if via != "auto":
        if via not in can:
            raise UsageError(f"--persist-via {via[:40]!r} is not one of: {', '.join(CHOICES)}")
        if not can[via]:
            raise Refused(f"--persist-via {via}: {_why_not(host, via, init)}", hint=_HINT)
        return via
    way = next((w for w in WAYS if can[w]), None)
    if way is None:
        reasons = dict.fromkeys(_why_not(host, w, init) for w in WAYS)  # the init's reason once
        raise Refused("--persist: nothing here would set the device up at boot: " + "; ".join(reasons), hint=_HINT)
    return way


_HINT = (
    "swapctl persists zram where the next boot runs systemd (zram-generator, or a unit of its own) or udev "
    "(an udev rule); here, create without --persist"
)


def _why_not(host: Host, way: str, init: str) -> str:
    not_systemd = f"the next boot's init is {init}, not systemd"
    if way == "zram-generator":
        return f"zram-generator is not installed (no {GENERATORS[0]})" if generator(host) is None else not_systemd
    if way == "systemd":
        return not_systemd
    if udevd(host) is None:
        return f"udev is not installed (no {UDEVD[0]} or {UDEVD[2]})"
    return f"nothing starts udev at boot (no {UDEV_STARTERS[0]}, and {not_systemd})"


# --- the systemd unit -----------------------------------------------------------------------------------
# The unit's shell: systemd passes "$$" on as "$", and the values come from the unit's Environment= lines. On a
# failure after hot_add, the device is reset and removed again, so a failed unit leaves no half-made device.
_START = (
    "d=$$(cat /sys/class/zram-control/hot_add); z=/sys/block/zram$$d; "
    "undo() { swapoff /dev/zram$$d 2>/dev/null; echo 1 > $$z/reset; echo $$d > /sys/class/zram-control/hot_remove; "
    "exit 1; }; "
    '{ [ -z "$$ALGORITHM" ] || echo "$$ALGORITHM" > $$z/comp_algorithm; } && '
    '{ [ -z "$$PARAMS" ] || echo "$$PARAMS" > $$z/algorithm_params; } && '
    '{ [ -z "$$MEM_LIMIT" ] || echo "$$MEM_LIMIT" > $$z/mem_limit; } && '
    'echo "$$DISKSIZE" > $$z/disksize && mkswap /dev/zram$$d > /dev/null && '
    "swapon $${PRIORITY:+-p $$PRIORITY} /dev/zram$$d || undo; "
    'mkdir -p /run/swapctl && echo zram$$d added > "/run/swapctl/zram-$$KEY"'
)
_STOP = (
    'f="/run/swapctl/zram-$$KEY"; [ -f "$$f" ] || exit 0; read n how < "$$f"; '
    'swapoff /dev/$$n; echo 1 > /sys/block/$$n/reset && { [ "$$how" != added ] || '
    "echo $${n#zram} > /sys/class/zram-control/hot_remove; }; "
    'rm -f "$$f"'
)
ENV_LINE = re.compile(r'^Environment="([A-Z_]+)=([^"]*)"$', re.M)


def unit_text(key: int, spec: Spec) -> str:
    env = {
        "KEY": str(key),
        "DISKSIZE": str(spec.disksize),
        "ALGORITHM": spec.algorithm or "",
        "PARAMS": " ".join(spec.params),
        "MEM_LIMIT": "" if spec.mem_limit is None else str(spec.mem_limit),
        "PRIORITY": "" if spec.priority is None or spec.priority < 0 else str(spec.priority),
    }
    for k, v in env.items():
        if not VALUE.match(v):
            raise UsageError(f"{k.lower()} {v[:40]!r} cannot be written to a systemd unit")
    return (
        "# Written by swapctl (`swapctl zram create --persist`); `swapctl zram remove` removes it.\n"
        "# At boot it adds a new zram device (zram-control/hot_add: by this configuration, not by a device\n"
        f"# number), sets it up and turns it on as swap; {run_path(key)} names the device it made.\n"
        "[Unit]\n"
        f"Description=zram swap set up by swapctl ({spec.summary()})\n"
        "Documentation=man:swapctl(8)\n"
        "DefaultDependencies=no\n"
        "After=systemd-modules-load.service\n"
        "Before=swap.target shutdown.target\n"
        "Conflicts=shutdown.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "RemainAfterExit=yes\n"
        + "".join(f'Environment="{k}={v}"\n' for k, v in env.items())
        + "ExecStartPre=-/sbin/modprobe zram\n"
        f"ExecStart=/bin/sh -c '{_START}'\n"
        f"ExecStop=/bin/sh -c '{_STOP}'\n"
    )


WANTS_TEXT = "# Written by swapctl: the next boot starts {unit} before swap.target.\n[Unit]\nWants={unit}\n"


def parse_unit(text: str) -> Spec | None:
    """The Spec in a unit of swapctl's (its Environment= lines); None when it is not one swapctl can read."""
    env = dict(ENV_LINE.findall(text))
    try:
        return Spec(
            disksize=int(env["DISKSIZE"]),
            algorithm=env.get("ALGORITHM") or None,
            params=tuple(env.get("PARAMS", "").split()),
            mem_limit=int(env["MEM_LIMIT"]) if env.get("MEM_LIMIT") else None,
            priority=int(env["PRIORITY"]) if env.get("PRIORITY") else None,
        )
    except (KeyError, ValueError):
        return None


class Unit(NamedTuple):
    key: int
    path: str
    spec: Spec | None
    enabled: bool  # its swap.target drop-in is there
    device: str | None  # this boot's device for it (/run/swapctl/zram-K: "zramN", then "added" if hot-added)
    added: bool


def units(host: Host) -> list[Unit]:
    """swapctl's zram units, by key."""
    out = []
    for name in sorted(host.list_dir(UNIT_DIR) or []):
        m = UNIT_NAME.match(name)
        if not m:
            continue
        key = int(m.group(1))
        words = (host.read_text_or_none(run_path(key)) or "").split()
        device = words[0] if words and words[0].startswith("zram") else None
        out.append(
            Unit(
                key,
                unit_path(key),
                parse_unit(host.read_text_or_none(unit_path(key)) or ""),
                host.lstat(wants_path(key)) is not None,
                device,
                "added" in words[1:],
            )
        )
    return sorted(out)


def unit_of(host: Host, device: str, found: list[Unit] | None = None) -> Unit | None:
    """The unit that made `device` this boot (among `found`, when the caller has scanned them already)."""
    return next((u for u in (units(host) if found is None else found) if u.device == device), None)


def next_key(found: list[Unit]) -> int:
    taken = {u.key for u in found}
    return next(k for k in range(len(taken) + 1) if k not in taken)


@register
class ZramBootFile(FileEdit):
    """Write (or remove, text None) one of swapctl's own whole files for zram at boot: a unit, its swap.target
    drop-in, the /run file naming its device, the modules-load.d file. params: path, text."""

    kind = "zram-boot-file"
    params_schema = {
        "path": fields.Field(fields.is_path, "an absolute path"),
        "text": fields.Field(fields.optional(fields.is_content), "text or null"),
    }

    @classmethod
    def may_edit(cls, path: str) -> bool:
        return bool(OWN_FILE.match(path))

    def describe(self) -> str:
        path = self.params["path"]
        if self.params["text"] is None:
            return f"remove {path}"
        if path.startswith(RUN_DIR):
            return f"record in {path} that this boot's device is {self.params['text'].strip()}"
        return f"write {path}"

    def undo_description(self) -> str:
        return f"restore {self.params['path']}"

    def transform(self, old: str | None) -> str | None:
        return self.params["text"]


def unit_steps(host: Host, key: int, spec: Spec | None, device: str | None, added: bool = False) -> list[ZramBootFile]:
    """The edits that make unit K set up `spec` at boot, with `device` as this boot's (hot-added: `added`), or
    remove it (spec and device None)."""
    run = None if device is None else f"{device}{' added' if added else ''}\n"
    files = {
        unit_path(key): None if spec is None else unit_text(key, spec),
        wants_path(key): None if spec is None else WANTS_TEXT.format(unit=f"swapctl-zram-{key}.service"),
        run_path(key): run,
    }
    steps = [ZramBootFile(path=p, text=t) for p, t in files.items()]
    return [s for s in steps if s.needed(host)]


# --- the udev rule and the fstab line -------------------------------------------------------------------
RULE_KERNEL = re.compile(r'KERNEL=="(zram[0-9]+)"')
UDEV_HEADER = (
    "# zram devices set up by `swapctl zram create --persist` when the driver adds them at boot; the fstab line\n"
    "# for each turns it on. swapctl keeps other lines as they are.\n"
)


def own_rule(raw: str) -> tuple[str, str] | None:
    """(device, line) of a rule line of swapctl's file; None for any other line."""
    line = raw.strip()
    m = RULE_KERNEL.search(line)
    if m is None or not line.startswith('ACTION=="add"'):
        return None
    return m.group(1), line


def _tool(host: Host, name: str) -> str:
    """Where a util-linux tool is: /usr/sbin's, else /sbin's (every distribution has one of them)."""
    return next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if host.lstat(p) is not None), f"/sbin/{name}")


def rule_line(host: Host, device: str, spec: Spec) -> str:
    """The rule: the attributes in the kernel's order, then mkswap. Where systemd does not run, the rule swaps the
    device on itself: sysvinit's mountall.sh runs `swapon -a` without waiting for kmod (which loads a zram module)
    or for udev, so the fstab line alone would lose that race (a boot lane trial measured a 1.7 to 5 s margin).
    Under systemd the fstab line's swap unit waits for the device, and turns it on."""
    attrs = []
    if spec.algorithm:
        attrs.append(("comp_algorithm", spec.algorithm))
    if spec.params:
        attrs.append(("algorithm_params", " ".join(spec.params)))
    if spec.mem_limit is not None:
        attrs.append(("mem_limit", str(spec.mem_limit)))
    attrs.append(("disksize", str(spec.disksize)))
    for name, value in attrs:
        if not VALUE.match(value):
            raise UsageError(f"{name} {value[:40]!r} cannot be written to an udev rule")
    sets = "".join(f', ATTR{{{k}}}="{v}"' for k, v in attrs)
    prio = f"-p {spec.priority} " if spec.priority is not None and spec.priority >= 0 else ""
    run = (
        f"/bin/sh -c '{_tool(host, 'mkswap')} /dev/%k && "
        f"{{ [ -d /run/systemd/system ] || {_tool(host, 'swapon')} {prio}/dev/%k; }}'"
    )
    return f'ACTION=="add", SUBSYSTEM=="block", KERNEL=="{device}"{sets}, RUN+="{run}", TAG+="systemd"'


def parse_rule(line: str) -> Spec | None:
    attrs = dict(re.findall(r'ATTR\{([a-z_]+)\}="([^"]*)"', line))
    prio = re.search(r"swapon -p ([0-9]+) ", line)
    try:
        return Spec(
            disksize=int(attrs["disksize"]),
            algorithm=attrs.get("comp_algorithm"),
            params=tuple(attrs.get("algorithm_params", "").split()),
            mem_limit=int(attrs["mem_limit"]) if "mem_limit" in attrs else None,
            priority=int(prio.group(1)) if prio else None,
        )
    except (KeyError, ValueError):
        return None


def rules(host: Host) -> dict[str, str]:
    """Each device swapctl's udev file sets up: its rule line."""
    found = (own_rule(raw) for raw in split_lines(host.read_text_or_none(UDEV_RULES) or ""))
    return dict(f for f in found if f is not None)


@register
class ZramUdevRule(KeyedLinesEdit):
    """Set or drop a device's line in swapctl's udev rules file. params: path, settings {device: line or None}."""

    kind = "zram-udev-rule"
    params_schema = {
        "path": fields.Field(fields.is_path, "an absolute path"),
        "settings": fields.Field(
            lambda v: (
                isinstance(v, dict)
                and len(v) == 1
                and all(
                    isinstance(k, str)
                    and re.match(r"^zram[0-9]{1,4}$", k)
                    and (x is None or (own_rule(x) or ("",))[0] == k)
                    for k, x in v.items()
                )
            ),
            "a zram device and its rule line",
        ),
    }
    allowed_paths = (UDEV_RULES,)
    header = UDEV_HEADER
    last_wins = False
    parse = staticmethod(own_rule)

    @staticmethod
    def render(key: str, value: Any) -> str:
        return str(value)

    def transform(self, old: str | None) -> str | None:
        text = super().transform(old)
        return None if (text or "").strip() in ("", UDEV_HEADER.strip()) else text  # nothing but the header: gone

    def describe(self) -> str:
        [(device, line)] = self.params["settings"].items()
        if line is None:
            return f"drop {device}'s rule from {self.params['path']}"
        return f"persist in {self.params['path']}: {line}"


def boot_devices(host: Host) -> int:
    """How many zram devices the driver makes when it loads at boot: zram.num_devices= on the kernel command line
    (built in) or an `options zram num_devices=` line of modprobe.d (a module), else its default of 1."""
    for word in (host.read_text_or_none(paths.CMDLINE) or "").split():
        if word.startswith("zram.num_devices="):
            return _int(word.partition("=")[2], 1)
    for d in ("/etc/modprobe.d", "/run/modprobe.d", "/lib/modprobe.d", "/usr/lib/modprobe.d"):
        for name in sorted(host.list_dir(d) or []):
            if not name.endswith(".conf"):
                continue
            for raw in split_lines(host.read_text_or_none(f"{d}/{name}") or ""):
                words = raw.split()
                if words[:2] == ["options", "zram"]:
                    for w in words[2:]:
                        if w.startswith("num_devices="):
                            return _int(w.partition("=")[2], 1)
    return 1


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def zram_builtin(host: Host) -> bool:
    """zram is built into the kernel: loaded, and with no module initstate (a module has one)."""
    return host.lstat("/sys/module/zram") is not None and host.lstat("/sys/module/zram/initstate") is None


def check_udev_device(host: Host, device: str) -> None:
    count = boot_devices(host)
    if int(device[4:]) >= count:
        made = ", ".join(f"zram{i}" for i in range(min(count, 4))) + (", ..." if count > 4 else "")
        raise Refused(
            f"--persist-via udev: at boot the zram driver makes {made or 'no device'}, not {device}: an udev rule "
            "names a device, and a hot-added number is not stable",
            hint="use --device zram0 (or another the driver makes), set zram.num_devices on the kernel command "
            "line, or persist through systemd or zram-generator",
        )


def modules_load_step(host: Host, needed: bool) -> ZramBootFile | None:
    text = "# Written by swapctl: load zram at boot, for the devices in " + UDEV_RULES + ".\nzram\n"
    step = ZramBootFile(path=MODULES_LOAD, text=text if needed and not zram_builtin(host) else None)
    return step if step.needed(host) else None
