# -*- coding: utf-8 -*-
# Copyright: swapctl contributors
# MIT License (see galaxy.yml)
"""ansible-test units: the argument handling of the modules, swapctl replaced by a recorded run_command.
(The repository's tests/unit/test_ansible_modules.py holds the fuller set, run by its own pytest.)"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils import basic
from ansible_collections.swapctl.swap.plugins.module_utils import swapctl as utils
from ansible_collections.swapctl.swap.plugins.modules import swapfile, vm, zram, zswap

ENVELOPE = {
    "ok": True,
    "changed": True,
    "dry_run": True,
    "transaction": None,
    "actions": [{"step": "sysctl-write", "description": "set vm.swappiness: 60 -> 10", "status": "planned"}],
    "data": {},
    "warnings": [],
    "error": None,
    "diff": {
        "files": [{"path": "/etc/sysctl.d/90-swapctl.conf", "before": None, "after": "vm.swappiness = 10\n"}],
        "values": [{"what": "vm.swappiness", "before": 60, "after": 10}],
    },
}


def run_main(module, args, reply, tmp_path, monkeypatch, capsys):
    program = tmp_path / "swapctl"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    ran = []

    def fake_run_command(self, argv, *a, **kw):
        assert isinstance(argv, list)
        ran.append(argv)
        return reply

    monkeypatch.setattr(basic.AnsibleModule, "run_command", fake_run_command)
    payload = {"ANSIBLE_MODULE_ARGS": dict(swapctl=str(program), **args)}
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps(payload).encode())
    if hasattr(basic, "_ANSIBLE_PROFILE"):
        monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy")
    with pytest.raises(SystemExit):
        module.main()
    return ran, json.loads(capsys.readouterr().out)


def test_check_and_diff_mode_are_dry_run_and_diff(tmp_path, monkeypatch, capsys):
    args = {"settings": {"vm.swappiness": 10}, "persist": True, "_ansible_check_mode": True, "_ansible_diff": True}
    ran, res = run_main(vm, args, (0, json.dumps(ENVELOPE), ""), tmp_path, monkeypatch, capsys)
    assert ran[0][1:] == ["-o", "json", "vm", "set", "vm.swappiness=10", "--persist", "--dry-run", "--diff"]
    assert res["changed"] is True and res["transaction"] is None
    assert res["diff"] == [
        {
            "before_header": "/etc/sysctl.d/90-swapctl.conf",
            "after_header": "/etc/sysctl.d/90-swapctl.conf",
            "before": "",
            "after": "vm.swappiness = 10\n",
        },
        {
            "before_header": "values",
            "after_header": "values",
            "before": "vm.swappiness: 60\n",
            "after": "vm.swappiness: 10\n",
        },
    ]


def test_an_error_fails_with_swapctls_message_and_exit_code(tmp_path, monkeypatch, capsys):
    envelope = dict(ENVELOPE, ok=False, changed=False, error={"message": "size 'x' is not a size", "code": 2})
    ran, res = run_main(
        swapfile, {"path": "/sf", "size": "x"}, (2, json.dumps(envelope), ""), tmp_path, monkeypatch, capsys
    )
    assert res["failed"] is True and res["msg"] == "size 'x' is not a size" and res["rc"] == 2


def test_argv_builders():
    assert swapfile.build_argv({"path": "/sf", "state": "absent"}) == ["remove", "/sf"]
    assert zram.build_argv({"device": "zram0", "state": "absent"}) == ["zram", "remove", "zram0"]
    assert zswap.build_argv({"settings": {"enabled": True}}) == ["zswap", "set", "enabled=Y"]
    assert utils.tail(True, False) == ["--dry-run"] and utils.tail(False, True) == ["--diff"]
