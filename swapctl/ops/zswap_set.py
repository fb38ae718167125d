"""zswap, the writing side: `zswap set NAME=VALUE...` writes /sys/module/zswap/parameters with a read-back after
each write and a compare-and-swap undo, and `--persist` keeps the values in a tmpfiles.d file of swapctl's own,
which systemd-tmpfiles writes at boot once the module is there (not the kernel command line)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from swapctl.core import fields
from swapctl.core.errors import OperationFailed, Refused, UsageError
from swapctl.core.plan import Plan, Step, UndoContext, register
from swapctl.kernel import zswap as rules
from swapctl.kernel.version import rules_version
from swapctl.ops.fileedit import KeyedLinesEdit
from swapctl.system import zswap

if TYPE_CHECKING:
    from swapctl.system.host import Host

PERSIST_FILE = "/etc/tmpfiles.d/90-swapctl-zswap.conf"
PERSIST_HEADER = (
    "# zswap parameters set by `swapctl zswap set --persist`, written by systemd-tmpfiles at boot.\n"
    "# swapctl keeps other lines as they are.\n"
)
NAME = fields.Field(fields.one_of(*rules.SETTABLE), "a zswap parameter swapctl sets")
VALUE = fields.Field(lambda v: isinstance(v, str) and bool(re.fullmatch(r"[A-Za-z0-9_-]{1,63}", v)), "a value")


def _path(name: str) -> str:
    return f"{zswap.PARAMETERS}/{name}"


@register
class ZswapWrite(Step):
    """Write one zswap parameter. params: name, value (as the kernel reads it back), planned_old."""

    kind = "zswap-write"
    runtime = True
    params_schema = {"name": NAME, "value": VALUE, "planned_old": VALUE}
    record_schema = {"old": VALUE}

    def describe(self) -> str:
        return f"set zswap {self.params['name']}: {self.params['planned_old']} -> {self.params['value']}"

    def undo_description(self) -> str:
        return f"restore zswap {self.params['name']} to {self.params['planned_old']}"

    def preview(self) -> dict[str, Any]:
        return {
            "what": f"zswap {self.params['name']}",
            "before": self.params["planned_old"],
            "after": self.params["value"],
        }

    def _read(self, host: Host) -> str:
        try:
            return host.read_text(_path(self.params["name"]), limit=4096).strip()
        except OSError as exc:
            raise OperationFailed(f"zswap {self.params['name']} cannot be read: {exc.strerror or exc}") from None

    def _write(self, host: Host, value: str) -> None:
        name = self.params["name"]
        try:
            host.write_sysctl(_path(name), value)
        except OSError as exc:
            raise OperationFailed(f"the kernel refused zswap {name}={value}: {exc.strerror or exc}") from None
        got = self._read(host)
        if got != value:
            raise OperationFailed(f"wrote zswap {name}={value}, but it reads back {got}")

    def check(self, host: Host) -> None:
        self._read(host)

    def snapshot(self, host: Host) -> dict[str, Any]:
        return {"old": self._read(host)}

    def apply(self, host: Host, record: dict[str, Any]) -> str | None:
        if record["old"] == self.params["value"]:
            return "skipped"  # already so when its turn came
        self._write(host, self.params["value"])
        return None

    def _current_or_refuse(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> str:
        current = self._read(host)
        if current not in (self.params["value"], record["old"]) and not ctx.force:
            raise Refused(
                f"zswap {self.params['name']} is now {current}, not {self.params['value']} as swapctl wrote it; "
                "someone changed it since",
                hint=f"pass --force to restore {record['old']} anyway",
            )
        return current

    def check_undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        if ctx.same_boot:
            self._current_or_refuse(host, record, ctx)

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        if not ctx.same_boot:
            return
        if self._current_or_refuse(host, record, ctx) != record["old"]:
            self._write(host, record["old"])


def own_line(raw: str) -> tuple[str, str] | None:
    """(parameter, value) of a `w` line of swapctl's file that writes a zswap parameter; None otherwise."""
    words = raw.split()
    if len(words) == 7 and words[0] in ("w", "w+") and words[1].startswith(zswap.PARAMETERS + "/"):
        return words[1].rsplit("/", 1)[1], words[6]
    return None


@register
class ZswapPersist(KeyedLinesEdit):
    """Write the parameters' `w` lines to swapctl's tmpfiles.d file. params: path, settings {name: value}."""

    kind = "zswap-persist"
    params_schema = {
        "path": fields.Field(fields.is_path, "an absolute path"),
        "settings": fields.Field(
            lambda v: isinstance(v, dict) and all(NAME.check(k) and VALUE.check(x) for k, x in v.items()),
            "zswap parameters with values",
        ),
    }
    allowed_paths = (PERSIST_FILE,)
    header = PERSIST_HEADER
    last_wins = False  # systemd-tmpfiles uses the first line for a path and ignores later ones
    parse = staticmethod(own_line)

    @staticmethod
    def render(key: str, value: Any) -> str:
        return f"w {_path(key)} - - - - {value}"

    def describe(self) -> str:
        pairs = ", ".join(f"{k}={v}" for k, v in self.params["settings"].items())
        return f"persist zswap {pairs} in {self.params['path']}"

    def append_order(self, keys: list[str]) -> list[str]:
        return sorted(keys, key=lambda k: k == "enabled")  # last: the pool is made with the values before it


def parse(texts: list[str]) -> dict[str, str]:
    if not texts:
        raise UsageError("nothing to set", hint="give NAME=VALUE, e.g. enabled=Y max_pool_percent=20")
    out: dict[str, str] = {}
    for text in texts:
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep:
            raise UsageError(f"{text[:60]!r} is not NAME=VALUE", hint="e.g. enabled=Y")
        if name not in rules.SETTABLE:
            raise UsageError(f"zswap has no parameter {name[:40]!r} swapctl sets ({', '.join(rules.SETTABLE)})")
        try:
            out[name] = rules.normalise(name, value)
        except ValueError as exc:
            raise UsageError(f"zswap {name}={value[:40]!r}: {name} {exc}") from None
    return out


def build_set_plan(
    host: Host,
    texts: list[str],
    *,
    persist: bool,
    force: bool,
    path: str = PERSIST_FILE,
    swap_planned: bool = False,
) -> Plan:
    """swap_planned: the same transaction swaps an area on first (apply), so enabling is not in vain."""
    wanted = parse(texts)
    if not host.is_root:
        raise Refused("changing zswap needs root", hint="run it with sudo, or as root")
    params = zswap.read_parameters(host)
    if params is None:
        raise Refused("this kernel has no zswap (no /sys/module/zswap/parameters)")
    version = rules_version(host.kernel_release())
    for name in wanted:
        if name not in params:
            why = rules.absence(name, version) or "not on this kernel"
            raise UsageError(f"zswap {name} is {why}")
    plan = Plan("zswap set", data={"settings": [], "persist": path if persist else None})
    compressor = wanted.get("compressor")
    if compressor is not None:
        known = zswap.crypto_compressors(host)
        if known is not None and compressor not in known:
            raise UsageError(
                f"the crypto API has no compressor {compressor!r} (/proc/crypto lists: {', '.join(sorted(known))})",
                hint=f"load its module first (modprobe {compressor}); zram's own list does not count for zswap",
            )
    if wanted.get("enabled") == "Y" and not host.swaps() and not swap_planned:
        message = "zswap enabled with no active swap area stores nothing: it compresses pages on their way to swap"
        if not force:
            raise Refused(message, hint="add a swap area first, or pass --force (e.g. to persist it for boot)")
        plan.warnings.append(message)
    if wanted.get("enabled") == "N" and params.get("enabled") == "Y":
        plan.warnings.append(
            "disabling zswap does not empty its pool: the pages it holds stay until they are loaded or "
            "written back (swapoff of the areas, or memory pressure with shrinker_enabled=Y)"
        )
    # Writes in order: enabled=N first, enabled=Y last, so the pool is made with the other values in force.
    order = sorted(wanted, key=lambda n: (n != "enabled" or wanted[n] == "Y", n == "enabled"))
    for name in order:
        old = params[name]
        plan.data["settings"].append({"name": name, "old": old, "new": wanted[name], "changed": old != wanted[name]})
        if old != wanted[name]:
            plan.add(ZswapWrite(name=name, value=wanted[name], planned_old=old))
    if persist:
        step = ZswapPersist(path=path, settings=wanted)
        if step.needed(host):
            plan.add(step)
    return plan
