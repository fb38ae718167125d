"""Security properties as tests: the swap file is root-only from its first instant, links and directories
others can write are refused, no shell anywhere, non-root mutating runs stop before touching anything (also as
a real unprivileged user), the state dir and journal are root-only, and `list` flags insecure swap areas."""

from __future__ import annotations

import ast
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapctl.cli.app import app
from swapctl.cli.context import Invocation
from swapctl.system.host import Host
from tests.fakes import SWAPS_HEADER, fake_host, make_root
from tests.figures import report
from tests.nobody import as_nobody
from tests.runner import CliRunner

PACKAGE = Path(__file__).resolve().parents[2] / "swapctl"
SIZE = ["--size", "16M"]


def invoke(host: Host, *args: str):
    return CliRunner().invoke(app, list(args), obj=Invocation(host=host), catch_exceptions=False)


@pytest.fixture
def umask0() -> Iterator[None]:
    """A careless parent process: with umask 0 any mode left to the umask would come out world-readable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# --- the swap file is never readable by others -----------------------------------------------------------


class ModeWatcher(Host):
    """Records the mode of the swap file after every operation swapctl does on it, and at every tool run."""

    seen: list[tuple[str, int]]

    def _note(self, what: str, path: str) -> None:
        st = self.lstat(path)
        if st is not None:
            self.seen.append((what, stat.S_IMODE(st.st_mode)))

    def create_exclusive(self, path: str, mode: int = 0o600) -> None:
        super().create_exclusive(path, mode)
        self._note("create", path)

    def fallocate(self, path: str, size: int) -> None:
        self._note("before fallocate", path)
        super().fallocate(path, size)
        self._note("fallocate", path)

    def zero_fill(self, path: str, size: int) -> None:
        super().zero_fill(path, size)
        self._note("zero-fill", path)


@pytest.mark.parametrize("method", ["fallocate", "zero"])
def test_the_swap_file_is_0600_from_its_creation_through_every_step_even_with_umask_0(
    tmp_path: Path, umask0: None, method: str
) -> None:
    root = make_root(tmp_path / "root")
    os.chmod(root / "var/tmp", 0o755)
    base = fake_host(root)
    host = ModeWatcher(paths=base.paths, runner=base.runner, uid=0, page_size=4096, live=True)
    host.seen = []
    real_run = base.runner.run

    def run(argv, **kw):  # the file as mkswap and swapon see it
        host._note(argv[0], "/var/tmp/swapfile")
        return real_run(argv, **kw)

    base.runner.run = run  # type: ignore[method-assign]
    result = invoke(host, "create", "/var/tmp/swapfile", *SIZE, "--method", method)
    assert result.exit_code == 0, result.output
    assert host.seen[0] == ("create", 0o600)
    assert {"mkswap", "swapon"} <= {w for w, _ in host.seen}
    assert all(mode == 0o600 for _, mode in host.seen), host.seen
    st = os.stat(root / "var/tmp/swapfile")
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.geteuid()


def test_exclusive_create_refuses_an_existing_file_and_never_follows_a_link(tmp_path: Path, umask0: None) -> None:
    from swapctl.system.files import create_exclusive

    target = tmp_path / "target"
    target.write_text("secret")
    os.chmod(target, 0o644)
    link = tmp_path / "link"
    os.symlink(target, link)
    dangling = tmp_path / "dangling"
    os.symlink(tmp_path / "would-be-created", dangling)
    for path in (target, link, dangling):
        with pytest.raises(FileExistsError):
            create_exclusive(path)
    assert target.read_text() == "secret" and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert not (tmp_path / "would-be-created").exists()
    fresh = tmp_path / "fresh"
    create_exclusive(fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


# --- links and directories others can write ----------------------------------------------------------------


@pytest.mark.parametrize(
    "setup,path",
    [
        (lambda r: os.symlink("../../etc/fstab", r / "var/tmp/sw"), "/var/tmp/sw"),
        (lambda r: os.symlink("/var/tmp", r / "var/tmpl"), "/var/tmpl/sw"),
        (lambda r: os.chmod(r / "var/tmp", 0o777), "/var/tmp/sw"),
        (lambda r: os.chmod(r / "var/tmp", 0o1777), "/var/tmp/sw"),
        (lambda r: os.chmod(r / "var/tmp", 0o775), "/var/tmp/sw"),
    ],
    ids=["link", "parent-link", "world-writable", "sticky-tmp", "group-writable"],
)
def test_create_refuses_links_and_directories_others_can_write(tmp_path: Path, setup, path: str) -> None:
    root = make_root(tmp_path / "root")
    os.chmod(root / "var/tmp", 0o755)
    setup(root)
    fstab = (root / "etc/fstab").read_bytes()
    listing = sorted(os.listdir(root / "var/tmp"))
    host = fake_host(root)
    result = invoke(host, "create", path, *SIZE)
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("swapctl: error: ") and "hint: " in result.stderr
    assert host.runner.calls == []
    assert (root / "etc/fstab").read_bytes() == fstab
    assert sorted(os.listdir(root / "var/tmp")) == listing


def test_create_refuses_a_directory_owned_by_another_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another owner")
    root = make_root(tmp_path / "root")
    os.chmod(root / "var/tmp", 0o755)
    os.chown(root / "var/tmp", 65534, 65534)
    result = invoke(fake_host(root), "create", "/var/tmp/sw", *SIZE)
    assert result.exit_code == 3, result.output
    assert os.listdir(root / "var/tmp") == []


# --- no shell ----------------------------------------------------------------------------------------------


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return _dotted(node.value) + "." + node.attr
    if isinstance(node, ast.Name):
        return node.id
    return "?"


SHELL_CALLS = {
    "os.system",
    "os.popen",
    "os.execl",
    "os.execle",
    "os.execlp",
    "os.execlpe",
    "os.execv",
    "os.execve",
    "os.execvp",
    "os.execvpe",
    "os.spawnl",
    "os.spawnlp",
    "os.spawnv",
    "os.spawnvp",
    "os.posix_spawn",
    "os.posix_spawnp",
    "pty.spawn",
    "commands.getoutput",
}


def test_the_package_runs_no_shell_and_only_system_modules_start_processes() -> None:
    offences = []
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20
    for path in modules:
        rel = path.relative_to(PACKAGE.parent).as_posix()
        tree = ast.parse(path.read_text(), rel)
        in_system = rel.startswith("swapctl/system/")
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                if name.split(".")[0] in ("subprocess", "pty", "multiprocessing") and not in_system:
                    offences.append(f"{rel}:{node.lineno}: imports {name} outside swapctl/system/")
        for call in _calls(tree):
            name = _dotted(call.func)
            if name in SHELL_CALLS:
                offences.append(f"{rel}:{call.lineno}: calls {name}")
            for kw in call.keywords:
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    offences.append(f"{rel}:{call.lineno}: {name}(shell=...)")
            if (
                name.endswith(
                    (
                        "subprocess.run",
                        "subprocess.Popen",
                        "subprocess.call",
                        "subprocess.check_output",
                        "subprocess.check_call",
                    )
                )
                and call.args
                and isinstance(call.args[0], (ast.Constant, ast.JoinedStr))
            ):
                offences.append(f"{rel}:{call.lineno}: {name} with a command string, not an argv list")
    assert offences == []


def test_the_no_shell_scan_catches_what_it_looks_for() -> None:
    bad = ast.parse("import os, subprocess\nos.system('x')\nsubprocess.run('ls', shell=True)\n")
    names = {_dotted(c.func) for c in _calls(bad)}
    assert "os.system" in names
    assert any(kw.arg == "shell" for c in _calls(bad) for kw in c.keywords)


# --- non-root ------------------------------------------------------------------------------------------------

MUTATING = [
    ["create", "/var/tmp/sw", *SIZE],
    ["remove", "/var/tmp/sw"],
    ["resize", "/var/tmp/sw", *SIZE],
    ["vm", "set", "swappiness=10"],
    ["vm", "set", "swappiness=10", "--persist"],
    ["rollback"],
    ["apply", "@SPEC@"],
]


def test_every_mutating_command_refuses_a_non_root_user_with_exit_3_on_a_fake_machine(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    (root / "proc/sys/vm/swappiness").write_text("60\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text("vm:\n  swappiness: 10\n")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    for argv in MUTATING:
        host = fake_host(root, uid=1000)
        result = invoke(host, *[a.replace("@SPEC@", str(spec)) for a in argv])
        assert result.exit_code == 3, (argv, result.output)
        assert "root" in result.stderr and result.stderr.startswith("swapctl: error: ")
        assert host.runner.calls == []
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert not (root / "var/lib/swapctl").exists(), "a refused run made the state dir"


def test_a_real_unprivileged_user_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not (shutil.which("setpriv") and shutil.which("unshare")):
        pytest.skip("needs root, setpriv(1) and unshare(1) to run swapctl as nobody (uid 65534)")
    site = [p for p in sys.path if p.endswith("site-packages")]
    work = Path(tempfile.mkdtemp(prefix="swapctl-nobody-", dir="/var/tmp"))
    try:
        os.chmod(work, 0o755)  # nobody must read the spec; the swap dir itself is root's
        (work / "spec.yaml").write_text("vm:\n  swappiness: 10\n")
        os.chmod(work / "spec.yaml", 0o644)
        state = work / "state"
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), *site]),
            "HOME": "/nonexistent",
            "LC_ALL": "C",
        }
        results = []
        for argv in MUTATING:
            args = [a.replace("/var/tmp/sw", str(work / "sw")).replace("@SPEC@", str(work / "spec.yaml")) for a in argv]
            proc = subprocess.run(
                as_nobody(
                    [sys.executable, "-m", "swapctl", "--state-dir", str(state), *args],
                    hold=tmp_path,
                    reach=[PACKAGE.parent],
                ),
                capture_output=True,
                text=True,
                env=env,
                cwd="/",
                timeout=60,
                check=False,
            )
            if "No module named" in proc.stderr:
                pytest.skip(f"swapctl cannot be imported as nobody: {proc.stderr.strip().splitlines()[-1]}")
            results.append((args, proc.returncode, proc.stderr))
            assert proc.returncode == 3, (args, proc.returncode, proc.stderr)
            assert proc.stderr.startswith("swapctl: error: ") and "root" in proc.stderr
            assert "Traceback" not in proc.stderr
        assert sorted(os.listdir(work)) == ["spec.yaml"], "a refused run left something behind"
        # Other tests may edit /etc/fstab meanwhile; what this run could have added would name its dir.
        assert str(work) not in Path("/etc/fstab").read_text()
        report("non-root", commands=len(results), refused_exit_3=sum(1 for _, rc, _ in results if rc == 3))
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- state dir and journal -------------------------------------------------------------------------------


def test_the_state_dir_is_made_0700_and_the_journal_and_lock_0600_even_with_umask_0(
    tmp_path: Path, umask0: None
) -> None:
    root = make_root(tmp_path / "root")
    os.chmod(root / "var/tmp", 0o755)
    result = invoke(fake_host(root), "create", "/var/tmp/sw", *SIZE)
    assert result.exit_code == 0, result.output
    state = root / "var/lib/swapctl"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("journal.jsonl", "lock"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name


def test_a_state_dir_others_can_write_is_refused_and_left_as_it_was(tmp_path: Path, umask0: None) -> None:
    root = make_root(tmp_path / "root")
    os.chmod(root / "var/tmp", 0o755)
    (root / "var/lib/swapctl").mkdir(parents=True, mode=0o777)  # made loose by someone else beforehand
    os.chmod(root / "var/lib/swapctl", 0o1777)
    result = invoke(fake_host(root), "create", "/var/tmp/sw", *SIZE)
    assert result.exit_code == 3 and "can be written by other users" in result.stderr
    assert stat.S_IMODE((root / "var/lib/swapctl").stat().st_mode) == 0o1777
    assert not (root / "var/tmp/sw").exists() and os.listdir(root / "var/lib/swapctl") == []


def test_the_journal_is_never_written_through_a_link(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    state = root / "var/lib/swapctl"
    state.mkdir(parents=True)
    victim = root / "etc/victim"
    victim.write_text("keep\n")
    os.symlink(victim, state / "journal.jsonl")
    result = CliRunner().invoke(app, ["create", "/var/tmp/sw", *SIZE], obj=Invocation(host=fake_host(root)))
    assert result.exit_code != 0
    assert victim.read_text() == "keep\n"


# --- list flags insecure areas -----------------------------------------------------------------------------


def test_list_warns_about_a_swap_area_others_can_read_or_that_root_does_not_own(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file another owner")
    root = make_root(tmp_path / "root")
    for name, mode, uid in (("readable", 0o644, 0), ("foreign", 0o600, 65534), ("good", 0o600, 0)):
        p = root / "var/tmp" / name
        p.write_bytes(b"\0" * 65536)
        os.chmod(p, mode)
        os.chown(p, uid, 0)
    (root / "proc/swaps").write_text(
        SWAPS_HEADER + "".join(f"/var/tmp/{n:<31}file\t\t60\t\t0\t\t-2\n" for n in ("readable", "foreign", "good"))
    )
    result = invoke(fake_host(root), "list", "-o", "json")
    assert result.exit_code == 0, result.output
    import json

    warnings = json.loads(result.stdout)["warnings"]
    assert any("/var/tmp/readable" in w and "0644" in w for w in warnings), warnings
    assert any("/var/tmp/foreign" in w and "uid 65534" in w for w in warnings), warnings
    assert not any("/var/tmp/good" in w for w in warnings), warnings
