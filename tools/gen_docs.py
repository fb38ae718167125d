"""Generate the shell completions and the man page from the swapctl command tree (issue 6).

    python tools/gen_docs.py            write completions/{swapctl.bash,_swapctl,swapctl.fish} and man/swapctl.8
    python tools/gen_docs.py --check    write nothing; exit 1 listing the files that are stale

The completion scripts are static: every command, option and choice is baked in here, so pressing TAB
never starts Python (start-up time, issue 8). The man page merges the app's own help (docstrings, option
help, defaults, metavars) with the hand-written sections in MAN_SECTIONS below. Output is deterministic.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PROG = "swapctl"

# --------------------------------------------------------------------------------------------------
# The model: what the generators need to know about the command tree, read once from the Click objects.
# --------------------------------------------------------------------------------------------------

# How a value is completed. "words" uses Param.values; "keys"/"assign" are the vm sysctl keys (bare, or
# with "=" appended for KEY=VALUE arguments); "none" means free text (a size, a number).
KINDS = ("none", "words", "file", "dir", "keys", "assign")


@dataclass
class Param:
    name: str
    is_option: bool
    opts: list[str] = field(default_factory=list)  # all spellings, e.g. ["-o", "--output"]
    secondary: list[str] = field(default_factory=list)  # the --no-x half of a --x/--no-x flag
    takes_value: bool = False
    metavar: str = ""
    help: str = ""  # the option's own help text
    help_record: str = ""  # the help text as --help shows it, with [default: ...; env var: ...]
    kind: str = "none"
    values: list[str] = field(default_factory=list)
    nargs: int = 1
    required: bool = False

    @property
    def all_opts(self) -> list[str]:
        return self.opts + self.secondary

    @property
    def long_opts(self) -> list[str]:
        return [o for o in self.all_opts if o.startswith("--")]


@dataclass
class Command:
    path: tuple[str, ...]  # () for swapctl itself, ("vm", "get") for `swapctl vm get`
    help: str
    options: list[Param]
    arguments: list[Param]
    subcommands: list[Command] = field(default_factory=list)

    @property
    def key(self) -> str:
        return " ".join(self.path)

    @property
    def short(self) -> str:
        return short_desc(self.help)

    def walk(self) -> Iterable[Command]:
        yield self
        for sub in self.subcommands:
            yield from sub.walk()


def first_sentence(text: str) -> str:
    para = clean_help(text).split("\n\n", 1)[0].replace("\n", " ").strip()
    m = re.match(r"(.+?[.!?])(\s|$)", para)
    return (m.group(1) if m else para).rstrip(".")


def short_desc(text: str, limit: int = 72) -> str:
    """A completion menu line: the first sentence, cut at a word when long."""
    line = first_sentence(text)
    if len(line) <= limit:
        return line
    return line[: limit - 3].rsplit(" ", 1)[0].rstrip(",;:") + "..."


def clean_help(text: str | None) -> str:
    """Click conventions: text after \\f is for developers only; \\b marks a block not to rewrap."""
    text = (text or "").split("\f", 1)[0]
    return text.strip()


def vm_keys() -> list[str]:
    """The sysctl keys `vm get`/`vm set` accept (swapctl/kernel/knobs.py), without the "vm." prefix, which
    the commands also accept."""
    from swapctl.kernel.knobs import KNOBS

    return sorted(KNOBS)


# Choices the app validates by hand (a str option checked against a tuple) rather than through an
# Enum/Literal type, so Click cannot list them: (command path or None for any, option) -> "module:NAME".
# A missing module or name only loses the completion, with a warning.
CHOICE_SOURCES: dict[tuple[str | None, str], str] = {
    (None, "--output"): "swapctl.cli.render:FORMATS",
    ("create", "--method"): "swapctl.ops.swapfile:METHODS",
    ("stress", "--pattern"): "swapctl.ops.stress:PATTERNS",
    ("vm get", "--boot-applier"): "swapctl.ops.nextboot:APPLIERS",
    ("vm set", "--boot-applier"): "swapctl.ops.nextboot:APPLIERS",
    ("zram create", "--persist-via"): "swapctl.ops.zram_boot:CHOICES",
}

# Parameters that take sysctl keys: (command path, long option, or "ARGS" for the positional arguments)
# -> (where the keys come from, "keys" for KEY or "assign" for KEY=VALUE). "vm" means vm_keys().
KEY_SOURCES: dict[tuple[str, str], tuple[str, str]] = {
    ("vm get", "ARGS"): ("vm", "keys"),
    ("vm set", "ARGS"): ("vm", "assign"),
    ("watermarks", "--what-if"): ("swapctl.ops.watermarks:WHAT_IF_KEYS", "assign"),
}


def _key_values(path: tuple[str, ...], param: Param) -> tuple[str, list[str]] | None:
    where = param.long_opts[0] if param.is_option and param.long_opts else "ARGS"
    found = KEY_SOURCES.get((" ".join(path), where))
    if found is None:
        return None
    source, kind = found
    if source == "vm":
        keys = vm_keys()
    else:
        module, _, attr = source.partition(":")
        try:
            keys = [str(k) for k in getattr(importlib.import_module(module), attr)]
        except (ImportError, AttributeError):
            print(f"gen_docs: warning: no {source} for the keys of `{' '.join(path)}`", file=sys.stderr)
            keys = []
    return (kind, keys) if keys else None


def _fallback_values(path: tuple[str, ...], names: list[str]) -> list[str]:
    for (where, option), source in CHOICE_SOURCES.items():
        if option not in names or where not in (None, " ".join(path)):
            continue
        module, _, attr = source.partition(":")
        try:
            found = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            print(f"gen_docs: warning: no {source} for the choices of {option}", file=sys.stderr)
            return []
        return [str(v) for v in found]
    return []


def _annotation_is_path(annotation: Any) -> bool:
    if annotation is None:
        return False
    if isinstance(annotation, type):
        return issubclass(annotation, Path)
    return any(_annotation_is_path(a) for a in typing.get_args(annotation))


def _ordered(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda o: (o.startswith("--"), o))


def _path_kind(p: Any, metavar: str) -> str | None:
    """ "file" or "dir" for a path parameter, else None. Typer up to 0.28 gives a Click-style Path type
    (file_okay/dir_okay); 0.29 gives a type descriptor with the annotation and the parameter info."""
    ptype = getattr(p, "type", None)
    if ptype is not None and hasattr(ptype, "file_okay") and hasattr(ptype, "dir_okay"):
        return "dir" if ptype.file_okay is False or metavar == "DIR" else "file"
    if getattr(ptype, "name", "") == "filename":  # a File type
        return "file"
    descriptor = getattr(p, "type_descriptor", None)
    if _annotation_is_path(getattr(descriptor, "annotation", None)):
        info = getattr(descriptor, "parameter_info", None)
        return "dir" if getattr(info, "file_okay", True) is False or metavar == "DIR" else "file"
    return None


_SAFE_WORD = re.compile(r"^[A-Za-z0-9_.,:=+/@%-]+$")


def _param(p: Any, ctx: Any, path: tuple[str, ...]) -> Param:
    is_option = p.param_type_name == "option"
    rec = p.get_help_record(ctx)
    out = Param(
        name=p.name or "",
        is_option=is_option,
        # Short before long, then by name: Click builds the help option's names from a set, so their
        # order changes with the hash seed and would make the output differ from run to run.
        opts=_ordered(p.opts) if is_option else [],
        secondary=_ordered(getattr(p, "secondary_opts", []) or []) if is_option else [],
        help=clean_help(getattr(p, "help", None)),
        help_record=clean_help(rec[1]) if rec else "",
        nargs=p.nargs,
        required=bool(p.required),
    )
    if is_option:
        out.takes_value = not (getattr(p, "is_flag", False) or getattr(p, "count", False))
        if out.takes_value:
            out.metavar = p.metavar or (p.name or "value").upper()
    else:
        # A metavar such as "[ID]" or "KEY..." carries notation the synopsis adds itself.
        meta = re.sub(r"[\[\]]", "", p.metavar or (p.name or "arg").upper())
        out.metavar = meta.removesuffix("...")
    if not out.takes_value and is_option:
        return out

    # Ask the parameter what it would complete (Enum, Literal, autocompletion=...), once, now.
    values: list[str] = []
    try:
        items = p.shell_complete(ctx, "")
    except Exception:  # a dynamic completer that needs a live system: fall through to the type
        items = []
    for item in items:
        if getattr(item, "type", "plain") == "file":
            out.kind = "file"
        elif getattr(item, "type", "plain") == "dir":
            out.kind = "dir"
        elif _SAFE_WORD.match(str(item.value)):
            values.append(str(item.value))
    if not values and isinstance(getattr(getattr(p, "type", None), "choices", None), (list, tuple)):
        values = [str(getattr(v, "value", v)) for v in p.type.choices]  # a Choice that did not complete
    if not values and is_option:
        values = _fallback_values(path, out.all_opts)
    if not values and re.fullmatch(r"[\w-]+(\|[\w-]+)+", out.metavar):
        values = out.metavar.split("|")  # a metavar such as random|zero|mixed lists the choices
    keyed = _key_values(path, out)
    if keyed:
        out.kind, out.values = keyed
    elif values:
        out.kind, out.values = "words", values
    elif out.kind == "none":
        path_kind = _path_kind(p, out.metavar)
        if path_kind:
            out.kind = path_kind
        elif out.metavar in ("PATH", "FILE") or (not is_option and out.name in ("path", "file")):
            out.kind = "file"  # a path taken as str (validated by ops), still completed as a file
    # The scripts embed values unquoted in word lists: anything unusual would need quoting in three shells.
    out.values = [v for v in out.values if _SAFE_WORD.match(v)]
    return out


def build(app: Any = None, *, strict: bool = False, warn: Callable[[str], None] | None = None) -> Command:
    """Walk the app's Click tree. A command whose module does not exist yet is skipped with a warning
    (other helpers add commands while this runs), unless strict."""
    import typer

    if app is None:
        from swapctl.cli.app import app
    root = typer.main.get_command(app)
    warn = warn or (lambda msg: print(f"gen_docs: warning: {msg}", file=sys.stderr))

    def visit(cmd: Any, name: str, path: tuple[str, ...], parent: Any) -> Command:
        # As make_context does: context_settings carry help_option_names (-h) down to every command.
        ctx = cmd.context_class(cmd, info_name=name, parent=parent, **(getattr(cmd, "context_settings", None) or {}))
        params = [p for p in cmd.get_params(ctx) if not getattr(p, "hidden", False)]
        node = Command(
            path=path,
            help=clean_help(cmd.help),
            options=[_param(p, ctx, path) for p in params if p.param_type_name == "option"],
            arguments=[_param(p, ctx, path) for p in params if p.param_type_name == "argument"],
        )
        if hasattr(cmd, "list_commands"):
            for sub_name in cmd.list_commands(ctx):
                try:
                    sub = cmd.get_command(ctx, sub_name)
                except ModuleNotFoundError as exc:
                    if strict or not (exc.name or "").startswith("swapctl."):
                        raise
                    warn(f"skipping `{' '.join((*path, sub_name))}`: module {exc.name} does not exist yet")
                    continue
                if sub is None or getattr(sub, "hidden", False):
                    continue
                node.subcommands.append(visit(sub, sub_name, (*path, sub_name), ctx))
        return node

    return visit(root, PROG, (), None)


# --------------------------------------------------------------------------------------------------
# bash
# --------------------------------------------------------------------------------------------------


def _sq(text: str) -> str:
    """Single-quote for sh/bash/zsh."""
    return "'" + text.replace("'", "'\\''") + "'"


def _bash_complete_kind(p: Param, prefix: str = "$3") -> str:
    if p.kind == "words":
        return f'_swapctl_words {_sq(" ".join(p.values))} "{prefix}"'
    if p.kind == "keys":
        return f'_swapctl_words {_sq(" ".join(p.values))} "{prefix}"'
    if p.kind == "assign":
        return f'_swapctl_words {_sq(" ".join(k + "=" for k in p.values))} "{prefix}"; _swapctl_nospace'
    if p.kind == "file":
        return f'_swapctl_files "{prefix}"'
    if p.kind == "dir":
        return f'_swapctl_dirs "{prefix}"'
    return "COMPREPLY=()"


def render_bash(root: Command) -> str:
    cmds = list(root.walk())
    spec, values, args = [], [], []
    for c in cmds:
        subs = " ".join(s.path[-1] for s in c.subcommands)
        opts = " ".join(o for p in c.options for o in p.all_opts)
        vopts = " ".join(o for p in c.options if p.takes_value for o in p.opts)
        spec.append(f"        {_sq(c.key)}) subs={_sq(subs)}; opts={_sq(opts)}; vopts={_sq(f' {vopts} ')} ;;")
        for p in c.options:
            if p.takes_value and p.kind != "none":
                pattern = "|".join(_sq(f"{c.key}|{o}") for o in p.opts)
                values.append(f"        {pattern}) {_bash_complete_kind(p)} ;;")
        if c.arguments and not c.subcommands:
            lines = []
            for i, a in enumerate(c.arguments):
                label = "*" if a.nargs == -1 else str(i)
                lines.append(f"{label}) {_bash_complete_kind(a)} ;;")
                if a.nargs == -1:
                    break
            args.append(f"        {_sq(c.key)}) case $2 in {' '.join(lines)} esac ;;")
    return BASH_TEMPLATE.format(
        spec="\n".join(spec), values="\n".join(values) or "        '') ;;", args="\n".join(args) or "        '') ;;"
    )


BASH_TEMPLATE = r"""# bash completion for swapctl                                   -*- shell-script -*-
# Generated by tools/gen_docs.py from the swapctl command tree: do not edit, regenerate.
# Static on purpose: pressing TAB runs no Python (start-up time, issue 8).

# _swapctl_spec PATH: the subcommands, options and value-taking options of one command.
_swapctl_spec() {{
    case "$1" in
{spec}
        *) subs=''; opts=''; vopts=' ' ;;
    esac
}}

_swapctl_words() {{ mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2"); }}
_swapctl_files() {{ compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$1"); }}
_swapctl_dirs() {{ compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$1"); }}
_swapctl_nospace() {{ compopt -o nospace 2>/dev/null; }}

# _swapctl_value PATH OPTION PREFIX: complete the value of OPTION.
_swapctl_value() {{
    COMPREPLY=()
    case "$1|$2" in
{values}
    esac
}}

# _swapctl_arg PATH INDEX PREFIX: complete the INDEX-th positional argument (from 0).
_swapctl_arg() {{
    COMPREPLY=()
    case "$1" in
{args}
    esac
}}

_swapctl() {{
    local i w cur path='' subs opts vopts expect='' npos=0 dashdash=0 glue=0
    local -a words=()
    # COMP_WORDBREAKS splits --output=json into "--output" "=" "json": join them back.
    for ((i = 1; i <= COMP_CWORD; i++)); do
        w=${{COMP_WORDS[i]}}
        if ((glue)); then
            words[-1]+=$w; glue=0
        elif [[ $w == = && ${{#words[@]}} -gt 0 && ${{words[-1]}} == --* && ${{words[-1]}} != *=* ]]; then
            words[-1]+=$w; glue=1
        else
            words+=("$w")
        fi
    done
    ((${{#words[@]}})) || words=('')
    _swapctl_spec ''
    for ((i = 0; i < ${{#words[@]}} - 1; i++)); do
        w=${{words[i]}}
        if [[ -n $expect ]]; then expect=''; continue; fi
        if ((dashdash)); then ((npos++)); continue; fi
        case $w in
            --) dashdash=1 ;;
            --*=*) ;;
            -*) [[ $vopts == *" $w "* ]] && expect=$w ;;
            *)
                if [[ -n $subs && " $subs " == *" $w "* ]]; then
                    path=${{path:+$path }}$w; npos=0; _swapctl_spec "$path"
                else
                    ((npos++))
                fi ;;
        esac
    done
    cur=${{words[-1]}}
    if [[ -n $expect ]]; then
        _swapctl_value "$path" "$expect" "$cur"
    elif ((!dashdash)) && [[ $cur == --*=* ]]; then
        _swapctl_value "$path" "${{cur%%=*}}" "${{cur#*=}}"
    elif ((!dashdash)) && [[ $cur == -* ]]; then
        _swapctl_words "$opts" "$cur"
    elif [[ -n $subs ]]; then
        _swapctl_words "$subs" "$cur"
    else
        _swapctl_arg "$path" "$npos" "$cur"
    fi
    return 0
}}

complete -F _swapctl swapctl
"""

# --------------------------------------------------------------------------------------------------
# zsh
# --------------------------------------------------------------------------------------------------


def _zsh_desc(text: str) -> str:
    # Inside an _arguments [description] the brackets and backslash are special; ':' ends a field.
    text = short_desc(text)
    return re.sub(r"([\\\[\]:])", r"\\\1", text)


def _zsh_action(p: Param) -> str:
    if p.kind in ("words", "keys"):
        return "(" + " ".join(p.values) + ")"
    if p.kind == "assign":
        return "_swapctl_assign " + " ".join(p.values)
    if p.kind == "file":
        return "_files"
    if p.kind == "dir":
        return "_files -/"
    return " "


def _zsh_option_specs(c: Command) -> list[str]:
    specs = []
    for p in c.options:
        desc = _zsh_desc(p.help)
        halves = [p.opts] + ([p.secondary] if p.secondary else [])
        exclusive = "(" + " ".join(p.all_opts) + ")" if len(p.all_opts) > 1 else ""
        if any(o in ("-h", "--help", "--version") for o in p.all_opts):
            exclusive = "(- *)"  # help and version end the command line
        for names in halves:
            if names is p.secondary:
                desc = _zsh_desc(f"Opposite of {p.opts[0]}")
            for o in names:
                if p.takes_value:
                    suffix = "=" if o.startswith("--") else "+"
                    message = p.metavar.replace(":", "\\:") or "value"
                    specs.append(_sq(f"{exclusive}{o}{suffix}[{desc}]:{message}:{_zsh_action(p)}"))
                else:
                    specs.append(_sq(f"{exclusive}{o}[{desc}]"))
    return specs


def _zsh_fn(c: Command) -> str:
    return "_swapctl" + "".join("_" + re.sub(r"\W", "_", part) for part in c.path)


def render_zsh(root: Command) -> str:
    out = [
        "#compdef swapctl",
        "# zsh completion for swapctl.",
        "# Generated by tools/gen_docs.py from the swapctl command tree: do not edit, regenerate.",
        "# Static on purpose: pressing TAB runs no Python (start-up time, issue 8).",
        "",
        "# KEY=VALUE arguments: offer the keys followed by '=' and no space.",
        "(( $+functions[_swapctl_assign] )) ||",
        "_swapctl_assign() {",
        "  compset -P '*=' && return 1",
        "  compadd -S '=' -q -- \"$@\"",
        "}",
        "",
    ]
    for c in root.walk():
        # The main function is defined unconditionally: while the file autoloads, _swapctl already
        # exists as the autoload stub, so a "(( $+functions[...] )) ||" guard would keep the stub.
        guard = [f"(( $+functions[{_zsh_fn(c)}] )) ||"] if c.path else []
        lines = [*guard, f"{_zsh_fn(c)}() {{"]
        specs = _zsh_option_specs(c)
        if c.subcommands:
            lines += [
                "  local curcontext=$curcontext state state_descr line ret=1",
                "  typeset -A opt_args",
                "  _arguments -C -s -S \\",
                *[f"    {s} \\" for s in specs],
                "    '1:command:->command' \\",
                "    '*::argument:->argument' && ret=0",
                "  case $state in",
                "    command)",
                "      local -a commands=(",
                *[f"        {_sq(s.path[-1].replace(':', chr(92) + ':') + ':' + s.short)}" for s in c.subcommands],
                "      )",
                f"      _describe -t commands {_sq(' '.join((PROG, *c.path, 'command')))} commands && ret=0 ;;",
                "    argument)",
                f"      curcontext=${{curcontext%:*:*}}:{'-'.join((PROG, *c.path))}-$words[1]:",
                "      case $words[1] in",
                *[f"        {s.path[-1]}) {_zsh_fn(s)} && ret=0 ;;" for s in c.subcommands],
                "      esac ;;",
                "  esac",
                "  return ret",
            ]
        else:
            arg_specs = []
            for i, a in enumerate(c.arguments):
                desc = a.metavar.replace(":", "\\:")
                optional = ":" if not a.required else ""
                if a.nargs == -1:
                    arg_specs.append(_sq(f"*{optional}:{desc}:{_zsh_action(a)}"))
                    break
                arg_specs.append(_sq(f"{i + 1}{optional}:{desc}:{_zsh_action(a)}"))
            body = specs + arg_specs
            lines += ["  _arguments -s -S \\", *[f"    {s} \\" for s in body[:-1]], f"    {body[-1]}"]
        lines.append("}")
        out += lines + [""]
    out += [
        "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then",
        '  _swapctl "$@"',
        "else",
        "  compdef _swapctl swapctl",
        "fi",
        "",
    ]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# fish
# --------------------------------------------------------------------------------------------------


def _fish_q(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_value_flags(p: Param) -> str:
    if p.kind in ("words", "keys"):
        return "-x -a " + _fish_q(" ".join(p.values))
    if p.kind == "assign":
        return "-x -a " + _fish_q(" ".join(k + "=" for k in p.values))
    if p.kind == "file":
        return "-r -F"
    if p.kind == "dir":
        return "-x -a '(__fish_complete_directories)'"
    return "-x"


def render_fish(root: Command) -> str:
    cmds = list(root.walk())
    subs_cases, vopt_cases, lines = [], [], []
    for c in cmds:
        if c.subcommands:
            subs_cases.append(
                f"        case {_fish_q(c.key)}\n            printf '%s\\n' "
                + " ".join(_fish_q(s.path[-1]) for s in c.subcommands)
            )
        vopts = [o for p in c.options if p.takes_value for o in p.opts]
        if vopts:
            vopt_cases.append(
                f"        case {_fish_q(c.key)}\n            printf '%s\\n' " + " ".join(_fish_q(o) for o in vopts)
            )
    for c in cmds:
        cond = f"-n \"__swapctl_is '{c.key}'\""  # keys are plain words: no quoting needed
        for s in c.subcommands:
            lines.append(f"complete -c swapctl {cond} -a {_fish_q(s.path[-1])} -d {_fish_q(s.short)}")
        for p in c.options:
            for names in [p.opts] + ([p.secondary] if p.secondary else []):
                flags = " ".join(f"-s {o[1:]}" if not o.startswith("--") else f"-l {o[2:]}" for o in names)
                extra = " " + _fish_value_flags(p) if p.takes_value else ""
                desc = short_desc(p.help) if names is p.opts else f"Opposite of {p.opts[0]}"
                lines.append(f"complete -c swapctl {cond} {flags}{extra}" + (f" -d {_fish_q(desc)}" if desc else ""))
        if not c.subcommands:
            # Positional arguments: the first argument's completion (later ones rarely differ).
            for a in c.arguments[:1]:
                if a.kind != "none":
                    flags = _fish_value_flags(a).replace("-x ", "").replace("-r ", "")
                    lines.append(f"complete -c swapctl {cond} {flags}")
    return FISH_TEMPLATE.format(subs="\n".join(subs_cases), vopts="\n".join(vopt_cases), completes="\n".join(lines))


FISH_TEMPLATE = r"""# fish completion for swapctl.
# Generated by tools/gen_docs.py from the swapctl command tree: do not edit, regenerate.
# Static on purpose: pressing TAB runs no Python (start-up time, issue 8).

function __swapctl_subs --description 'The subcommands of a swapctl command path'
    switch "$argv[1]"
{subs}
    end
end

function __swapctl_vopts --description 'The options of a swapctl command path that take a value'
    switch "$argv[1]"
{vopts}
    end
end

function __swapctl_path --description 'The swapctl command path of the command line being completed'
    set -l path
    set -l expect 0
    for t in (commandline -opc)[2..-1]
        if test $expect = 1
            set expect 0
            continue
        end
        switch $t
            case '--*=*'
            case '-*'
                contains -- $t (__swapctl_vopts "$path"); and set expect 1
            case '*'
                contains -- $t (__swapctl_subs "$path"); and set -a path $t
        end
    end
    echo "$path"
end

function __swapctl_is --description 'Is the command line at this swapctl command path?'
    set -l path (__swapctl_path)
    test "$path" = "$argv[1]"
end

complete -c swapctl -f
{completes}
"""

# --------------------------------------------------------------------------------------------------
# man page (roff, man macros)
# --------------------------------------------------------------------------------------------------

MAN_DATE = "2026-11-28"  # bump by hand with the version; never the build date (reproducible output)


def roff(text: str) -> str:
    """Escape text for roff: backslashes, hyphens as minus signs (so options copy-paste), leading . and '."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line[:1] in (".", "'") else line for line in text.split("\n"))


def roff_arg(text: str) -> str:
    """A quoted macro argument."""
    return '"' + roff(text).replace('"', "\\(dq") + '"'


def _paragraphs(text: str) -> list[str]:
    """Help text to roff paragraphs; Click's \\b blocks keep their lines."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", clean_help(text)):
        if not para.strip():
            continue
        if para.startswith("\b"):
            body = para[1:].strip("\n")
            out.append(".PP\n.nf\n" + roff(body) + "\n.fi")
        else:
            text = roff(" ".join(line.strip() for line in para.splitlines()))
            out.append(".PP\n" + re.sub(r"`([^`\n]+)`", r"\\fB\1\\fR", text))  # `code` in bold
    return out


def _arg_usage(a: Param) -> str:
    text = a.metavar + ("..." if a.nargs == -1 else "")
    return text if a.required else f"[{text}]"


def _synopsis_args(c: Command) -> str:
    parts = []
    for a in c.arguments:
        meta = f"\\fI{roff(a.metavar)}\\fR" + ("..." if a.nargs == -1 else "")
        parts.append(meta if a.required else f"[{meta}]")
    return " ".join(parts)


def _option_term(p: Param) -> str:
    names = ", ".join(f"\\fB{roff(o)}\\fR" for o in p.opts)
    if p.takes_value:
        names += f" \\fI{roff(p.metavar)}\\fR"
    if p.secondary:
        names += ", " + ", ".join(f"\\fB{roff(o)}\\fR" for o in p.secondary)
    return names


def _options_block(options: list[Param]) -> list[str]:
    out = []
    for p in options:
        out += [".TP", _option_term(p), roff(" ".join(p.help_record.split()) or "(no description)")]
    return out


def render_man(root: Command, version: str) -> str:
    leaves = [c for c in root.walk() if c.path and not c.subcommands]
    out = [
        '.\\" Generated by tools/gen_docs.py from the swapctl command tree and its MAN_SECTIONS: do not edit.',
        f'.TH SWAPCTL 8 "{MAN_DATE}" "swapctl {version}" "System Administration"',
        ".SH NAME",
        f"swapctl \\- {roff(first_sentence(root.help)[0].lower() + first_sentence(root.help)[1:])}",
        ".SH SYNOPSIS",
    ]
    for c in leaves:
        out += [
            ".HP",
            f"\\fBswapctl\\fR [\\fIGLOBAL OPTIONS\\fR] \\fB{roff(' '.join(c.path))}\\fR"
            + (" [\\fIOPTIONS\\fR]" if any(p.name != "help" for p in c.options) else "")
            + (" " + _synopsis_args(c) if c.arguments else ""),
        ]
    out += [".SH DESCRIPTION", *_paragraphs(root.help)]
    out += MAN_SECTIONS["DESCRIPTION"]
    out += [
        ".SH GLOBAL OPTIONS",
        ".PP",
        "These come before the command name (-o/--output also after it); the ones with an "
        "environment variable take it as their default.",
        *_options_block(root.options),
    ]
    out += [".SH COMMANDS"]
    for c in root.walk():
        if not c.path:
            continue
        if c.subcommands:
            out += [".SS " + roff_arg(" ".join(c.path) + " COMMAND"), *_paragraphs(c.help)]
            continue
        out += [".SS " + roff_arg(" ".join((*c.path, *map(_arg_usage, c.arguments))))]
        out += _paragraphs(c.help)
        if c.arguments:
            out += [".PP", "Arguments:", ".RS"]
            for a in c.arguments:
                out += [
                    ".TP",
                    f"\\fI{roff(a.metavar)}\\fR" + ("..." if a.nargs == -1 else ""),
                    roff(" ".join((a.help_record or a.help or "").split()) or "(no description)"),
                ]
            out += [".RE"]
        opts = [p for p in c.options if p.name != "help"]  # --help is under GLOBAL OPTIONS
        if opts:
            out += [".PP", "Options:", ".RS", *_options_block(opts), ".RE"]
    for title in ("EXIT STATUS", "ENVIRONMENT", "FILES"):
        out += [f".SH {title}", *MAN_SECTIONS[title]]
    out += [".SH EXAMPLES", *_examples(root)]
    out += [".SH SEE ALSO", *MAN_SECTIONS["SEE ALSO"]]
    return "\n".join(out) + "\n"


def _tp(term: str, text: str) -> list[str]:
    return [".TP", term, roff(text)]


# Hand-written sections, merged with the generated COMMANDS. Text here is plain and escaped on output;
# only the .TP terms are written as roff.
MAN_SECTIONS: dict[str, list[str]] = {
    "DESCRIPTION": [
        ".PP",
        roff(
            "Every change is planned first: checks run before anything is touched, --dry-run prints the plan "
            "and changes nothing, and a failure part-way undoes the finished steps in reverse. Changes are "
            "recorded in a write-ahead journal, so swapctl history lists them and swapctl rollback undoes one."
        ),
        ".PP",
        roff(
            "Data goes to standard output and messages to standard error. With -o json or -o yaml every "
            "command, failing ones included, prints one envelope with the fields swapctl, command, ok, "
            "changed, dry_run, transaction, actions, data, warnings and error. Sizes in JSON are integers "
            "in bytes. A command that finds the machine already in the wanted state exits 0 with changed "
            "false, which suits Ansible's changed_when and idempotent CI scripts."
        ),
    ],
    "EXIT STATUS": [
        *_tp("\\fB0\\fR", "Done, or already in the wanted state (the changed field says which)."),
        *_tp("\\fB1\\fR", "The operation failed; every change was rolled back."),
        *_tp("\\fB2\\fR", "Bad usage or bad input: a value out of range, an unparsable size, malformed YAML."),
        *_tp(
            "\\fB3\\fR",
            "Refused before anything changed: not root, unsupported filesystem, unsafe value, "
            "not swapctl's file, too little memory to swapoff, a transaction left pending, a file swapctl "
            "must read missing or unreadable.",
        ),
        *_tp(
            "\\fB4\\fR",
            "A check ran and the system failed it (a stress verdict, a doctor finding at warning or above).",
        ),
        *_tp("\\fB5\\fR", "Rollback failed: a person must look; the transaction id is printed."),
        *_tp("\\fB70\\fR", "Internal error (a bug): one line and the path of a crash log, no traceback."),
        *_tp("\\fB130\\fR", "Interrupted, after rolling back."),
    ],
    "ENVIRONMENT": [
        *_tp(
            "\\fBSWAPCTL_ROOT\\fR",
            "Default for --root: the directory every file path is read and written under (default /).",
        ),
        *_tp(
            "\\fBSWAPCTL_STATE_DIR\\fR",
            "Default for --state-dir: where the journal and its lock live (default ROOT/var/lib/swapctl).",
        ),
        *_tp("\\fBSWAPCTL_OUTPUT\\fR", "Default for -o/--output: table, json or yaml."),
        *_tp(
            "\\fBNO_COLOR\\fR",
            "When set (to anything), tables and messages use no colour. Colour is only ever used on a terminal.",
        ),
    ],
    "FILES": [
        *_tp(
            "\\fI/etc/fstab\\fR",
            "One line per persisted swap file, keyed by its path; swapctl edits it "
            "atomically and leaves other lines byte for byte as they were.",
        ),
        *_tp(
            "\\fI/etc/sysctl.d/90\\-swapctl.conf\\fR",
            "The vm settings made persistent with --persist, one line per key.",
        ),
        *_tp(
            "\\fI/etc/systemd/zram\\-generator.conf.d/90\\-swapctl.conf\\fR",
            "One section per zram device set up with zram create --persist, read by zram-generator at boot.",
        ),
        *_tp(
            "\\fI/etc/tmpfiles.d/90\\-swapctl\\-zswap.conf\\fR",
            "The zswap parameters set with zswap set --persist, as w lines systemd-tmpfiles writes at boot.",
        ),
        *_tp(
            "\\fI/var/lib/swapctl/journal.jsonl\\fR",
            "The write-ahead journal of transactions (JSON lines), "
            "read by history and rollback. The directory moves with --state-dir.",
        ),
        *_tp("\\fI/var/lib/swapctl/lock\\fR", "Serializes concurrent swapctl runs that change the machine."),
    ],
    "SEE ALSO": [
        ".BR swapon (8),",
        ".BR mkswap (8),",
        ".BR sysctl (8),",
        ".BR proc (5)",
    ],
}

# Examples: (description, command line). Only those whose command exists are printed, and each is checked
# against the tree (command path and options), so the page cannot show an option the app lacks.
EXAMPLES: list[tuple[str, list[str]]] = [
    (
        "Add an 8 GiB swap file, active now and after reboot; see what it would do first:",
        ["swapctl create /swapfile --size 8G --dry-run", "swapctl create /swapfile --size 8G"],
    ),
    ("List the active swap areas as JSON, for a script:", ["swapctl -o json list"]),
    (
        "Grow it without a moment without swap, then swap it off and delete it:",
        ["swapctl resize /swapfile --size 16G", "swapctl remove /swapfile"],
    ),
    (
        "Read the vm reclaim settings; lower swappiness now and at every boot:",
        ["swapctl vm get swappiness min_free_kbytes", "swapctl vm set swappiness=10 --persist"],
    ),
    (
        "Show the watermarks, and what a larger min_free_kbytes would make of them:",
        ["swapctl watermarks --what-if min_free_kbytes=131072"],
    ),
    (
        "Read the watermarks of another machine from a captured snapshot:",
        ["swapctl --root /tmp/support-bundle watermarks"],
    ),
    ("Check how the machine reclaims under a bounded memory pressure:", ["swapctl stress --duration 30"]),
    (
        "Explain why the machine swaps, and gate a CI step on it (exit 4 on a warning):",
        ["swapctl doctor", "swapctl -o json doctor --interval 2"],
    ),
    (
        "Bring the machine to the state a file describes, showing the plan first:",
        ["swapctl apply swap.yaml --dry-run", "swapctl apply swap.yaml"],
    ),
    ("List the transactions, then undo the last one:", ["swapctl history", "swapctl rollback"]),
]


def check_example(root: Command, line: str) -> Command | None:
    """The command an example runs, or None when that command is not in the tree; raise on a bad option."""
    words = line.split()[1:]
    node, i = root, 0
    while i < len(words):
        w = words[i]
        opts = {o: p for p in node.options for o in p.all_opts}
        if w.startswith("-"):
            name = w.split("=", 1)[0]
            if name not in opts:
                raise SystemExit(
                    f"gen_docs: example {line!r}: {name} is not an option of `{' '.join((PROG, *node.path))}`"
                )
            i += 2 if opts[name].takes_value and "=" not in w else 1
            continue
        sub = next((s for s in node.subcommands if s.path[-1] == w), None)
        if sub is None:
            if node.subcommands:
                return None  # a command that does not exist (yet)
            i += 1
            continue
        node, i = sub, i + 1
    return node if node.path else None


def _examples(root: Command) -> list[str]:
    out: list[str] = []
    for desc, lines in EXAMPLES:
        present = [line for line in lines if check_example(root, line) is not None]
        if present:
            out += [".PP", roff(desc), ".RS", ".nf", *(f"\\fB{roff(line)}\\fR" for line in present), ".fi", ".RE"]
    return out


# --------------------------------------------------------------------------------------------------


def outputs(root: Command) -> dict[Path, str]:
    from swapctl import __version__

    return {
        REPO / "completions" / "swapctl.bash": render_bash(root),
        REPO / "completions" / "_swapctl": render_zsh(root),
        REPO / "completions" / "swapctl.fish": render_fish(root),
        REPO / "man" / "swapctl.8": render_man(root, __version__),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is stale")
    parser.add_argument(
        "--strict", action="store_true", help="fail when a registered command's module cannot be imported"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    root = build(strict=args.strict)
    stale = []
    for path, text in outputs(root).items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    rel = [str(p.relative_to(REPO)) for p in stale]
    if args.check:
        if rel:
            print("stale (run `python tools/gen_docs.py`): " + " ".join(rel), file=sys.stderr)
            return 1
        return 0
    print(("wrote " + " ".join(rel)) if rel else "up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
