"""/etc/fstab swap lines, read as libmount reads them and edited line by line; every other byte kept as it was.

libmount (libmount/src/tab_parse.c, lib/mangle.c): lines end at "\\n" (a "\\r" just before it is dropped); a
line is a comment when its first non-blank is "#"; fields are separated by spaces and tabs only; each field is
unmangled (\\ooo octal escapes); freq and passno, when present, must be decimal integers, or the whole line is
a parse error that swapon -a skips. swapon -a takes the lines of type "swap" without "noauto", and finds the
device of LABEL=, UUID=, PARTLABEL= and PARTUUID= through the /dev/disk/by-* links udev makes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

from swapctl.core import fields as check
from swapctl.core.plan import register
from swapctl.core.text import shell_quote as q
from swapctl.core.text import split_lines
from swapctl.ops.fileedit import FileEdit
from swapctl.system import paths
from swapctl.system.procfs import fields, unescape_octal

if TYPE_CHECKING:
    from swapctl.system.host import Host

FSTAB = paths.FSTAB
TAGS = {"UUID": "by-uuid", "LABEL": "by-label", "PARTUUID": "by-partuuid", "PARTLABEL": "by-partlabel"}
_NUMBER = re.compile(r"[+-]?[0-9]+")
_FIELD = re.compile(r"[^ \t]+")


def escape(path: str) -> str:
    # fstab(5) fields are blank-separated; getmntent decodes these octal escapes.
    return path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")


class Entry(NamedTuple):
    """A line libmount parses as a mount entry (comments, blank and malformed lines are none)."""

    line: int  # its place in split_lines(text)
    source: str  # unmangled
    fstype: str
    options: tuple[str, ...]

    @property
    def is_swap(self) -> bool:
        return self.fstype == "swap"

    @property
    def auto(self) -> bool:
        return option(self.options, "noauto") is None  # by name: "noauto=1" is noauto to libmount too


def _body(raw: str) -> str:
    body = raw[:-1] if raw.endswith("\n") else raw
    return body[:-1] if body.endswith("\r") else body


def parse(text: str | None) -> list[Entry]:
    out = []
    for i, raw in enumerate(split_lines(text or "")):
        if "\0" in raw:
            continue  # libmount looks for the "\n" with strchr(): a NUL ends the string first, a parse error
        body = _body(raw).lstrip(" \t")
        if not body or body.startswith("#"):
            continue
        f = fields(body)
        if len(f) < 3 or any(not _NUMBER.fullmatch(n) for n in f[4:6]):
            continue  # libmount: a parse error; swapon -a skips the line
        opts = split_options(unescape_octal(f[3])) if len(f) > 3 else ()
        out.append(Entry(i, unescape_octal(f[0]), unescape_octal(f[2]), opts))
    return out


def split_options(text: str) -> tuple[str, ...]:
    """libmount's option list: comma-separated, except inside double quotes (x-opt="a,b" is one option)."""
    out, start, quoted = [], 0, False
    for i, c in enumerate(text):
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return tuple(o for o in out if o)


def option(options: tuple[str, ...] | None, name: str) -> str | None:
    """The first option of that name (mnt_optstr_get_option): its value, "" for none, None when absent."""
    for opt in options or ():
        key, sep, value = opt.partition("=")
        if key == name:
            return value
    return None


# Discard policies as swapon(8) has them: "both" (--discard, the default), "once", "pages"; None: no discard.
DISCARD_POLICIES = ("both", "once", "pages")
PRIORITY_MAX = 32767  # SWAP_FLAG_PRIO_MASK
_LEADING_INT = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")


def discard_option(policy: str | None) -> list[str]:
    return [] if policy is None else ["discard" if policy == "both" else f"discard={policy}"]


def swap_line(path: str, priority: int | None, discard: str | None) -> str:
    opts = ["defaults"]
    if priority is not None and priority >= 0:
        opts.append(f"pri={priority}")
    opts.extend(discard_option(discard))
    return f"{escape(path)} none swap {','.join(opts)} 0 0"


def swap_options(options: tuple[str, ...] | None) -> tuple[int | None, str | None]:
    """(priority, discard policy) a swap line asks for, as swapon -a reads it (sys-utils/swapon.c
    read_swapon_props, do_swapon): pri= by strtol (a number at its start, "5x" is 5, "x" none), a negative one
    automatic (None), above 32767 clamped; discard= "once" or "pages" (a prefix of either counts), otherwise
    both."""
    priority = None
    value = option(options, "pri")
    m = _LEADING_INT.match(value or "")
    digits = m.group(1).lstrip("+-").lstrip("0") if m else ""
    n = int(m.group(1)) if m and len(digits) <= 19 else None  # more digits overflow a long either way
    if n is not None and -(1 << 63) <= n < (1 << 63):  # strtol on a 64-bit long: ERANGE sets nothing
        n = (n + (1 << 31)) % (1 << 32) - (1 << 31)  # the (int) cast of the long
        priority = min(n, PRIORITY_MAX) if n >= 0 else None
    policy = option(options, "discard")
    if policy is None:
        return priority, None
    once, pages = "once".startswith(policy), "pages".startswith(policy)  # strncmp(arg, "once", argsz)
    return priority, ("once" if once and not pages else "pages" if pages and not once else "both")


def rewrite(text: str, entry: Entry, priority: int | None, discard: str | None) -> str:
    """The entry's line with its options asking for this priority and discard and to be swapped on at boot;
    its other options, fields and spacing kept as they are."""
    raw = split_lines(text)[entry.line]
    body = _body(raw)
    cr = "\r" if raw.rstrip("\n").endswith("\r") else ""  # a CRLF line keeps its CR
    spans = [m.span() for m in _FIELD.finditer(body)]
    kept = [o for o in entry.options if o.partition("=")[0] not in ("pri", "discard", "noauto", "defaults", "")]
    opts = ["defaults", *kept] if not kept else kept
    if priority is not None and priority >= 0:
        opts.append(f"pri={priority}")
    opts.extend(discard_option(discard))
    new = escape(",".join(opts))
    if len(spans) > 3:
        start, stop = spans[3]
        return body[:start] + new + body[stop:] + cr
    return body + f" {new} 0 0" + cr


def names(host: Host, entry: Entry, area: str, kind: str) -> bool:
    """Whether an fstab entry's source names the swap area at `area` (its /proc/swaps name), as swapon -a
    resolves it: a path through its links; a tag through udev's /dev/disk/by-* link, or for a partition
    without one, the UUID or label in its swap header."""
    tag, sep, value = entry.source.partition("=")
    if sep and tag in TAGS:
        value = value[1:-1] if len(value) > 1 and value[0] == value[-1] and value[0] in "\"'" else value
        if kind != "partition" or not value:
            return False  # blkid finds tags on block devices only
        link = f"/dev/disk/{TAGS[tag]}/{udev_encode(value)}"
        if host.lstat(link) is not None:
            return host.resolve(link) == area
        header = host.swap_signature(area) if tag in ("UUID", "LABEL") else None
        return header is not None and header.get(tag.lower()) == value
    if not entry.source.startswith("/"):
        return False
    if entry.source == area:
        return True
    # The kernel looks a path up component by component: "dir/missing/../s" and "file/../s" fail (ENOENT,
    # ENOTDIR) where realpath() would drop the ".." by its spelling alone.
    return host.stat(entry.source) is not None and host.resolve(entry.source) == area


_UDEV_PLAIN = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#+-.:=@_")


def udev_encode(value: str) -> str:
    """The name udev gives a tag's link (libblkid blkid_encode_string): valid UTF-8 beyond ASCII and
    [A-Za-z0-9#+-.:=@_] kept, every other byte as \\xNN ("Linux swap" -> "Linux\\x20swap")."""
    out = []
    for c in value:
        if c in _UDEV_PLAIN or (ord(c) > 127 and not 0xDC80 <= ord(c) <= 0xDCFF):
            out.append(c)
        else:
            out.extend(f"\\x{b:02x}" for b in c.encode("utf-8", "surrogateescape"))
    return "".join(out)


def lines_for(host: Host, text: str | None, area: str, kind: str = "file") -> list[Entry]:
    """The swap entries of an fstab that name the area (noauto ones too: they are its lines all the same)."""
    return [e for e in parse(text) if e.is_swap and names(host, e, area, kind)]


def persisted(entries: list[Entry]) -> bool:
    """Whether swapon -a at boot turns the area on: a swap line for it without noauto."""
    return any(e.auto for e in entries)


def set_line(text: str | None, sources: list[str] | str, line: str | None) -> str | None:
    """Replace the first swap line whose source is one of `sources` with `line` (None: drop it); drop later ones;
    append if there is none. Whether the file ends in a newline is kept as it was, so an add then a drop gives
    back the same bytes. Returns None only when the file did not exist and nothing is to be written."""
    if text is None and line is None:
        return None
    names_ = {sources} if isinstance(sources, str) else set(sources)
    text = text or ""
    pieces = split_lines(text)
    ours = {e.line for e in parse(text) if e.is_swap and e.source in names_}
    out: list[str] = []
    placed = False
    for i, raw in enumerate(pieces):
        if i in ours:
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


def find_line(text: str | None, sources: list[str] | str) -> str | None:
    """The text of the first swap line whose source is one of `sources` (without its line end)."""
    names_ = {sources} if isinstance(sources, str) else set(sources)
    pieces = split_lines(text or "")
    for e in parse(text):
        if e.is_swap and e.source in names_:
            return _body(pieces[e.line])
    return None


@register
class FstabSet(FileEdit):
    """params: path (the fstab), swap (the swap area's path), line (or None to drop it), sources (the sources
    of the lines that name the area, as written; journals before it have only swap)."""

    kind = "fstab-set"
    allowed_paths = (FSTAB,)
    follows_links = True
    params_schema = {
        "path": check.Field(check.is_path, "an absolute path"),
        "swap": check.Field(check.is_path, "an absolute path"),
        "line": check.Field(check.optional(lambda v: check.is_text(v) and "\n" not in v), "one line or null"),
        "sources": check.Field(check.list_of(check.is_text), "a list of sources", required=False),
    }

    @classmethod
    def invalid(cls, params: dict[str, Any], record: dict[str, Any] | None) -> str | None:
        why = super().invalid(params, record)
        line = params.get("line") if isinstance(params, dict) else None
        if why is None and line is not None and [e.is_swap for e in parse(line)] != [True]:
            return "its line is not one fstab swap line"
        return why

    @property
    def sources(self) -> list[str]:
        return list(self.params.get("sources") or [self.params["swap"]])

    def describe(self) -> str:
        if self.params["line"] is None:
            return f"remove the {q(self.params['swap'])} line from {self.params['path']}"
        return f"persist in {self.params['path']}: {self.params['line']}"

    def undo_description(self) -> str:
        swap = q(self.params["swap"])
        what = (
            f"put back the line for {swap}"
            if self.params["line"] is None
            else f"remove the line for {swap}, or put back the one it replaced"
        )
        return f"restore {self.params['path']} ({what})"

    def undo_description_for(self, record: dict[str, Any]) -> str:
        old = find_line(record.get("old"), self.sources)
        what = f"put back: {old}" if old else f"remove the line for {q(self.params['swap'])}"
        return f"restore {self.params['path']} ({what})"

    def transform(self, old: str | None) -> str | None:
        return set_line(old, self.sources, self.params["line"])

    def revert(self, current: str, record: dict[str, Any]) -> str | None:
        old_line = find_line(record["old"], self.sources)
        return set_line(
            current,
            [*self.sources, *([] if self.params["line"] is None else [unescape_octal(fields(self.params["line"])[0])])],
            old_line,
        )


def fstab_set(swap: str, line: str | None, sources: list[str] | None = None) -> FstabSet:
    params: dict[str, Any] = {"path": FSTAB, "swap": swap, "line": line}
    if sources and sources != [swap]:
        params["sources"] = sources
    return FstabSet(**params)
