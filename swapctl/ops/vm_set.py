"""vm tuning, the writing side: the safety policy, the steps that write /proc/sys/vm (compare-and-swap undo)
and persist to /etc/sysctl.d/90-swapctl.conf, and the `vm set` plan (the read side: vm.py)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from swapctl.core import fields
from swapctl.core.errors import OperationFailed, Refused, UsageError
from swapctl.core.plan import Plan, Step, UndoContext, register
from swapctl.core.text import split_lines
from swapctl.kernel import mm
from swapctl.kernel.knobs import KNOBS, LOWER, RAISE, SET, Assignment, parse_assignments
from swapctl.ops import nextboot
from swapctl.ops.fileedit import KeyedLinesEdit
from swapctl.ops.vm import VmState, boot_value, read_state
from swapctl.system import paths

if TYPE_CHECKING:
    from swapctl.system.host import Host

PERSIST_FILE = "/etc/sysctl.d/90-swapctl.conf"
PERSIST_HEADER = "# vm sysctls set by `swapctl vm set --persist`. swapctl keeps other lines as they are.\n"
_INT = fields.is_int(-(2**31), 2**31 - 1)


# --- policy ---------------------------------------------------------------------------------------------
def check_policy(assignments: list[Assignment], state: VmState, *, force: bool) -> list[str]:
    """Refuse (exit 3) what the kernel would take but could hurt the machine; warn about the merely odd."""
    warnings: list[str] = []
    for a in assignments:
        current = state.values.get(a.knob.name)
        if current is None:
            needs = f" (it needs {a.knob.needs})" if a.knob.needs else ""
            raise UsageError(f"{a.knob.key} does not exist on this kernel ({state.release or 'unknown'}){needs}")
        if a.knob.name == "min_free_kbytes":
            # Judge what would be in force: `=<N` never raises the value, `=>N` never lowers it.
            warnings.extend(judge_min_free(a.target(current), state, force=force))
        doubt = a.knob.doubt_about(a.value, state.version)
        if doubt:
            warnings.append(doubt + " (a refused write is undone)")
        if a.knob.name == "zone_reclaim_mode" and a.value and state.nodes <= 1:
            warnings.append("this machine has one NUMA node: zone_reclaim_mode has no effect here")
    return warnings


def judge_min_free(value: int, state: VmState, *, force: bool) -> list[str]:
    """Refuse a min_free_kbytes above the safe limit (unless --force); warn below the kernel's own default."""
    mf, warnings = state.min_free, []
    if value > mf.safe_limit:
        what = (
            f"vm.min_free_kbytes={value} is above the safe limit of {mf.safe_limit} kB "
            f"({mm.SAFE_SHARE_PERCENT}% of the {mf.basis_kb} kB of {mf.basis})"
        )
        if not force:
            raise Refused(
                what,
                hint="so large a reserve can leave the kernel deadlocked on memory "
                "(a panic); pass --force if you are sure",
            )
        warnings.append(what + "; writing it because of --force")
    # The default is our estimate of the kernel's (give it slack); 128 kB is the kernel's own floor.
    low = mf.kernel_default - mm.estimate_slack(mf.kernel_default) if mf.kernel_default else 128
    if value < low:
        warnings.append(
            f"vm.min_free_kbytes={value} is below the kernel's own default for this machine "
            f"({mf.kernel_default or 128} kB): atomic allocations may fail and reclaim starts late"
        )
    return warnings


# --- steps ----------------------------------------------------------------------------------------------
@register
class SysctlWrite(Step):
    """Write one /proc/sys/vm value. params: name, value, mode (set|raise|lower), planned_old (for the
    description only: the undo record's old value is read under the lock)."""

    kind = "sysctl-write"
    runtime = True
    params_schema = {
        "name": fields.Field(fields.one_of(*KNOBS), "a vm sysctl swapctl manages"),
        "value": fields.Field(_INT, "an int"),
        "mode": fields.Field(fields.one_of(SET, RAISE, LOWER), "set, raise or lower", required=False),
        "planned_old": fields.Field(fields.optional(_INT), "an int", required=False),
    }
    record_schema = {"old": fields.Field(_INT, "an int")}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.read_back: int | None = None
        self.skipped = False

    @property
    def key(self) -> str:
        return f"vm.{self.params['name']}"

    def describe(self) -> str:
        extra = {RAISE: " (only raising it)", LOWER: " (only lowering it)"}.get(self.params.get("mode", SET), "")
        return f"set {self.key}: {self.params.get('planned_old')} -> {self.params['value']}{extra}"

    def undo_description(self) -> str:
        return f"restore {self.key} to {self.params.get('planned_old')}"

    def preview(self) -> dict[str, Any]:
        return {"what": self.key, "before": self.params.get("planned_old"), "after": self.params["value"]}

    def _read(self, host: Host) -> int:
        value = host.vm_value(self.params["name"])
        if value is None:
            raise OperationFailed(f"{self.key} does not exist on this kernel")
        return value

    def _write(self, host: Host, value: int) -> int:
        path = paths.vm_sysctl(self.params["name"])
        try:
            host.write_sysctl(path, str(value))
        except OSError as exc:
            raise OperationFailed(f"the kernel refused {self.key}={value}: {exc.strerror or exc}") from exc
        return self._read(host)

    def check(self, host: Host) -> None:
        self._read(host)

    def snapshot(self, host: Host) -> dict[str, Any]:
        return {"old": self._read(host)}

    def apply(self, host: Host, record: dict[str, Any]) -> str | None:
        value, mode = self.params["value"], self.params.get("mode", SET)
        current = self._read(host)
        # Re-decided under the lock: another run may have moved the value since the plan was made.
        if (mode == RAISE and current >= value) or (mode == LOWER and current <= value):
            self.skipped, self.read_back = True, current
            return "skipped"
        self.read_back = self._write(host, value)
        return None

    def check_undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        if not ctx.same_boot:
            return
        current = self._read(host)  # read even with --force: a value the undo cannot read is refused now
        if ctx.force:
            return
        if current not in (self.params["value"], record["old"]):
            raise Refused(
                f"{self.key} is now {current}, not {self.params['value']} as swapctl wrote it; "
                "someone changed it since",
                hint=f"pass --force to restore {record['old']} anyway",
            )

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        if not ctx.same_boot:
            ctx.notes.append(f"{self.key}: skipped, the machine has rebooted since (the runtime value was reset)")
            return
        current = self._read(host)
        if current == record["old"]:
            return  # never applied, skipped as already raised/lowered, or already undone
        if current != self.params["value"] and not ctx.force:
            raise Refused(
                f"{self.key} is now {current}, not {self.params['value']} as swapctl wrote it; "
                "someone changed it since",
                hint=f"pass --force to restore {record['old']} anyway",
            )
        got = self._write(host, record["old"])
        if got != record["old"]:
            raise OperationFailed(f"restored {self.key} to {record['old']} but it reads back {got}")


def own_line(raw: str) -> tuple[str, str] | None:
    """(key, value) of an assignment line in swapctl's own file, the key in its dotted spelling ("vm.swappiness",
    whichever spelling the line uses); None for a comment, a glob, an exclusion or anything else."""
    text = raw.rstrip("\n").strip(nextboot.C_SPACE)
    if not text or text[0] in "#;-":
        return None
    head, sep, value = text.partition("=")
    if not sep or nextboot.is_glob(head):
        return None
    return nextboot.systemd_key(head.strip(nextboot.C_SPACE)).replace("/", "."), value.strip(nextboot.C_SPACE)


@register
class SysctlPersist(KeyedLinesEdit):
    """Write `vm.key = value` lines to /etc/sysctl.d/90-swapctl.conf. params: path, settings {key: int}."""

    kind = "sysctl-persist"
    params_schema = {
        "path": fields.Field(fields.is_path, "an absolute path"),
        "settings": fields.Field(
            lambda v: (
                isinstance(v, dict)
                and len(v) <= len(KNOBS)
                and all(k in {knob.key for knob in KNOBS.values()} and fields.optional(_INT)(x) for k, x in v.items())
            ),
            "vm keys swapctl manages with int values",
        ),
    }

    allowed_paths = (PERSIST_FILE,)  # its own file, never another package's
    header = PERSIST_HEADER
    last_wins = True  # sysctl applies a file's assignments in order
    parse = staticmethod(own_line)

    @staticmethod
    def render(key: str, value: Any) -> str:
        return f"{key} = {value}"

    def describe(self) -> str:
        pairs = ", ".join(f"{k} = {v}" for k, v in self.params["settings"].items())
        return f"persist {pairs} in {self.params['path']}"

    def lines(self, text: str, keys: Any) -> list[str]:
        """A line that systemd-sysctl reads as several (it also ends lines at "\\r" and NUL) and that sets a key
        being changed is split into real lines first, so both tools read what systemd read, and the change
        touches only its own key."""
        out: list[str] = []
        for raw in split_lines(text):
            pieces = re.split(r"[\r\0]+", raw.rstrip("\n").rstrip("\r"))
            if len(pieces) > 1 and any((own_line(p) or ("", ""))[0] in keys for p in pieces):
                out.extend(p + "\n" for p in pieces if p)
            else:
                out.append(raw)
        return out


# --- the plan -------------------------------------------------------------------------------------------
def build_set_plan(
    host: Host, texts: list[str], *, persist: bool, force: bool, path: str = PERSIST_FILE, applier: str | None = None
) -> Plan:
    """Parse and validate every assignment, apply the safety policy, and plan one write per key whose
    value changes (plus one persist step); a value already in force gets no step."""
    state = read_state(host, applier=applier)  # read once: every decision below is made from it
    assignments = parse_assignments(texts, state.version, state.release)
    plan = Plan("vm set")
    plan.warnings.extend(check_policy(assignments, state, force=force))
    rows = []
    targets: dict[str, int] = {}
    for a in assignments:
        current = state.values[a.knob.name]
        assert current is not None  # check_policy refused absent keys
        target = a.target(current)
        targets[a.knob.key] = target
        change = target != current
        if change:
            plan.add(SysctlWrite(name=a.knob.name, value=a.value, mode=a.mode, planned_old=current))
        rows.append(
            {
                "key": a.knob.key,
                "old": current,
                "new": target,
                "requested": a.value,
                "mode": a.mode,
                "changed": change,
                "read_back": None,
                "adjusted": False,
            }
        )
    if persist:
        settings = _to_persist(assignments, state, targets)
        if "vm.min_free_kbytes" in settings and settings["vm.min_free_kbytes"] != targets["vm.min_free_kbytes"]:
            # `=<N`/`=>N` persist N itself: it is what the next boot will apply, so it meets the same limit.
            plan.warnings.extend(
                w for w in judge_min_free(settings["vm.min_free_kbytes"], state, force=force) if w not in plan.warnings
            )
        if settings:
            step = SysctlPersist(path=path, settings=settings)
            if step.needed(host):
                plan.add(step)
            plan.warnings.extend(
                f"{file} also sets {key} = {value} and is applied after {path} (by {tools}), so it wins at boot"
                for key, file, value, tools in _later_files_win(host, path, step, state)
            )
    else:
        # Advice only where --persist would write something: a boot value that already meets `=>N` is fine.
        wanted = _to_persist(assignments, state, targets)
        later = {
            key: file
            for key, file, _, _ in _later_files_win(host, path, SysctlPersist(path=path, settings=wanted), state)
        }
        for a in assignments:
            boot = state.boot[state.boot_tool][a.knob.name]
            if a.knob.key in wanted and boot.source is not None and boot.value != wanted[a.knob.key]:
                fix = (
                    f"--persist would not win over it: edit {later[a.knob.key]}"
                    if a.knob.key in later
                    else "add --persist to keep the new value across reboots"
                )
                plan.warnings.append(f"{boot.source.file} sets {a.knob.key} = {boot.source.text} at boot; {fix}")
    plan.data = {"settings": rows, "persist": path if persist else None, "kernel": state.release}
    plan.after_run.append(report_read_backs)
    return plan


def _to_persist(assignments: list[Assignment], state: VmState, targets: dict[str, int]) -> dict[str, int]:
    """What --persist writes: a set value as is; for `=>N`/`=<N`, N only where the value the machine boots with
    would not meet it (pinning today's value would stop the kernel choosing its own, which no one asked)."""
    settings: dict[str, int] = {}
    for a in assignments:
        if a.mode == SET:
            settings[a.knob.key] = targets[a.knob.key]
            continue
        boot = boot_value(a.knob, state)[0]
        if boot is None or (boot < a.value if a.mode == RAISE else boot > a.value):
            settings[a.knob.key] = a.value
    return settings


def _later_files_win(host: Host, path: str, step: SysctlPersist, state: VmState) -> list[tuple[str, str, str, str]]:
    """(key, file, value, tools) for each key whose boot value, with our file edited, still comes from another
    file (applied after ours, or winning by the tools' rules), under either applier."""
    new_text = step.transform(host.read_text_or_none(path))
    knobs = [KNOBS[key.removeprefix("vm.")] for key in step.params["settings"]]
    boot = state.next_boot(knobs, {path: new_text})
    winners: dict[tuple[str, str, str], list[str]] = {}
    for tool in nextboot.TOOLS:
        for knob in knobs:
            src = boot[tool][knob.name].source
            if src is not None and src.file != path:
                winners.setdefault((knob.key, src.file, src.text), []).append(nextboot.NAMES[tool])
    return [(key, file, value, " and ".join(tools)) for (key, file, value), tools in winners.items()]


def report_read_backs(plan: Plan) -> None:
    """After the run (Plan.after_run): what each write read back, any value the kernel adjusted, and writes that
    turned out unneeded under the lock (execute marked their action "skipped"), in the warnings and in the
    rows that show the key (vm set's settings, apply's items)."""
    rows = {r["key"]: r for r in plan.data.get("settings", [])}
    items = {r["key"]: r for r in plan.data.get("items", []) if r.get("kind") == "sysctl"}
    for step in plan.steps:
        if not isinstance(step, SysctlWrite):
            continue
        row, item = rows.get(step.key, {}), items.get(step.key, {})
        if step.skipped:
            row.update(changed=False, new=step.read_back, read_back=step.read_back)
            item.update(changed=False, after=step.read_back)
            plan.warnings.append(f"{step.key} was already {step.read_back} when its turn came; left as is")
        elif step.read_back is not None:
            row["read_back"] = step.read_back
            if step.read_back != step.params["value"]:
                row["adjusted"] = True
                item["after"] = step.read_back
                plan.warnings.append(
                    f"the kernel adjusted {step.key}: wrote {step.params['value']}, reads back {step.read_back}"
                )
