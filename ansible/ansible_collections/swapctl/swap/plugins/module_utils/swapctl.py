# -*- coding: utf-8 -*-
# Copyright: swapctl contributors
# MIT License (see galaxy.yml)
"""What every swapctl module shares: the common options, the argv head and tail, running the program, and
turning its JSON envelope into a module result (Ansible's diff format included).

Nothing here knows what swapctl does: it builds argv lists from parameters and passes swapctl's own verdict
(changed, actions, transaction, warnings, diff, error) through. The argv builders are pure functions, so the
unit tests call them without a target."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

# The options every module takes (documented in doc_fragments/common.py).
COMMON_ARGS = dict(
    swapctl=dict(type="str", default="swapctl"),
    state_dir=dict(type="path"),
    root=dict(type="path"),
)

INSTALL_HINT = (
    "install swapctl on the target: pip install a swapctl wheel or checkout (the PyPI name swapctl is another "
    "project), or copy the single file dist/swapctl.pyz built by tools/build-pyz (any python3 from 3.9 on), "
    "e.g. ansible.builtin.copy: {src: dist/swapctl.pyz, dest: /usr/local/sbin/swapctl, mode: '0755'}, "
    "and set the module's swapctl option to its path"
)


def head(params, program=None):
    """swapctl's global options, then `-o json`: [program, --root R, --state-dir D, -o, json]."""
    argv = list(program) if program else [params.get("swapctl") or "swapctl"]
    if params.get("root"):
        argv += ["--root", params["root"]]
    if params.get("state_dir"):
        argv += ["--state-dir", params["state_dir"]]
    return argv + ["-o", "json"]


def tail(check_mode, diff_mode):
    """Check mode is swapctl's --dry-run; diff mode is its --diff."""
    return (["--dry-run"] if check_mode else []) + (["--diff"] if diff_mode else [])


def flag(value, name):
    """A --name/--no-name pair: None leaves swapctl's default, True/False say which."""
    if value is None:
        return []
    return ["--" + name] if value else ["--no-" + name]


def option(value, name):
    """--name VALUE, or nothing when the parameter is unset."""
    if value is None or value == "":
        return []
    return ["--" + name, str(value)]


def scalar(value, true="1", false="0"):
    """A parameter value as swapctl reads it on the command line (booleans as the caller's true/false words)."""
    if isinstance(value, bool):
        return true if value else false
    return str(value)


def assignments(settings, true="1", false="0"):
    """{key: value} as KEY=VALUE words, in the dict's order. A value starting with "=" is glued to the key as
    it is ("=>65536" gives key=>65536, swapctl's "only raise to"); any other value follows "key="."""
    words = []
    for key, value in (settings or {}).items():
        text = scalar(value, true, false)
        words.append(str(key) + text if text.startswith("=") else f"{key}={text}")
    return words


def _text(value):
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def ansible_diff(diff):
    """swapctl's `diff` ({files: [{path, before, after}], values: [{what, before, after}]}) in Ansible's format: one
    {before_header, after_header, before, after} per file, then one for all the values as "what: value" lines."""
    out = []
    if not diff:
        return out
    for f in diff.get("files") or []:
        out.append(
            dict(
                before_header=f.get("path"),
                after_header=f.get("path"),
                before=f.get("before") if f.get("before") is not None else "",
                after=f.get("after") if f.get("after") is not None else "",
            )
        )
    values = diff.get("values") or []
    if values:
        out.append(
            dict(
                before_header="values",
                after_header="values",
                before="".join(f"{v.get('what')}: {_text(v.get('before'))}\n" for v in values),
                after="".join(f"{v.get('what')}: {_text(v.get('after'))}\n" for v in values),
            )
        )
    return out


def program(module):
    """The argv head that starts swapctl: its absolute path, looked up on PATH when it is a bare name; a .pyz
    runs under this module's own Python. Fails the module with how to install swapctl when there is none."""
    name = module.params.get("swapctl") or "swapctl"
    if os.sep in name:
        path = os.path.expanduser(name)
        if not os.path.isfile(path):
            module.fail_json(msg=f"swapctl not found at {path}: {INSTALL_HINT}", rc=127)
    else:
        path = module.get_bin_path(name, opt_dirs=["/usr/local/sbin", "/usr/local/bin", "/usr/sbin"])
        if not path:
            module.fail_json(msg=f"swapctl ({name}) is not on the target's PATH: {INSTALL_HINT}", rc=127)
    if path.endswith(".pyz") or not os.access(path, os.X_OK):
        return [sys.executable, path]
    return [path]


def run(module, argv, ok=(0,)):
    """Run swapctl (argv, never a shell) and return (rc, envelope). An exit code outside `ok` fails the module
    with swapctl's one-line message, its hint and the exit code."""
    rc, out, err = module.run_command(argv, environ_update={"LC_ALL": "C.UTF-8"})
    envelope = None
    try:
        envelope = json.loads(out) if out.strip() else None
    except ValueError:
        envelope = None
    if rc not in ok:
        error = (envelope or {}).get("error") or {}
        message = error.get("message") or _first_line(err) or f"swapctl exited {rc}"
        module.fail_json(
            msg=message,
            rc=rc,
            hint=error.get("hint"),
            cmd=argv,
            stdout=out,
            stderr=err,
            swapctl_warnings=(envelope or {}).get("warnings") or [],
        )
    if not isinstance(envelope, dict):
        module.fail_json(msg="swapctl printed no JSON envelope", rc=rc, cmd=argv, stdout=out, stderr=err)
    return rc, envelope


def _first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def result(envelope, diff_mode, argv=None):
    """The module's result from swapctl's envelope: its changed, actions, transaction, warnings and data, and in
    diff mode its diff as Ansible's."""
    res = dict(
        changed=bool(envelope.get("changed")),
        actions=envelope.get("actions") or [],
        transaction=envelope.get("transaction"),
        dry_run=bool(envelope.get("dry_run")),
        data=envelope.get("data") or {},
        cmd=argv or [],
    )
    warnings = envelope.get("warnings") or []
    if warnings:
        res["warnings"] = [str(w) for w in warnings]
    if diff_mode:
        res["diff"] = ansible_diff(envelope.get("diff"))
    return res


def main_for(argument_spec, build, **spec_kwargs):
    """The whole life of a changing module: parse the parameters, build argv with build(params) (ValueError is
    bad input), add the check/diff tail, run swapctl and exit with its verdict."""
    from ansible.module_utils.basic import AnsibleModule

    spec = dict(COMMON_ARGS)
    spec.update(argument_spec)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **spec_kwargs)
    try:
        words = build(module.params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    argv = head(module.params, program(module)) + words + tail(module.check_mode, module._diff)
    dummy, envelope = run(module, argv)
    module.exit_json(**result(envelope, module._diff, argv))
