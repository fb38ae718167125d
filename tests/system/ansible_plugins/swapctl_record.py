"""An Ansible callback for the system tests: every task result of a run, one JSON line each, in the file named
by SWAPCTL_ANSIBLE_RECORD (ansible-core ships no json stdout callback; that lives in ansible.posix)."""

from __future__ import annotations

import json
import os
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: swapctl_record
type: aggregate
short_description: write each task result as a JSON line to $SWAPCTL_ANSIBLE_RECORD
description: Test support for swapctl's examples/ansible playbook.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "swapctl_record"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, status: str, result: Any) -> None:
        # ansible-core 2.19 calls it `result`; older releases only have `_result`.
        res = getattr(result, "result", None)
        if res is None:
            res = result._result
        row = {
            "task": result._task.get_name(),
            "host": result._host.get_name(),
            "status": status,
            "changed": bool(res.get("changed", False)),
            "rc": res.get("rc"),
            "cmd": res.get("cmd"),
            "stdout": res.get("stdout"),
            "stderr": res.get("stderr"),
            "msg": str(res.get("msg", "")),
            # what the swapctl.swap collection's modules return besides
            "diff": res.get("diff"),
            "ansible_facts": res.get("ansible_facts"),
            "actions": res.get("actions"),
            "transaction": res.get("transaction"),
            "warnings": res.get("warnings"),
        }
        with open(os.environ["SWAPCTL_ANSIBLE_RECORD"], "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, default=str) + "\n")

    def v2_runner_on_ok(self, result: Any) -> None:
        self._write("ok", result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._write("failed", result)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._write("skipped", result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._write("unreachable", result)
