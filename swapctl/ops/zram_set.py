"""zram, the writing side: the steps that add, set up, reset and remove zram devices through sysfs, and the plans
for `zram create`, `zram resize` and `zram remove` (the read side: ops/zram.py and system/zram.py).

The kernel's rules (Documentation/admin-guide/blockdev/zram.rst, drivers/block/zram/zram_drv.c): the algorithm
and mem_limit are written before disksize, and disksize only on a device that is not initialised (EBUSY
otherwise), so a resize is swapoff, reset, set up again; a device comes from reading zram-control/hot_add (which
answers the new id, the lowest free one) and goes by writing its id to hot_remove."""

from __future__ import annotations

import errno
import re
import stat
from typing import TYPE_CHECKING, Any

from swapctl.core import fields
from swapctl.core.errors import OperationFailed, Refused, UsageError
from swapctl.core.plan import Plan, Step, UndoContext, register
from swapctl.core.text import split_lines
from swapctl.core.units import MAX_SIZE, format_bytes, parse_size, round_up_pages
from swapctl.kernel import zram as rules
from swapctl.ops import fstab, sizing, zram_boot
from swapctl.ops.fileedit import FileEdit
from swapctl.ops.swapfile import (
    MIN_PAGES,
    SwapOff,
    SwapOn,
    active_area,
    area_priority,
    mkswap,
    require_root,
    swapoff_margin,
    validate_priority,
)
from swapctl.ops.zram_boot import generator
from swapctl.system import zram

if TYPE_CHECKING:
    from swapctl.core.journal import Journal
    from swapctl.system.host import Host
    from swapctl.system.zram import ZramDevice

CONTROL = "/sys/class/zram-control"
HOT_ADD, HOT_REMOVE = f"{CONTROL}/hot_add", f"{CONTROL}/hot_remove"
ALGORITHM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# Persistence goes through systemd's zram-generator (ops/bootswap.py reads its files): its drop-in directory,
# swapctl's own file in it.
PERSIST_FILE = "/etc/systemd/zram-generator.conf.d/90-swapctl.conf"
PERSIST_HEADER = (
    "# zram devices set up by `swapctl zram create --persist`, for zram-generator(8) at boot.\n"
    "# swapctl keeps other sections and lines as they are.\n"
)
SIZE_EXPR = re.compile(r"^[a-z0-9 .+*/(),-]{1,200}$")
ALGO_SETTING = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}(\([A-Za-z0-9_.=,/+-]{1,300}\))?$")  # lz4, zstd(level=3)

DEVICE = fields.Field(lambda v: isinstance(v, str) and bool(rules.DEVICE_NAME.match(v)), "a zram device name")
ALGORITHM = fields.Field(
    lambda v: v is None or (isinstance(v, str) and bool(ALGORITHM_NAME.match(v))), "an algorithm name", required=False
)
SIZE = fields.Field(fields.is_int(1, MAX_SIZE), "a size in bytes")
LIMIT = fields.Field(fields.optional(fields.is_int(0, MAX_SIZE)), "a size in bytes", required=False)


def _is_params(v: Any) -> bool:
    if v is None:
        return True
    if not isinstance(v, list) or not all(isinstance(w, str) for w in v):
        return False
    try:
        return rules.parse_algorithm_params(" ".join(v)) == v
    except ValueError:
        return False


PARAMS = fields.Field(_is_params, "algorithm_params words", required=False)


def _attr(name: str, attr: str) -> str:
    return f"{zram.BLOCK}/{name}/{attr}"


def _exists(host: Host, name: str) -> bool:
    return host.is_dir(f"{zram.BLOCK}/{name}")


def _read(host: Host, name: str) -> ZramDevice | None:
    return zram.read_device(host, name) if _exists(host, name) else None


def _write(host: Host, path: str, value: str, what: str) -> None:
    try:
        host.write_sysctl(path, value)
    except OSError as exc:
        said = exc.strerror or str(exc)
        if exc.errno == errno.EBUSY:
            said += " (the device is initialised or open)"
        raise OperationFailed(f"{what}: the kernel refused it: {said}") from None


def _in_swaps(host: Host, name: str) -> bool:
    return active_area(host, f"/dev/{name}") is not None


def _set_up(
    host: Host, name: str, algorithm: str | None, params: list[str] | None, mem_limit: int | None, disksize: int
) -> None:
    """The writes in the kernel's order: algorithm, its params, mem_limit, disksize (the last one initialises the
    device). The params are not readable back: the kernel's answer to the write is all there is. When a write
    fails, the algorithm and mem_limit written before it are put back (a failed step is not undone)."""
    dev = _read(host, name)
    if dev is None:
        raise OperationFailed(f"/dev/{name} does not exist")
    if dev.initialized:
        raise Refused(f"/dev/{name} is already set up ({format_bytes(dev.disksize)})", hint="reset it first")
    changed: dict[str, Any] = {}  # attribute -> the value it had
    try:
        if algorithm is not None and algorithm != dev.algorithm:
            _write(host, _attr(name, "comp_algorithm"), algorithm, f"algorithm {algorithm} on /dev/{name}")
            changed["comp_algorithm"] = dev.algorithm
        if params:
            _write(host, _attr(name, "algorithm_params"), " ".join(params), f"algorithm_params {' '.join(params)}")
        if mem_limit is not None:
            _write(host, _attr(name, "mem_limit"), str(mem_limit), f"mem_limit on /dev/{name}")
            changed["mem_limit"] = dev.mm.get("mem_limit")
        _write(host, _attr(name, "disksize"), str(disksize), f"disksize {disksize} on /dev/{name}")
    except OperationFailed:
        _put_back(host, name, changed)
        raise
    after = _read(host, name)
    if after is None or not after.initialized or after.disksize != disksize:
        got = "nothing" if after is None else format_bytes(after.disksize)
        raise OperationFailed(f"/dev/{name} reads back {got} after disksize {format_bytes(disksize)} was written")


def _put_back(host: Host, name: str, changed: dict[str, Any]) -> None:
    """The values a failed set-up changed, written back while the device is still not set up (if someone set it
    up meanwhile, it is theirs). Best effort: the failure that led here is the one reported."""
    dev = _read(host, name)
    if dev is None or dev.initialized:
        return
    for attr, old in changed.items():
        if old is not None:
            try:
                host.write_sysctl(_attr(name, attr), str(old))
            except OSError:
                pass


def _reset(host: Host, name: str) -> None:
    _write(host, _attr(name, "reset"), "1", f"reset /dev/{name}")


def _hot_add(host: Host, expected: str) -> None:
    """Read hot_add (the kernel adds a device and answers its id); a device other than the one planned (another
    program added one meanwhile) is removed again and the step fails."""
    try:
        answer = host.read_text(HOT_ADD, limit=64).strip()
    except OSError as exc:
        raise OperationFailed(f"adding a zram device: {exc.strerror or exc}") from None
    if not answer.isdigit():
        raise OperationFailed(f"zram-control/hot_add answered {answer[:20]!r}, not a device number")
    if f"zram{answer}" != expected:
        _write(host, HOT_REMOVE, answer, f"removing zram{answer}")
        raise OperationFailed(
            f"the kernel added zram{answer}, not the planned {expected} (another program added a device "
            "meanwhile); it was removed again"
        )


def _hot_remove(host: Host, name: str) -> None:
    _write(host, HOT_REMOVE, name[4:], f"removing /dev/{name}")


# --- steps ----------------------------------------------------------------------------------------------
class ZramStep(Step):
    """A step on a zram device of the running kernel. params: device. Under --root (a file tree) neither it nor
    its undo can be done, and zram devices do not survive a reboot, so its undo then means nothing."""

    runtime = True
    params_schema = {"device": DEVICE}

    def check(self, host: Host) -> None:
        host.require_live(self.describe())

    def check_undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        host.require_live(self.undo_description())


@register
class ZramHotAdd(ZramStep):
    """params: device (the id the kernel gives next: the lowest free one, checked when it answers)."""

    kind = "zram-hot-add"

    def describe(self) -> str:
        return f"add /dev/{self.params['device']} (zram-control/hot_add)"

    def undo_description(self) -> str:
        return f"remove /dev/{self.params['device']} (zram-control/hot_remove)"

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        _hot_add(host, self.params["device"])

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        name = self.params["device"]
        dev = _read(host, name)
        if dev is None:
            return
        if dev.initialized or _in_swaps(host, name):
            raise OperationFailed(f"/dev/{name} is in use again (set up by someone else?); not removing it")
        _hot_remove(host, name)


@register
class ZramSetup(ZramStep):
    """params: device, algorithm (None: the device's current one), algorithm_params (words, or None), mem_limit
    (None: none), disksize."""

    kind = "zram-setup"
    params_schema = {
        "device": DEVICE,
        "algorithm": ALGORITHM,
        "algorithm_params": PARAMS,
        "mem_limit": LIMIT,
        "disksize": SIZE,
    }

    def describe(self) -> str:
        p = self.params
        algo = f", {p['algorithm']}" if p.get("algorithm") else ""
        algo += f" ({' '.join(p['algorithm_params'])})" if p.get("algorithm_params") else ""
        limit = f", mem_limit {format_bytes(p['mem_limit'])}" if p.get("mem_limit") else ""
        return f"set up /dev/{p['device']}: {format_bytes(p['disksize'])}{algo}{limit}"

    def undo_description(self) -> str:
        return f"reset /dev/{self.params['device']}"

    def preview(self) -> dict[str, Any]:
        return {
            "what": f"/dev/{self.params['device']}",
            "before": "not set up",
            "after": self.describe().split(": ", 1)[1],
        }

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        p = self.params
        _set_up(host, p["device"], p.get("algorithm"), p.get("algorithm_params"), p.get("mem_limit"), p["disksize"])

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        name = self.params["device"]
        dev = _read(host, name)
        if dev is None or not dev.initialized:
            return
        if _in_swaps(host, name):
            raise OperationFailed(f"/dev/{name} is an active swap area; not resetting it")
        if dev.disksize != self.params["disksize"] and not ctx.force:
            # Compare and swap: a device set up again since (another size) is someone else's now.
            raise Refused(
                f"/dev/{name} is {format_bytes(dev.disksize)} now, not the {format_bytes(self.params['disksize'])} "
                "swapctl set up; not resetting it",
                hint="pass --force to reset it anyway",
            )
        _reset(host, name)


@register
class ZramMkSwap(ZramStep):
    """params: device."""

    kind = "zram-mkswap"
    undo_is_noop = True
    runtime = False  # its undo is nothing, at any boot

    def describe(self) -> str:
        return f"mkswap /dev/{self.params['device']}"

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        mkswap(host, f"/dev/{self.params['device']}")

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        """Nothing to do: the reset of the zram-setup step's undo clears the device."""


@register
class ZramReset(ZramStep):
    """params: device, algorithm_params (the ones swapctl last set it up with: the kernel shows none). Its undo
    record: the set-up it had (algorithm, mem_limit, disksize), to set it up again empty and mkswap it (the data
    is gone with the reset; the swapoff before it paged it all back in)."""

    kind = "zram-reset"
    params_schema = {"device": DEVICE, "algorithm_params": PARAMS}
    record_schema = {"algorithm": ALGORITHM, "mem_limit": LIMIT, "disksize": SIZE}

    def describe(self) -> str:
        return f"reset /dev/{self.params['device']}"

    def preview(self) -> dict[str, Any]:
        return {"what": f"/dev/{self.params['device']}", "before": "set up", "after": "not set up"}

    def undo_description(self) -> str:
        params = self.params.get("algorithm_params")
        again = f"again ({' '.join(params)})" if params else "again"
        return f"set up /dev/{self.params['device']} {again} and mkswap it"

    def snapshot(self, host: Host) -> dict[str, Any]:
        dev = _read(host, self.params["device"])
        if dev is None or not dev.initialized:
            raise OperationFailed(f"/dev/{self.params['device']} is not set up")
        return {"algorithm": dev.algorithm, "mem_limit": dev.mm.get("mem_limit") or None, "disksize": dev.disksize}

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        name = self.params["device"]
        if _in_swaps(host, name):
            raise OperationFailed(f"/dev/{name} is still an active swap area")
        _reset(host, name)

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        name = self.params["device"]
        dev = _read(host, name)
        if dev is None:
            raise OperationFailed(f"/dev/{name} does not exist")
        if dev.initialized:
            if dev.disksize == record["disksize"]:
                return  # set up as it was (an undo that ran before a crash)
            raise OperationFailed(f"/dev/{name} was set up again by someone else; leaving it")
        params = self.params.get("algorithm_params")
        _set_up(host, name, record.get("algorithm"), params, record.get("mem_limit"), record["disksize"])
        mkswap(host, f"/dev/{name}")


@register
class ZramHotRemove(ZramStep):
    """params: device (one swapctl added)."""

    kind = "zram-hot-remove"

    def describe(self) -> str:
        return f"remove /dev/{self.params['device']} (zram-control/hot_remove)"

    def undo_description(self) -> str:
        return f"add /dev/{self.params['device']} again (zram-control/hot_add)"

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        _hot_remove(host, self.params["device"])

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        if not _exists(host, self.params["device"]):
            _hot_add(host, self.params["device"])


def _sections(text: str) -> list[tuple[str | None, list[str]]]:
    """The file as (section name, its lines) blocks, the lines before any section under None."""
    blocks: list[tuple[str | None, list[str]]] = [(None, [])]
    for raw in split_lines(text):
        head = raw.strip()
        if head.startswith("[") and head.endswith("]"):
            blocks.append((head[1:-1].strip(), [raw]))
        else:
            blocks[-1][1].append(raw)
    return blocks


def set_section(text: str | None, device: str, settings: dict[str, str] | None) -> str | None:
    """swapctl's drop-in with the device's section set to `settings` (None: the section dropped), every other
    section and line kept byte for byte; None when nothing but the header would be left."""
    blocks = _sections(text or "")
    body = None if settings is None else [f"[{device}]\n", *(f"{k} = {v}\n" for k, v in settings.items())]
    out: list[str] = []
    placed = False
    for name, lines in blocks:
        if name == device:
            if body is not None and not placed:
                out.extend(body)
            placed = True
            continue
        out.extend(lines)
    if body is not None and not placed:
        if text is None:
            out.append(PERSIST_HEADER)  # a new file: nothing is in out yet
        elif out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.extend(body)
    result = "".join(out)
    return None if result.strip() in ("", PERSIST_HEADER.strip()) else result


SIZE_KEYS = ("zram-size", "compression-algorithm", "swap-priority")
SETTINGS = fields.Field(
    lambda v: (
        v is None
        or (
            isinstance(v, dict)
            and set(v) <= set(SIZE_KEYS)
            and all(
                isinstance(x, str) and (ALGO_SETTING if k == "compression-algorithm" else SIZE_EXPR).match(x)
                for k, x in v.items()
            )
        )
    ),
    "zram-generator settings",
)


@register
class ZramPersist(FileEdit):
    """Set or drop a device's section in swapctl's zram-generator drop-in. params: path, device, settings (None:
    drop the section)."""

    kind = "zram-persist"
    params_schema = {"path": fields.Field(fields.is_path, "an absolute path"), "device": DEVICE, "settings": SETTINGS}
    allowed_paths = (PERSIST_FILE,)

    def describe(self) -> str:
        p = self.params
        if p["settings"] is None:
            return f"drop [{p['device']}] from {p['path']}"
        pairs = ", ".join(f"{k} = {v}" for k, v in p["settings"].items())
        return f"persist [{p['device']}] {pairs} in {p['path']}"

    def undo_description(self) -> str:
        return f"restore {self.params['path']}"

    def transform(self, old: str | None) -> str | None:
        return set_section(old, self.params["device"], self.params["settings"])

    def revert(self, current: str, record: dict[str, Any]) -> str | None:
        # Edited since: put back only our section as it was.
        before = dict(_sections(record["old"] or ""))
        lines = before.get(self.params["device"])
        if lines is None:
            return set_section(current, self.params["device"], None)
        settings = {}
        for raw in lines[1:]:
            key, sep, value = raw.partition("=")
            if sep and not key.strip().startswith(("#", ";")):
                settings[key.strip()] = value.strip()
        return set_section(current, self.params["device"], settings)


def persist_step(host: Host, device: str, settings: dict[str, str] | None) -> ZramPersist | None:
    """The drop-in edit for a device, or None when there is nothing to change. zram_boot.choose() has checked that
    zram-generator runs here before a section is set; where it is not installed, a section stays for its return."""
    if settings is None and generator(host) is None:
        return None
    step = ZramPersist(path=PERSIST_FILE, device=device, settings=settings)
    return step if step.needed(host) else None


def owned_sections(host: Host) -> set[str]:
    """The devices swapctl's drop-in has a section for."""
    text = host.read_text_or_none(PERSIST_FILE)
    return {n for n, _ in _sections(text or "") if n is not None}


# --- planning -------------------------------------------------------------------------------------------
def history(journal: Journal) -> tuple[set[str], dict[str, list[str] | None]]:
    """One replay of the committed transactions (not rollbacks) for what the kernel cannot say: the zram devices
    swapctl added and has not removed (the only ones `zram remove` hot-removes: a device the kernel or another
    tool made stays, reset), and the algorithm_params swapctl last set each device up with (the kernel shows
    none; None when it set none or the device was removed since)."""
    added: set[str] = set()
    params: dict[str, list[str] | None] = {}
    for tx in journal.transactions():
        if tx.status != "committed" or tx.rollback_of:
            continue
        for s in tx.steps:
            kind, p = s.step.get("kind"), s.step.get("params", {})
            device = p.get("device")
            if not DEVICE.check(device):
                continue
            if kind == "zram-hot-add":
                added.add(device)
            elif kind == "zram-hot-remove":
                added.discard(device)
                params[device] = None
            elif kind == "zram-setup":
                words = p.get("algorithm_params")
                params[device] = words if PARAMS.check(words) else None
    return added, params


def _algorithm_params(host: Host, text: str | None, names: list[str], name: str | None) -> list[str] | None:
    """--algorithm-params checked: the words, a kernel that takes them (the device's own algorithm_params file;
    a device still to be added: another's), and a dictionary file that is there."""
    if text is None:
        return None
    try:
        params = rules.parse_algorithm_params(text)
    except ValueError as exc:
        raise UsageError(f"--algorithm-params {text[:60]!r} {exc}", hint="e.g. --algorithm-params level=3") from None
    probe = [name] if name in names else names
    if not any(host.lstat(_attr(n, "algorithm_params")) is not None for n in probe):
        since = ".".join(map(str, rules.ALGORITHM_PARAMS_SINCE))
        raise Refused(f"this kernel's zram takes no algorithm_params (they came with Linux {since})")
    for word in params:
        if word.startswith("dict="):
            path = word[5:]
            st = host.lstat(path)
            if st is None or not stat.S_ISREG(st.st_mode):
                raise UsageError(
                    f"--algorithm-params dict {path} is not a regular file", hint="give the path of a dictionary"
                )
    return params


def _algorithm_setting(algorithm: str | None, params: list[str] | None) -> str | None:
    """zram-generator's compression-algorithm: the name, with the params as `name(k=v,k=v)`."""
    if algorithm is None:
        return None
    return f"{algorithm}({','.join(params)})" if params else algorithm


def device_name(text: str) -> str:
    name = text[5:] if text.startswith("/dev/") else text
    if not rules.DEVICE_NAME.match(name):
        raise UsageError(f"{text!r} is not a zram device name", hint="give zram0, /dev/zram1, ... or auto")
    return name


def next_id(names: list[str]) -> str:
    """The device hot_add makes next: the kernel takes the lowest free id (idr_alloc from 0)."""
    taken = {int(n[4:]) for n in names}
    return f"zram{next(i for i in range(len(taken) + 1) if i not in taken)}"


def disk_size(host: Host, text: str) -> tuple[int, dict[str, Any]]:
    """--size: a size (512M, 4G), auto (zram-generator's default, min(ram / 2, 4096) MiB) or one of
    zram-generator's zram-size expressions, with `ram` as MemTotal in MiB."""
    page = host.page_size
    if text.strip().lower() != "auto":
        try:
            return round_up_pages(parse_size(text), page), {}
        except UsageError:
            if not re.search(r"ram|min|max|[-+*/(]", text):
                raise
    expression = sizing.ZRAM_DEFAULT if text.strip().lower() == "auto" else text
    mem_total = host.meminfo().get("MemTotal", 0)
    try:
        mib = sizing.zram_expression(expression, mem_total / sizing.MIB)
    except sizing.ExpressionError as exc:
        raise UsageError(f"--size {text!r} is neither a size nor a zram-size expression: {exc}") from None
    size = round_up_pages(max(int(mib * sizing.MIB), 0), page)
    return size, {"expression": expression, "ram_mib": round(mem_total / sizing.MIB, 1), "size": size}


def _validate_disksize(size: int, page_size: int, text: str) -> None:
    if size < MIN_PAGES * page_size:
        raise UsageError(f"--size {text} gives {format_bytes(size)}: below the {MIN_PAGES} pages mkswap accepts")
    if size > MAX_SIZE:
        raise UsageError(f"--size {text} is larger than swapctl accepts")


def _check_algorithm(algorithm: str | None, devices: list[ZramDevice]) -> None:
    """Against the device's own comp_algorithm list (zram has its own backends from 6.12: lz4 may be there
    while /proc/crypto lacks it)."""
    if algorithm is None:
        return
    known = next((d.algorithms for d in devices if d.algorithms), None)
    if not ALGORITHM_NAME.match(algorithm) or (known is not None and algorithm not in known):
        offered = f" (this kernel's zram offers: {', '.join(known)})" if known else ""
        raise UsageError(f"zram has no compression algorithm {algorithm!r}{offered}")


def check_zram_swapoff_fits(host: Host, dev: ZramDevice) -> None:
    """swapoff decompresses every stored page back into RAM: it needs orig_data_size, and gives back the
    compressed copies (mem_used_total) as it goes. Refuse when the difference would not fit. `dev` is an active
    swap area (the callers have checked)."""
    stored, cost = dev.mm.get("orig_data_size", 0), dev.mm.get("mem_used_total", 0)
    if stored == 0:
        return
    mem = host.meminfo()
    available = mem.get("MemAvailable", mem.get("MemFree", 0))
    other_free = sum(a.size - a.used for a in host.swaps() if a.path != dev.path)
    margin = swapoff_margin(mem)
    if stored - cost + margin > available + other_free:
        raise Refused(
            f"swapoff {dev.path} would decompress {format_bytes(stored)} back into memory (freeing the "
            f"{format_bytes(cost)} it uses) plus a margin of {format_bytes(margin)}, but only "
            f"{format_bytes(available)} is available (and {format_bytes(other_free)} free in other swap areas)",
            hint="free memory first, or add another swap area",
        )


def plan_create(
    host: Host,
    journal: Journal,
    device: str = "auto",
    size_text: str = "auto",
    *,
    algorithm: str | None = None,
    algorithm_params: str | None = None,
    mem_limit: str | None = None,
    priority: int | None,
    persist: bool,
    persist_via: str = "auto",
) -> Plan:
    priority = validate_priority(priority)
    limit = None if mem_limit is None else parse_size(mem_limit, what="--mem-limit")
    size, rule = disk_size(host, size_text)
    _validate_disksize(size, host.page_size, size_text)
    require_root(host, journal, "setting up zram")
    names = zram.device_names(host)
    devices = [zram.read_device(host, n) for n in names]
    _check_algorithm(algorithm, devices)
    params = _algorithm_params(host, algorithm_params, names, None if device == "auto" else device_name(device))
    data: dict[str, Any] = {
        "disksize": size,
        "algorithm": algorithm,
        "algorithm_params": params,
        "mem_limit": limit,
        "priority": priority,
    }
    if rule:
        data["size_rule"] = rule
    mem_total = host.meminfo().get("MemTotal", 0)
    warnings = []
    if mem_total and size > 2 * mem_total:
        warnings.append(
            f"a disksize of {format_bytes(size)} is more than twice the RAM ({format_bytes(mem_total)}): zram "
            "stores pages at 2:1 to 4:1, so a full device may not fit in memory (set --mem-limit)"
        )

    def same(d: ZramDevice) -> bool:
        area = active_area(host, d.path)
        return (
            area is not None
            and d.disksize == size
            and algorithm in (None, d.algorithm)
            and area_priority(area) == (priority if priority is not None and priority >= 0 else None)
        )

    def finish(plan: Plan, name: str, done: bool = False) -> Plan:
        if done and params:
            plan.warnings.append(
                f"/dev/{name} is already set up as asked but for --algorithm-params, which the kernel does not "
                "show: it was left as it is (remove and create it to be sure of them)"
            )
        if persist:
            way = zram_boot.choose(host, persist_via)
            current = next((d.algorithm for d in devices if d.name == name), None)
            if way == "zram-generator":
                _persist_for_generator(
                    host, plan, name, rule, size, priority, algorithm or (current if params else None), params, limit
                )
            else:
                spec = zram_boot.Spec(size, algorithm or current, tuple(params or ()), limit, priority)
                _persist_at_boot(host, plan, way, name, spec, added=name not in names or name in history(journal)[0])
                if rule.get("expression"):
                    plan.warnings.append(
                        f"the boot's set-up carries the size {rule['expression']} comes to now "
                        f"({format_bytes(size)}), not the expression (zram-generator's alone evaluates it at boot)"
                    )
            plan.data["persist_via"] = way
        plan.data.setdefault("persist", None)
        return plan

    if device == "auto":
        done = next((d for d in devices if same(d)), None)
        if done is not None:  # already there: create is idempotent, like zram-generator's start
            return finish(Plan("zram create", data={**data, "device": done.path}, warnings=warnings), done.name, True)
        free = next((d for d in devices if not d.initialized and not _in_swaps(host, d.name)), None)
        name = free.name if free is not None else next_id(names)
    else:
        name = device_name(device)
        dev = next((d for d in devices if d.name == name), None)
        if dev is not None and same(dev):
            return finish(Plan("zram create", data={**data, "device": dev.path}, warnings=warnings), name, True)
        if dev is not None and (dev.initialized or _in_swaps(host, name)):
            raise Refused(
                f"/dev/{name} is already set up ({format_bytes(dev.disksize)}, {dev.algorithm})",
                hint=f"use 'swapctl zram resize {name}', or 'swapctl zram remove {name}' first",
            )
        if dev is None and name != next_id(names):
            raise UsageError(
                f"there is no /dev/{name}, and the kernel adds {next_id(names)} next",
                hint="use --device auto (or the next name) to add a device",
            )
    plan = Plan("zram create", data={**data, "device": f"/dev/{name}"}, warnings=warnings)
    if name not in names:
        if host.lstat(HOT_ADD) is None:
            raise Refused(
                "no free zram device, and this kernel has no zram-control to add one",
                hint="load the zram module (modprobe zram), or free a device with 'swapctl zram remove'",
            )
        plan.add(ZramHotAdd(device=name))
    plan.add(ZramSetup(device=name, algorithm=algorithm, algorithm_params=params, mem_limit=limit, disksize=size))
    plan.add(ZramMkSwap(device=name))
    plan.add(SwapOn(path=f"/dev/{name}", priority=priority))
    return finish(plan, name)


def _persist_for_generator(
    host: Host,
    plan: Plan,
    name: str,
    rule: dict[str, Any],
    size: int,
    priority: int | None,
    algorithm: str | None,
    params: list[str] | None,
    limit: int | None,
) -> None:
    """The device's section in swapctl's zram-generator drop-in."""
    settings = {"zram-size": rule.get("expression") or _mib(size)}
    if priority is not None and priority >= 0:
        settings["swap-priority"] = str(priority)
    setting = _algorithm_setting(algorithm, params)
    if params and setting is None:
        raise UsageError(
            "--persist with --algorithm-params needs --algorithm: zram-generator gives parameters to a named algorithm"
        )
    if setting is not None:
        settings["compression-algorithm"] = setting
    step = persist_step(host, name, settings)
    if step is not None:
        plan.add(step)
    if limit is not None:
        plan.warnings.append("the drop-in does not carry --mem-limit: zram-generator sets no mem_limit")
    plan.data["persist"] = PERSIST_FILE


def _persist_at_boot(host: Host, plan: Plan, way: str, name: str, spec: zram_boot.Spec, *, added: bool) -> None:
    """A systemd unit of swapctl's (by configuration: it hot-adds its own device at boot), or an udev rule and an
    fstab line for a device the driver makes at load (ops/zram_boot.py)."""
    if way == "systemd":
        found = zram_boot.units(host)
        unit = zram_boot.unit_of(host, name, found)
        key = zram_boot.next_key(found) if unit is None else unit.key
        plan.steps.extend(zram_boot.unit_steps(host, key, spec, name, added or (unit is not None and unit.added)))
        plan.data["persist"] = zram_boot.unit_path(key)
        return
    zram_boot.check_udev_device(host, name)
    _udev_steps(host, plan, name, spec)
    plan.data["persist"] = zram_boot.UDEV_RULES


def _udev_steps(host: Host, plan: Plan, name: str, spec: zram_boot.Spec | None) -> None:
    """The rule, the fstab line and the modules-load.d file for a device (spec None: dropped)."""
    line = None if spec is None else zram_boot.rule_line(host, name, spec)
    rule = zram_boot.ZramUdevRule(path=zram_boot.UDEV_RULES, settings={name: line})
    if rule.needed(host):
        plan.add(rule)
    path = f"/dev/{name}"
    swap = None if spec is None else fstab.swap_line(path, spec.priority, None)
    edit = fstab.fstab_set(path, swap)
    if edit.needed(host):
        plan.add(edit)
    others = set(zram_boot.rules(host)) - {name}
    step = zram_boot.modules_load_step(host, bool(others) or spec is not None)
    if step is not None:
        plan.add(step)


def _mib(size: int) -> str:
    """A size as zram-generator's zram-size (MiB; a float of pages is exact, being a power-of-two fraction)."""
    text = repr(size / sizing.MIB)
    return text[:-2] if text.endswith(".0") else text


def _existing(host: Host, device: str) -> tuple[str, ZramDevice | None]:
    name = device_name(device)
    return name, _read(host, name)


def plan_remove(host: Host, journal: Journal, device: str, *, force: bool = False) -> Plan:
    name, dev = _existing(host, device)
    require_root(host, journal, "removing zram")
    plan = Plan("zram remove", data={"device": f"/dev/{name}"})
    if dev is None:  # already gone; what persists it by its number is dropped still
        _drop_by_number(host, plan, name)
        return plan
    area = active_area(host, dev.path)
    added, params = history(journal)
    if dev.initialized and area is None and not force:
        raise Refused(
            f"/dev/{name} is set up but is not a swap area (a filesystem, or another program's?)",
            hint="swapctl resets only swap devices; pass --force to reset it anyway",
        )
    if area is not None:
        check_zram_swapoff_fits(host, dev)
        plan.add(SwapOff(path=dev.path, priority=area_priority(area)))
    if dev.initialized:
        plan.add(ZramReset(device=name, algorithm_params=params.get(name)))
    unit = zram_boot.unit_of(host, name)
    if name in added or (unit is not None and unit.added):
        plan.add(ZramHotRemove(device=name))
    elif dev.initialized:
        plan.warnings.append(f"/dev/{name} was not added by swapctl, so it stays (reset, empty)")
    _drop_by_number(host, plan, name)
    if unit is not None:
        plan.steps.extend(zram_boot.unit_steps(host, unit.key, None, None))
    return plan


def _drop_by_number(host: Host, plan: Plan, name: str) -> None:
    """Drop what sets the device up at boot by its number: its zram-generator section, its udev rule and fstab
    line (a unit of swapctl's is found by the device it made this boot instead)."""
    if name in owned_sections(host):
        step = persist_step(host, name, None)
        if step is not None:
            plan.add(step)
    if name in zram_boot.rules(host):
        _udev_steps(host, plan, name, None)


def plan_resize(host: Host, journal: Journal, device: str, size_text: str) -> Plan:
    name, dev = _existing(host, device)
    size, rule = disk_size(host, size_text)
    _validate_disksize(size, host.page_size, size_text)
    require_root(host, journal, "resizing zram")
    area = None if dev is None else active_area(host, dev.path)
    if dev is None or area is None:
        raise Refused(
            f"/dev/{name} is not an active zram swap area",
            hint=f"use 'swapctl zram create --device {name} --size {size_text}' to make it",
        )
    data: dict[str, Any] = {"device": dev.path, "disksize": size, "old_disksize": dev.disksize}
    if rule:
        data["size_rule"] = rule
    plan = Plan("zram resize", data=data)
    if dev.disksize == size:
        return plan
    check_zram_swapoff_fits(host, dev)
    prio = area_priority(area)
    limit = dev.mm.get("mem_limit") or None
    plan.add(SwapOff(path=dev.path, priority=prio))
    params = history(journal)[1].get(name)  # the kernel shows none: the ones swapctl set, set again
    plan.add(ZramReset(device=name, algorithm_params=params))
    plan.add(ZramSetup(device=name, algorithm=dev.algorithm, algorithm_params=params, mem_limit=limit, disksize=size))
    plan.add(ZramMkSwap(device=name))
    plan.add(SwapOn(path=dev.path, priority=prio))
    if name in owned_sections(host) and generator(host) is not None:
        old = dict(_sections(host.read_text_or_none(PERSIST_FILE) or "")).get(name, [])
        settings = {
            k.strip(): v.strip()
            for k, sep, v in (ln.partition("=") for ln in old[1:])
            if sep and k.strip() in SIZE_KEYS
        }
        settings["zram-size"] = rule.get("expression") or _mib(size)
        step = persist_step(host, name, settings)
        if step is not None:
            plan.add(step)
    unit = zram_boot.unit_of(host, name)
    if unit is not None and unit.spec is not None:
        plan.steps.extend(zram_boot.unit_steps(host, unit.key, unit.spec._replace(disksize=size), name, unit.added))
    own_rule = zram_boot.rules(host).get(name)
    spec = None if own_rule is None else zram_boot.parse_rule(own_rule)
    if spec is not None:
        _udev_steps(host, plan, name, spec._replace(disksize=size, priority=area_priority(area)))
    return plan
