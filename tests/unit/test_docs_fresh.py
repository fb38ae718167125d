"""The shipped completions and man page: in step with the app, working in bash, zsh and fish, and clean roff."""

from __future__ import annotations

import enum
import importlib.util
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import pytest
import typer

REPO = Path(__file__).resolve().parents[2]
GEN = REPO / "tools" / "gen_docs.py"
BASH = REPO / "completions" / "swapctl.bash"
ZSH = REPO / "completions" / "_swapctl"
FISH = REPO / "completions" / "swapctl.fish"
MAN = REPO / "man" / "swapctl.8"


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_docs", GEN)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_docs"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


@pytest.fixture(scope="module")
def tree():
    return gen.build()


def _leaves(tree):
    return [c for c in tree.walk() if c.path and not c.subcommands]


def _groups(tree):
    return [c for c in tree.walk() if c.subcommands]


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} is not installed (Debian package: {tool}); .ci/run installs it")
    return found


# --- freshness ------------------------------------------------------------------------------------------


def test_the_committed_completions_and_man_page_match_the_app():
    run = subprocess.run([sys.executable, str(GEN), "--check"], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, f"stale generated files; run `python tools/gen_docs.py`\n{run.stderr}"


def test_check_mode_exits_1_and_names_each_stale_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gen, "REPO", tmp_path)
    assert gen.main(["--check"]) == 1
    err = capsys.readouterr().err
    for name in ("completions/swapctl.bash", "completions/_swapctl", "completions/swapctl.fish", "man/swapctl.8"):
        assert name in err
    assert not (tmp_path / "man").exists(), "check mode must write nothing"

    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0
    (tmp_path / "completions" / "swapctl.fish").write_text("# edited by hand\n")
    capsys.readouterr()
    assert gen.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "completions/swapctl.fish" in err and "swapctl.bash" not in err


def test_the_output_is_the_same_whatever_the_hash_seed_and_carries_no_build_date():
    # Click keeps some option names in sets: a generator that leaked their order would flip-flop here.
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, str(GEN), "--check"], cwd=REPO, capture_output=True, text=True, env=env)
        assert run.returncode == 0, f"PYTHONHASHSEED={seed}: {run.stderr}"
    assert f'.TH SWAPCTL 8 "{gen.MAN_DATE}" ' in MAN.read_text()


# --- the man page ---------------------------------------------------------------------------------------


def test_the_man_page_renders_under_groff_without_a_warning():
    groff = _need("groff")
    run = subprocess.run([groff, "-man", "-ww", "-Tutf8", str(MAN)], capture_output=True, text=True)
    assert run.returncode == 0
    assert run.stderr == "", run.stderr
    page = re.sub(".\b", "", run.stdout)  # grotty overstrikes bold and underline
    assert "EXIT STATUS" in page and "swapctl - manage swap files" in page


def test_the_man_page_has_every_section_in_order():
    sections = re.findall(r"^\.SH (.+)$", MAN.read_text(), flags=re.M)
    wanted = [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "GLOBAL OPTIONS",
        "COMMANDS",
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
        "EXAMPLES",
        "SEE ALSO",
    ]
    assert sections == wanted


def _section(text: str, title: str) -> str:
    return text.split(f".SH {title}\n", 1)[1].split("\n.SH ", 1)[0]


def test_the_exit_status_section_lists_every_exit_code_of_the_app():
    from swapctl.core.errors import ExitCode

    codes = re.findall(r"^\.TP\n\\fB(\d+)\\fR$", _section(MAN.read_text(), "EXIT STATUS"), flags=re.M)
    assert [int(c) for c in codes] == sorted(int(c) for c in ExitCode)


def test_environment_files_and_see_also_name_what_the_brief_asks():
    text = MAN.read_text()
    env = _section(text, "ENVIRONMENT")
    for var in ("SWAPCTL_ROOT", "SWAPCTL_STATE_DIR", "SWAPCTL_OUTPUT", "NO_COLOR"):
        assert f"\\fB{var}\\fR" in env
    files = _section(text, "FILES")
    for path in (
        "/etc/fstab",
        "/etc/sysctl.d/90\\-swapctl.conf",
        "/var/lib/swapctl/journal.jsonl",
        "/var/lib/swapctl/lock",
    ):
        assert f"\\fI{path}\\fR" in files
    see = _section(text, "SEE ALSO")
    for ref in ("swapon (8)", "mkswap (8)", "sysctl (8)", "proc (5)"):
        assert f".BR {ref}" in see


def test_every_command_and_every_long_option_is_in_the_man_page(tree):
    text = MAN.read_text()
    commands = _section(text, "COMMANDS")
    for c in tree.walk():
        if c.path:
            assert re.search(r'^\.SS "' + re.escape(gen.roff(" ".join(c.path))) + r'[ "]', commands, re.M), c.key
        for p in c.options:
            for o in p.long_opts:
                assert f"\\fB{gen.roff(o)}\\fR" in text, f"{o} of `{c.key}`"


def test_option_help_in_the_man_page_shows_defaults_and_metavars(tree):
    text = MAN.read_text()
    assert "\\fB\\-o\\fR, \\fB\\-\\-output\\fR \\fIFORMAT\\fR" in text
    assert "env var: SWAPCTL_OUTPUT; default: table" in text
    for c in tree.walk():
        for p in c.options:
            if p.takes_value:
                assert f"\\fB{gen.roff(p.opts[0])}\\fR" in text and f"\\fI{gen.roff(p.metavar)}\\fR" in text


def test_every_example_whose_command_exists_is_printed_and_uses_real_options(tree):
    text = _section(MAN.read_text(), "EXAMPLES")
    shown = 0
    for _, lines in gen.EXAMPLES:
        for line in lines:
            if gen.check_example(tree, line) is not None:
                assert f"\\fB{gen.roff(line)}\\fR" in text
                shown += 1
    assert shown >= 4


def test_an_example_with_an_option_the_command_lacks_stops_the_generator(tree):
    with pytest.raises(SystemExit, match="--bogus is not an option of `swapctl list`"):
        gen.check_example(tree, "swapctl list --bogus")
    assert gen.check_example(tree, "swapctl no-such-command --bogus") is None


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("--size", "\\-\\-size"),
        (".hidden line", "\\&.hidden line"),
        ("'quoted line", "\\&'quoted line"),
        ("a\\b", "a\\eb"),
        ("one\n.two", "one\n\\&.two"),
    ],
)
def test_roff_escapes_hyphens_backslashes_and_leading_control_characters(text, escaped):
    assert gen.roff(text) == escaped


# --- bash: the real function, with COMP_WORDS/COMP_CWORD as bash sets them ------------------------------


def bash_complete(words: list[str], *, script: Path = BASH, cwd: Path | None = None) -> list[str]:
    """Run the completion function in a real bash; words as readline splits them (= is its own word)."""
    _need("bash")
    code = (
        'source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE};'
        ' _swapctl; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    run = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", code, str(script), *words],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=20,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", run.stderr
    return [line for line in run.stdout.splitlines() if line]


def test_bash_completes_the_top_level_commands(tree):
    assert bash_complete(["swapctl", ""]) == [c.path[-1] for c in tree.subcommands]
    assert "create" in bash_complete(["swapctl", "cr"])


def test_bash_completes_the_subcommands_of_every_group(tree):
    for group in _groups(tree):
        if group.path:
            assert bash_complete(["swapctl", *group.path, ""]) == [s.path[-1] for s in group.subcommands]


def test_bash_completes_every_commands_own_options_after_a_dash(tree):
    for c in tree.walk():
        got = bash_complete(["swapctl", *c.path, "--"])
        assert got == [o for p in c.options for o in p.all_opts if o.startswith("--")], c.key


def test_bash_completes_the_values_of_every_choice_option_in_both_spellings(tree):
    checked = 0
    for c in tree.walk():
        for p in c.options:
            if p.kind != "words":
                continue
            for o in p.opts:
                assert bash_complete(["swapctl", *c.path, o, ""]) == p.values, f"{c.key} {o}"
            for o in p.long_opts:
                assert bash_complete(["swapctl", *c.path, o, "="]) == p.values
                first = p.values[0]
                assert first in bash_complete(["swapctl", *c.path, o, "=", first[:1]])
            checked += 1
    assert checked >= 1  # at least -o/--output


def test_bash_knows_the_output_formats_and_the_create_methods(tree):
    assert bash_complete(["swapctl", "-o", ""]) == ["table", "wide", "json", "yaml"]
    assert bash_complete(["swapctl", "--output", "=", "j"]) == ["json"]
    if any(c.path == ("create",) for c in tree.walk()):
        assert bash_complete(["swapctl", "create", "/swapfile", "--method", ""]) == ["auto", "fallocate", "zero"]


def test_bash_skips_global_option_values_when_finding_the_command():
    assert bash_complete(["swapctl", "-o", "json", "--root", "/srv/snap", "cr"]) == ["create"]
    assert bash_complete(["swapctl", "--output", "=", "json", "--state-dir", "/tmp", "hist"]) == ["history"]


def test_bash_completes_files_for_path_arguments_and_directories_for_root(tree, tmp_path):
    (tmp_path / "swapfile.img").write_text("")
    (tmp_path / "swapdir").mkdir()
    file_args = [(c, a) for c in _leaves(tree) for a in c.arguments[:1] if a.kind == "file"]
    assert file_args, "no command takes a PATH argument"
    for c, _ in file_args:
        assert sorted(bash_complete(["swapctl", *c.path, "swap"], cwd=tmp_path)) == ["swapdir", "swapfile.img"]
    assert bash_complete(["swapctl", "--root", "swap"], cwd=tmp_path) == ["swapdir"]
    assert bash_complete(["swapctl", "--state-dir", "=", "swap"], cwd=tmp_path) == ["swapdir"]


def test_bash_completes_vm_keys_for_vm_get_and_key_equals_for_vm_set(tree):
    paths = {c.path for c in tree.walk()}
    if ("vm", "get") not in paths:
        pytest.skip("the vm command is not registered in swapctl.cli.app yet")
    from swapctl.kernel.knobs import KNOBS

    assert sorted(bash_complete(["swapctl", "vm", "get", ""])) == sorted(KNOBS)
    assert bash_complete(["swapctl", "vm", "get", "swappiness", "zone"]) == ["zone_reclaim_mode"]
    assert bash_complete(["swapctl", "vm", "set", "swap"]) == ["swappiness="]
    assert bash_complete(["swapctl", "vm", "set", "--dry-run", "min_free"]) == ["min_free_kbytes="]


class Speed(str, enum.Enum):
    slow = "slow"
    fast = "fast"


def _demo_app() -> typer.Typer:
    """A small app with the shapes the generator must handle whatever commands swapctl has."""
    app = typer.Typer(name="swapctl", add_completion=False, help="Demo tree.")
    inner = typer.Typer(help="A nested group.")

    @app.callback()
    def main(out: str = typer.Option("table", "-o", "--output", help="Format.")) -> None:
        """Demo tree."""

    @app.command()
    def make(
        path: Path = typer.Argument(..., help="Where."),
        speed: Speed = typer.Option(Speed.slow, "--speed", help="How fast."),
        mode: Literal["a", "b"] = typer.Option("a", "--mode", "-m", help="Which mode."),
        into: Path = typer.Option(None, "--into", file_okay=False, help="A directory."),
        many: list[str] = typer.Argument(None, help="Extra words."),
    ) -> None:
        """Make something."""

    @inner.command("deep")
    def deep(flag: bool = typer.Option(False, "--flag/--no-flag")) -> None:
        """Go deeper."""

    app.add_typer(inner, name="group")
    return app


@pytest.fixture(scope="module")
def demo_bash(tmp_path_factory):
    tree = gen.build(_demo_app())
    script = tmp_path_factory.mktemp("demo") / "demo.bash"
    script.write_text(gen.render_bash(tree))
    return script


def test_the_generator_reads_enum_literal_and_path_types_from_any_app(demo_bash, tmp_path):
    assert bash_complete(["swapctl", ""], script=demo_bash) == ["make", "group"]
    assert bash_complete(["swapctl", "make", "x", "--speed", ""], script=demo_bash) == ["slow", "fast"]
    assert bash_complete(["swapctl", "make", "-m", ""], script=demo_bash) == ["a", "b"]
    assert bash_complete(["swapctl", "make", "--mode", "=", "b"], script=demo_bash) == ["b"]
    (tmp_path / "file.txt").write_text("")
    (tmp_path / "folder").mkdir()
    assert bash_complete(["swapctl", "make", "--into", "f"], script=demo_bash, cwd=tmp_path) == ["folder"]
    assert sorted(bash_complete(["swapctl", "make", "f"], script=demo_bash, cwd=tmp_path)) == ["file.txt", "folder"]
    # the second positional is free text: no files offered
    assert bash_complete(["swapctl", "make", "x", "f"], script=demo_bash, cwd=tmp_path) == []


def test_the_generator_walks_nested_groups_and_negated_flags(demo_bash):
    assert bash_complete(["swapctl", "-o", "json", "group", ""], script=demo_bash) == ["deep"]
    assert bash_complete(["swapctl", "group", "deep", "--"], script=demo_bash) == ["--flag", "--no-flag", "--help"]


# --- zsh ------------------------------------------------------------------------------------------------


def test_the_zsh_script_parses():
    zsh = _need("zsh")
    run = subprocess.run([zsh, "-n", str(ZSH)], capture_output=True, text=True)
    assert run.returncode == 0 and run.stderr == "", run.stderr


def tab_in_a_real_shell(argv: list[str], setup: str, line: str, expect: str, home: Path) -> str:
    """Type LINE and TAB in a real interactive shell on a pty; return the screen once EXPECT shows up."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: an interactive shell with no user config
        os.chdir(home)
        os.execve(argv[0], argv, {"TERM": "dumb", "PATH": os.environ.get("PATH", ""), "HOME": str(home)})

    def read_until(marker: str, timeout: float = 10.0) -> str:
        out, end = "", time.monotonic() + timeout
        while time.monotonic() < end and marker not in out:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    out += os.read(fd, 65536).decode(errors="replace")
                except OSError:
                    break
        return out

    try:
        os.write(fd, f"{setup}; PS1=READY; echo SET''UP\n".encode())
        read_until("SETUP")
        os.write(fd, (line + "\t").encode())
        return read_until(expect)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


def zsh_complete(line: str, expect: str, home: Path) -> str:
    return tab_in_a_real_shell(
        [_need("zsh"), "-f", "-i"],
        f"fpath=({ZSH.parent} $fpath); autoload -Uz compinit; compinit -u -D",
        line,
        expect,
        home,
    )


def test_bash_completes_on_a_real_tab_where_readline_splits_at_equals(tmp_path):
    argv = [_need("bash"), "--norc", "--noprofile", "-i"]
    assert "swapctl --output=json " in tab_in_a_real_shell(
        argv, f"source {BASH}", "swapctl --output=js", "json ", tmp_path
    )
    assert "swapctl -o json create " in tab_in_a_real_shell(
        argv, f"source {BASH}", "swapctl -o json cre", "create ", tmp_path
    )


def test_zsh_completes_commands_options_and_choices_on_a_real_tab(tmp_path):
    assert "swapctl create " in zsh_complete("swapctl cre", "create ", tmp_path)
    assert "swapctl --output=" in zsh_complete("swapctl --outp", "--output=", tmp_path)
    screen = zsh_complete("swapctl -o ", "yaml", tmp_path)
    assert "json" in screen and "table" in screen and "yaml" in screen


def test_zsh_completes_vm_keys_with_an_equals_sign_for_vm_set(tree, tmp_path):
    if ("vm", "set") not in {c.path for c in tree.walk()}:
        pytest.skip("the vm command is not registered in swapctl.cli.app yet")
    screen = zsh_complete("swapctl vm set swapp", "swappiness=", tmp_path)
    assert screen.rstrip().endswith("swapctl vm set swappiness=")  # no space: the value comes next
    assert "swapctl vm get zone_reclaim_mode " in zsh_complete("swapctl vm get zone", "mode ", tmp_path)


def test_zsh_completes_directories_for_root(tmp_path):
    (tmp_path / "snapdir").mkdir()
    (tmp_path / "snapfile").write_text("")
    screen = zsh_complete("swapctl --root sna", "snapdir/", tmp_path)
    assert "snapdir/" in screen and "snapfile" not in screen


# --- fish -----------------------------------------------------------------------------------------------


def fish_complete(line: str, cwd: Path | None = None) -> list[str]:
    fish = _need("fish")
    run = subprocess.run(
        [fish, "--no-config", "-c", f"source {FISH}; complete -C {line!r}"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=20,
    )
    assert run.returncode == 0 and run.stderr == "", run.stderr
    return [row.split("\t", 1)[0] for row in run.stdout.splitlines()]


def test_the_fish_script_parses():
    fish = _need("fish")
    run = subprocess.run([fish, "--no-execute", str(FISH)], capture_output=True, text=True)
    assert run.returncode == 0 and run.stderr == "", run.stderr


def test_fish_completes_commands_subcommands_options_and_choices(tree, tmp_path):
    assert fish_complete("swapctl ") == sorted(c.path[-1] for c in tree.subcommands)
    assert fish_complete("swapctl -o ") == ["json", "table", "wide", "yaml"]
    for group in _groups(tree):
        if group.path:
            assert fish_complete(f"swapctl {' '.join(group.path)} ") == sorted(s.path[-1] for s in group.subcommands)
    for c in _leaves(tree):
        got = set(fish_complete(f"swapctl {' '.join(c.path)} --"))
        assert {o for p in c.options for o in p.long_opts} <= got, c.key
    (tmp_path / "snapdir").mkdir()
    assert fish_complete("swapctl --root sna", cwd=tmp_path) == ["snapdir/"]
    if ("vm", "set") in {c.path for c in tree.walk()}:
        assert fish_complete("swapctl vm set swapp") == ["swappiness="]


def test_every_command_and_long_option_is_in_each_completion_script(tree):
    bash, zsh, fish = BASH.read_text(), ZSH.read_text(), FISH.read_text()
    for c in tree.walk():
        if c.path:
            assert f"'{c.key}')" in bash
            assert f"{gen._zsh_fn(c)}() {{" in zsh
            assert f"__swapctl_is '{c.key}'" in fish or not c.options
        for p in c.options:
            for o in p.long_opts:
                assert re.search(
                    rf"^ *'{re.escape(c.key)}'\) subs='[^']*'; opts='([^']* )?{re.escape(o)}[ ']", bash, re.M
                ), o
                assert f"{o}[" in zsh or f"{o}=[" in zsh, o
                assert f"-l {o[2:]}" in fish, o
