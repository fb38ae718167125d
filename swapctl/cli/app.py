"""The Typer app: global options, and the command table whose modules load only when a command needs them."""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path
from typing import Any, Optional, cast

import typer
from typer.core import TyperGroup

from swapctl import __version__
from swapctl.cli import render
from swapctl.cli.context import Invocation
from swapctl.cli.render import FORMATS

# name -> (module, command in the module's `app`, or None for the module's whole app as a group).
# Loading lazily keeps `swapctl list -o json` from importing every command (start-up time, issue 8).
COMMANDS: dict[str, tuple[str, str | None]] = {
    "create": ("swapctl.cli.swapfile", "create"),
    "list": ("swapctl.cli.swapfile", "list"),
    "remove": ("swapctl.cli.swapfile", "remove"),
    "resize": ("swapctl.cli.swapfile", "resize"),
    "history": ("swapctl.cli.journal", "history"),
    "rollback": ("swapctl.cli.journal", "rollback"),
    "watermarks": ("swapctl.cli.watermarks", "watermarks"),
    "numa": ("swapctl.cli.watermarks", "numa"),
    "stress": ("swapctl.cli.stress", "stress"),
    "vm": ("swapctl.cli.vm", None),
    "apply": ("swapctl.cli.apply", "apply"),
    "zram": ("swapctl.cli.zram", None),
    "zswap": ("swapctl.cli.zswap", None),
    "top": ("swapctl.cli.top", "top"),
    "doctor": ("swapctl.cli.doctor", "doctor"),
    "metrics": ("swapctl.cli.metrics", "metrics"),
}


# Click's own base class of usage errors, reached through Typer's public BadParameter: Typer bundles its own
# Click (typer._click) in new releases and uses the click package in older ones, and `import click` would name
# the wrong one in either.
CLICK_EXCEPTION: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class Suggesting(TyperGroup):
    """An unknown command gets the closest one as a suggestion (`swapctl lst`: did you mean 'list'?)."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if args and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = suggest(name, list(self.list_commands(ctx)))
            ctx.fail(f"no command '{name}'" + (f" (did you mean '{close}'?)" if close else ""))
        return super().resolve_command(ctx, args)


class LazyGroup(Suggesting):
    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's own usage errors (unknown option, bad integer) become one `swapctl: error:` line and
        exit 2, like every other bad input, instead of Click's usage block."""
        self.argv = list(args) if args is not None else sys.argv[1:]  # for the journal (Invocation.argv)
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except CLICK_EXCEPTION as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `swapctl` alone: the help, as before
                exc.show()
            else:
                ctx = getattr(exc, "ctx", None)
                where = ctx.command_path if ctx else "swapctl"
                name = where.removeprefix("swapctl").strip() or "swapctl"
                # With -o json the envelope comes out for these too, as for every other failure.
                render.error(name, _output_format(args), exc.format_message(), f"see '{where} --help'", exc.exit_code)
            sys.exit(exc.exit_code)
        except typer.Abort:
            render.message("swapctl: error: aborted")
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[cmd_name]
        module = importlib.import_module(module_name)
        command = _finish(_build(module.app, attr))
        command.name = cmd_name
        self.commands[cmd_name] = command
        return command


class LazySubGroup(Suggesting):
    """A command module's group (`vm`) whose subcommands are built when asked for, like the top level's."""

    infos: dict[str, Any]

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.infos)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in self.infos:
            built = typer.main.get_command_from_info(
                self.infos[cmd_name], pretty_exceptions_short=True, rich_markup_mode=None
            )
            self.commands[cmd_name] = _finish(built)
        return self.commands.get(cmd_name)


def _finish(command: Any) -> Any:
    _drop_completion_options(command)
    _plain_help(command)
    _add_output_option(command)
    _plain_arguments(command)
    return command


def suggest(name: str, choices: list[str]) -> str | None:
    import difflib  # only for a mistyped command: kept off start-up

    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return close[0] if close else None


def _plain_arguments(command: Any) -> None:
    """Usage shows an argument as `PATH`, `[ID]` or `KEY=VALUE...`, as man pages write them: Typer's own form
    for a required one is `{PATH}`, which reads like a shell brace expansion."""
    for sub in getattr(command, "commands", {}).values():
        _plain_arguments(sub)
    for param in command.params:
        if getattr(param, "param_type_name", "") != "argument":
            continue
        text = param.metavar or (param.name or "").upper()
        if not param.required and not text.startswith("["):
            text = f"[{text}]"
        param.make_metavar = lambda *args, text=text, **kwargs: text


def _command_name(info: Any) -> str:
    return info.name or typer.main.get_command_name(info.callback.__name__)


def _output_format(args: Any) -> str:
    """The -o/--output asked for on a command line Click could not parse (else SWAPCTL_OUTPUT, else table)."""
    import os

    words = list(args) if args is not None else sys.argv[1:]
    for i, word in enumerate(words):
        value = None
        if word in ("-o", "--output") and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith("--output="):
            value = word.split("=", 1)[1]
        elif word.startswith("-o") and len(word) > 2:
            value = word[2:]
        if value in FORMATS:
            return value
    value = os.environ.get("SWAPCTL_OUTPUT", "table")
    return value if value in FORMATS else "table"


def _build(sub_app: typer.Typer, attr: str | None) -> Any:
    """The Click command for one command of a module's app (only that one: building its siblings' parameters
    costs start-up time), or the module's whole app as a group."""
    infos = {_command_name(info): info for info in sub_app.registered_commands}
    if attr is not None:
        return typer.main.get_command_from_info(infos[attr], pretty_exceptions_short=True, rich_markup_mode=None)
    # The group itself, with the module app's help and none of its subcommands built yet: built from an empty
    # Typer of the lazy class (get_group builds every command registered on the app it is given).
    shell = typer.Typer(
        cls=LazySubGroup,
        help=sub_app.info.help,
        no_args_is_help=sub_app.info.no_args_is_help,
        add_completion=False,
        rich_markup_mode=None,
    )
    group = cast(LazySubGroup, typer.main.get_group(shell))
    group.infos = infos
    return group


def _set_output(ctx: typer.Context, value: Optional[str]) -> None:
    if value is None:
        return
    if value not in FORMATS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(FORMATS)}")
    obj = ctx.find_root().obj
    if isinstance(obj, Invocation):
        obj.output = value
        obj.output_error = None


OUTPUT_HELP = "Output format: table, wide (a table with every column), json or yaml."


@functools.cache
def _output_param() -> Any:
    """One option object, shared by every command (Click keeps no per-command state in it)."""
    probe = typer.Typer()

    @probe.command()
    def _probe(
        output: str = typer.Option(
            None, "-o", "--output", metavar="FORMAT", expose_value=False, callback=_set_output, help=OUTPUT_HELP
        ),
    ) -> None:
        """Only here to build the option with Typer's own machinery."""

    return typer.main.get_command(probe).params[0]


def _drop_completion_options(command: Any) -> None:
    """A command module's own `typer.Typer()` gets Typer's --install-completion/--show-completion; they would
    install the dynamic `_SWAPCTL_COMPLETE` protocol, which this app does not serve: completions/ are static."""
    command.params = [p for p in command.params if p.name not in ("install_completion", "show_completion")]


def _plain_help(command: Any) -> None:
    """Help as plain as the top level's: a command module's `typer.Typer()` defaults to rich panels, which
    would import rich for `--help` (issue 8: rich only when a table is drawn) and look unlike `swapctl -h`."""
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)
    command.rich_markup_mode = None


def _add_output_option(command: Any) -> None:
    """`-o json` is accepted after the command too (`swapctl list -o json`), as scripts write it."""
    for sub in getattr(command, "commands", {}).values():
        _add_output_option(sub)
    if getattr(command, "commands", None) is None and not any(p.name == "output" for p in command.params):
        command.params.append(_output_param())


app = typer.Typer(
    cls=LazyGroup,
    name="swapctl",
    help="Manage swap files, vm reclaim tuning and memory watermarks on Linux, safely and scriptably.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"swapctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    root: Path = typer.Option(
        Path("/"),
        "--root",
        envvar="SWAPCTL_ROOT",
        metavar="DIR",
        help="Read and write every file under DIR (a test tree, a snapshot or an image); "
        "what only the running kernel can do (swapon, swapoff, stress) is refused there.",
    ),
    state_dir: Optional[Path] = typer.Option(
        None,
        "--state-dir",
        envvar="SWAPCTL_STATE_DIR",
        metavar="DIR",
        help="Where the journal and lock live [default: ROOT/var/lib/swapctl].",
    ),
    output: str = typer.Option("table", "-o", "--output", envvar="SWAPCTL_OUTPUT", metavar="FORMAT", help=OUTPUT_HELP),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    env_error = None
    if output not in FORMATS:
        if getattr(ctx.get_parameter_source("output"), "name", "") != "ENVIRONMENT":
            raise typer.BadParameter(f"{output!r} is not one of {', '.join(FORMATS)}", param_hint="--output")
        # A bad SWAPCTL_OUTPUT is an error only if the command's own -o does not override it (invocation() says so).
        env_error = f"SWAPCTL_OUTPUT={output!r} is not one of {', '.join(FORMATS)}"
        output = "table"
    for name, where in (("--root", root), ("--state-dir", state_dir)):
        if where is not None and not where.is_absolute():
            raise typer.BadParameter(f"{where} is not an absolute path", param_hint=name)
    if not root.is_dir():
        # A mistyped root is an error, not an empty machine: nothing is read or made under it.
        what = "does not exist" if not root.exists() else "is not a directory"
        raise typer.BadParameter(f"{root} {what}", param_hint="--root")
    obj = ctx.obj if isinstance(ctx.obj, Invocation) else Invocation()
    obj.root, obj.state_dir, obj.output, obj.debug = root, state_dir, output, debug
    obj.output_error = env_error
    obj.argv = list(getattr(ctx.command, "argv", []))
    ctx.obj = obj


def main() -> None:
    import atexit
    import gc

    from swapctl.system import signals

    # The interpreter's last act is a full collection over every object it ever made (~10 ms here, most of
    # what a read-only command costs above `import typer`). Freezing moves every object out of the
    # collector's sight, so garbage in reference cycles is then never finalised: swapctl relies on closing
    # (and fsyncing) its files explicitly before it returns, never on a finaliser. atexit runs hooks last
    # registered first, so this one runs after any registered later (issue 8).
    atexit.register(gc.freeze)
    signals.terminate_like_interrupt()
    app(prog_name="swapctl")
