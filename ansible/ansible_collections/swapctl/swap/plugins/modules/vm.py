#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: swapctl contributors
# MIT License (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vm
short_description: vm reclaim sysctls (swappiness, min_free_kbytes, ...) through swapctl
version_added: 0.1.0
description:
  - Runs C(swapctl vm set KEY=VALUE...) on the target, all or none.
  - Every assignment is checked against the range the running kernel accepts before anything is written; one
    bad assignment fails the task and writes nothing. Each write is read back; a value already in force is
    left alone.
  - With I(persist) the values are also written to C(/etc/sysctl.d/90-swapctl.conf) for the next boot.
  - swapctl is stricter than the kernel where the kernel lets a value hurt the machine (min_free_kbytes above
    5% of lowmem is refused unless I(force)).
options:
  settings:
    description:
      - The sysctls to set, key to value, with or without the C(vm.) prefix, e.g. C(vm.swappiness) to C(10).
      - A value C(=>N) only raises the key to N, C(=<N) only lowers it to N (with I(persist), N is written only
        where the value the next boot gives would not meet it); any other value sets the key.
      - Booleans are written as 1 and 0.
    type: dict
    required: true
  persist:
    description: Also write the values to C(/etc/sysctl.d/90-swapctl.conf) for the next boot.
    type: bool
    default: false
  force:
    description: Write a min_free_kbytes above swapctl's safe limit.
    type: bool
    default: false
  boot_applier:
    description: Which boot-time tool to predict. Unset, the one the machine boots with.
    type: str
    choices: [procps, systemd]
extends_documentation_fragment:
  - swapctl.swap.common
  - swapctl.swap.common.attributes
author:
  - swapctl contributors (@swapctl)
"""

EXAMPLES = r"""
- name: Swap less, now and at boot
  swapctl.swap.vm:
    settings:
      vm.swappiness: 10
    persist: true

- name: At least 64 MiB free for atomic allocations, never lower it
  swapctl.swap.vm:
    settings:
      min_free_kbytes: "=>65536"
      watermark_scale_factor: 125
"""

RETURN = r"""
changed:
  description: swapctl's verdict; false when every value was already in force.
  returned: always
  type: bool
actions:
  description: The writes swapctl made (in check mode, planned).
  returned: always
  type: list
  elements: dict
  sample: [{"step": "sysctl-write", "description": "set vm.swappiness: 60 -> 10", "status": "done"}]
transaction:
  description: The journal's transaction id (undo with C(swapctl rollback ID)); null when nothing changed.
  returned: always
  type: str
dry_run:
  description: Whether swapctl ran with C(--dry-run) (check mode).
  returned: always
  type: bool
data:
  description: swapctl's data, with C(settings), each key's old, new and requested value and mode.
  returned: always
  type: dict
cmd:
  description: The argv swapctl ran with.
  returned: always
  type: list
  elements: str
diff:
  description: In diff mode, the sysctl.d file before and after (with I(persist)) and the runtime values.
  returned: diff mode
  type: list
  elements: dict
"""

from ansible_collections.swapctl.swap.plugins.module_utils.swapctl import assignments, main_for, option

ARGUMENT_SPEC = dict(
    settings=dict(type="dict", required=True),
    persist=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    boot_applier=dict(type="str", choices=["procps", "systemd"]),
)


def build_argv(params):
    """vm set KEY=VALUE... [--persist] [--force] [--boot-applier TOOL]"""
    words = assignments(params.get("settings"))
    if not words:
        raise ValueError("settings is empty: name at least one sysctl")
    return (
        ["vm", "set"]
        + words
        + (["--persist"] if params.get("persist") else [])
        + (["--force"] if params.get("force") else [])
        + option(params.get("boot_applier"), "boot-applier")
    )


def main():
    main_for(ARGUMENT_SPEC, build_argv)


if __name__ == "__main__":
    main()
