# -*- coding: utf-8 -*-
# Copyright: swapctl contributors
# MIT License (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  swapctl:
    description:
      - The swapctl program on the target, a name looked up on C(PATH) (and C(/usr/local/sbin),
        C(/usr/local/bin), C(/usr/sbin)) or a path.
      - A path ending in C(.pyz), the single file C(dist/swapctl.pyz) built by C(tools/build-pyz), runs under the
        module's own Python.
      - Where it is missing the module fails and says how to install it.
    type: str
    default: swapctl
  state_dir:
    description:
      - swapctl's C(--state-dir), where its journal and lock live. Unset, swapctl's default
        (C(ROOT/var/lib/swapctl)).
    type: path
  root:
    description:
      - swapctl's C(--root), a directory every file is read from and written to instead of C(/) (an image or a
        snapshot). What only the running kernel can do (swapon, swapoff) is refused there.
    type: path
requirements:
  - swapctl on the target (a checkout's wheel, or the single file C(dist/swapctl.pyz))
  - Python 3.9 or later on the target
notes:
  - swapctl does the work and decides what changed; the module runs it with C(-o json) as an argv list (never
    a shell) and returns its envelope's C(changed), C(actions), C(transaction) and C(warnings).
  - Check mode runs swapctl with C(--dry-run), diff mode with C(--diff).
  - Each change is one swapctl transaction; undo it on the target with C(swapctl rollback).
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    support: full
    description: Runs swapctl with C(--dry-run), which plans and changes nothing.
  diff_mode:
    support: full
    description: Runs swapctl with C(--diff); each edited file and the values before and after.
  platform:
    platforms: posix
    support: full
    description: Linux only.
"""
