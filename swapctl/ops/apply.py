"""`swapctl apply FILE`: a YAML statement of the wanted swap files and vm settings, validated whole (with line
numbers), planned as the difference from the live machine, and carried out as one transaction."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swapctl.core.errors import UsageError
from swapctl.core.plan import Plan
from swapctl.kernel.version import parse_release

if TYPE_CHECKING:
    from swapctl.core.journal import Journal
    from swapctl.system.host import Host

TOP_KEYS = {"swapfiles", "zram", "vm", "zswap", "persist"}
SWAPFILE_KEYS = {"path", "size", "priority", "discard", "state", "method"}
ZRAM_KEYS = {
    "device",
    "size",
    "algorithm",
    "algorithm_params",
    "mem_limit",
    "priority",
    "state",
    "persist",
    "persist_via",
}
STATES = ("present", "absent")


@dataclass
class SwapfileSpec:
    path: str
    line: int
    state: str = "present"
    size: str | None = None
    priority: int | None = None  # None: as it runs now / as its fstab line says (see plan_create)
    discard: bool | None = None
    method: str = "auto"


@dataclass
class ZramSpec:
    line: int
    device: str = "auto"
    state: str = "present"
    size: str = "auto"
    algorithm: str | None = None
    algorithm_params: str | None = None
    mem_limit: str | None = None
    priority: int = 100
    persist: bool = False  # as `zram create --persist`: only where asked (zram-generator, a unit or udev)
    persist_via: str = "auto"  # as --persist-via (ops/zram_boot.py CHOICES)


@dataclass
class Desired:
    swapfiles: list[SwapfileSpec] = field(default_factory=list)
    zram: list[ZramSpec] = field(default_factory=list)
    vm: list[tuple[str, int]] = field(default_factory=list)  # ("swappiness=10", line)
    zswap: list[tuple[str, int]] = field(default_factory=list)  # ("enabled=Y", line)
    persist: bool = True
    problems: list[UsageError] = field(default_factory=list)  # reported with plan_apply's, all at once


class _Where:
    """The file being read, and every problem found in it so far (all are reported at once)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[UsageError] = []

    def fail(self, node: Any, message: str, hint: str | None = None) -> UsageError:
        return UsageError(f"{self.source}:{node.start_mark.line + 1}: {message}", hint=hint)

    def attempt(self, fn: Any, *args: Any) -> Any:
        """fn(*args), or None with its UsageError kept: the reading goes on to the next item."""
        try:
            return fn(*args)
        except UsageError as exc:
            self.problems.append(exc)
            return None


def raise_all(problems: list[UsageError], source: str) -> None:
    """One error for every problem of the file: one line, the problems in file order, each with its line."""
    if not problems:
        return
    problems = sorted(
        problems, key=lambda p: int(m.group(1)) if (m := re.match(re.escape(source) + r":(\d+):", p.message)) else 0
    )
    if len(problems) == 1:
        raise problems[0]
    hints = [p.hint for p in problems if p.hint]
    raise UsageError(
        f"{source}: {len(problems)} problems: " + "; ".join(p.message for p in problems),
        hint=hints[0] if len(set(hints)) == 1 else None,
        data={"problems": [{"message": p.message, "hint": p.hint} for p in problems]},
    )


def _construct(where: _Where, node: Any) -> Any:
    """The value of a composed scalar node, built by the safe constructor itself: re-serializing and loading it
    failed on an empty value (`persist:`), and a tag like !!python/object must be an error, not a crash."""
    import yaml

    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except Exception as exc:  # the safe constructors raise anything for bad tagged values: `!!int x`, `!!bool y`
        raise where.fail(node, f"cannot read this value ({getattr(exc, 'problem', None) or exc})") from None
    finally:
        loader.dispose()


def _scalar(where: _Where, node: Any, kind: type, what: str) -> Any:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        raise where.fail(node, f"{what} must be a single value")
    value = _construct(where, node)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise where.fail(node, f"{what} must be an integer, not {value!r}")
    if kind is int:
        _plain_decimal(where, node, what)
    if kind is bool and not isinstance(value, bool):
        raise where.fail(node, f"{what} must be true or false, not {value!r}")
    if kind is str:
        if isinstance(value, bool) or value is None:
            raise where.fail(node, f"{what} must be text, not {value!r}")
        value = str(value)
    return value


_DECIMAL = re.compile(r"[+-]?(0|[1-9][0-9]*)")


def _plain_decimal(where: _Where, node: Any, what: str) -> None:
    """YAML 1.1 also reads 010 as 8, 1_0 as 10, 1:30 as 90 and 0b11 as 3: a number swapctl acts on must be
    written as the decimal it is, so what the file says and what the machine gets cannot differ."""
    text = str(node.value)
    if node.style is None and not _DECIMAL.fullmatch(text):
        raise where.fail(
            node,
            f"{what} {text[:40]!r} is not a plain decimal number",
            hint="write it in decimal without leading zeros, _ or :, e.g. 10",
        )


def _mapping(where: _Where, node: Any, what: str, allowed: set[str]) -> list[tuple[str, Any, Any]]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise where.fail(node, f"{what} must be a mapping")
    out, seen = [], set()
    for knode, vnode in node.value:
        key = where.attempt(_scalar, where, knode, str, "a key")
        if key is None:
            continue
        if allowed and key not in allowed:
            where.problems.append(
                where.fail(knode, f"unknown key {key!r} in {what}", hint="allowed: " + ", ".join(sorted(allowed)))
            )
            continue
        if key in seen:
            where.problems.append(where.fail(knode, f"{key!r} is given twice in {what}"))
            continue
        seen.add(key)
        out.append((key, knode, vnode))
    return out


def load(text: str, source: str) -> Desired:
    """Parse and validate the whole file; every problem found is reported at once, each naming its line."""
    import yaml

    where = _Where(source)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        # `min_free_kbytes: >=65536` unquoted: ">" starts a folded block in YAML, "<" and "|" are reserved.
        bare = mark is not None and any(
            f": {c}" in row for row in text.split("\n")[max(mark.line - 1, 0) : mark.line + 1] for c in "<>"
        )
        raise UsageError(
            f"{source}{line}: not valid YAML ({getattr(exc, 'problem', exc)})",
            hint='quote a value that starts with > or <, e.g. min_free_kbytes: ">=65536"' if bare else None,
        ) from None
    except RecursionError:
        raise UsageError(f"{source}: nested too deeply to be a swapctl state file") from None
    desired = Desired()
    if root is None:
        return desired
    for key, _knode, vnode in where.attempt(_mapping, where, root, "the file", TOP_KEYS) or []:
        if key == "persist":
            persist = where.attempt(_scalar, where, vnode, bool, "persist")
            desired.persist = persist if persist is not None else desired.persist
        elif key == "vm":
            for vkey, _vk, vval in where.attempt(_mapping, where, vnode, "vm", set()) or []:
                assignment = where.attempt(_vm_assignment, where, vkey, vval)
                if assignment is not None:
                    desired.vm.append((assignment, vval.start_mark.line + 1))
        elif key == "zswap":
            for zkey, _zk, zval in where.attempt(_mapping, where, vnode, "zswap", set()) or []:
                assignment = where.attempt(_zswap_assignment, where, zkey, zval)
                if assignment is not None:
                    desired.zswap.append((assignment, zval.start_mark.line + 1))
        elif key in ("swapfiles", "zram"):
            if not isinstance(vnode, yaml.SequenceNode):
                where.problems.append(where.fail(vnode, f"{key} must be a list"))
                continue
            for item in vnode.value:
                if key == "swapfiles":
                    spec = where.attempt(_swapfile, where, item)
                    if spec is not None:
                        desired.swapfiles.append(spec)
                else:
                    zspec = where.attempt(_zram, where, item)
                    if zspec is not None:
                        desired.zram.append(zspec)
    seen: set[str] = set()
    for s in desired.swapfiles:
        if s.path in seen:
            where.problems.append(UsageError(f"{source}:{s.line}: {s.path} is listed more than once"))
        seen.add(s.path)
    desired.problems = where.problems
    return desired


def _vm_assignment(where: _Where, key: str, node: Any) -> str:
    """`swappiness: 10`, `min_free_kbytes: ">=65536"` (only raise) or `"<=N"` (only lower)."""
    import yaml

    value = _construct(where, node) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise where.fail(node, f'vm {key} must be an integer or a string like ">=N"')
    if isinstance(value, int):
        _plain_decimal(where, node, f"vm {key}")
    text = str(value).strip()
    for prefix, op in ((">=", "=>"), ("<=", "=<")):
        if text.startswith(prefix):
            return f"{key}{op}{text[2:].strip()}"
    return f"{key}={text}"


def _swapfile(where: _Where, node: Any) -> SwapfileSpec:
    fields = {k: v for k, _kn, v in _mapping(where, node, "a swapfile", SWAPFILE_KEYS)}
    if "path" not in fields:
        raise where.fail(node, "a swapfile needs a path")
    spec = SwapfileSpec(path=_scalar(where, fields["path"], str, "path"), line=node.start_mark.line + 1)
    if "state" in fields:
        spec.state = _scalar(where, fields["state"], str, "state")
        if spec.state not in STATES:
            raise where.fail(fields["state"], f"state {spec.state!r} is not present or absent")
    if "size" in fields:
        spec.size = _scalar(where, fields["size"], str, "size")
    elif spec.state == "present":
        raise where.fail(node, f"{spec.path}: a present swapfile needs a size")
    if "priority" in fields:
        spec.priority = _scalar(where, fields["priority"], int, "priority")
    if "discard" in fields:
        spec.discard = _scalar(where, fields["discard"], bool, "discard")
    if "method" in fields:
        spec.method = _scalar(where, fields["method"], str, "method")
    return spec


def _zswap_assignment(where: _Where, key: str, node: Any) -> str:
    """`enabled: true` (YAML's booleans are zswap's Y/N), `compressor: lzo`, `max_pool_percent: 20`."""
    import yaml

    value = _construct(where, node) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, bool):
        return f"{key}={'Y' if value else 'N'}"
    if not isinstance(value, (int, str)):
        raise where.fail(node, f"zswap {key} must be a value (true/false, a number or a name)")
    if isinstance(value, int):
        _plain_decimal(where, node, f"zswap {key}")
    return f"{key}={value}"


def _zram(where: _Where, node: Any) -> ZramSpec:
    fields = {k: v for k, _kn, v in _mapping(where, node, "a zram device", ZRAM_KEYS)}
    spec = ZramSpec(line=node.start_mark.line + 1)
    for key in ("device", "state", "algorithm", "algorithm_params", "mem_limit"):
        if key in fields:
            setattr(spec, key, _scalar(where, fields[key], str, key))
    if "size" in fields:
        spec.size = _scalar(where, fields["size"], str, "size")
    if spec.state not in STATES:
        raise where.fail(fields["state"], f"state {spec.state!r} is not present or absent")
    if spec.state == "absent" and spec.device == "auto":
        raise where.fail(node, "an absent zram device needs its device name (zram0, ...)")
    if "priority" in fields:
        spec.priority = _scalar(where, fields["priority"], int, "priority")
    if "persist" in fields:
        spec.persist = _scalar(where, fields["persist"], bool, "persist")
    if "persist_via" in fields:
        from swapctl.ops.zram_boot import CHOICES

        spec.persist_via = _scalar(where, fields["persist_via"], str, "persist_via")
        if spec.persist_via not in CHOICES:
            raise where.fail(
                fields["persist_via"], f"persist_via {spec.persist_via[:40]!r} is not one of: {', '.join(CHOICES)}"
            )
    return spec


def _at_line(line: int, source: str, exc: UsageError) -> UsageError:
    return UsageError(f"{source}:{line}: {exc.message}", hint=exc.hint)


def plan_apply(host: Host, journal: Journal, desired: Desired, source: str) -> Plan:
    """One plan for the whole file: its swap files', zram devices', vm and zswap plans merged into one
    transaction. Every item is planned against the machine as it is now, and every problem is reported at once."""
    from swapctl.ops import swapfile, vm_set, zswap_set

    plan = Plan("apply")
    items: list[dict[str, Any]] = []
    swapfile.require_root(host, journal, "swapctl apply")
    problems = desired.problems + _vm_problems(host, desired.vm, source) + _zswap_problems(desired.zswap, source)

    def attempt(line: int, build: Callable[..., Plan], *args: Any, **kwargs: Any) -> Plan | None:
        try:
            return build(*args, **kwargs)
        except UsageError as exc:
            problems.append(_at_line(line, source, exc))
            return None

    for spec in desired.swapfiles:
        before = _swap_state(host, spec.path)
        sub = attempt(spec.line, _swapfile_plan, host, journal, spec, desired.persist)
        if sub is not None:
            plan.merge(sub)
            items.append(_area_item("swapfile", spec.path, before, _swapfile_after(spec, sub, before), sub))
    zram_devices: set[str] = set()
    for z in desired.zram:
        sub = attempt(z.line, _zram_plan, host, journal, z)
        if sub is None:
            continue
        # Two items that would take the same device (two `auto`s) cannot both have it.
        if sub.steps and sub.data["device"] in zram_devices:
            problems.append(UsageError(f"{source}:{z.line}: {sub.data['device']} is already taken by an earlier item"))
            continue
        zram_devices.add(sub.data["device"])
        plan.merge(sub)
        after = {"state": "present", "size": sub.data["disksize"], "priority": z.priority}
        device = sub.data["device"]
        items.append(
            _area_item("zram", device, _swap_state(host, device), after if z.state == "present" else None, sub)
        )
    raise_all(problems, source)
    if desired.vm:
        vm_plan = vm_set.build_set_plan(host, [a for a, _ in desired.vm], persist=desired.persist, force=False)
        plan.merge(vm_plan)
        items.extend(_setting_items("sysctl", vm_plan.data["settings"], lambda row: row["key"]))
    if desired.zswap:
        swap_planned = any(s.state == "present" for s in desired.swapfiles) or any(
            z.state == "present" for z in desired.zram
        )
        zplan = attempt(
            desired.zswap[0][1],
            zswap_set.build_set_plan,
            host,
            [a for a, _ in desired.zswap],
            persist=desired.persist,
            force=False,
            swap_planned=swap_planned,
        )
        raise_all(problems, source)
        assert zplan is not None
        plan.merge(zplan)
        items.extend(_setting_items("zswap", zplan.data["settings"], lambda row: f"zswap.{row['name']}"))
    plan.data = {"items": items, "persist": desired.persist}
    if desired.swapfiles or desired.zram or desired.zswap:
        plan.after_run.append(lambda p: _warn_what_works_against_itself(host, journal, p))
    return plan


def _swapfile_plan(host: Host, journal: Journal, spec: SwapfileSpec, persist: bool) -> Plan:
    from swapctl.ops import swapfile

    if spec.state != "present":
        return swapfile.plan_remove(host, journal, spec.path)
    return swapfile.plan_create(
        host,
        journal,
        spec.path,
        spec.size or "",
        priority=spec.priority,
        discard=spec.discard,
        persist=persist,
        method=spec.method,
    )


def _swapfile_after(spec: SwapfileSpec, sub: Plan, before: dict[str, Any]) -> dict[str, Any] | None:
    if spec.state != "present":
        return None
    after = {
        "state": "present",
        "size": sub.data["size"],
        "priority": spec.priority if spec.priority is not None else before.get("priority"),
    }
    if "size_auto" in sub.data:  # size: auto, with the rule and its inputs
        after["size_auto"] = sub.data["size_auto"]
    return after


def _zram_plan(host: Host, journal: Journal, z: ZramSpec) -> Plan:
    from swapctl.ops import zram_set

    if z.state != "present":
        return zram_set.plan_remove(host, journal, z.device)
    return zram_set.plan_create(
        host,
        journal,
        z.device,
        z.size,
        algorithm=z.algorithm,
        algorithm_params=z.algorithm_params,
        mem_limit=z.mem_limit,
        priority=z.priority,
        persist=z.persist,
        persist_via=z.persist_via,
    )


def _area_item(kind: str, path: str, before: dict[str, Any], after: dict[str, Any] | None, sub: Plan) -> dict:
    """An item of the plan's data for a swap area; after None: the area is to be absent."""
    return {
        "kind": kind,
        "path": path,
        "before": before,
        "after": after or {"state": "absent"},
        "changed": bool(sub.steps),
    }


def _setting_items(kind: str, rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> list[dict]:
    return [
        {"kind": kind, "key": key(row), "before": row["old"], "after": row["new"], "changed": row["changed"]}
        for row in rows
    ]


def _warn_what_works_against_itself(host: Host, journal: Journal, plan: Plan) -> None:
    """After the run: the warnings `list` gives about the swap areas as they now are (zram not above disk swap,
    zswap in front of zram, one device's areas sharing a priority), each naming its fix."""
    from swapctl.ops.inventory import inventory, planning_warnings

    data, _ = inventory(host, journal)
    plan.warnings.extend(w for w in planning_warnings(host, data["areas"]) if w not in plan.warnings)


def _vm_problems(host: Host, items: list[tuple[str, int]], source: str) -> list[UsageError]:
    """Every vm assignment of the file checked as `vm set` checks them (key, value, the range this kernel
    accepts, each key once): the problems, each at its line."""
    from swapctl.kernel.knobs import check_assignments

    release = host.kernel_release()
    checked = check_assignments([text for text, _ in items], parse_release(release), release)
    return [_at_line(line, source, a) for (_, line), a in zip(items, checked) if isinstance(a, UsageError)]


def _zswap_problems(items: list[tuple[str, int]], source: str) -> list[UsageError]:
    from swapctl.ops.zswap_set import parse

    problems = []
    for text, line in items:
        try:
            parse([text])
        except UsageError as exc:
            problems.append(_at_line(line, source, exc))
    return problems


def _swap_state(host: Host, path: str) -> dict[str, Any]:
    from swapctl.ops.swapfile import active_area

    area = active_area(host, path)
    if area is None:
        return {"state": "absent"}
    # /proc/swaps leaves out the header page; the file's size includes it.
    return {"state": "present", "size": area.size + host.page_size, "priority": area.priority}
