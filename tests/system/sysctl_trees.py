"""The seeded generator of crafted sysctl.d machine roots (trees) that the peer oracle runs procps and systemd on."""

from __future__ import annotations

import os
import random
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# The vm knobs swapctl manages (vm get predicts their boot values), in the order swapctl lists them.
KNOBS = (
    "min_free_kbytes",
    "swappiness",
    "zone_reclaim_mode",
    "watermark_scale_factor",
    "watermark_boost_factor",
    "vfs_cache_pressure",
    "page-cluster",
)
# Other files in the fake /proc/sys/vm: globs such as vm.* must have more to match than swapctl's knobs.
OTHER_VM = ("dirty_ratio", "dirty_background_ratio", "overcommit_memory", "admin_reserve_kbytes")
OTHER_PROC = ("kernel/pid_max",)
# Highest priority first: procps-ng 4.0.2 PreloadSystem() and systemd 252 CONF_PATHS("sysctl.d") (split-usr build).
SYSCTL_DIRS = ("etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d", "lib/sysctl.d")
SYSCTL_CONF = "etc/sysctl.conf"
FAKE_MARKER = "proc/sys/.swapctl-fake"
# Fake /proc/sys files start with a 7-digit sentinel: no tree assigns one (generated values have 4 digits), so
# systemd's "suppress a write of the value already there" never hides a first write.
SENTINEL_BASE = 9000000
OSRELEASE = "6.1.0"
DEFAULT_SEED = 20261202


@dataclass(frozen=True)
class Entry:
    """One directory entry of a tree: a file (bytes, mode), a symlink, a directory or a socket node."""

    kind: str  # "file" | "link" | "dir" | "socket"
    data: bytes = b""
    target: str = ""
    mode: int = 0o644

    def describe(self) -> str:
        if self.kind == "file":
            return repr(self.data) + ("" if self.mode == 0o644 else f" (mode {self.mode:04o})")
        if self.kind == "link":
            return f"symlink -> {self.target!r}"
        return f"<{self.kind}>"


@dataclass
class Tree:
    """A machine root: sysctl.d entries, /lib merged or split, and a fake /proc/sys."""

    id: str
    tags: tuple[str, ...]
    merged_usr: bool
    entries: dict[str, Entry]  # path relative to the root ("etc/sysctl.d/10-a.conf") -> entry
    knobs: tuple[str, ...]  # the swapctl knobs present in the fake /proc/sys/vm
    texts: tuple[str, ...]  # every value text the tree assigns (unique, except where a case repeats one)

    def proc_files(self) -> dict[str, bytes]:
        files = [f"proc/sys/vm/{k}" for k in (*self.knobs, *OTHER_VM)] + [f"proc/sys/{p}" for p in OTHER_PROC]
        out = {p: f"{SENTINEL_BASE + i + 1}\n".encode() for i, p in enumerate(files)}
        out["proc/sys/kernel/osrelease"] = f"{OSRELEASE}\n".encode()
        out[FAKE_MARKER] = b""
        return out

    def write(self, root: Path) -> Path:
        """Create the tree under root (which must not exist yet)."""
        root.mkdir(parents=True)
        if self.merged_usr:
            (root / "usr/lib").mkdir(parents=True)
            (root / "lib").symlink_to("usr/lib")
        # Directories first (parents before children), then files and nodes, then links (whose targets may be
        # anything, dangling included).
        order = {"dir": 0, "file": 1, "socket": 1, "link": 2}
        for rel, e in sorted(self.entries.items(), key=lambda kv: (order[kv[1].kind], kv[0].count("/"), kv[0])):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if e.kind == "dir":
                path.mkdir(exist_ok=True)
            elif e.kind == "file":
                path.write_bytes(e.data)
                os.chmod(path, e.mode)
            elif e.kind == "socket":
                os.mknod(path, 0o644 | stat.S_IFSOCK)  # opening it fails with ENXIO, as a real socket's would
            else:
                path.symlink_to(e.target)
        for rel, data in self.proc_files().items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return root

    def listing(self) -> dict[str, str]:
        """The config entries, for a failure report: path -> repr of the bytes (or the link target)."""
        out = {"/lib": "symlink -> 'usr/lib'"} if self.merged_usr else {}
        for rel, e in sorted(self.entries.items()):
            if e.kind == "dir" and rel in SYSCTL_DIRS:
                continue
            out[show_path("/" + rel)] = e.describe()
        missing = [k for k in KNOBS if k not in self.knobs]
        if missing:
            out["/proc/sys/vm"] = f"lacks {', '.join(missing)}"
        return out


def show_path(path: str) -> str:
    """A path as text a report can print: repr of its bytes when it is not printable UTF-8."""
    return (
        path
        if path.isprintable() and path.encode("utf-8", "surrogatepass").decode("utf-8", "replace") == path
        else repr(os.fsencode(path))
    )


class Conflict(Exception):
    """A case cannot be added to this tree (a mixed tree then tries another case)."""


class Builder:
    """What a case writes through: fresh names and value texts, dirs that exist, the tree's layout."""

    def __init__(self, rng: random.Random, merged_usr: bool) -> None:
        self.rng = rng
        self.merged_usr = merged_usr
        self.entries: dict[str, Entry] = {d: Entry("dir") for d in self.all_dirs()}
        self.tags: list[str] = []
        self.knobs = list(KNOBS)
        self.texts: list[str] = []
        self._values: set[str] = set()
        self._names: set[str] = set()

    # -- layout ---------------------------------------------------------------------------------------------
    def all_dirs(self) -> tuple[str, ...]:
        return SYSCTL_DIRS[:4] if self.merged_usr else SYSCTL_DIRS

    def dirs(self) -> list[str]:
        """The sysctl dirs that are real directories in this tree, highest priority first."""
        return [d for d in self.all_dirs() if self.entries.get(d, Entry("link")).kind == "dir"]

    def pick_dir(self, among: Iterable[str] | None = None) -> str:
        usable = [d for d in (among or self.dirs()) if d in self.dirs()]
        if not usable:
            raise Conflict("no usable sysctl dir")
        return self.rng.choice(usable)

    def two_dirs(self) -> tuple[str, str]:
        """A higher- and a lower-priority dir."""
        ds = self.dirs()
        if len(ds) < 2:
            raise Conflict("needs two sysctl dirs")
        hi, lo = sorted(self.rng.sample(range(len(ds)), 2))
        return ds[hi], ds[lo]

    # -- names and values ----------------------------------------------------------------------------------
    def value(self) -> str:
        """A fresh 4-digit value text, unique in the tree: a written text then names its file and line."""
        text = str(self.rng.randint(1000, 9999))
        while text in self._values:
            text = str(self.rng.randint(1000, 9999))
        self._values.add(text)
        self.texts.append(text)
        return text

    def special(self, text: str) -> str:
        """A value text given as is ("010", " 5 " ...): once per tree."""
        if text.strip() in self._values:
            raise Conflict(f"value {text!r} already used")
        self._values.add(text.strip())
        self.texts.append(text.strip())
        return text

    def name(self, stem: str | None = None, suffix: str = ".conf") -> str:
        """A basename no other case in this tree uses (so cases mixed into one tree do not collide)."""
        for _ in range(1000):
            n = (
                stem
                if stem is not None
                else f"{self.rng.randint(10, 98):02d}-{self.rng.choice(WORDS)}{self.rng.randint(0, 99)}"
            )
            if n + suffix not in self._names:
                self._names.add(n + suffix)
                return n + suffix
            if stem is not None:
                raise Conflict(f"name {n + suffix} taken")
        raise Conflict("no fresh name")

    def knob(self) -> str:
        return self.rng.choice(self.knobs)

    def key(self, knob: str | None = None) -> str:
        return f"vm.{knob or self.knob()}"

    def assign(self, knob: str | None = None) -> str:
        return f"{self.key(knob)} = {self.value()}"

    # -- entries -------------------------------------------------------------------------------------------
    def add(self, rel: str, entry: Entry, replace: bool = False) -> str:
        if self.merged_usr and rel.startswith("lib/"):
            rel = "usr/" + rel
        if rel in self.entries and not replace:
            raise Conflict(f"{rel} exists")
        self.entries[rel] = entry
        return rel

    def conf(self, d: str, body: bytes | str | list[str], name: str | None = None, mode: int = 0o644) -> str:
        """A config file in dir d: a list of lines (joined by \\n, with a final one), or exact text/bytes."""
        if isinstance(body, list):
            body = "".join(line + "\n" for line in body)
        data = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
        return self.add(f"{d}/{name or self.name()}", Entry("file", data, mode=mode))

    def link(self, rel: str, target: str, replace: bool = False) -> str:
        return self.add(rel, Entry("link", target=target), replace=replace)

    def filler(self) -> None:
        """An ordinary file setting a knob or two, for trees to have something besides the case."""
        self.conf(self.pick_dir(), [self.assign() for _ in range(self.rng.randint(1, 2))])

    def tree(self, tree_id: str, tags: Iterable[str]) -> Tree:
        layout = "layout.merged-usr" if self.merged_usr else "layout.split-usr"
        all_tags = dict.fromkeys([*tags, *self.tags, layout])
        return Tree(tree_id, tuple(all_tags), self.merged_usr, dict(self.entries), tuple(self.knobs), tuple(self.texts))


WORDS = ("alpha", "bravo", "core", "delta", "echo", "fox", "golf", "hotel", "local", "vendor", "tune", "zram")


# --- the catalogue of cases -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Builder], None]
    slot: str | None = None  # cases sharing a slot (one /etc/sysctl.conf ...) are never mixed into one tree
    layouts: tuple[bool | None, ...] = (None,)  # merged_usr values to build it alone with; None: seeded choice
    first: bool = False  # applied before the other cases of a mixed tree (it reshapes the dirs)


CASES: list[Case] = []


def case(
    name: str, *, slot: str | None = None, layouts: tuple[bool | None, ...] = (None,), first: bool = False
) -> Callable[[Callable[[Builder], None]], Callable[[Builder], None]]:
    def register(fn: Callable[[Builder], None]) -> Callable[[Builder], None]:
        CASES.append(Case(name, fn, slot, layouts, first))
        return fn

    return register


def add_case(name: str, build: Callable[[Builder], None], **kw) -> None:
    case(name, **kw)(build)


BOTH = (True, False)
SPLIT = (False,)
MERGED = (True,)


# -- precedence: the same basename in several dirs -----------------------------------------------------------
def _same_name(hi: str, lo: str) -> Callable[[Builder], None]:
    def build(b: Builder) -> None:
        if hi not in b.dirs() or lo not in b.dirs():
            raise Conflict("dir unavailable")
        name, k, other = b.name(), b.knob(), b.knob()
        b.conf(hi, [b.assign(k)], name)
        b.conf(lo, [b.assign(k), b.assign(other)], name)  # the whole lower file is shadowed, not just the key

    return build


def _dirtag(d: str) -> str:
    return {
        "etc/sysctl.d": "etc",
        "run/sysctl.d": "run",
        "usr/local/lib/sysctl.d": "usr-local",
        "usr/lib/sysctl.d": "usr-lib",
        "lib/sysctl.d": "lib",
    }[d]


for _i, _hi in enumerate(SYSCTL_DIRS):
    for _lo in SYSCTL_DIRS[_i + 1 :]:
        add_case(
            f"mask.same-name.{_dirtag(_hi)}-over-{_dirtag(_lo)}",
            _same_name(_hi, _lo),
            layouts=SPLIT if _lo == "lib/sysctl.d" else (None,),
        )


@case("mask.same-name.all-dirs", layouts=BOTH)
def _all_dirs(b: Builder) -> None:
    name, k = b.name(), b.knob()
    for d in b.dirs():
        b.conf(d, [b.assign(k)], name)


# -- masking by entries that are not regular files ---------------------------------------------------------
MASKS: dict[str, Callable[[Builder, str], None]] = {
    "devnull": lambda b, rel: b.link(rel, "/dev/null"),
    "devnull-relative": lambda b, rel: b.link(rel, "../" * rel.count("/") + "dev/null"),
    "dangling": lambda b, rel: b.link(rel, "/nonexistent/sysctl.conf"),
    "directory": lambda b, rel: b.add(rel, Entry("dir")),
    "loop": lambda b, rel: b.link(rel, os.path.basename(rel)),
    "loop-pair": lambda b, rel: (
        b.link(rel, os.path.basename(rel) + ".other"),
        b.link(rel + ".other", os.path.basename(rel)),
    ),
    "empty": lambda b, rel: b.add(rel, Entry("file", b"")),
    "mode-000": lambda b, rel: b.add(rel, Entry("file", f"{b.assign()}\n".encode(), mode=0)),  # root reads it
    "socket": lambda b, rel: b.add(rel, Entry("socket")),
    "link-to-dir": lambda b, rel: b.link(rel, "/etc"),
    "comments-only": lambda b, rel: b.add(rel, Entry("file", b"# nothing here\n; nor here\n")),
}


def _mask(kind: str, hi: str | None) -> Callable[[Builder], None]:
    def build(b: Builder) -> None:
        h = hi or b.pick_dir(b.dirs()[:-1])
        lower = [d for d in b.dirs() if b.dirs().index(d) > b.dirs().index(h)] if h in b.dirs() else []
        if not lower:
            raise Conflict("no lower dir")
        name, k = b.name(), b.knob()
        MASKS[kind](b, f"{h}/{name}")
        b.conf(b.rng.choice(lower), [b.assign(k), b.assign()], name)
        b.filler()

    return build


for _kind in MASKS:
    add_case(f"mask.{_kind}.etc", _mask(_kind, "etc/sysctl.d"))
    add_case(f"mask.{_kind}.run", _mask(_kind, "run/sysctl.d"))
    add_case(f"mask.{_kind}.usr-lib-over-lib", _mask(_kind, "usr/lib/sysctl.d"), layouts=SPLIT)


@case("mask.link-to-lower-file")
def _link_to_lower(b: Builder) -> None:
    hi, lo = b.two_dirs()
    name = b.name()
    real = b.conf(lo, [b.assign()], name)
    b.link(f"{hi}/{name}", "/" + real)


@case("mask.link-to-other-file")
def _link_elsewhere(b: Builder) -> None:
    b.add("usr/share/sysctl-extra/tuning.conf", Entry("file", f"{b.assign()}\n{b.assign()}\n".encode()))
    b.link(f"{b.pick_dir()}/{b.name()}", "/usr/share/sysctl-extra/tuning.conf")
    b.link(f"{b.pick_dir()}/{b.name()}", "../../usr/share/sysctl-extra/tuning.conf")


# -- names: order, suffixes, hidden, glob characters -------------------------------------------------------
@case("order.names-across-dirs", layouts=BOTH)
def _order_names(b: Builder) -> None:
    k = b.knob()
    for d in b.dirs():
        b.conf(d, [b.assign(k)])


@case("order.strcmp")
def _order_strcmp(b: Builder) -> None:
    k = b.knob()
    for stem in ("A", "a", "_x", "-x", "10", "9", "1", "01", "Z-last", "z-last"):
        b.conf(b.pick_dir(), [b.assign(k)], b.name(stem))


@case("order.bytes-above-ascii")
def _order_bytes(b: Builder) -> None:
    k = b.knob()
    # strcmp compares unsigned bytes: UTF-8 and stray 0xff sort after ASCII.
    for stem in ("50-\u00e4", "50-\udcff", "50-z", "50-\u00c4", "50 space"):
        b.conf(b.pick_dir(), [b.assign(k)], b.name(stem))


NON_CONF = (
    "50-x.conf.bak",
    "50-x.CONF",
    "README",
    "50-x.conf~",
    "50-x.confx",
    "50-x.conf.d",
    "conf",
    "50-x.cnf",
    "50-x.conf.rpmnew",
    "50-x.conf.dpkg-old",
)


@case("names.not-conf")
def _not_conf(b: Builder) -> None:
    k = b.knob()
    for n in NON_CONF:
        b.conf(b.pick_dir(), [b.assign(k)], b.name(n, suffix=""))
    b.filler()


@case("names.hidden")
def _hidden(b: Builder) -> None:
    hi, lo = b.two_dirs()
    name, k = b.name("." + str(b.rng.randint(10, 98))), b.knob()
    b.conf(hi, [b.assign(k)], name)
    b.conf(lo, [b.assign(k)], name)
    b.conf(b.pick_dir(), [b.assign(k)], b.name("." + b.rng.choice(WORDS)))
    b.filler()


@case("names.dot-conf-only")
def _dot_conf(b: Builder) -> None:
    b.conf(b.pick_dir(), [b.assign()], b.name("", suffix=".conf"))  # a file named just ".conf"
    b.filler()


@case("names.directory-suffix")
def _dir_named_conf(b: Builder) -> None:
    d = b.pick_dir()
    rel = b.add(f"{d}/{b.name()}", Entry("dir"))
    b.conf(rel, [b.assign()], "inner.conf")  # a file inside a directory named x.conf is not read
    b.filler()


# procps globs each file name again (glob(3) with GLOB_NOCHECK|GLOB_BRACE): a name with *?[{ may stand for others.
GLOB_NAMES = {"star": "5*", "question": "5?-x", "bracket": "[5]1-x", "brace": "{50-x,51-x}", "tilde": "~50"}


def _glob_name(stem: str) -> Callable[[Builder], None]:
    def build(b: Builder) -> None:
        d = b.pick_dir(["etc/sysctl.d", "usr/lib/sysctl.d"])
        k = b.knob()
        b.conf(d, [b.assign(k)], b.name(stem))
        for n in ("50-x", "51-x", "52-y"):
            b.conf(d, [b.assign(k), b.assign()], b.name(n))

    return build


for _n, _stem in GLOB_NAMES.items():
    add_case(f"names.glob-chars.{_n}", _glob_name(_stem), slot="glob-names")


# -- /etc/sysctl.conf ----------------------------------------------------------------------------------------
def _with_late_file(b: Builder, k: str) -> None:
    b.conf(b.pick_dir(), [b.assign(k)], b.name("zz-after-99"))
    b.conf(b.pick_dir(), [b.assign(k)], b.name("10-early"))


SYSCTL_CONF_KINDS: dict[str, Callable[[Builder, str], None]] = {
    "regular": lambda b, k: b.conf("etc", [b.assign(k), "# trailing comment"], "sysctl.conf"),
    "absent": lambda b, k: None,
    "empty": lambda b, k: b.conf("etc", b"", "sysctl.conf"),
    "devnull": lambda b, k: b.link(SYSCTL_CONF, "/dev/null"),
    "dangling": lambda b, k: b.link(SYSCTL_CONF, "sysctl.conf.real"),
    "directory": lambda b, k: b.add(SYSCTL_CONF, Entry("dir")),
    "link-to-file": lambda b, k: (
        b.conf("etc", [b.assign(k)], "sysctl.conf.real"),
        b.link(SYSCTL_CONF, "sysctl.conf.real"),
    ),
    "link99": lambda b, k: (
        b.conf("etc", [b.assign(k), b.assign()], "sysctl.conf"),
        b.link("etc/sysctl.d/99-sysctl.conf", "../sysctl.conf"),
    ),
    "link99-absolute": lambda b, k: (
        b.conf("etc", [b.assign(k)], "sysctl.conf"),
        b.link("etc/sysctl.d/99-sysctl.conf", "/etc/sysctl.conf"),
    ),
    "link99-masked": lambda b, k: (
        b.conf("etc", [b.assign(k)], "sysctl.conf"),
        b.link("etc/sysctl.d/99-sysctl.conf", "/dev/null"),
    ),
    "link99-usr-lib": lambda b, k: (
        b.conf("etc", [b.assign(k)], "sysctl.conf"),
        b.link("usr/lib/sysctl.d/99-sysctl.conf", "../../../etc/sysctl.conf"),
    ),
}


def _sysctl_conf(kind: str) -> Callable[[Builder], None]:
    def build(b: Builder) -> None:
        k = b.knob()
        if "etc/sysctl.d" not in b.dirs() and kind.startswith("link99"):
            raise Conflict("needs /etc/sysctl.d")
        SYSCTL_CONF_KINDS[kind](b, k)
        _with_late_file(b, k)

    return build


for _kind in SYSCTL_CONF_KINDS:
    add_case(
        f"sysctl.conf.{_kind}",
        _sysctl_conf(_kind),
        slot="sysctl.conf",
        layouts=BOTH if _kind in ("regular", "link99") else (None,),
    )


# -- the directories themselves --------------------------------------------------------------------------------
@case("lib.split-only-in-lib", layouts=SPLIT)
def _lib_only(b: Builder) -> None:
    b.conf("lib/sysctl.d", [b.assign(), b.assign()])
    b.filler()


@case("lib.merged-seen-twice", layouts=MERGED)
def _lib_merged(b: Builder) -> None:
    k = b.knob()
    b.conf("usr/lib/sysctl.d", [b.assign(k)])  # also /lib/sysctl.d/NAME through the /lib link
    b.conf("etc/sysctl.d", [b.assign(k)])


@case("lib.sysctl.d-link-in-split-lib", layouts=SPLIT, first=True, slot="dirs")
def _lib_sysctld_link(b: Builder) -> None:
    b.link("lib/sysctl.d", "../usr/lib/sysctl.d", replace=True)
    b.conf("usr/lib/sysctl.d", [b.assign(), b.assign()])


@case("dirs.missing", first=True, slot="dirs", layouts=BOTH)
def _dirs_missing(b: Builder) -> None:
    for d in ("run/sysctl.d", "usr/local/lib/sysctl.d"):
        del b.entries[d]
    b.filler()
    b.filler()


@case("dirs.run-is-a-link-to-etc", first=True, slot="dirs")
def _run_link(b: Builder) -> None:
    b.link("run/sysctl.d", "/etc/sysctl.d", replace=True)
    k = b.knob()
    b.conf("etc/sysctl.d", [b.assign(k)])
    b.conf("usr/lib/sysctl.d", [b.assign(k)])


@case("dirs.etc-is-a-link-to-usr-lib", first=True, slot="dirs")
def _etc_link(b: Builder) -> None:
    b.link("etc/sysctl.d", "../usr/lib/sysctl.d", replace=True)
    k = b.knob()
    b.conf("usr/lib/sysctl.d", [b.assign(k)])
    b.conf("run/sysctl.d", [b.assign(k)])


@case("dirs.run-is-a-file", first=True, slot="dirs")
def _run_file(b: Builder) -> None:
    b.add("run/sysctl.d", Entry("file", f"{b.assign()}\n".encode()), replace=True)
    b.filler()


# -- the fake /proc/sys ----------------------------------------------------------------------------------------
@case("proc.missing-knob", slot="proc")
def _missing_knob(b: Builder) -> None:
    gone = b.rng.choice(KNOBS)
    b.knobs.remove(gone)
    b.conf(b.pick_dir(), [b.assign(gone), f"vm.* = {b.value()}", b.assign()])


@case("proc.other-keys")
def _other_keys(b: Builder) -> None:
    b.conf(
        b.pick_dir(),
        [
            f"vm.dirty_ratio = {b.value()}",
            f"kernel.pid_max = {b.value()}",
            f"vm.overcommit_memory = {b.value()}",
            b.assign(),
        ],
    )


# -- globs ------------------------------------------------------------------------------------------------------
GLOBS = {
    "vm-star": "vm.*",
    "vm-swap-star": "vm.swap*",
    "star-swappiness": "*swappiness",
    "vm-star-factor": "vm.*_factor",
    "vm-class-sw": "vm.[sw]*",
    "vm-question": "vm.?wappiness",
    "vm-class-negated-bang": "vm.[!s]*",
    "vm-class-negated-caret": "vm.[^s]*",
    "slash-vm-star": "vm/*",
    "slash-star-factor": "vm/*_factor",
    "star-dot-star": "*.*",
    "star": "*",
    "v-star-swappiness": "v*.swappiness",
    "vm-star-dash-star": "vm.*-*",
    "brace-star": "vm.{swappiness,page-cluster}*",
    "brace-no-star": "vm.{swappiness,page-cluster}",
    "vm-double-star": "vm.**",
    "vm-dot-dot-star": "vm..*",
    "leading-slash-glob": "/vm/*",
    "vm-range": "vm.[a-z]*",
    "vm-star-s": "vm.*[s]",
    "watermark": "vm.watermark_*",
    "vm-star-star-dots": "vm.*.*",
    "upper-glob": "VM.*",
    "class-with-slash": "vm[./]swappiness",
    "class-with-dot": "vm.swappines[s.]",
}


def _glob(pattern: str) -> Callable[[Builder], None]:
    def build(b: Builder) -> None:
        b.conf(b.pick_dir(), [f"{pattern} = {b.value()}", b.assign()])
        b.filler()

    return build


for _n, _pat in GLOBS.items():
    add_case(f"glob.{_n}", _glob(_pat))


# Sequences of lines that make globs, explicit keys and exclusions meet. Each step: (file index, line template);
# {k} is the case's knob, {v} a fresh value, {same} the one value shared by the lines that say {same}.
INTERPLAY: dict[str, list[tuple[int, str]]] = {
    "glob-then-explicit": [(0, "vm.* = {v}"), (0, "vm.{k} = {v}")],
    "explicit-then-glob": [(0, "vm.{k} = {v}"), (0, "vm.* = {v}")],
    "glob-then-explicit-across-files": [(0, "vm.* = {v}"), (1, "vm.{k} = {v}")],
    "explicit-then-glob-across-files": [(0, "vm.{k} = {v}"), (1, "vm.* = {v}")],
    "two-globs": [(0, "vm.* = {v}"), (0, "vm.swap* = {v}"), (0, "*swappiness = {v}")],
    "two-globs-reversed": [(0, "vm.swap* = {v}"), (0, "vm.* = {v}")],
    "two-globs-across-files": [(0, "vm.[sw]* = {v}"), (1, "vm.*_factor = {v}"), (1, "vm.* = {v}")],
    "same-glob-twice-different": [(0, "vm.* = {v}"), (0, "vm.swap* = {v}"), (1, "vm.* = {v}")],
    "same-glob-twice-same": [(0, "vm.* = {same}"), (0, "vm.swap* = {v}"), (1, "vm.* = {same}")],
    "same-key-twice-different": [(0, "vm.{k} = {v}"), (0, "vm.{k} = {v}")],
    "same-key-twice-different-across-files": [(0, "vm.{k} = {v}"), (1, "vm.{k} = {v}")],
    "same-key-twice-same": [(0, "vm.{k} = {same}"), (1, "vm.{k} = {same}")],
    "same-key-twice-same-one-file": [(0, "vm.{k} = {same}"), (0, "vm.{k} = {same}")],
    "same-glob-twice-same-one-file": [(0, "vm.* = {same}"), (0, "vm.swap* = {v}"), (0, "vm.* = {same}")],
    "same-key-a-b-a": [(0, "vm.{k} = {same}"), (0, "vm.{k} = {v}"), (1, "vm.{k} = {same}")],
    "same-key-same-between-other": [
        (0, "vm.{k} = {same}"),
        (0, "vm.page-cluster = {v}"),
        (1, "vm.{k} = {same}"),
        (1, "vm.* = {v}"),
    ],
    "same-key-other-spelling": [(0, "vm.{k} = {v}"), (0, "vm/{k} = {v}")],
    "same-key-ignore-failure-same-value": [(0, "vm.{k} = {same}"), (1, "-vm.{k} = {same}")],
    "exclude-then-glob": [(0, "-vm.{k}"), (0, "vm.* = {v}")],
    "glob-then-exclude": [(0, "vm.* = {v}"), (0, "-vm.{k}")],
    "glob-then-exclude-across-files": [(0, "vm.* = {v}"), (1, "-vm.{k}")],
    "exclude-glob-with-glob": [(0, "-vm.*"), (0, "vm.* = {v}")],
    "exclude-other-glob": [(0, "-vm.swap*"), (0, "vm.* = {v}")],
    "exclude-with-space": [(0, "- vm.{k}"), (0, "vm.* = {v}")],
    "exclude-slash-spelling": [(0, "-vm/{k}"), (0, "vm.* = {v}")],
    "exclude-leading-slash": [(0, "-/vm/{k}"), (0, "vm.* = {v}")],
    "exclude-then-explicit": [(0, "-vm.{k}"), (0, "vm.* = {v}"), (1, "vm.{k} = {v}")],
    "explicit-then-exclude": [(0, "vm.{k} = {v}"), (0, "vm.* = {v}"), (1, "-vm.{k}")],
    "explicit-then-exclude-no-glob": [(0, "vm.{k} = {v}"), (1, "-vm.{k}")],
    "glob-then-same-glob-excluded": [(0, "vm.* = {v}"), (1, "-vm.*")],
    "exclude-twice": [(0, "-vm.{k}"), (1, "-vm.{k}"), (1, "vm.* = {v}")],
    "leading-slash-explicit-and-glob": [(0, "/vm/{k} = {v}"), (0, "vm.* = {v}")],
    "double-dot-explicit-and-glob": [(0, "vm..{k} = {v}"), (0, "vm.* = {v}")],
    "glob-double-dot-and-explicit": [(0, "vm.{k} = {v}"), (0, "vm..* = {v}")],
    "trailing-slash-explicit-and-glob": [(0, "vm/{k}/ = {v}"), (0, "vm.* = {v}")],
    "dot-slash-explicit-and-glob": [(0, "vm/./{k} = {v}"), (0, "vm.* = {v}")],
    "glob-matches-explicit-in-masked-file": [(0, "vm.* = {v}"), (2, "vm.{k} = {v}")],
    "ignore-failure-glob": [(0, "-vm.* = {v}"), (0, "vm.{k} = {v}")],
    "dash-dash-explicit": [(0, "--vm.{k} = {v}"), (0, "vm.* = {v}")],
    "dash-dash-exclude": [(0, "--vm.{k}"), (0, "vm.* = {v}")],
}


def _interplay(steps: list[tuple[int, str]]) -> Callable[[Builder], None]:
    def build(b: Builder) -> None:
        k = b.rng.choice([k for k in b.knobs if k.startswith(("swap", "watermark", "page"))] or b.knobs)
        same = b.value()
        files: list[list[str]] = [[] for _ in range(3)]
        for index, template in steps:
            files[index].append(template.replace("{same}", same).replace("{k}", k).replace("{v}", "{v}"))
        for lines in files:
            for i, line in enumerate(lines):
                while "{v}" in line:
                    line = line.replace("{v}", b.value(), 1)
                lines[i] = line
        # File 0 sorts before file 1; file 2 is shadowed by an empty file of the same name in a higher dir.
        d0, d1 = b.pick_dir(), b.pick_dir()
        b.conf(d0, files[0], b.name("40-" + b.rng.choice(WORDS)))
        if files[1]:
            b.conf(d1, files[1], b.name("60-" + b.rng.choice(WORDS)))
        if files[2]:
            hi, lo = b.two_dirs()
            name = b.name("50-" + b.rng.choice(WORDS))
            b.conf(hi, b"", name)
            b.conf(lo, files[2], name)

    return build


for _n, _steps in INTERPLAY.items():
    add_case(f"glob.{_n}", _interplay(_steps))


# -- key spellings ------------------------------------------------------------------------------------------
KEY_SPELLINGS = {
    "slash": "vm/{k}",
    "leading-slash": "/vm/{k}",
    "double-dot": "vm..{k}",
    "double-slash": "vm//{k}",
    "trailing-slash-dotted": "vm.{k}/",
    "trailing-dot-slashed": "vm/{k}.",
    "leading-dot": ".vm.{k}",
    "trailing-dot": "vm.{k}.",
    "trailing-slash": "vm/{k}/",
    "dot-component": "vm/./{k}",
    "dot-dot-component": "vm/../vm/{k}",
    "kernel-dot-dot": "kernel/../vm/{k}",
    "upper": "VM.{K}",
    "upper-knob": "vm.{K}",
    "mixed-leading-dot-slash": ".vm/{k}",
    "mixed-leading-slash-dot": "/vm.{k}",
    "space-before-dot": "vm .{k}",
    "space-after-dot": "vm. {k}",
    "bare-knob": "{k}",
    "dash-dash": "--vm.{k}",
    "dash-space-dash": "- -vm.{k}",
    "nbsp-after-key": "vm.{k}\u00a0",
    "proc-sys-prefix": "/proc/sys/vm/{k}",
    "proc-sys-dotted": "proc.sys.vm.{k}",
    "tab-inside": "vm.\t{k}",
    "backslash": "vm\\.{k}",
    "trailing-dot-dotted-twice": "vm.{k}..",
}


def _spelling(template: str) -> Callable[[Builder], None]:
    def build(b: Builder) -> None:
        k = b.knob()
        key = template.replace("{k}", k).replace("{K}", k.upper())
        b.conf(b.pick_dir(), [f"{key} = {b.value()}", b.assign()])

    return build


for _n, _tpl in KEY_SPELLINGS.items():
    add_case(f"key.{_n}", _spelling(_tpl))


@case("key.utf8-bom")
def _bom(b: Builder) -> None:
    b.conf(b.pick_dir(), ("\ufeff" + f"{b.assign()}\n{b.assign()}\n").encode())


# -- the text of a line -------------------------------------------------------------------------------------
# Each builds the bytes of one file from a knob and the builder (for fresh values); the filler elsewhere.
def _lines(*parts: str) -> Callable[[Builder, str], bytes]:
    def body(b: Builder, k: str) -> bytes:
        out = []
        for p in parts:
            line = p.replace("{k}", k).replace("{k2}", b.rng.choice([x for x in b.knobs if x != k] or [k]))
            while "{v}" in line:
                line = line.replace("{v}", b.value(), 1)
            out.append(line)
        return "".join(out).encode("utf-8", "surrogateescape")

    return body


TEXTS: dict[str, Callable[[Builder, str], bytes]] = {
    "spaces-around": _lines("   vm.{k}   =   {v}   \n"),
    "tabs-around": _lines("\tvm.{k}\t=\t{v}\t\n"),
    "no-spaces": _lines("vm.{k}={v}\n"),
    "vt-before-eq": _lines("vm.{k}\v= {v}\n", "vm.{k2} = {v}\n"),
    "vt-after-eq": _lines("vm.{k} =\v{v}\n"),
    "vt-after-value": _lines("vm.{k} = {v}\v\n"),
    "ff-after-value": _lines("vm.{k} = {v}\f\n"),
    "ff-before-key": _lines("\fvm.{k} = {v}\n"),
    "vt-before-comment": _lines("\v# vm.{k} = {v}\n", "vm.{k2} = {v}\n"),
    "ff-before-semicolon-comment": _lines("\f; vm.{k} = {v}\n", "vm.{k2} = {v}\n"),
    "vt-inside-comment": _lines("# \v vm.{k} = {v}\n", "vm.{k2} = {v}\n"),
    "nbsp-before-eq": _lines("vm.{k}\u00a0= {v}\n", "vm.{k2} = {v}\n"),
    "nbsp-after-eq": _lines("vm.{k} =\u00a0{v}\n"),
    "nbsp-after-value": _lines("vm.{k} = {v}\u00a0\n"),
    "hash-comment": _lines("# vm.{k} = {v}\n", "vm.{k2} = {v}\n"),
    "semicolon-comment": _lines("; vm.{k} = {v}\n", "vm.{k2} = {v}\n"),
    "indented-comment": _lines("   # vm.{k} = {v}\n", "\t; vm.{k} = {v}\n", "vm.{k2} = {v}\n"),
    "comment-after-value": _lines("vm.{k} = {v} # note\n"),
    "semicolon-after-value": _lines("vm.{k} = {v} ; note\n"),
    "hash-glued-to-value": _lines("vm.{k} = {v}#note\n"),
    "dash-space-key": _lines("- vm.{k} = {v}\n", "vm.{k2} = {v}\n"),
    "dash-key": _lines("-vm.{k} = {v}\n"),
    "dash-tab-key": _lines("-\tvm.{k} = {v}\n"),
    "crlf": _lines("vm.{k} = {v}\r\n", "vm.{k2} = {v}\r\n", "# c\r\n", "vm.{k} = {v}\r\n"),
    "cr-only": _lines("vm.{k} = {v}\r", "vm.{k2} = {v}\r", "vm.{k} = {v}\r"),
    "lf-cr": _lines("vm.{k} = {v}\n\r", "vm.{k2} = {v}\n\r"),
    "cr-cr": _lines("vm.{k} = {v}\r\r", "vm.{k2} = {v}\r\r"),
    "crlf-crlf": _lines("vm.{k} = {v}\r\n\r\n", "vm.{k2} = {v}\r\n"),
    "cr-mid-line": _lines("vm.{k} = {v}\rvm.{k2} = {v}\n"),
    "mixed-eol": _lines("vm.{k} = {v}\n", "vm.{k2} = {v}\r\n", "vm.{k} = {v}\r", "vm.{k2} = {v}\n"),
    "no-final-newline": _lines("vm.{k2} = {v}\n", "vm.{k} = {v}"),
    "two-char-last-line": _lines("vm.{k} = {v}\n", "x="),
    "empty-value": _lines("vm.{k} =\n", "vm.{k2} = {v}\n"),
    "blank-value": _lines("vm.{k} =   \t\n"),
    "empty-value-crlf": _lines("vm.{k} =\r\n"),
    "no-equals": _lines("vm.{k} {v}\n", "vm.{k}\n", "vm.{k}: {v}\n", "vm.{k2} = {v}\n"),
    "eq-in-value": _lines("vm.{k} = {v}={v}\n"),
    "double-eq": _lines("vm.{k} == {v}\n"),
    "eq-only": _lines("=\n", "= {v}\n", "vm.{k2} = {v}\n"),
    "space-in-key": _lines("vm.{k} x = {v}\n", "vm.{k2} = {v}\n"),
    "blank-lines": _lines("\n", "   \n", "\t\n", "vm.{k} = {v}\n"),
    "vector-value": _lines("vm.{k} = {v} {v}\n"),
    "tab-in-value": _lines("vm.{k} = {v}\t{v}\n"),
    "quoted-value": _lines('vm.{k} = "{v}"\n'),
    "invalid-utf8-comment": _lines("# \udcff\udcfe\udcc3\n", "vm.{k} = {v}\n"),
    "invalid-utf8-value": _lines("vm.{k} = {v}\udcff\n"),
    "invalid-utf8-key": _lines("vm.{k}\udcff = {v}\n", "vm.{k2} = {v}\n"),
    "nul-mid-line": _lines("vm.{k} = {v}\0vm.{k2} = {v}\n"),
    "nul-at-line-start": _lines("\0vm.{k} = {v}\n", "vm.{k2} = {v}\n"),
    "nul-line": _lines("vm.{k} = {v}\n", "\0\n", "vm.{k2} = {v}\n"),
    "nul-after-value": _lines("vm.{k} = {v}\0\n", "vm.{k2} = {v}\n"),
    # Lines that are not assignments, after every kind of line ending: both peers name their file and line in a
    # warning, which checks the oracle's own line counting (sysctl_peers.line_number).
    "line-count-probe": _lines(
        "probe{v}\n",
        "probe{v}\r\n",
        "probe{v}\r",
        "probe{v}\n\r",
        "probe{v}\r\r",
        "\0probe{v}\n",
        "probe{v}\0\n",
        "\n\nprobe{v}\r\n\r\n",
        "vm.{k} = {v}\r",
        "probe{v}\n",
    ),
    "long-line-value": lambda b, k: f"vm.{k} = {b.value()}{'x' * 5000}\n".encode(),
    "long-comment": lambda b, k: f"# {'y' * 70000}\nvm.{k} = {b.value()}\n".encode(),
    "long-key": lambda b, k: f"vm.{'k' * 300} = {b.value()}\nvm.{k} = {b.value()}\n".encode(),
    "line-over-1mib": lambda b, k: (
        f"vm.{k} = {b.value()}\n# {'z' * (1 << 20)}\nvm.{k} = {b.value()}\nvm.{b.knob()} = {b.value()}\n"
    ).encode(),
}


def _text(body: Callable[[Builder, str], bytes]) -> Callable[[Builder], None]:
    def build(b: Builder) -> None:
        b.conf(b.pick_dir(), body(b, b.knob()))
        b.filler()

    return build


for _n, _body in TEXTS.items():
    add_case(f"text.{_n}", _text(_body), slot="long" if "long" in _n or "1mib" in _n else None)


# -- values as written ------------------------------------------------------------------------------------------
VALUES = {
    "leading-zero": "010",
    "hex": "0x10000",
    "plus": "+1",
    "underscore": "1_0",
    "spaced": "  5  ",
    "minus": "-1",
    "out-of-range": "500",
    "exponent": "1e3",
    "huge": "99999999999",
    "zero": "0",
    "double-zero": "00",
    "minus-zero": "-0",
    "decimal": "1.5",
    "fullwidth": "\uff11\uff10",
    "word": "abc",
    "minus-space": "- 7",
}


def _value(text: str) -> Callable[[Builder], None]:
    def build(b: Builder) -> None:
        b.conf(b.pick_dir(), [f"vm.{b.knob()} = {b.special(text)}"])
        b.filler()

    return build


for _n, _text_value in VALUES.items():
    add_case(f"value.{_n}", _value(_text_value))


# --- generating the set ------------------------------------------------------------------------------------
def family(tag: str) -> str:
    """The class a case tag belongs to: "mask.devnull.etc" -> "mask", "sysctl.conf.link99" -> "sysctl.conf"."""
    return "sysctl.conf" if tag.startswith("sysctl.conf") else tag.split(".", 1)[0]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9.+-]+", "-", name.lower())


def _builder(rng: random.Random, merged: bool | None) -> Builder:
    b = Builder(random.Random(rng.random()), rng.random() < 0.6 if merged is None else merged)
    return b


def generate(seed: int = DEFAULT_SEED, mixed: int = 110) -> list[Tree]:
    """Every case alone (in the layouts it asks for), then `mixed` trees of 2-5 cases each plus fillers."""
    rng = random.Random(seed)
    trees: list[Tree] = []
    for c in CASES:
        for merged in c.layouts:
            for _ in range(20):
                b = _builder(rng, merged)
                try:
                    c.build(b)
                    break
                except Conflict:
                    continue
            else:
                raise RuntimeError(f"case {c.name} never fits")
            if b.rng.random() < 0.05 and "proc.missing-knob" != c.name:
                # Now and then a knob is absent from the kernel: writes to it fail and globs skip it.
                b.knobs.remove(b.rng.choice(KNOBS))
                b.tags.append("proc.knob-absent")
            trees.append(b.tree(f"{len(trees):03d}-{_slug(c.name)}", [c.name, family(c.name), "alone"]))
    mixable = [c for c in CASES if c.name not in ("sysctl.conf.absent",)]
    for _ in range(mixed):
        b = _builder(rng, None)
        picked: list[Case] = []
        slots: set[str] = set()
        for c in sorted(rng.sample(mixable, rng.randint(2, 5)), key=lambda c: not c.first):
            if (
                (c.slot and c.slot in slots)
                or (c.layouts == SPLIT and b.merged_usr)
                or (c.layouts == MERGED and not b.merged_usr)
            ):
                continue
            saved = (dict(b.entries), list(b.knobs), list(b.texts), set(b._values), set(b._names))
            try:
                c.build(b)
            except Conflict:
                b.entries, b.knobs, b.texts, b._values, b._names = saved
                continue
            picked.append(c)
            if c.slot:
                slots.add(c.slot)
        for _ in range(rng.randint(0, 3)):
            b.filler()
        tags = ["mix", *(c.name for c in picked), *(family(c.name) for c in picked)]
        trees.append(b.tree(f"{len(trees):03d}-mix", tags))
    return trees


# --- the machine's own files, as a tree ----------------------------------------------------------------------
def host_tree(root: Path = Path("/"), tree_id: str = "host") -> Tree:
    """This machine's sysctl files (sysctl.d dirs and /etc/sysctl.conf) as a tree, its /lib layout kept."""
    merged = (root / "lib").is_symlink()
    entries: dict[str, Entry] = {}

    def take(rel: str) -> None:
        p = root / rel
        if p.is_symlink():
            entries[rel] = Entry("link", target=os.readlink(p))
        elif p.is_dir():
            entries[rel] = Entry("dir")
        elif p.is_file():
            entries[rel] = Entry("file", p.read_bytes(), mode=stat.S_IMODE(p.stat().st_mode))
        elif p.exists():
            entries[rel] = Entry("socket")

    for d in SYSCTL_DIRS[:4] if merged else SYSCTL_DIRS:
        if (root / d).is_dir() and not (root / d).is_symlink():
            entries[d] = Entry("dir")
            for child in sorted(os.listdir(root / d)):
                take(f"{d}/{child}")
        else:
            take(d)
    take(SYSCTL_CONF)
    if entries.get(SYSCTL_CONF, Entry("dir")).kind == "link":
        target = os.readlink(root / SYSCTL_CONF)  # keep what the link points at, if it is a file of its own
        rel = (
            os.path.normpath(os.path.join("etc", target)).lstrip("/")
            if not target.startswith("/")
            else target.lstrip("/")
        )
        if (root / rel).is_file():
            take(rel)
    return Tree(tree_id, ("host",), merged, entries, tuple(KNOBS), ())


def by_id(trees: Iterable[Tree]) -> dict[str, Tree]:
    return {t.id: t for t in trees}


@dataclass
class Census:
    """How many trees carry each tag."""

    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, trees: Iterable[Tree]) -> Census:
        c = cls()
        for t in trees:
            for tag in t.tags:
                c.counts[tag] = c.counts.get(tag, 0) + 1
        return c
