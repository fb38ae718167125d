#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: swapctl contributors
# MIT License (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: zswap
short_description: zswap's parameters through swapctl
version_added: 0.1.0
description:
  - Runs C(swapctl zswap set NAME=VALUE...) on the target. Each value is written to
    C(/sys/module/zswap/parameters) and read back; a failure undoes the writes already done.
  - The parameters are enabled, compressor, max_pool_percent, accept_threshold_percent, shrinker_enabled (and
    zpool, same_filled_pages_enabled where the kernel has them). The compressor must be one C(/proc/crypto)
    lists. C(enabled=Y) is refused while no swap area is active, unless I(force).
options:
  settings:
    description:
      - The parameters, name to value, e.g. C(enabled) to C(true) and C(compressor) to C(lz4).
        Booleans are written as Y and N.
    type: dict
    required: true
  persist:
    description: Also keep them for boot, as C(w) lines in C(/etc/tmpfiles.d/90-swapctl-zswap.conf).
    type: bool
    default: false
  force:
    description: Enable zswap even with no active swap area.
    type: bool
    default: false
extends_documentation_fragment:
  - swapctl.swap.common
  - swapctl.swap.common.attributes
author:
  - swapctl contributors (@swapctl)
"""

EXAMPLES = r"""
- name: zswap on, with lz4 and at most a fifth of RAM, now and at boot
  swapctl.swap.zswap:
    settings:
      enabled: true
      compressor: lz4
      max_pool_percent: 20
    persist: true

- name: No zswap in front of zram
  swapctl.swap.zswap:
    settings:
      enabled: false
"""

RETURN = r"""
changed:
  description: swapctl's verdict; false when every parameter already had its value.
  returned: always
  type: bool
actions:
  description: The writes swapctl made (in check mode, planned).
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
  description: swapctl's data of the command.
  returned: always
  type: dict
cmd:
  description: The argv swapctl ran with.
  returned: always
  type: list
  elements: str
diff:
  description: In diff mode, the tmpfiles.d file before and after (with I(persist)) and the parameters.
  returned: diff mode
  type: list
  elements: dict
"""

from ansible_collections.swapctl.swap.plugins.module_utils.swapctl import assignments, main_for

ARGUMENT_SPEC = dict(
    settings=dict(type="dict", required=True),
    persist=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
)


def build_argv(params):
    """zswap set NAME=VALUE... [--persist] [--force]"""
    words = assignments(params.get("settings"), true="Y", false="N")
    if not words:
        raise ValueError("settings is empty: name at least one zswap parameter")
    return (
        ["zswap", "set"]
        + words
        + (["--persist"] if params.get("persist") else [])
        + (["--force"] if params.get("force") else [])
    )


def main():
    main_for(ARGUMENT_SPEC, build_argv)


if __name__ == "__main__":
    main()
