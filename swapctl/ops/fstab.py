"""/etc/fstab swap lines keyed by path: find, set, drop; every other line kept byte for byte."""

from __future__ import annotations

from typing import Any

from swapctl.core.plan import register
from swapctl.ops.fileedit import FileEdit
from swapctl.system.procfs import unescape_octal

FSTAB = "/etc/fstab"


def escape(path: str) -> str:
    # fstab(5) fields are blank-separated; getmntent decodes these octal escapes.
    return path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")


def swap_line(path: str, priority: int | None, discard: bool) -> str:
    opts = ["defaults"]
    if priority is not None and priority >= 0:
        opts.append(f"pri={priority}")
    if discard:
        opts.append("discard")
    return f"{escape(path)} none swap {','.join(opts)} 0 0"


def has_discard(line: str | None) -> bool:
    return swap_options(line)[1]


def swap_options(line: str | None) -> tuple[int | None, bool]:
    """(priority, discard) a swap line asks for: what swapon -a would do with it, whatever its spelling
    ("sw", "defaults,pri=5", "discard=once"). A priority below 0 or absent is automatic: None."""
    fields = (line or "").split()
    opts = fields[3].split(",") if len(fields) > 3 else []
    priority = None
    for opt in opts:
        name, _, value = opt.partition("=")
        if name == "pri" and value.lstrip("-").isdigit() and int(value) >= 0:
            priority = int(value)
    return priority, any(o.partition("=")[0] == "discard" for o in opts)


def _is_swap_line_for(line: str, path: str) -> bool:
    fields = line.split()
    if len(fields) < 3 or fields[0].startswith("#"):
        return False
    return fields[2] == "swap" and unescape_octal(fields[0]) == path


def find_line(text: str | None, path: str) -> str | None:
    for line in (text or "").splitlines():
        if _is_swap_line_for(line, path):
            return line
    return None


def set_line(text: str | None, path: str, line: str | None) -> str | None:
    """Replace the first swap line for path with `line` (None: drop it); drop later duplicates; append if
    absent. Whether the file ends in a newline is kept as it was, so an add then a drop gives back the same
    bytes. Returns None only when the file did not exist and nothing is to be written."""
    if text is None and line is None:
        return None
    text = text or ""
    out: list[str] = []
    placed = False
    for raw in text.splitlines(keepends=True):
        if _is_swap_line_for(raw, path):
            if line is not None and not placed:
                out.append(line + ("\n" if raw.endswith("\n") else ""))
                placed = True
            continue
        out.append(raw)
    if line is not None and not placed:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n" + line  # the file had no final newline: neither does it now
        else:
            out.append(line + "\n")
    result = "".join(out)
    if text and not text.endswith("\n") and result.endswith("\n"):
        result = result[:-1]  # the dropped line was the unterminated last one
    return result


@register
class FstabSet(FileEdit):
    """params: path (the fstab), swap (the swap area's path), line (or None to drop it)."""

    kind = "fstab-set"
    def describe(self) -> str:
        if self.params["line"] is None:
            return f"remove the {self.params['swap']} line from {self.params['path']}"
        return f"persist in {self.params['path']}: {self.params['line']}"

    def undo_description(self) -> str:
        swap = self.params["swap"]
        what = (f"put back the line for {swap}" if self.params["line"] is None
                else f"remove the line for {swap}, or put back the one it replaced")
        return f"restore {self.params['path']} ({what})"

    def undo_description_for(self, record: dict[str, Any]) -> str:
        old = find_line(record.get("old"), self.params["swap"])
        what = f"put back: {old}" if old else f"remove the line for {self.params['swap']}"
        return f"restore {self.params['path']} ({what})"

    def transform(self, old: str | None) -> str | None:
        return set_line(old, self.params["swap"], self.params["line"])

    def revert(self, current: str, record: dict[str, Any]) -> str | None:
        return set_line(current, self.params["swap"], find_line(record["old"], self.params["swap"]))


def fstab_set(swap: str, line: str | None) -> FstabSet:
    return FstabSet(path=FSTAB, swap=swap, line=line)
