"""Persisted sysctl values: which file under sysctl.d (or /etc/sysctl.conf) sets a key at boot, resolved the
way `sysctl --system` (procps-ng) and systemd-sysctl resolve it.

Both read the same directories, highest priority first, keep the first file of each basename, sort the
survivors by basename and apply them in that order, so the last assignment of a key wins. procps then
applies /etc/sysctl.conf last (when it is a regular file); systemd-sysctl never reads it (distributions
link it in as /etc/sysctl.d/99-sysctl.conf). A symlink to /dev/null masks a lower-priority file of the
same name. Glob keys (vm.*) set only keys that no file names explicitly. Sources: procps-ng sysctl.c
(PreloadSystem, parse_setting_line, write_setting_list) and systemd src/sysctl/sysctl.c (parse_file,
apply_all) with conf_files_list_strv over CONF_PATHS("sysctl.d")."""

from __future__ import annotations

import fnmatch
import posixpath
from typing import TYPE_CHECKING, NamedTuple

from swapctl.core.text import lines

if TYPE_CHECKING:
    from swapctl.system.host import Host

SYSTEMD = "systemd-sysctl"
PROCPS = "sysctl --system"
TOOLS = (SYSTEMD, PROCPS)

SYSCTL_CONF = "/etc/sysctl.conf"
# procps-ng PreloadSystem(): the order of this list is the priority of a basename.
PROCPS_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")
# systemd CONF_PATHS("sysctl.d"); /lib/sysctl.d only on a split-/usr system (see systemd_dirs).
SYSTEMD_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d")
_GLOB_CHARS = frozenset("*?[")
_MAX_LINKS = 16


class Line(NamedTuple):
    """One assignment (or exclusion) in a sysctl config file."""

    key: str  # normalised to dots: "vm.swappiness" (or a glob such as "vm.*")
    value: str | None  # None: a "-key" exclusion line
    file: str
    line: int

    @property
    def is_glob(self) -> bool:
        return any(c in _GLOB_CHARS for c in self.key)


class Persisted(NamedTuple):
    """Where the next boot gets a key from, under one tool."""

    key: str
    tool: str
    value: str | None = None  # None: no file sets it (the kernel default stays)
    file: str | None = None
    line: int | None = None
    shadowed: tuple[dict, ...] = ()  # earlier assignments this one overrides

    def as_dict(self) -> dict:
        return {"tool": self.tool, "value": _int_or_str(self.value), "file": self.file, "line": self.line,
                "shadowed": list(self.shadowed)}


def _int_or_str(value: str | None) -> int | str | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def normalise_key(key: str) -> str:
    """sysctl.d(5): "vm/swappiness" and "vm.swappiness" name the same key; the first separator decides
    (systemd sysctl_normalize: when it is a slash, slashes and dots swap)."""
    key = key.strip()
    for ch in key:
        if ch == "/":
            return key.translate(str.maketrans("/.", "./"))
        if ch == ".":
            break
    return key


def parse_conf(text: str, file: str) -> list[Line]:
    """The assignments of one file, in order. Comments start with # or ;, "-" before a key ignores write
    failures, a "-key" line without "=" is an exclusion; other lines without "=" are ignored (both tools
    warn and go on)."""
    out: list[Line] = []
    for n, raw in enumerate(lines(text), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if key.startswith("-"):
            key = key[1:].strip()
        elif not sep:
            continue
        if not key:
            continue
        out.append(Line(normalise_key(key), value.strip() if sep else None, file, n))
    return out


def _resolve_link(host: Host, path: str) -> str | None:
    """Follow symlinks inside the machine root (an absolute target means the machine's own path);
    "/dev/null" is returned as is: that is a mask."""
    for _ in range(_MAX_LINKS):
        if path == "/dev/null":
            return path
        target = host.readlink(path)
        if target is None:
            return path
        path = target if target.startswith("/") else posixpath.normpath(
            posixpath.join(posixpath.dirname(path), target))
    return None  # a link loop: both tools fail to open it and go on


def read_conf(host: Host, path: str, overrides: dict[str, str | None] | None = None,
              warnings: list[str] | None = None) -> str | None:
    """Text of a config file as the tools see it: "" when masked, None when missing or not a regular file
    (or unreadable here: said in `warnings`, since the boot, as root, reads it)."""
    if overrides and path in overrides:
        return overrides[path]
    real = _resolve_link(host, path)
    if real is None:
        return None
    if real == "/dev/null":
        return ""
    if host.is_dir(real):
        return None
    try:
        return host.read_text_or_none(real)
    except PermissionError:
        if warnings is not None:
            text = f"cannot read {path} (permission denied): the boot values shown leave it out; run as root"
            if text not in warnings:
                warnings.append(text)
        return None
    except OSError:
        return None


def systemd_dirs(host: Host) -> tuple[str, ...]:
    # systemd lists /lib/sysctl.d only when built for a split /usr; on a merged system /lib is a link to
    # usr/lib and would hold the same files anyway.
    if host.is_dir("/lib/sysctl.d") and not host.is_symlink("/lib"):
        return (*SYSTEMD_DIRS, "/lib/sysctl.d")
    return SYSTEMD_DIRS


def conf_files(host: Host, tool: str, overrides: dict[str, str | None] | None = None) -> list[str]:
    """The files `tool` applies, in application order (the last one to set a key wins)."""
    overrides = overrides or {}
    dirs = systemd_dirs(host) if tool == SYSTEMD else PROCPS_DIRS
    chosen: dict[str, str] = {}
    for d in dirs:
        names = set(host.list_dir(d) or [])
        names |= {posixpath.basename(p) for p, text in overrides.items()
                  if posixpath.dirname(p) == d and text is not None}
        for name in names:
            if not name.endswith(".conf") or name in chosen:
                continue
            path = f"{d}/{name}"
            if tool == SYSTEMD and name.startswith("."):
                continue  # conf_files_list skips hidden files; procps does not
            if path in overrides and overrides[path] is None:
                continue  # simulated removal
            if tool == SYSTEMD and read_conf(host, path, overrides) is None:
                continue  # systemd takes regular files only; procps would fail to read it and go on
            chosen[name] = path
    files = [chosen[name] for name in sorted(chosen)]
    if tool == PROCPS:
        text = read_conf(host, SYSCTL_CONF, overrides)
        # procps applies it only when stat() says regular file: a /dev/null link is skipped.
        if text is not None and (_resolve_link(host, SYSCTL_CONF) != "/dev/null"):
            files.append(SYSCTL_CONF)
    return files


def resolve(lines: list[Line], key: str, tool: str) -> Persisted:
    """The value `key` gets from an ordered list of assignments under `tool`'s rules."""
    result = Persisted(key, tool)
    explicit = [ln for ln in lines if not ln.is_glob and ln.key == key]
    if explicit:
        if tool == SYSTEMD:
            # One entry per key, a later one replacing it: a later exclusion cancels an earlier value.
            candidates = explicit
        else:
            # procps writes every explicit setting in turn; exclusions only filter glob expansion.
            candidates = [ln for ln in explicit if ln.value is not None]
        if not candidates:
            return result
        winner = candidates[-1]
    else:
        globs = [ln for ln in lines if ln.is_glob and ln.value is not None and fnmatch.fnmatchcase(key, ln.key)]
        if not globs:
            return result
        winner = globs[-1]
        candidates = globs
    if winner.value is None:
        return result
    shadowed = tuple({"file": ln.file, "line": ln.line, "value": _int_or_str(ln.value)}
                     for ln in candidates[:-1] if ln.value is not None)
    return result._replace(value=winner.value, file=winner.file, line=winner.line, shadowed=shadowed)


def persisted(host: Host, keys: list[str], tool: str, overrides: dict[str, str | None] | None = None,
              warnings: list[str] | None = None) -> dict[str, Persisted]:
    """For each key, what the next boot applies under `tool`; overrides simulates file contents."""
    lines: list[Line] = []
    for path in conf_files(host, tool, overrides):
        text = read_conf(host, path, overrides, warnings)
        if text:
            lines.extend(parse_conf(text, path))
    return {k: resolve(lines, k, tool) for k in keys}


def boot_tool(host: Host) -> str:
    """Which tool applies sysctl files at boot: systemd-sysctl on a systemd machine, else procps (init
    scripts and most other inits run `sysctl --system` or `sysctl -p`)."""
    return SYSTEMD if host.is_dir("/run/systemd/system") else PROCPS
