#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: swapctl contributors
# MIT License (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: swapfile
short_description: A swap file, present and on or absent, through swapctl
version_added: 0.1.0
description:
  - Runs C(swapctl create) (I(state=present)) or C(swapctl remove) (I(state=absent)) on the target.
  - C(create) makes the file with mode 0600, allocates it without holes, formats and enables it, and with
    I(persist) adds its C(/etc/fstab) line; any failure undoes every step. An active swap file of that size
    changes nothing.
  - C(remove) swaps the area off (refused when its pages would not fit back in memory), drops its fstab line
    and deletes the file swapctl made.
options:
  path:
    description: Absolute path of the swap file (or, for I(state=absent), a swap device).
    type: path
    required: true
  state:
    description: Whether the swap file is there and on, or gone.
    type: str
    choices: [present, absent]
    default: present
  size:
    description:
      - The size, C(512M), C(8G), C(1.5GiB), C(1048576K) or bytes, rounded up to whole pages; or C(auto), by
        I(size_policy) from the RAM and the free space.
      - Required with I(state=present).
    type: str
  size_policy:
    description: The rule of I(size=auto). Unset, swapctl's default (C(cloud-init)).
    type: str
    choices: [cloud-init, redhat, ubuntu]
  priority:
    description:
      - Swap priority, 0 to 32767, or -1 for automatic. Unset, as its fstab line says, else as it runs now, else
        automatic.
    type: int
  discard:
    description: Enable discard (TRIM) for the area. Unset, as its fstab line says, else off.
    type: bool
  persist:
    description: Add the area to C(/etc/fstab), so it is on after a reboot.
    type: bool
    default: true
  method:
    description: How to allocate the file. Unset, swapctl's default (C(auto)).
    type: str
    choices: [auto, fallocate, zero]
  force:
    description:
      - With I(state=present), replace an existing file that is not a swap area of this size, or try an
        unknown filesystem.
      - With I(state=absent), also delete a swap file swapctl did not make.
    type: bool
    default: false
  keep_file:
    description: With I(state=absent), swap off and unpersist but keep the file.
    type: bool
    default: false
extends_documentation_fragment:
  - swapctl.swap.common
  - swapctl.swap.common.attributes
author:
  - swapctl contributors (@swapctl)
"""

EXAMPLES = r"""
- name: A 2 GiB swap file, on now and after a reboot
  swapctl.swap.swapfile:
    path: /swapfile
    size: 2G
    priority: 10

- name: A swap file sized from the RAM, this boot only
  swapctl.swap.swapfile:
    path: /swapfile
    size: auto
    size_policy: ubuntu
    persist: false

- name: swapctl as the single file pushed by a previous task
  swapctl.swap.swapfile:
    path: /swapfile
    size: 4G
    swapctl: /usr/local/sbin/swapctl

- name: No more swap file
  swapctl.swap.swapfile:
    path: /swapfile
    state: absent
"""

RETURN = r"""
changed:
  description: swapctl's verdict; false when the file was already as asked.
  returned: always
  type: bool
actions:
  description: The steps swapctl carried out (in check mode, planned), each with step, description and status.
  returned: always
  type: list
  elements: dict
  sample: [{"step": "mkswap", "description": "mkswap /swapfile", "status": "done"}]
transaction:
  description: The journal's transaction id of the change (undo with C(swapctl rollback ID)); null when nothing
    changed or in check mode.
  returned: always
  type: str
dry_run:
  description: Whether swapctl ran with C(--dry-run) (check mode).
  returned: always
  type: bool
data:
  description: swapctl's own data of the command, e.g. path, size in bytes, priority, persisted, filesystem.
  returned: always
  type: dict
cmd:
  description: The argv swapctl ran with.
  returned: always
  type: list
  elements: str
diff:
  description: In diff mode, each file swapctl edits (C(/etc/fstab)) before and after, and one entry with the
    values (the file, the swap area) as C(what - value) lines.
  returned: diff mode
  type: list
  elements: dict
"""

from ansible_collections.swapctl.swap.plugins.module_utils.swapctl import flag, main_for, option

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    size=dict(type="str"),
    size_policy=dict(type="str", choices=["cloud-init", "redhat", "ubuntu"]),
    priority=dict(type="int"),
    discard=dict(type="bool"),
    persist=dict(type="bool", default=True),
    method=dict(type="str", choices=["auto", "fallocate", "zero"]),
    force=dict(type="bool", default=False),
    keep_file=dict(type="bool", default=False),
)


def build_argv(params):
    """The swapctl words after its global options: create PATH ... or remove PATH ..."""
    if params.get("state", "present") == "absent":
        return (
            ["remove", params["path"]]
            + (["--keep-file"] if params.get("keep_file") else [])
            + (["--force"] if params.get("force") else [])
        )
    if not params.get("size"):
        raise ValueError("state=present needs a size (e.g. 2G, or auto)")
    return (
        ["create", params["path"], "--size", str(params["size"])]
        + option(params.get("size_policy"), "size-policy")
        + option(params.get("priority"), "priority")
        + flag(params.get("discard"), "discard")
        + flag(params.get("persist", True), "persist")
        + option(params.get("method"), "method")
        + (["--force"] if params.get("force") else [])
    )


def main():
    main_for(ARGUMENT_SPEC, build_argv)


if __name__ == "__main__":
    main()
