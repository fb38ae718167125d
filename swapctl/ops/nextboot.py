"""What the next boot writes to each vm sysctl, as the two boot-time appliers really do it: procps-ng
`sysctl --system` (4.0) and systemd-sysctl (252), read from their sources and checked against the real binaries
(tests/system/test_sysctl_peers.py). For every knob: the writes in order (file, line, exact text), and then
what the kernel keeps of them (kernel/procsys.py): the last write it accepts, else the kernel's default.

procps (src/sysctl.c PreloadSystem, Preload, parse_setting_line, write_setting_list):
- /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d, /lib/sysctl.d: every entry named
  *.conf (at least 5 bytes, hidden ones too, of any type) claims its name; the first directory wins; applied in
  byte order of the name; each name is itself a glob (braces too); then /etc/sysctl.conf when it is a regular
  file. An entry that cannot be opened still claims its name (a mask).
- lines end at "\\n"; a NUL ends a line's text; a line of less than 2 bytes is skipped; blanks are C isspace;
  # and ; start comments; "-key = v" ignores errors, "-key" excludes from globs; the first of "/" and "."
  decides the separator; no comment after a value.
- one list for all files, written in order: an explicit key every time it appears; a glob's matches (sorted)
  unless some entry anywhere names that exact path.
systemd (src/sysctl/sysctl.c, src/shared/conf-files.c, src/basic/fileio.c read_line_full):
- the same directories, links resolved and duplicates dropped; hidden names skipped; no /etc/sysctl.conf.
- lines end at "\\n", "\\r" or NUL (a mixed pair such as \\r\\n is one ending); a line of 1 MiB or more ends the
  file; blanks are " \\t\\n\\r" only; "- key" and "-key" alike; keys simplified (repeated or trailing "/", ".").
- one entry per key: the same value again keeps its place, another value (or an exclusion) moves it last; an
  explicit key is written once; a glob's matches unless an entry names that key."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from swapctl.kernel import procsys

if TYPE_CHECKING:
    from swapctl.system.bootfiles import BootFiles

PROCPS, SYSTEMD = "procps", "systemd"
TOOLS = (SYSTEMD, PROCPS)
APPLIERS = (PROCPS, SYSTEMD)  # --boot-applier
NAMES = {PROCPS: "sysctl --system", SYSTEMD: "systemd-sysctl"}  # as a sysadmin knows them
SYSCTL_CONF = "/etc/sysctl.conf"
DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")
PROC = "/proc/sys/"
C_SPACE = " \t\n\v\f\r"  # isspace() in the C locale (procps)
SD_SPACE = " \t\n\r"  # strstrip() (systemd)
GLOB_CHARS = "*?["
SD_LINE_MAX = 1 << 20  # LONG_LINE_MAX: a longer line ends systemd's reading of the file (ENOBUFS)

Overrides = dict[str, "str | None"]  # path -> simulated text (None: the file removed)


class Write(NamedTuple):
    file: str
    line: int
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "text": self.text}


class BootValue(NamedTuple):
    """What one applier does to one knob at boot, and what the kernel keeps of it."""

    tool: str
    writes: tuple[Write, ...] = ()
    value: int | None = None  # the last accepted write's value; None: no accepted write (the default stays)
    source: Write | None = None
    rejected: tuple[tuple[Write, str], ...] = ()  # writes the kernel refuses, with why

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "writes": [w.as_dict() for w in self.writes],
            "value": self.value,
            "file": self.source.file if self.source else None,
            "line": self.source.line if self.source else None,
            "text": self.source.text if self.source else None,
            "rejected": [{**w.as_dict(), "reason": why} for w, why in self.rejected],
        }


class Setting(NamedTuple):
    key: str  # procps: the /proc/sys path; systemd: the normalised key
    value: str | None  # None: an exclusion
    file: str
    line: int


# --- shared -------------------------------------------------------------------------------------------------


def swap_separators(key: str) -> str:
    """Both tools: when the first separator is ".", dots become slashes and slashes dots (slashdot,
    sysctl_normalize); when it is "/", the key is already a path."""
    for ch in key:
        if ch == "/":
            return key
        if ch == ".":
            return key.translate(str.maketrans("./", "/."))
    return key


def strip(text: str, chars: str) -> str:
    return text.strip(chars) if chars else text


def c_rstrip(text: str) -> str:
    """procps rstrip(): trailing C whitespace, but never the first character."""
    return text[:1] + text[1:].rstrip(C_SPACE)


def _name_key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")  # strcmp order


_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "xdigit": "0-9A-Fa-f",
    "punct": r"!-/:-@\[-`{-~",
    "blank": r" \t",
}


def _bracket_char(pattern: str, j: int) -> tuple[str, int]:
    """The character at j inside a bracket expression, a backslash escaping the next one; and where the next
    member starts."""
    if pattern[j] == "\\" and j + 1 < len(pattern):
        return pattern[j + 1], j + 2
    return pattern[j], j + 1


def fnmatch_regex(pattern: str) -> re.Pattern[str]:
    """glibc fnmatch() without FNM_PATHNAME as glob() uses it per name: *, ?, [..] with ! or ^ and classes,
    backslash escapes; a leading "." must be matched by a literal "." (FNM_PERIOD)."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "\\" and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "\\":
            out.append("(?!)")  # a lone backslash at the end: glibc's fnmatch matches nothing (FNM_NOMATCH)
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i
            negate = j < n and pattern[j] in "!^"
            if negate:
                j += 1
            members, first = [], True
            while j < n and (first or pattern[j] != "]"):
                first = False
                if pattern.startswith("[:", j):
                    end = pattern.find(":]", j + 2)
                    if end > 0 and pattern[j + 2 : end] in _CLASSES:
                        members.append(_CLASSES[pattern[j + 2 : end]])
                        j = end + 2
                        continue
                lo, j = _bracket_char(pattern, j)
                if j + 1 < n and pattern[j] == "-" and pattern[j + 1] != "]":  # a range; "-" before "]" is itself
                    hi, j = _bracket_char(pattern, j + 1)
                    if lo <= hi:  # glibc: a reversed range ("[z-a]") holds nothing
                        members.append(re.escape(lo) + "-" + re.escape(hi))
                    continue
                members.append(re.escape(lo))
            if j >= n:  # no closing "]": a literal "["
                out.append(re.escape("["))
                continue
            if members:
                out.append("[" + ("^" if negate else "") + "".join(members) + "]")
            else:
                out.append("." if negate else "(?!)")
            i = j + 1
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL)


def name_matches(name: str, pattern: str) -> bool:
    if name.startswith(".") and not pattern.startswith("."):
        return False
    return fnmatch_regex(pattern).fullmatch(name) is not None


def is_glob(text: str) -> bool:
    return any(c in text for c in GLOB_CHARS)


def expand_braces(pattern: str) -> list[str]:
    """GLOB_BRACE: "a{b,c}d" -> ["abd", "acd"], nested braces too; glibc drops the braces of one alternative too
    ("a{b}c" -> ["abc"]); an unclosed brace stays as it is."""
    depth, start = 0, -1
    for i, c in enumerate(pattern):
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth:
            depth -= 1
            if depth == 0:
                body, parts, level, last = pattern[start + 1 : i], [], 0, 0
                for k, b in enumerate(body):
                    level += (b == "{") - (b == "}")
                    if b == "," and level == 0:
                        parts.append(body[last:k])
                        last = k + 1
                parts.append(body[last:])
                rest = pattern[i + 1 :]
                return [x for p in parts for x in expand_braces(pattern[:start] + p + rest)]
    return [pattern]


def glob_paths(files: BootFiles, pattern: str, *, sort: bool = True) -> list[str]:
    """glob(3) of an absolute in-machine pattern (no braces): the paths as glob returns them (literal parts as
    written), only those that exist."""
    if not is_glob(pattern):
        return [pattern] if files.lstat(pattern.rstrip("/") or "/") is not None else []
    head, _, base = pattern.rpartition("/")
    dirs = glob_paths(files, head, sort=sort) if is_glob(head) else [head]
    out: list[str] = []
    for d in dirs:
        where = d or "/"
        if not is_glob(base):
            if files.lstat(f"{d}/{base}") is not None:
                out.append(f"{d}/{base}")
            continue
        names = files.list_dir(where) or []
        out.extend(f"{d}/{n}" for n in names if name_matches(n, base))
    return sorted(out, key=_name_key) if sort else out


def knob_of(files: BootFiles, path: str, knobs: set[str], *, simplify_dots: bool) -> str | None:
    """The knob a write to `path` (/proc/sys/...) reaches, when it is one of `knobs` and exists. The kernel's
    lookup resolves "." and "..", and repeated slashes; a trailing "/" on a file fails (ENOTDIR)."""
    if not path.startswith(PROC):
        return None
    rel = path[len(PROC) :]
    if rel.endswith("/"):
        return None
    comps: list[str] = []
    for c in rel.split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if not simplify_dots or not comps:
                return None  # systemd refuses ".." (EINVAL); procps leaves /proc/sys (is_proc_path)
            comps.pop()
            continue
        comps.append(c)
    if len(comps) != 2 or comps[0] != "vm" or comps[1] not in knobs:
        return None
    st = files.stat(f"/proc/sys/vm/{comps[1]}")
    return comps[1] if st is not None else None


class Reader:
    """The files' bytes as the appliers see them, with simulated edits (`overrides`) and the files that could
    not be read (said in `warnings`: the boot, as root, reads them)."""

    def __init__(self, files: BootFiles, overrides: Overrides | None = None, warnings: list[str] | None = None) -> None:
        self.files, self.overrides = files, overrides or {}
        self.warnings = warnings if warnings is not None else []

    def names(self, directory: str) -> list[str] | None:
        names = self.files.list_dir(directory)
        extra = {
            p.rsplit("/", 1)[1] for p, t in self.overrides.items() if p.rsplit("/", 1)[0] == directory and t is not None
        }
        if names is None and not extra:
            return None
        gone = {
            p.rsplit("/", 1)[1] for p, t in self.overrides.items() if p.rsplit("/", 1)[0] == directory and t is None
        }
        return sorted((set(names or []) | extra) - gone)

    def data(self, path: str) -> bytes | None:
        """The bytes an open of `path` gives; None when it cannot be opened or read (missing, dangling, a
        directory, a loop)."""
        if path in self.overrides:
            text = self.overrides[path]
            return None if text is None else text.encode("utf-8", "surrogateescape")
        from swapctl.system.files import NotRegularFile

        try:
            return self.files.read_bytes(path)
        except NotRegularFile:
            return None  # a directory, a FIFO: the tools fail to read it, and its name stays claimed
        except PermissionError:
            text = f"cannot read {path} (permission denied): the boot values shown leave it out; run as root"
            if text not in self.warnings:
                self.warnings.append(text)
            return None
        except OSError:
            return None

    def is_regular(self, path: str) -> bool:
        if path in self.overrides:
            return self.overrides[path] is not None
        import stat

        st = self.files.stat(path)
        return st is not None and stat.S_ISREG(st.st_mode)


def apply_kernel(tool: str, writes: list[Write], accepts: Callable[[str], int | str]) -> BootValue:
    value, source, rejected = None, None, []
    for w in writes:
        got = accepts(w.text)
        if isinstance(got, int):
            value, source = got, w
        else:
            rejected.append((w, got))
    return BootValue(tool, tuple(writes), value, source, tuple(rejected))


# --- procps sysctl --system ----------------------------------------------------------------------------------


def procps_files(reader: Reader) -> list[str]:
    chosen: dict[str, str] = {}
    for d in DIRS:
        for name in reader.names(d) or []:
            if len(name.encode("utf-8", "surrogateescape")) >= 5 and name.endswith(".conf") and name not in chosen:
                chosen[name] = f"{d}/{name}"
    out = []
    for name in sorted(chosen, key=_name_key):
        out.extend(_preload_glob(reader, chosen[name]))
    if reader.is_regular(SYSCTL_CONF):
        out.append(SYSCTL_CONF)
    return out


def _preload_glob(reader: Reader, path: str) -> list[str]:
    """Preload() globs each file name (GLOB_NOCHECK | GLOB_BRACE): the matches, else the name itself."""
    directory, _, name = path.rpartition("/")
    if not is_glob(name) and "{" not in name:
        return [path]
    found: list[str] = []
    for alt in expand_braces(name):
        if is_glob(alt):
            found.extend(
                sorted(
                    (f"{directory}/{n}" for n in reader.names(directory) or [] if name_matches(n, alt)), key=_name_key
                )
            )
        elif reader.files.lstat(f"{directory}/{alt}") is not None or f"{directory}/{alt}" in reader.overrides:
            found.append(f"{directory}/{alt}")
    return found or [path]


def procps_lines(data: bytes) -> list[tuple[int, str]]:
    out = []
    pieces = data.split(b"\n")
    for n, piece in enumerate(pieces, 1):
        if n == len(pieces) and not piece:
            break
        rlen = len(piece) + (n < len(pieces))
        if rlen < 2:
            continue
        text, nul, _ = piece.partition(b"\0")  # a C string ends at a NUL, its newline with it
        end = "\n" if n < len(pieces) and not nul else ""
        out.append((n, text.decode("utf-8", "surrogateescape") + end))
    return out


def procps_setting(text: str, file: str, n: int) -> Setting | None:
    key = text.lstrip(C_SPACE)
    if len(key.encode("utf-8", "surrogateescape")) < 2 or key[0] in "#;":
        return None
    head, sep, value = key.partition("=")
    value_: str | None
    if not sep:
        if not key.startswith("-"):
            return None  # "invalid syntax, continuing"
        key, value_ = c_rstrip(key[1:]), None
    else:
        key = c_rstrip(head[1:] if head.startswith("-") else head)
        value_ = c_rstrip(value.lstrip(C_SPACE))
    path_key = key[1:] if key.startswith("-") else key  # setting_new() drops a second "-"
    return Setting(PROC + swap_separators(path_key), value_, file, n)


def procps_writes(reader: Reader, knobs: set[str]) -> dict[str, list[Write]]:
    settings: list[Setting] = []
    for path in procps_files(reader):
        data = reader.data(path)
        if data is None:
            continue  # "cannot open": the file's name stays claimed
        for n, text in procps_lines(data):
            s = procps_setting(text, path, n)
            if s is not None:
                settings.append(s)
    named = {s.key for s in settings}
    out: dict[str, list[Write]] = {k: [] for k in knobs}
    for s in settings:
        if s.value is None:
            continue
        if is_glob(s.key):
            for match in glob_paths(reader.files, s.key):
                if match in named:
                    continue  # an explicit setting (or an exclusion) names this path
                knob = knob_of(reader.files, match, knobs, simplify_dots=True)
                if knob:
                    out[knob].append(Write(s.file, s.line, s.value))
        else:
            knob = knob_of(reader.files, s.key, knobs, simplify_dots=True)
            if knob:
                out[knob].append(Write(s.file, s.line, s.value))
    return out


# --- systemd-sysctl ----------------------------------------------------------------------------------------


def systemd_dirs(reader: Reader) -> list[str]:
    """CONF_PATHS("sysctl.d") with links resolved and duplicates dropped (path_strv_resolve_uniq)."""
    out: list[str] = []
    for d in DIRS:
        real = reader.files.resolve(d) if reader.files.lstat(d) is not None else d
        if real not in out:
            out.append(real)
    return out


def systemd_files(reader: Reader) -> list[str]:
    chosen: dict[str, str] = {}
    for d in systemd_dirs(reader):
        for name in reader.names(d) or []:
            if name.startswith(".") or not name.endswith(".conf") or name in chosen:
                continue
            chosen[name] = f"{d}/{name}"
    return [chosen[name] for name in sorted(chosen, key=_name_key)]


_EOL = {ord("\n"): 2, ord("\r"): 4, 0: 1}


def systemd_lines(data: bytes) -> list[tuple[int, str]]:
    """read_line_full(): a line ends at \\n, \\r or NUL; one ending may join different markers (\\r\\n, \\n\\r, then
    a NUL), a repeated one starts the next line; after a NUL nothing joins. A line of LONG_LINE_MAX or more
    ends the reading (ENOBUFS): the lines before it stay."""
    out: list[tuple[int, str]] = []
    i, n = 0, len(data)
    count = 0
    while i < n:
        start, prev = i, 0
        while i < n:
            eol = _EOL.get(data[i], 0)
            if prev & 1 or (not eol and prev) or (eol and prev & eol):
                break
            if eol:
                prev |= eol
            elif i - start >= SD_LINE_MAX:
                return out
            i += 1
        count += 1
        body = data[start:i].rstrip(b"\n\r\0")
        if len(body) >= SD_LINE_MAX:
            return out
        out.append((count, body.decode("utf-8", "surrogateescape")))
    return out


def systemd_key(key: str) -> str:
    """sysctl_normalize(): separators swapped as in swap_separators, then path_simplify (repeated and trailing
    slashes and "." components dropped) and one leading slash removed."""
    key = swap_separators(key)
    comps = [c for c in key.split("/") if c not in ("", ".")]
    if not comps:
        return "/" if key.startswith("/") else "."
    return "/".join(comps)


def systemd_writes(reader: Reader, knobs: set[str]) -> dict[str, list[Write]]:
    options: dict[str, Setting] = {}
    for path in systemd_files(reader):
        data = reader.data(path)
        if data is None:
            continue
        for n, raw in systemd_lines(data):
            p = strip(raw, SD_SPACE)
            if not p or p[0] in "#;\n":
                continue
            head, sep, value = p.partition("=")
            if sep:
                key = head[1:] if head.startswith("-") else head
                val: str | None = strip(value, SD_SPACE)
            elif p.startswith("-"):
                key, val = p[1:], None
            else:
                continue  # "Line is not an assignment, ignoring"
            key = systemd_key(strip(key, SD_SPACE))
            old = options.get(key)
            if old is not None:
                if old.value == val:
                    continue  # the same value again keeps the earlier entry's place
                del options[key]
            options[key] = Setting(key, val, path, n)
    out: dict[str, list[Write]] = {k: [] for k in knobs}
    for s in options.values():
        if s.value is None:
            continue
        targets = []
        if is_glob(s.key):
            for alt in expand_braces(PROC + s.key):
                for match in glob_paths(reader.files, alt, sort=False):
                    if match[len(PROC) :].lstrip("/") not in options:
                        targets.append(match)
        else:
            targets.append(PROC + s.key)
        for t in targets:
            if any(len(c.encode("utf-8", "surrogateescape")) > 255 for c in t.split("/")):
                continue  # sysctl_write refuses (EINVAL)
            knob = knob_of(reader.files, t, knobs, simplify_dots=False)
            if knob:
                out[knob].append(Write(s.file, s.line, s.value))
    return out


# --- the answer ----------------------------------------------------------------------------------------------


def next_boot(
    files: BootFiles,
    ranges: dict[str, tuple[int, int]],
    *,
    overrides: Overrides | None = None,
    warnings: list[str] | None = None,
) -> dict[str, dict[str, BootValue]]:
    """tool -> knob -> BootValue for the knobs in `ranges` (name -> the range this kernel accepts)."""
    reader = Reader(files, overrides, warnings)
    knobs = set(ranges)
    per_tool = {PROCPS: procps_writes(reader, knobs), SYSTEMD: systemd_writes(reader, knobs)}

    def kept(tool: str, knob: str, writes: list[Write]) -> BootValue:
        lo, hi = ranges[knob]
        return apply_kernel(tool, writes, lambda text: procsys.accepts(text, lo, hi))

    return {tool: {k: kept(tool, k, writes[k]) for k in knobs} for tool, writes in per_tool.items()}


def detect_applier(files: BootFiles) -> tuple[str, str]:
    """(tool, why): which applier the machine's next boot runs. The running machine: systemd when it booted
    with systemd (/run/systemd/system, sd_booted()), else procps (init scripts run `sysctl --system`). A --root
    image decides by its own init: /sbin/init leading to systemd, or a systemd-sysctl with no other init."""
    if files.is_dir("/run/systemd/system"):
        return SYSTEMD, "/run/systemd/system exists (booted with systemd)"
    if files.at_root:
        return PROCPS, "no /run/systemd/system (not booted with systemd)"
    init = files.resolve("/sbin/init") if files.lstat("/sbin/init") is not None else None
    if init is not None:
        if init.rsplit("/", 1)[-1] == "systemd":
            return SYSTEMD, f"/sbin/init is {init}"
        return PROCPS, f"/sbin/init is {init}, not systemd"
    for binary in ("/usr/lib/systemd/systemd-sysctl", "/lib/systemd/systemd-sysctl"):
        if files.lstat(binary) is not None:
            return SYSTEMD, f"{binary} is there and no other init"
    return PROCPS, "no systemd in the image"
