#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: swapctl contributors
# MIT License (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: apply
short_description: Make the target match a whole swapctl state, in one transaction
version_added: 0.1.0
description:
  - Runs C(swapctl apply FILE) on the target. The state lists swap files, zram devices, vm settings and zswap
    parameters; it is validated first (unknown keys, wrong types, out-of-range values fail the task with the
    line number), then the difference from the live machine is carried out as one transaction, all or nothing.
  - Applying the same state again changes nothing.
options:
  src:
    description:
      - A YAML state file on the target (push it with M(ansible.builtin.copy) or M(ansible.builtin.template)).
    type: path
  state:
    description:
      - The state inline, as the file's content would be. It is written to a temporary YAML file on the target
        (in the module's own temporary directory, removed afterwards) and passed to C(swapctl apply).
    type: dict
extends_documentation_fragment:
  - swapctl.swap.common
  - swapctl.swap.common.attributes
author:
  - swapctl contributors (@swapctl)
"""

EXAMPLES = r"""
- name: Swap, zram and reclaim as one transaction
  swapctl.swap.apply:
    state:
      swapfiles:
        - {path: /swapfile, size: 2G, priority: 10}
      zram:
        - {size: "min(ram / 2, 4096)", algorithm: lz4, priority: 100}
      vm:
        swappiness: 30
        min_free_kbytes: ">=65536"
      zswap:
        enabled: false
      persist: true

- name: A state file kept in the inventory, pushed first
  ansible.builtin.copy:
    src: "{{ inventory_dir }}/swap-state.yml"
    dest: /etc/swapctl-state.yml
    mode: "0644"
- swapctl.swap.apply:
    src: /etc/swapctl-state.yml
"""

RETURN = r"""
changed:
  description: swapctl's verdict; false when the machine already matched.
  returned: always
  type: bool
actions:
  description: The steps of the one transaction (in check mode, planned).
  returned: always
  type: list
  elements: dict
transaction:
  description: The journal's transaction id (undo it all with C(swapctl rollback ID)); null when nothing
    changed.
  returned: always
  type: str
dry_run:
  description: Whether swapctl ran with C(--dry-run) (check mode).
  returned: always
  type: bool
data:
  description: swapctl's data of the command.
  returned: always
  type: dict
cmd:
  description: The argv swapctl ran with.
  returned: always
  type: list
  elements: str
diff:
  description: In diff mode, each file swapctl edits before and after and one entry with the values.
  returned: diff mode
  type: list
  elements: dict
"""

import json
import os
import tempfile

from ansible_collections.swapctl.swap.plugins.module_utils.swapctl import (
    COMMON_ARGS,
    head,
    program,
    result,
    run,
    tail,
)

ARGUMENT_SPEC = dict(
    src=dict(type="path"),
    state=dict(type="dict"),
)


def build_argv(params, state_file=None):
    """apply FILE: the src, or the file the inline state was written to."""
    path = state_file or params.get("src")
    if not path:
        raise ValueError("give src (a state file on the target) or state (the state inline)")
    return ["apply", path]


def state_text(state):
    """The inline state as YAML (JSON where PyYAML is not on the target: JSON is YAML too)."""
    try:
        import yaml

        return yaml.safe_dump(state, default_flow_style=False, sort_keys=False)
    except ImportError:
        return json.dumps(state, indent=2) + "\n"


def main():
    from ansible.module_utils.basic import AnsibleModule

    spec = dict(COMMON_ARGS)
    spec.update(ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=spec,
        supports_check_mode=True,
        mutually_exclusive=[("src", "state")],
        required_one_of=[("src", "state")],
    )
    state_file = None
    if module.params.get("state") is not None:
        fd, state_file = tempfile.mkstemp(prefix="swapctl-state-", suffix=".yml", dir=module.tmpdir)
        with os.fdopen(fd, "w") as fh:
            fh.write(state_text(module.params["state"]))
    argv = head(module.params, program(module)) + build_argv(module.params, state_file)
    argv += tail(module.check_mode, module._diff)
    dummy, envelope = run(module, argv)
    module.exit_json(**result(envelope, module._diff, argv))


if __name__ == "__main__":
    main()
