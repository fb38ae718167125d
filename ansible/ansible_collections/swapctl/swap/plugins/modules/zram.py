#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: swapctl contributors
# MIT License (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: zram
short_description: A zram device as compressed swap in RAM, through swapctl
version_added: 0.1.0
description:
  - Runs C(swapctl zram create) (I(state=present)) or C(swapctl zram remove DEVICE) (I(state=absent)) on the
    target.
  - C(create) writes algorithm, its parameters, mem_limit and disksize in the kernel's order, then mkswap and
    swapon; an active zram area of that size, algorithm and priority changes nothing; any failure undoes every
    step.
  - C(remove) swaps the device off (refused when its pages would not fit back in memory), resets it and
    removes it if swapctl added it.
options:
  device:
    description:
      - C(zramN), or C(auto), the first device not set up, else a new one. I(state=absent) needs a device
        name.
    type: str
    default: auto
  state:
    description: Whether the zram swap is set up and on, or gone.
    type: str
    choices: [present, absent]
    default: present
  size:
    description:
      - Uncompressed capacity, a size (C(512M), C(4G)), C(auto) (zram-generator's default,
        C(min(ram / 2, 4096)) MiB) or a zram-generator expression in MiB with ram = MemTotal in MiB, e.g.
        C(ram / 4).
    type: str
    default: auto
  algorithm:
    description: The compression algorithm, one the device lists. Unset, the device's current one.
    type: str
  algorithm_params:
    description: The algorithm's parameters as zramctl's, C(level=N), C(dict=PATH) (Linux 6.13+).
    type: str
  mem_limit:
    description: Most RAM the device may use for compressed data.
    type: str
  priority:
    description: Swap priority, -1 to 32767. Unset, swapctl's default (100).
    type: int
  persist:
    description:
      - Also set it up at boot, as C(swapctl zram create --persist) does. A section in swapctl's zram-generator
        drop-in where zram-generator is installed, else a systemd unit of swapctl's that adds its own device at
        boot, else an udev rule and an /etc/fstab line; refused where none of them would run.
    type: bool
    default: false
  persist_via:
    description: With I(persist), the way to use. C(auto) takes the first of the others that works on the host.
    type: str
    choices: [auto, zram-generator, systemd, udev]
    default: auto
  force:
    description: With I(state=absent), also reset a device that is set up but is not swap.
    type: bool
    default: false
extends_documentation_fragment:
  - swapctl.swap.common
  - swapctl.swap.common.attributes
author:
  - swapctl contributors (@swapctl)
"""

EXAMPLES = r"""
- name: zram swap of half the RAM (at most 4 GiB), above any disk swap
  swapctl.swap.zram:
    size: auto
    algorithm: zstd
    priority: 100

- name: zram0 gone
  swapctl.swap.zram:
    device: zram0
    state: absent
"""

RETURN = r"""
changed:
  description: swapctl's verdict; false when the device was already as asked.
  returned: always
  type: bool
actions:
  description: The steps swapctl carried out (in check mode, planned).
  returned: always
  type: list
  elements: dict
transaction:
  description: The journal's transaction id (undo with C(swapctl rollback ID)); null when nothing changed.
  returned: always
  type: str
dry_run:
  description: Whether swapctl ran with C(--dry-run) (check mode).
  returned: always
  type: bool
data:
  description: swapctl's data of the command (the device, its size, algorithm, priority).
  returned: always
  type: dict
cmd:
  description: The argv swapctl ran with.
  returned: always
  type: list
  elements: str
diff:
  description: In diff mode, the files swapctl writes for the boot before and after (with I(persist)) and the
    device's values.
  returned: diff mode
  type: list
  elements: dict
"""

from ansible_collections.swapctl.swap.plugins.module_utils.swapctl import main_for, option

ARGUMENT_SPEC = dict(
    device=dict(type="str", default="auto"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    size=dict(type="str", default="auto"),
    algorithm=dict(type="str"),
    algorithm_params=dict(type="str", no_log=False),
    mem_limit=dict(type="str"),
    priority=dict(type="int"),
    persist=dict(type="bool", default=False),
    persist_via=dict(type="str", choices=["auto", "zram-generator", "systemd", "udev"], default="auto"),
    force=dict(type="bool", default=False),
)


def build_argv(params):
    """zram create [--device D] [--size S] ... or zram remove DEVICE [--force]"""
    device = params.get("device") or "auto"
    if params.get("state", "present") == "absent":
        if device == "auto":
            raise ValueError("state=absent needs a device, e.g. device: zram0")
        return ["zram", "remove", device] + (["--force"] if params.get("force") else [])
    return (
        ["zram", "create", "--device", device, "--size", str(params.get("size") or "auto")]
        + option(params.get("algorithm"), "algorithm")
        + option(params.get("algorithm_params"), "algorithm-params")
        + option(params.get("mem_limit"), "mem-limit")
        + option(params.get("priority"), "priority")
        + (["--persist"] if params.get("persist") else [])
        + (option(params.get("persist_via"), "persist-via") if params.get("persist_via") not in (None, "auto") else [])
    )


def main():
    main_for(ARGUMENT_SPEC, build_argv)


if __name__ == "__main__":
    main()
