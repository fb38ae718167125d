"""--diff: what a plan changes, before and after, as Ansible's diff mode and a sysadmin's terminal want it: each
file swapctl edits as its whole text before and after (a unified diff on a terminal), and each value."""

from __future__ import annotations

import json
from pathlib import Path

MIB = 1 << 20


def doc_of(cli, *args: str) -> dict:  # noqa: ANN001
    r = cli("-o", "json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_a_dry_run_create_shows_the_fstab_it_would_write_and_the_area_it_would_add(cli, root: Path) -> None:
    fstab = (root / "etc/fstab").read_text()
    doc = doc_of(cli, "create", "/swapfile", "--size", "16M", "--dry-run", "--diff")
    (change,) = doc["diff"]["files"]
    assert change["path"] == "/etc/fstab" and change["before"] == fstab
    assert change["after"] == fstab + "/swapfile none swap defaults 0 0\n"
    assert {"what": "/swapfile", "before": "absent", "after": "a 16 MiB swap file"} in doc["diff"]["values"]
    assert {"what": "swap area /swapfile", "before": "off", "after": "on"} in doc["diff"]["values"]
    assert (root / "etc/fstab").read_text() == fstab and not (root / "swapfile").exists()


def test_on_a_terminal_the_diff_is_unified_and_each_value_is_before_to_after(cli, root: Path) -> None:
    r = cli("create", "/swapfile", "--size", "16M", "--dry-run", "--diff")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert "--- a/etc/fstab" in lines and "+++ b/etc/fstab" in lines
    assert "+/swapfile none swap defaults 0 0" in lines
    assert "~ swap area /swapfile: off -> on" in lines
    assert not any(line.startswith("-") and not line.startswith("---") for line in lines), "nothing is removed"


def test_vm_set_persist_shows_the_new_sysctl_d_file_and_the_value(cli, root: Path) -> None:
    (root / "proc/sys/vm/swappiness").write_text("60\n")
    doc = doc_of(cli, "vm", "set", "swappiness=10", "--persist", "--dry-run", "--diff")
    (change,) = doc["diff"]["files"]
    assert change["path"] == "/etc/sysctl.d/90-swapctl.conf" and change["before"] is None
    assert change["after"].endswith("vm.swappiness = 10\n")
    assert doc["diff"]["values"] == [{"what": "vm.swappiness", "before": 60, "after": 10}]
    r = cli("vm", "set", "swappiness=10", "--persist", "--dry-run", "--diff")
    assert "--- /dev/null" in r.stdout.splitlines() and "+++ b/etc/sysctl.d/90-swapctl.conf" in r.stdout


def test_two_edits_of_one_file_show_as_one_change(cli, root: Path) -> None:
    spec = root / "swap.yaml"
    spec.write_text("persist: true\nswapfiles:\n  - {path: /swap1, size: 16M}\n  - {path: /swap2, size: 16M}\n")
    fstab = (root / "etc/fstab").read_text()
    doc = doc_of(cli, "apply", str(spec), "--dry-run", "--diff")
    (change,) = doc["diff"]["files"]
    assert change["after"] == fstab + "/swap1 none swap defaults 0 0\n/swap2 none swap defaults 0 0\n"


def test_a_real_run_with_diff_shows_what_it_changed_and_without_it_the_envelope_is_as_before(cli, root: Path) -> None:
    doc = doc_of(cli, "create", "/swapfile", "--size", "16M", "--diff")
    assert doc["changed"] and not doc["dry_run"]
    assert doc["diff"]["files"][0]["after"] == (root / "etc/fstab").read_text()
    again = doc_of(cli, "create", "/swapfile", "--size", "16M", "--diff")
    assert again["diff"] == {"files": [], "values": []}, "nothing to change: an empty diff"
    assert "diff" not in doc_of(cli, "remove", "/swapfile", "--dry-run")
