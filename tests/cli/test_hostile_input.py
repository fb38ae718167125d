"""Hostile input on a fake machine: every command and option fuzzed with hypothesis, and the classic bad inputs
(relative paths, symlinks, a symlink swapped in before create, /proc, /sys, tmpfs, /etc/passwd, directories,
overflowing sizes and priorities, traversal-looking sysctl keys, malformed YAML, garbage zoneinfo). Each must
end with a documented exit code, one `swapctl: error:` line (and a hint), no traceback, the machine untouched."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swapctl.cli.app import app
from swapctl.cli.context import Invocation
from swapctl.system.host import Host
from tests.fakes import FakeRunner, fake_host
from tests.figures import report
from tests.hostile import SNAPSHOT, Case, build_template, invoke, tree
from tests.runner import CliRunner

TALLY: Counter[str] = Counter()
CRASHES: list[str] = []
EXAMPLES = int(os.environ.get("SWAPCTL_FUZZ_EXAMPLES", "30"))


# --- the fake machine (tests/hostile.py) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("hostile"))


def run(
    template: Path,
    argv: list[str],
    *,
    stdin: bytes | None = None,
    files: dict[str, bytes] | None = None,
    host_class: type[Host] | None = None,
    uid: int = 0,
) -> Case:
    """One invocation on a fresh copy of the fake machine; `files` are written under the root first."""
    with tree(template) as t:
        for rel, data in (files or {}).items():
            t.write(rel, data)
        t.uid, t.host_factory = uid, host_class
        case = invoke(t, argv, stdin=stdin)
    TALLY["inputs"] += 1
    if case.crashed or case.hung:
        TALLY["crashes"] += 1
        CRASHES.append(str(case))
    return case


def one_line_error(case: Case) -> bool:
    return case.one_line_error


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield
    report(
        "hostile-input",
        inputs=TALLY["inputs"],
        crashes=TALLY["crashes"],
        classic=TALLY["classic"],
        fuzzed=TALLY["fuzzed"],
        refused_untouched=TALLY["refused_untouched"],
    )


def check_fuzzed(case: Case) -> None:
    TALLY["fuzzed"] += 1
    assert not case.crashed, str(case)
    assert case.code in (0, 1, 2, 3, 4), str(case)
    if case.code != 0:
        # Typer's own parser errors too (an option that is not an integer, an unknown option) come out as
        # one `swapctl: error:` line: LazyGroup.main reformats them.
        assert one_line_error(case), str(case)
    if case.code in (2, 3):
        assert not case.changed, f"refused, yet the machine changed: {case}"
        TALLY["refused_untouched"] += 1


# --- the classic bad inputs --------------------------------------------------------------------------------

SIZE = ["--size", "16M"]
GARBAGE = bytes(range(256)) * 4
ZONEINFO = (SNAPSHOT / "proc/zoneinfo").read_bytes() if SNAPSHOT.is_dir() else b""

CLASSIC: list[tuple[str, list[str], tuple[int, ...], dict[str, bytes] | None]] = [
    ("relative path", ["create", "swapfile", *SIZE], (2,), None),
    ("dot-relative path", ["create", "./swapfile", *SIZE], (2,), None),
    ("non-normalised path", ["create", "/var/tmp/../etc/swapfile", *SIZE], (2,), None),
    ("empty path", ["create", "", *SIZE], (2,), None),
    ("newline in path", ["create", "/var/tmp/a\nb", *SIZE], (2,), None),
    ("symlink to /etc/passwd", ["create", "/var/tmp/link", *SIZE], (3,), None),
    ("symlink --force", ["create", "/var/tmp/link", *SIZE, "--force"], (3,), None),
    ("dangling symlink", ["create", "/var/tmp/dangling", *SIZE], (3,), None),
    ("directory through a symlink", ["create", "/var/tmp/linkdir/swapfile", *SIZE], (3,), None),
    ("in /proc", ["create", "/proc/swapfile", *SIZE], (3,), None),
    ("a /proc/sys file", ["create", "/proc/sys/vm/swappiness", *SIZE], (3,), None),
    ("in /sys", ["create", "/sys/kernel/swapfile", *SIZE], (3,), None),
    ("on tmpfs", ["create", "/dev/shm/swapfile", *SIZE], (3,), None),
    ("/etc/passwd", ["create", "/etc/passwd", *SIZE], (3,), None),
    ("/etc/passwd --force", ["create", "/etc/passwd", *SIZE, "--force", "--dry-run"], (0, 3), None),
    ("a directory", ["create", "/var/tmp/dir", *SIZE], (3,), None),
    ("the root directory", ["create", "/", *SIZE], (2,), None),
    ("a directory others can write", ["create", "/var/tmp/open/swapfile", *SIZE], (3,), None),
    ("a sticky world-writable directory", ["create", "/var/tmp/sticky/swapfile", *SIZE], (3,), None),
    ("under a regular file", ["create", "/etc/passwd/swapfile", *SIZE], (3,), None),
    ("through a link loop", ["create", "/var/tmp/loop/swapfile", *SIZE], (3,), None),
    ("a name longer than NAME_MAX", ["create", "/var/tmp/" + "x" * 256, *SIZE], (2,), None),
    ("a path longer than PATH_MAX", ["create", "/var/tmp" + "/x" * 2100, *SIZE], (2,), None),
    ("remove under a regular file", ["remove", "/etc/passwd/swapfile"], (0, 3), None),
    ("resize through a link loop", ["resize", "/var/tmp/loop/s", *SIZE], (3,), None),
    ("a missing directory", ["create", "/var/tmp/missing/swapfile", *SIZE], (3,), None),
    ("overflowing size", ["create", "/var/tmp/s", "--size", "99999999999999999999999999999T"], (2, 3), None),
    ("size 1e400", ["create", "/var/tmp/s", "--size", "1e400G"], (2,), None),
    ("negative size", ["create", "/var/tmp/s", "--size", "-16M"], (2,), None),
    ("zero size", ["create", "/var/tmp/s", "--size", "0"], (2,), None),
    ("size nan", ["create", "/var/tmp/s", "--size", "nan"], (2,), None),
    ("size inf", ["create", "/var/tmp/s", "--size", "infG"], (2,), None),
    ("unknown unit", ["create", "/var/tmp/s", "--size", "16Q"], (2,), None),
    ("size 2^63 bytes", ["create", "/var/tmp/s", "--size", str(2**63)], (2, 3), None),
    ("priority 32768", ["create", "/var/tmp/s", *SIZE, "-p", "32768"], (2,), None),
    ("priority -2", ["create", "/var/tmp/s", *SIZE, "-p", "-2"], (2,), None),
    ("priority 2^70", ["create", "/var/tmp/s", *SIZE, "-p", str(2**70)], (2,), None),
    ("unknown method", ["create", "/var/tmp/s", *SIZE, "--method", "dd"], (2,), None),
    ("remove relative", ["remove", "swapfile"], (2,), None),
    ("remove /etc/passwd", ["remove", "/etc/passwd"], (3,), None),
    ("remove /etc/passwd --force", ["remove", "/etc/passwd", "--force"], (3,), None),
    ("remove a symlink", ["remove", "/var/tmp/link", "--force"], (3,), None),
    ("remove a directory", ["remove", "/var/tmp/dir", "--force"], (3,), None),
    ("remove /proc/swaps", ["remove", "/proc/swaps", "--force"], (3,), None),
    ("resize /etc/passwd", ["resize", "/etc/passwd", "--size", "32M"], (3,), None),
    ("resize overflowing", ["resize", "/var/tmp/s", "--size", "1" + "0" * 40], (2, 3), None),
    ("sysctl traversal", ["vm", "set", "../../kernel/panic=1"], (2,), None),
    ("sysctl traversal under vm.", ["vm", "set", "vm.../../kernel/panic=1"], (2,), None),
    ("sysctl absolute path", ["vm", "set", "/proc/sys/kernel/panic=1"], (2,), None),
    ("another subsystem's sysctl", ["vm", "set", "kernel.panic=1"], (2,), None),
    ("unknown vm sysctl", ["vm", "set", "vm.drop_caches=3"], (2,), None),
    ("not an assignment", ["vm", "set", "swappiness"], (2,), None),
    ("no key", ["vm", "set", "=5"], (2,), None),
    ("two equals", ["vm", "set", "swappiness=1=2"], (2,), None),
    ("hex value", ["vm", "set", "swappiness=0x10"], (2,), None),
    ("out of range", ["vm", "set", "swappiness=201"], (2,), None),
    ("overflowing value", ["vm", "set", "swappiness=" + "9" * 40], (2,), None),
    ("min_free_kbytes past int", ["vm", "set", "min_free_kbytes=2147483648"], (2,), None),
    ("min_free_kbytes that would panic", ["vm", "set", "min_free_kbytes=2147483647"], (3,), None),
    ("vm get traversal", ["vm", "get", "../../kernel/panic"], (2,), None),
    ("rollback traversal id", ["rollback", "../../etc/passwd"], (2,), None),
    ("rollback id with a carriage return and an escape", ["rollback", "x\r\x1b[2Jy"], (2,), None),
    ("apply missing file", ["apply", "@ROOT@/missing.yaml"], (2,), None),
    ("apply a directory", ["apply", "@ROOT@/etc"], (2,), None),
    ("apply /dev/zero", ["apply", "/dev/zero"], (2,), None),
    ("apply unclosed flow", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": b"swapfiles: [\n"}),
    ("apply tab indentation", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": b"vm:\n\tswappiness: 10\n"}),
    ("apply binary garbage", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": GARBAGE}),
    ("apply latin-1 bytes", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": b"vm:\n  swappiness: \xe9\n"}),
    ("apply a list at the top", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": b"- 1\n- 2\n"}),
    ("apply unknown key", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": b"swapfile: []\n"}),
    ("apply traversal sysctl", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": b"vm:\n  ../../kernel/panic: 1\n"}),
    (
        "apply relative swapfile",
        ["apply", "@ROOT@/x.yaml"],
        (2,),
        {"x.yaml": b"swapfiles:\n  - path: swapfile\n    size: 1G\n"},
    ),
    (
        "apply symlinked swapfile",
        ["apply", "@ROOT@/x.yaml"],
        (3,),
        {"x.yaml": b"swapfiles:\n  - path: /var/tmp/link\n    size: 16M\n"},
    ),
    (
        "apply python tag",
        ["apply", "@ROOT@/x.yaml"],
        (2,),
        {"x.yaml": b"vm: !!python/object/apply:os.system ['touch /tmp/swapctl-pwned']\n"},
    ),
    (
        "apply alias bomb",
        ["apply", "@ROOT@/x.yaml"],
        (2,),
        {
            "x.yaml": b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nvm: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        },
    ),
    ("apply empty value", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": b"persist:\n"}),
    ("apply empty key", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": b"? \n"}),
    ("apply bad tagged int", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": b"vm:\n  swappiness: !!int x\n"}),
    ("apply bad tagged bool", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": b"persist: !!bool maybe\n"}),
    ("apply duplicate keys", ["apply", "@ROOT@/x.yaml"], (2,), {"x.yaml": b"vm:\n  swappiness: 1\n  swappiness: 2\n"}),
    (
        "apply priority out of range",
        ["apply", "@ROOT@/x.yaml"],
        (2,),
        {"x.yaml": b"swapfiles:\n  - path: /var/tmp/s\n    size: 16M\n    priority: 40000\n"},
    ),
    ("garbage zoneinfo", ["watermarks"], (2,), {"proc/zoneinfo": GARBAGE}),
    ("truncated zoneinfo", ["watermarks"], (2,), {"proc/zoneinfo": ZONEINFO[: len(ZONEINFO) // 3]}),
    ("zoneinfo cut mid-line", ["watermarks"], (2,), {"proc/zoneinfo": ZONEINFO[:100]}),
    ("empty zoneinfo", ["watermarks"], (2,), {"proc/zoneinfo": b""}),
    (
        "zoneinfo with huge numbers",
        ["watermarks"],
        (0, 2),
        {"proc/zoneinfo": ZONEINFO.replace(b"min ", b"min 99999999999999999999999999 #", 1)},
    ),
    ("garbage zoneinfo for numa", ["numa"], (2,), {"proc/zoneinfo": GARBAGE}),
    ("what-if traversal", ["watermarks", "--what-if", "../../kernel/panic=1"], (2,), None),
    ("what-if negative", ["watermarks", "--what-if", "min_free_kbytes=-1"], (2,), None),
    ("what-if overflow", ["watermarks", "--what-if", "watermark_scale_factor=" + "9" * 30], (2,), None),
    ("unknown node", ["watermarks", "--node", "4096"], (2,), None),
]


@pytest.mark.parametrize("name,argv,codes,files", CLASSIC, ids=[c[0] for c in CLASSIC])
def test_a_classic_bad_input_gets_one_clear_line_a_documented_code_and_changes_nothing(
    template: Path, name: str, argv: list[str], codes: tuple[int, ...], files: dict | None
) -> None:
    TALLY["classic"] += 1
    case = run(template, argv, files=files)
    assert not case.crashed, str(case)
    assert case.code in codes, str(case)
    if case.code != 0:
        assert one_line_error(case), str(case)
        assert not case.changed and not case.journal_written, str(case)
        TALLY["refused_untouched"] += 1
    assert not os.path.exists("/tmp/swapctl-pwned")


class SymlinkRacer(Host):
    """The attacker wins the race: right after every check passed, the path becomes a link to /etc/passwd."""

    def create_exclusive(self, path: str, mode: int = 0o600) -> None:
        os.symlink("../../etc/passwd", self.real(path))
        super().create_exclusive(path, mode)


class FileSwapper(Host):
    """The attacker replaces the freshly created file by a link before it is allocated."""

    def fallocate(self, path: str, size: int) -> None:
        os.unlink(self.real(path))
        os.symlink("../../etc/passwd", self.real(path))
        super().fallocate(path, size)


@pytest.mark.parametrize("racer,code", [(SymlinkRacer, 3), (FileSwapper, 1)], ids=["before-create", "after-create"])
def test_a_symlink_swapped_in_after_the_checks_is_never_followed(template: Path, racer: type[Host], code: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="hostile-race-"))
    try:
        root = work / "root"
        shutil.copytree(template, root, symlinks=True)
        paths = fake_host(root).paths
        runner = FakeRunner(paths)
        host = racer(paths=paths, runner=runner, uid=0, page_size=4096, live=True)
        passwd = (root / "etc/passwd").read_bytes()
        fstab_before = (root / "etc/fstab").read_bytes()
        result = CliRunner().invoke(app, ["create", "/var/tmp/raced", *SIZE], obj=Invocation(host=host))
        TALLY["classic"] += 1
        TALLY["inputs"] += 1
        assert result.exit_code == code, result.stdout + result.stderr
        assert result.stderr.startswith("swapctl: error: ") and "Traceback" not in result.stderr
        assert (root / "etc/passwd").read_bytes() == passwd
        assert stat.S_IMODE(os.stat(root / "etc/passwd").st_mode) == 0o644
        assert os.readlink(root / "var/tmp/raced") == "../../etc/passwd", "the attacker's link was removed"
        assert [c[0] for c in runner.calls if c[0] in ("mkswap", "swapon")] == []
        assert (root / "etc/fstab").read_bytes() == fstab_before
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_every_mutating_command_refuses_a_non_root_user_before_touching_the_fake_machine(template: Path) -> None:
    for argv in (
        ["create", "/var/tmp/s", *SIZE],
        ["remove", "/var/tmp/s"],
        ["resize", "/var/tmp/s", *SIZE],
        ["vm", "set", "swappiness=10"],
        ["rollback"],
        ["apply", "@ROOT@/x.yaml"],
    ):
        case = run(template, argv, uid=1000, files={"x.yaml": b"vm:\n  swappiness: 10\n"})
        assert case.code == 3 and one_line_error(case) and "root" in case.stderr, str(case)
        assert not case.changed and not case.journal_written, str(case)


# --- fuzzing -------------------------------------------------------------------------------------------------

HOSTILE_PATHS = [
    "/var/tmp/s",
    "/var/tmp/link",
    "/var/tmp/linkdir/s",
    "/var/tmp/dir",
    "/var/tmp/open/s",
    "/proc/swaps",
    "/sys/x",
    "/dev/shm/s",
    "/etc/passwd",
    "/",
    "relative",
    "",
    "/var/tmp/a b",
    "/var/tmp/\\134",
    "/var/tmp/" + "x" * 300,
    "//var//tmp//s",
    "/var/tmp/s/",
    "-",
    "--help",
]
text = st.text(max_size=30)
paths = st.one_of(st.sampled_from(HOSTILE_PATHS), text, text.map(lambda t: "/var/tmp/" + t))
sizes = st.one_of(
    st.sampled_from(
        ["16M", "40K", "1.5GiB", "0", "-1", "1e400", "nan", "16Q", "0x10", " 16 M ", "9" * 40 + "T", "16MiBB", ""]
    ),
    text,
    st.integers().map(str),
)
ints = st.one_of(st.integers(-(2**70), 2**70).map(str), text)
keys = st.sampled_from(
    [
        "swappiness",
        "vm.swappiness",
        "watermark_scale_factor",
        "min_free_kbytes",
        "zone_reclaim_mode",
        "page-cluster",
        "vm.page-cluster",
        "../../kernel/panic",
        "kernel.panic",
        "vm.",
        "",
        "VM.SWAPPINESS",
    ]
)
assignments = st.one_of(
    st.builds(lambda k, op, v: f"{k}{op}{v}", keys, st.sampled_from(["=", "=>", "=<", "==", ":"]), ints), text
)
flags = st.lists(
    st.sampled_from(
        [
            "--dry-run",
            "--force",
            "--discard",
            "--persist",
            "--no-persist",
            "--keep-file",
            "-o",
            "json",
            "yaml",
            "xml",
            "--bogus",
        ]
    ),
    max_size=4,
)


def _opt(name: str, strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.just([]), strategy.map(lambda v: [name, v]))


COMMANDS = {
    "create": st.builds(
        lambda p, s, pr, m, f: ["create", p, "--size", s, *pr, *m, *f],
        paths,
        sizes,
        _opt("-p", ints),
        _opt("--method", st.one_of(st.sampled_from(["auto", "zero", "fallocate"]), text)),
        flags,
    ),
    "remove": st.builds(lambda p, f: ["remove", p, *f], paths, flags),
    "resize": st.builds(lambda p, s, f: ["resize", p, "--size", s, *f], paths, sizes, flags),
    "list": st.builds(lambda f: ["list", *f], flags),
    "history": st.builds(lambda n, f: ["history", *n, *f], _opt("--limit", ints), flags),
    "rollback": st.builds(lambda i, f: ["rollback", *i, *f], st.lists(text, max_size=1), flags),
    "vm get": st.builds(lambda k: ["vm", "get", *k], st.lists(st.one_of(keys, text), max_size=3)),
    "vm set": st.builds(lambda a, f: ["vm", "set", *a, *f], st.lists(assignments, max_size=3), flags),
    "watermarks": st.builds(
        lambda n, w: ["watermarks", *n, *w],
        _opt("--node", ints),
        st.lists(assignments, max_size=2).map(lambda xs: [y for x in xs for y in ("--what-if", x)]),
    ),
    "numa": st.builds(lambda f: ["numa", *f], flags),
    "stress": st.builds(
        lambda o, d: ["stress", "--dry-run", *o, *d],
        st.lists(
            st.tuples(
                st.sampled_from(
                    ["--memory-limit", "--size", "--file-size", "--pattern", "--max-direct-reclaim", "--max-psi-full"]
                ),
                st.one_of(sizes, ints),
            ),
            max_size=3,
        ).map(lambda xs: [y for x in xs for y in x]),
        _opt("--duration", ints),
    ),
}

TAGS = [
    "",
    "!!int ",
    "!!bool ",
    "!!float ",
    "!!str ",
    "!!null ",
    "!!timestamp ",
    "!!binary ",
    "!!set ",
    "!!python/object/apply:os.system ",
    "&a ",
    "*a ",
]
yaml_docs = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda k, t, v: f"{k}: {t}{v}\n".encode(),
        st.sampled_from(["persist", "vm", "swapfiles"]),
        st.sampled_from(TAGS),
        st.one_of(st.just(""), text),
    ),
    st.text(max_size=200).map(str.encode),
    st.builds(
        lambda p, s, pr, k, v: (
            f"persist: true\nswapfiles:\n  - path: {p}\n    size: {s}\n    priority: {pr}\nvm:\n  {k}: {v}\n"
        ).encode(),
        paths,
        sizes,
        ints,
        keys,
        ints,
    ),
)
zoneinfos = st.one_of(
    st.binary(max_size=300),
    st.integers(0, max(len(ZONEINFO) - 1, 0)).map(lambda n: ZONEINFO[:n]),
    st.tuples(st.integers(0, max(len(ZONEINFO) - 1, 0)), st.binary(min_size=1, max_size=8)).map(
        lambda t: ZONEINFO[: t[0]] + t[1] + ZONEINFO[t[0] + len(t[1]) :]
    ),
)

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_fuzzed_command_line_never_crashes_and_a_refusal_changes_nothing(template: Path, command: str) -> None:
    @FUZZ
    @given(COMMANDS[command], st.sampled_from([[], ["-o", "json"], ["-o", "yaml"]]))
    def fuzz(argv: list[str], output: list[str]) -> None:
        check_fuzzed(run(template, [*output, *argv]))

    fuzz()


def test_a_fuzzed_apply_file_never_crashes_and_a_refusal_changes_nothing(template: Path) -> None:
    @FUZZ
    @given(yaml_docs, st.booleans())
    def fuzz(doc: bytes, stdin: bool) -> None:
        if stdin:
            check_fuzzed(run(template, ["apply", "-", "--dry-run"], stdin=doc))
        else:
            check_fuzzed(run(template, ["apply", "@ROOT@/x.yaml"], files={"x.yaml": doc}))

    fuzz()


@pytest.mark.parametrize(
    "command",
    [["watermarks"], ["numa"], ["watermarks", "--what-if", "min_free_kbytes=8192"], ["vm", "get"]],
    ids=["watermarks", "numa", "what-if", "vm-get"],
)
def test_a_fuzzed_zoneinfo_never_crashes(template: Path, command: list[str]) -> None:
    @FUZZ
    @given(zoneinfos)
    def fuzz(zoneinfo: bytes) -> None:
        check_fuzzed(run(template, command, files={"proc/zoneinfo": zoneinfo}))

    fuzz()


def test_no_crash_was_seen_in_this_module() -> None:
    """The figure the reliability report quotes: a crash anywhere above also shows here, in one list."""
    assert CRASHES == [], "\n\n".join(CRASHES[:5])
