#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: swapctl contributors
# MIT License (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: swapctl_facts
short_description: Swap areas, vm settings with their boot values and drift, doctor findings, as facts
version_added: 0.1.0
description:
  - Runs C(swapctl -o json list), C(swapctl -o json vm get), C(swapctl -o json watermarks) and
    C(swapctl -o json doctor --interval 0) on the target and returns what they say as C(ansible_facts.swapctl).
    Changes nothing.
  - With I(root), swapctl reads a C(--root) tree (an image, or a snapshot of another machine's C(/proc) and
    C(/sys)) instead of the target's own files, so one play can audit live hosts and snapshots alike.
  - doctor's exit status 4 (a finding at warning or above) is not a failure; the findings are in the facts.
extends_documentation_fragment:
  - swapctl.swap.common
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so has nothing to show.
  facts:
    support: full
    description: Sets C(ansible_facts.swapctl).
  platform:
    platforms: posix
    support: full
    description: Linux only.
author:
  - swapctl contributors (@swapctl)
"""

EXAMPLES = r"""
- name: What swapctl sees
  swapctl.swap.swapctl_facts:

- name: Say which vm settings will not survive a reboot
  ansible.builtin.debug:
    msg: "{{ ansible_facts.swapctl.drift }} differ from what the next boot applies"
  when: ansible_facts.swapctl.drift | length > 0

- name: Say which zones are below their low watermark (kswapd is reclaiming there)
  ansible.builtin.debug:
    msg: "{{ ansible_facts.swapctl.watermarks.below_low | join(', ') }}"
  when: ansible_facts.swapctl.watermarks.below_low | length > 0

- name: Facts of a snapshot tree on the target (read-only; swapon and the like are refused there)
  swapctl.swap.swapctl_facts:
    root: /srv/snapshots/db1

- name: Stop when a transaction was cut short
  ansible.builtin.fail:
    msg: "run swapctl rollback {{ ansible_facts.swapctl.pending_transaction }}"
  when: ansible_facts.swapctl.pending_transaction is not none
"""

RETURN = r"""
ansible_facts:
  description: Facts added under C(swapctl).
  returned: always
  type: complex
  contains:
    swapctl:
      description: What swapctl reads on the target.
      returned: always
      type: complex
      contains:
        areas:
          description: The active swap areas as C(swapctl list) gives them (path, type, size, used, priority,
            whether swapctl manages it and fstab persists it).
          type: list
          elements: dict
          returned: always
        swap_total:
          description: Bytes of swap in all.
          type: int
          returned: always
        swap_used:
          description: Bytes of swap in use.
          type: int
          returned: always
        mem_total:
          description: MemTotal in bytes.
          type: int
          returned: always
        mem_available:
          description: MemAvailable in bytes.
          type: int
          returned: always
        vm:
          description: Each vm sysctl by key, with its runtime value, the value the next boot gives and from
            which file, and whether they differ.
          type: dict
          returned: always
          sample: {"vm.swappiness": {"value": 60, "boot_value": 60, "boot_source": "kernel default",
                   "drift": false, "available": true}}
        drift:
          description: The keys whose runtime value differs from what the next boot applies.
          type: list
          elements: str
          returned: always
        boot_tool:
          description: The boot-time sysctl tool swapctl predicts (procps or systemd).
          type: str
          returned: always
        watermarks:
          description: What C(swapctl watermarks) reads, in pages of I(page_size) (C(/proc/zoneinfo)).
          type: complex
          returned: always
          contains:
            page_size:
              description: Bytes per page.
              type: int
              returned: always
            zones:
              description:
                - Each node's zones, with C(node), C(zone), C(free), C(min), C(low), C(high) (pages), swapctl's
                  C(state) (above_high, between_low_high, below_low, below_min or empty) and C(below_low), true
                  when free is below low (state below_low or below_min; kswapd is reclaiming).
              type: list
              elements: dict
              returned: always
              sample: [{"node": 0, "zone": "Normal", "free": 3633064, "min": 14256, "low": 18432, "high": 22608,
                        "state": "above_high", "below_low": false}]
            nodes:
              description: Each node's sums over its zones, C(node), C(free), C(min), C(low), C(high) (pages).
              type: list
              elements: dict
              returned: always
            below_low:
              description: The zones below their low watermark, as C(NODE/ZONE) (e.g. C(0/Normal)).
              type: list
              elements: str
              returned: always
        findings:
          description: doctor's findings, each with id, severity, subject, summary and fix.
          type: list
          elements: dict
          returned: always
        worst:
          description: The worst finding's severity, or null.
          type: str
          returned: always
        pending_transaction:
          description: The id of a transaction left unfinished (by a crash), or null.
          type: str
          returned: always
        kernel:
          description: The running kernel's release.
          type: str
          returned: always
"""

from ansible_collections.swapctl.swap.plugins.module_utils.swapctl import COMMON_ARGS, head, program, run

DOCTOR_FINDINGS = 4  # doctor's exit status for a finding at warning or above: reported, not a failure


BELOW_LOW = ("below_low", "below_min")  # swapctl's zone states where free is under the low watermark
MARKS = ("free", "min", "low", "high")


def build_argvs(params, program_argv=None):
    """The four read-only commands, each a full argv."""
    base = head(params, program_argv)
    return {
        "list": base + ["list"],
        "vm": base + ["vm", "get"],
        "watermarks": base + ["watermarks"],
        "doctor": base + ["doctor", "--interval", "0"],
    }


def watermarks(data):
    """The summary of `swapctl watermarks`' data: per zone and per node, the free pages and the marks."""
    zones = []
    for z in data.get("zones") or []:
        row = dict(node=z.get("node"), zone=z.get("zone"))
        row.update((k, z.get(k)) for k in MARKS)
        row.update(state=z.get("state"), below_low=z.get("state") in BELOW_LOW)
        zones.append(row)
    nodes = []
    for n in data.get("nodes") or []:
        row = dict(node=n.get("node"))
        row.update((k, n.get(k)) for k in MARKS)
        nodes.append(row)
    return dict(
        page_size=data.get("page_size"),
        zones=zones,
        nodes=nodes,
        below_low=[f"{z['node']}/{z['zone']}" for z in zones if z["below_low"]],
    )


def facts(listing, vm, doctor, marks=None):
    """ansible_facts.swapctl from the envelopes' data (list, vm get, doctor, watermarks)."""
    settings = {}
    drift = []
    for row in vm.get("settings") or []:
        key = row.get("key")
        settings[key] = dict(
            value=row.get("value"),
            boot_value=row.get("boot_value"),
            boot_source=row.get("boot_source"),
            drift=bool(row.get("drift")),
            available=row.get("available", True),
        )
        if row.get("drift"):
            drift.append(key)
    findings = [
        dict(
            id=f.get("id"),
            severity=f.get("severity"),
            subject=f.get("subject"),
            summary=f.get("summary"),
            fix=f.get("fix") or [],
        )
        for f in doctor.get("findings") or []
    ]
    pending = [f["subject"] for f in findings if f["id"] == "pending-transaction"]
    return dict(
        areas=listing.get("areas") or [],
        swap_total=listing.get("total"),
        swap_used=listing.get("used"),
        mem_total=listing.get("mem_total"),
        mem_available=listing.get("mem_available"),
        vm=settings,
        drift=drift,
        watermarks=watermarks(marks or {}),
        boot_tool=vm.get("boot_tool"),
        findings=findings,
        worst=doctor.get("worst"),
        pending_transaction=pending[0] if pending else None,
        kernel=vm.get("kernel") or doctor.get("kernel"),
    )


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=dict(COMMON_ARGS), supports_check_mode=True)
    argvs = build_argvs(module.params, program(module))
    data = {}
    warnings = []
    for name, argv in argvs.items():
        ok = (0, DOCTOR_FINDINGS) if name == "doctor" else (0,)
        dummy, envelope = run(module, argv, ok=ok)
        data[name] = envelope.get("data") or {}
        warnings += [str(w) for w in envelope.get("warnings") or []]
    res = dict(
        changed=False, ansible_facts=dict(swapctl=facts(data["list"], data["vm"], data["doctor"], data["watermarks"]))
    )
    if warnings:
        res["warnings"] = warnings
    module.exit_json(**res)


if __name__ == "__main__":
    main()
