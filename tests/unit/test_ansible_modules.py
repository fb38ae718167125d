"""The swapctl.swap collection's argument handling, without a target: each module's argv builder (params ->
argv, pure), the check/diff tail, the global options, and swapctl's diff in Ansible's format."""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

COLLECTIONS = Path(__file__).resolve().parents[2] / "ansible"
PKG = "ansible_collections.swapctl.swap.plugins"

pytest.importorskip("ansible.module_utils.basic", reason="ansible-core is not installed (it is in the test extra)")
if str(COLLECTIONS) not in sys.path:
    sys.path.append(str(COLLECTIONS))  # appended: the installed ansible package stays the one `import ansible` finds


def load(name: str) -> Any:
    return importlib.import_module(f"{PKG}.{name}")


utils = load("module_utils.swapctl")
swapfile = load("modules.swapfile")
vm = load("modules.vm")
zram = load("modules.zram")
zswap = load("modules.zswap")
apply = load("modules.apply")
swapctl_facts = load("modules.swapctl_facts")


def params(module: Any, **given: Any) -> dict[str, Any]:
    """What AnsibleModule would hand the builder: every option, its default where unset."""
    spec = {**utils.COMMON_ARGS, **module.ARGUMENT_SPEC} if hasattr(module, "ARGUMENT_SPEC") else utils.COMMON_ARGS
    out = {k: v.get("default") for k, v in spec.items()}
    out.update(given)
    return out


# --- the common head and tail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "diff", "tail"),
    [
        (False, False, []),
        (True, False, ["--dry-run"]),
        (False, True, ["--diff"]),
        (True, True, ["--dry-run", "--diff"]),
    ],
)
def test_check_mode_is_dry_run_and_diff_mode_is_diff(check: bool, diff: bool, tail: list[str]) -> None:
    assert utils.tail(check, diff) == tail


def test_the_head_puts_global_options_before_json_output() -> None:
    assert utils.head({"swapctl": "swapctl"}) == ["swapctl", "-o", "json"]
    given = {"swapctl": "/opt/swapctl/bin/swapctl", "state_dir": "/var/tmp/st", "root": "/img"}
    assert utils.head(given) == [
        "/opt/swapctl/bin/swapctl",
        "--root",
        "/img",
        "--state-dir",
        "/var/tmp/st",
        "-o",
        "json",
    ]
    # the program as resolved on the target (a .pyz runs under the module's Python) replaces the name
    assert utils.head(given, ["/usr/bin/python3", "/x/swapctl.pyz"])[:2] == ["/usr/bin/python3", "/x/swapctl.pyz"]
    assert utils.head({"swapctl": "swapctl", "state_dir": "", "root": None}) == ["swapctl", "-o", "json"]


def test_every_module_takes_the_common_options() -> None:
    assert set(utils.COMMON_ARGS) == {"swapctl", "state_dir", "root"}
    assert utils.COMMON_ARGS["swapctl"]["default"] == "swapctl"


# --- swapfile -------------------------------------------------------------------------------------------


def test_swapfile_present_is_create_with_only_what_was_given() -> None:
    argv = swapfile.build_argv(params(swapfile, path="/swapfile", size="2G"))
    assert argv == ["create", "/swapfile", "--size", "2G", "--persist"]


def test_swapfile_present_with_every_option() -> None:
    p = params(
        swapfile,
        path="/sf",
        size="auto",
        size_policy="ubuntu",
        priority=-1,
        discard=False,
        persist=False,
        method="zero",
    )
    p["force"] = True
    assert swapfile.build_argv(p) == [
        "create",
        "/sf",
        "--size",
        "auto",
        "--size-policy",
        "ubuntu",
        "--priority",
        "-1",
        "--no-discard",
        "--no-persist",
        "--method",
        "zero",
        "--force",
    ]
    assert "--discard" in swapfile.build_argv(params(swapfile, path="/sf", size="1G", discard=True))
    assert "--priority" in swapfile.build_argv(params(swapfile, path="/sf", size="1G", priority=0))


def test_swapfile_absent_is_remove() -> None:
    assert swapfile.build_argv(params(swapfile, path="/sf", state="absent")) == ["remove", "/sf"]
    p = params(swapfile, path="/sf", state="absent", keep_file=True, force=True, size="1G")
    assert swapfile.build_argv(p) == ["remove", "/sf", "--keep-file", "--force"]


def test_swapfile_present_without_a_size_is_bad_input() -> None:
    with pytest.raises(ValueError, match="size"):
        swapfile.build_argv(params(swapfile, path="/sf"))


# --- vm and zswap ---------------------------------------------------------------------------------------


def test_vm_settings_become_assignments_and_a_leading_equals_sign_is_glued_to_the_key() -> None:
    p = params(vm, settings={"vm.swappiness": 10, "min_free_kbytes": "=>65536", "watermark_scale_factor": "=<200"})
    assert vm.build_argv(p) == [
        "vm",
        "set",
        "vm.swappiness=10",
        "min_free_kbytes=>65536",
        "watermark_scale_factor=<200",
    ]
    # ">N" as the value gives the same word: swapctl, not the module, reads what it means
    assert vm.build_argv(params(vm, settings={"min_free_kbytes": ">65536"}))[2] == "min_free_kbytes=>65536"


def test_vm_options() -> None:
    p = params(vm, settings={"swappiness": True}, persist=True, force=True, boot_applier="systemd")
    assert vm.build_argv(p) == ["vm", "set", "swappiness=1", "--persist", "--force", "--boot-applier", "systemd"]
    with pytest.raises(ValueError, match="settings"):
        vm.build_argv(params(vm, settings={}))


def test_zswap_booleans_are_y_and_n() -> None:
    p = params(zswap, settings={"enabled": True, "shrinker_enabled": False, "compressor": "lz4"}, persist=True)
    assert zswap.build_argv(p) == [
        "zswap",
        "set",
        "enabled=Y",
        "shrinker_enabled=N",
        "compressor=lz4",
        "--persist",
    ]
    assert zswap.build_argv(params(zswap, settings={"enabled": "N"}, force=True)) == [
        "zswap",
        "set",
        "enabled=N",
        "--force",
    ]


# --- zram -----------------------------------------------------------------------------------------------


def test_zram_present_is_create_with_swapctl_defaults_for_what_is_unset() -> None:
    assert zram.build_argv(params(zram)) == ["zram", "create", "--device", "auto", "--size", "auto"]
    p = params(
        zram,
        device="zram1",
        size="ram / 4",
        algorithm="zstd",
        algorithm_params="level=3",
        mem_limit="1G",
        priority=50,
        persist=True,
    )
    assert zram.build_argv(p) == [
        "zram",
        "create",
        "--device",
        "zram1",
        "--size",
        "ram / 4",
        "--algorithm",
        "zstd",
        "--algorithm-params",
        "level=3",
        "--mem-limit",
        "1G",
        "--priority",
        "50",
        "--persist",
    ]
    assert zram.build_argv(params(zram, persist=True, persist_via="udev"))[-3:] == [
        "--persist",
        "--persist-via",
        "udev",
    ]


def test_zram_absent_is_remove_and_needs_a_device() -> None:
    assert zram.build_argv(params(zram, device="zram0", state="absent", force=True)) == [
        "zram",
        "remove",
        "zram0",
        "--force",
    ]
    with pytest.raises(ValueError, match="device"):
        zram.build_argv(params(zram, state="absent"))


# --- apply and facts ------------------------------------------------------------------------------------


def test_apply_takes_the_src_or_the_file_the_inline_state_was_written_to() -> None:
    assert apply.build_argv(params(apply, src="/etc/swap.yml")) == ["apply", "/etc/swap.yml"]
    assert apply.build_argv(params(apply, state={"persist": False}), "/tmp/x/state.yml") == [
        "apply",
        "/tmp/x/state.yml",
    ]
    with pytest.raises(ValueError):
        apply.build_argv(params(apply))


def test_apply_writes_the_inline_state_as_yaml_that_reads_back_the_same() -> None:
    import yaml

    state = {"swapfiles": [{"path": "/swapfile", "size": "2G"}], "vm": {"min_free_kbytes": ">=65536"}, "persist": True}
    assert yaml.safe_load(apply.state_text(state)) == state


def test_facts_run_list_vm_get_watermarks_and_doctor_with_no_interval() -> None:
    argvs = swapctl_facts.build_argvs(params(swapctl_facts, state_dir="/st"))
    base = ["swapctl", "--state-dir", "/st", "-o", "json"]
    assert argvs == {
        "list": [*base, "list"],
        "vm": [*base, "vm", "get"],
        "watermarks": [*base, "watermarks"],
        "doctor": [*base, "doctor", "--interval", "0"],
    }
    assert swapctl_facts.DOCTOR_FINDINGS == 4


def test_facts_read_a_root_tree_when_given_one() -> None:
    argvs = swapctl_facts.build_argvs(params(swapctl_facts, root="/snap/db1"), ["/usr/bin/swapctl"])
    assert all(argv[:5] == ["/usr/bin/swapctl", "--root", "/snap/db1", "-o", "json"] for argv in argvs.values())


WATERMARKS = {
    "page_size": 4096,
    "settings": {"min_free_kbytes": 67584},
    "zones": [
        {"node": 0, "zone": "DMA32", "free": 237856, "min": 8131, "low": 10163, "high": 12195, "promo": 14227,
         "boost": 0, "managed": 244285, "protection": [0, 0], "state": "above_high"},
        {"node": 0, "zone": "Normal", "free": 0, "min": 0, "low": 0, "high": 0, "managed": 0, "state": "empty"},
        {"node": 1, "zone": "DMA32", "free": 11000, "min": 8636, "low": 10795, "high": 12954, "managed": 257892,
         "state": "between_low_high"},
        {"node": 1, "zone": "Normal", "free": 9000, "min": 8000, "low": 10000, "high": 12000, "managed": 90000,
         "state": "below_low"},
        {"node": 2, "zone": "Normal", "free": 10, "min": 8000, "low": 10000, "high": 12000, "managed": 90000,
         "state": "below_min"},
    ],
    "nodes": [
        {"node": 0, "free": 237856, "min": 8131, "low": 10163, "high": 12195, "managed": 244285, "free_bytes": 1},
        {"node": 1, "free": 20000, "min": 16636, "low": 20795, "high": 24954, "managed": 347892},
    ],
    "totals": {"free": 1},
}  # fmt: skip


def test_facts_summarise_the_watermarks_per_zone_and_node_from_swapctls_zone_state() -> None:
    got = swapctl_facts.facts({}, {}, {}, WATERMARKS)["watermarks"]
    assert got["page_size"] == 4096
    assert got["zones"][0] == {
        "node": 0,
        "zone": "DMA32",
        "free": 237856,
        "min": 8131,
        "low": 10163,
        "high": 12195,
        "state": "above_high",
        "below_low": False,
    }
    assert [(z["node"], z["zone"], z["below_low"]) for z in got["zones"]] == [
        (0, "DMA32", False),
        (0, "Normal", False),  # empty: no pages to be below anything
        (1, "DMA32", False),  # between low and high: kswapd is not woken
        (1, "Normal", True),
        (2, "Normal", True),  # below min is below low too
    ]
    assert got["below_low"] == ["1/Normal", "2/Normal"]
    assert got["nodes"] == [
        {"node": 0, "free": 237856, "min": 8131, "low": 10163, "high": 12195},
        {"node": 1, "free": 20000, "min": 16636, "low": 20795, "high": 24954},
    ]
    assert swapctl_facts.facts({}, {}, {})["watermarks"] == {
        "page_size": None,
        "zones": [],
        "nodes": [],
        "below_low": [],
    }


def test_facts_from_the_envelopes_data() -> None:
    listing = {"areas": [{"path": "/sf"}], "total": 10, "used": 1, "mem_total": 100, "mem_available": 50}
    vm_data = {
        "kernel": "6.1",
        "boot_tool": "procps",
        "settings": [
            {"key": "vm.swappiness", "value": 13, "boot_value": 60, "boot_source": "kernel default", "drift": True},
            {"key": "vm.page-cluster", "value": 3, "boot_value": 3, "boot_source": "kernel default", "drift": False},
        ],
    }
    doctor = {
        "worst": "critical",
        "findings": [
            {"id": "pending-transaction", "severity": "critical", "subject": "tx-1", "summary": "s", "fix": ["f"]},
            {"id": "no-swap", "severity": "warning", "subject": None, "summary": "t"},
        ],
    }
    got = swapctl_facts.facts(listing, vm_data, doctor)
    assert got["areas"] == [{"path": "/sf"}] and got["swap_total"] == 10 and got["swap_used"] == 1
    assert got["vm"]["vm.swappiness"] == {
        "value": 13,
        "boot_value": 60,
        "boot_source": "kernel default",
        "drift": True,
        "available": True,
    }
    assert got["drift"] == ["vm.swappiness"]
    assert got["pending_transaction"] == "tx-1" and got["worst"] == "critical" and got["kernel"] == "6.1"
    assert [f["id"] for f in got["findings"]] == ["pending-transaction", "no-swap"]
    assert swapctl_facts.facts({}, {}, {})["pending_transaction"] is None


# --- the diff, and the result ---------------------------------------------------------------------------


def test_swapctl_diff_in_ansible_format_one_entry_per_file_then_one_for_the_values() -> None:
    diff = {
        "files": [{"path": "/etc/fstab", "before": "# a\n", "after": "# a\n/sf none swap defaults 0 0\n"}],
        "values": [
            {"what": "/sf", "before": "absent", "after": "a 16 MiB swap file"},
            {"what": "vm.swappiness", "before": 60, "after": 10},
            {"what": "x", "before": None, "after": [1, 2]},
        ],
    }
    assert utils.ansible_diff(diff) == [
        {
            "before_header": "/etc/fstab",
            "after_header": "/etc/fstab",
            "before": "# a\n",
            "after": "# a\n/sf none swap defaults 0 0\n",
        },
        {
            "before_header": "values",
            "after_header": "values",
            "before": "/sf: absent\nvm.swappiness: 60\nx: (none)\n",
            "after": "/sf: a 16 MiB swap file\nvm.swappiness: 10\nx: [1, 2]\n",
        },
    ]


def test_a_new_file_diffs_from_empty_and_no_diff_is_an_empty_list() -> None:
    new = utils.ansible_diff({"files": [{"path": "/etc/sysctl.d/90-swapctl.conf", "before": None, "after": "x\n"}]})
    assert new == [
        {
            "before_header": "/etc/sysctl.d/90-swapctl.conf",
            "after_header": "/etc/sysctl.d/90-swapctl.conf",
            "before": "",
            "after": "x\n",
        }
    ]
    assert utils.ansible_diff(None) == [] and utils.ansible_diff({"files": [], "values": []}) == []


def test_the_result_passes_swapctls_verdict_through_and_a_diff_only_in_diff_mode() -> None:
    envelope = {
        "changed": True,
        "dry_run": True,
        "transaction": None,
        "actions": [{"step": "sysctl-write", "description": "set vm.swappiness: 60 -> 10", "status": "planned"}],
        "data": {"settings": []},
        "warnings": ["w"],
        "diff": {"files": [], "values": [{"what": "vm.swappiness", "before": 60, "after": 10}]},
    }
    res = utils.result(envelope, False, ["swapctl"])
    assert res["changed"] is True and res["dry_run"] is True and res["transaction"] is None
    assert res["actions"] == envelope["actions"] and res["warnings"] == ["w"] and "diff" not in res
    assert utils.result(envelope, True)["diff"][0]["after"] == "vm.swappiness: 10\n"
    quiet = utils.result({"changed": False, "actions": [], "transaction": None}, True)
    assert quiet["changed"] is False and quiet["diff"] == [] and "warnings" not in quiet


def test_the_modules_copy_no_swapctl_and_run_no_shell() -> None:
    root = COLLECTIONS / "ansible_collections" / "swapctl" / "swap" / "plugins"
    for path in [*root.glob("modules/*.py"), *root.glob("module_utils/*.py")]:
        text = path.read_text()
        assert not re.search(r"^\s*(import swapctl\b|from swapctl[. ])", text, re.M), path
        assert "use_unsafe_shell" not in text and "shell=True" not in text, path
        if path.parent.name == "modules":
            for name in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
                assert f'\n{name} = r"""' in text, (path, name)


# --- through a real AnsibleModule, swapctl replaced by a recorded run_command -----------------------------


def module_args(monkeypatch, args: dict[str, Any]) -> None:
    """The module's parameters as Ansible hands them over (what ansible.module_utils.testing does in 2.19)."""
    from ansible.module_utils import basic

    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
    if hasattr(basic, "_ANSIBLE_PROFILE"):
        monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy")


def run_module(
    module: Any, args: dict[str, Any], reply: tuple[int, str, str], tmp_path: Path, monkeypatch, capsys
) -> tuple[list[list[str]], dict[str, Any]]:
    """main() with `args` (and _ansible_check_mode/_ansible_diff as given): (the argv lists run, the result)."""
    from ansible.module_utils import basic

    program = tmp_path / "swapctl"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    ran: list[list[str]] = []

    def fake_run_command(self, argv, *a, **kw):
        assert isinstance(argv, list), "argv, never a shell string"
        ran.append(argv)
        return reply

    monkeypatch.setattr(basic.AnsibleModule, "run_command", fake_run_command)
    module_args(monkeypatch, {"swapctl": str(program), "_ansible_tmpdir": str(tmp_path), **args})
    with pytest.raises(SystemExit):
        module.main()
    return ran, json.loads(capsys.readouterr().out)


ENVELOPE = {
    "ok": True,
    "changed": True,
    "dry_run": True,
    "transaction": None,
    "actions": [{"step": "sysctl-write", "description": "set vm.swappiness: 60 -> 10", "status": "planned"}],
    "data": {},
    "warnings": [],
    "error": None,
    "diff": {"files": [], "values": [{"what": "vm.swappiness", "before": 60, "after": 10}]},
}


def test_check_and_diff_mode_reach_swapctl_as_dry_run_and_diff(tmp_path: Path, monkeypatch, capsys) -> None:
    args = {"settings": {"vm.swappiness": 10}, "_ansible_check_mode": True, "_ansible_diff": True}
    ran, res = run_module(vm, args, (0, json.dumps(ENVELOPE), ""), tmp_path, monkeypatch, capsys)
    assert ran == [[str(tmp_path / "swapctl"), "-o", "json", "vm", "set", "vm.swappiness=10", "--dry-run", "--diff"]]
    assert res["changed"] is True and res["actions"] == ENVELOPE["actions"] and res["transaction"] is None
    assert res["diff"] == [
        {
            "before_header": "values",
            "after_header": "values",
            "before": "vm.swappiness: 60\n",
            "after": "vm.swappiness: 10\n",
        }
    ]


def test_a_plain_run_has_neither_flag_and_no_diff(tmp_path: Path, monkeypatch, capsys) -> None:
    envelope = {**ENVELOPE, "dry_run": False, "transaction": "20261203-1"}
    args = {"path": "/swapfile", "size": "2G", "state_dir": "/var/tmp/st"}
    ran, res = run_module(swapfile, args, (0, json.dumps(envelope), ""), tmp_path, monkeypatch, capsys)
    assert ran[0][1:] == [
        "--state-dir",
        "/var/tmp/st",
        "-o",
        "json",
        "create",
        "/swapfile",
        "--size",
        "2G",
        "--persist",
    ]
    assert res["changed"] is True and res["transaction"] == "20261203-1" and "diff" not in res


def test_a_swapctl_error_fails_with_its_one_line_message_and_exit_code(tmp_path: Path, monkeypatch, capsys) -> None:
    envelope = {**ENVELOPE, "ok": False, "changed": False, "diff": None}
    envelope["error"] = {"message": "size 'banana' is not a size", "hint": "write it like 512M", "code": 2}
    stderr = "swapctl: error: size 'banana' is not a size\nhint: write it like 512M\n"
    args = {"path": "/swapfile", "size": "banana"}
    ran, res = run_module(swapfile, args, (2, json.dumps(envelope), stderr), tmp_path, monkeypatch, capsys)
    assert res["failed"] is True and res["msg"] == "size 'banana' is not a size" and res["rc"] == 2
    assert res["hint"] == "write it like 512M"


def test_facts_take_doctors_exit_4_as_findings_not_failure(tmp_path: Path, monkeypatch, capsys) -> None:
    doctor = {**ENVELOPE, "ok": False, "changed": False, "diff": None}
    doctor["data"] = {"findings": [{"id": "no-swap", "severity": "warning"}], "worst": "warning"}
    replies = iter(
        [
            (0, json.dumps({**ENVELOPE, "changed": False, "data": {"areas": [], "total": 0}}), ""),
            (0, json.dumps({**ENVELOPE, "changed": False, "data": {"settings": []}}), ""),
            (0, json.dumps({**ENVELOPE, "changed": False, "data": WATERMARKS}), ""),
            (4, json.dumps(doctor), "swapctl: error: 1 finding at warning or above: no-swap\n"),
        ]
    )
    from ansible.module_utils import basic

    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, *a, **kw: next(replies))
    module_args(monkeypatch, {"swapctl": sys.executable, "_ansible_check_mode": True})
    with pytest.raises(SystemExit):
        swapctl_facts.main()
    res = json.loads(capsys.readouterr().out)
    assert "failed" not in res and res["changed"] is False
    assert res["ansible_facts"]["swapctl"]["findings"][0]["id"] == "no-swap"
    assert res["ansible_facts"]["swapctl"]["worst"] == "warning"
    assert res["ansible_facts"]["swapctl"]["watermarks"]["below_low"] == ["1/Normal", "2/Normal"]


def test_a_missing_swapctl_says_how_to_install_it(tmp_path: Path, monkeypatch, capsys) -> None:
    module_args(monkeypatch, {"swapctl": str(tmp_path / "nope" / "swapctl"), "settings": {"swappiness": 1}})
    with pytest.raises(SystemExit):
        vm.main()
    res = json.loads(capsys.readouterr().out)
    assert res["failed"] is True and res["rc"] == 127
    assert "dist/swapctl.pyz" in res["msg"] and "tools/build-pyz" in res["msg"] and "pip install" in res["msg"]
