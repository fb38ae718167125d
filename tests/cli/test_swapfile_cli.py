"""The command line as a script sees it: exit codes, the JSON envelope, stdout for data only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes import fake_host


def env_of(result) -> dict:
    return json.loads(result.stdout)


def test_create_reports_changed_then_unchanged_in_json(cli, root: Path) -> None:
    first = cli("-o", "json", "create", "/swapfile", "--size", "16M")
    assert first.exit_code == 0, first.output
    doc = env_of(first)
    assert doc["ok"] and doc["changed"] and doc["transaction"] and doc["error"] is None
    assert [a["step"] for a in doc["actions"]] == ["create-file", "allocate", "mkswap", "swapon", "fstab-set"]
    second = cli("create", "/swapfile", "--size", "16M", "-o", "json")
    assert second.exit_code == 0 and env_of(second)["changed"] is False


def test_dry_run_says_what_it_would_do_and_does_nothing(cli, root: Path, host) -> None:
    result = cli("create", "/swapfile", "--size", "16M", "--dry-run", "-o", "json")
    doc = env_of(result)
    assert result.exit_code == 0 and doc["dry_run"] and doc["changed"]
    assert not (root / "swapfile").exists() and host.runner.calls == []


def test_dry_run_in_a_table_says_nothing_was_changed(cli) -> None:
    result = cli("create", "/swapfile", "--size", "16M", "--dry-run")
    assert "dry run: nothing was changed" in result.stdout


@pytest.mark.parametrize(
    "args,code",
    [
        (["create", "/swapfile", "--size", "zero"], 2),
        (["create", "relative", "--size", "16M"], 2),
        (["create", "/swapfile/", "--size", "16M"], 2),
        (["--state-dir", "relative/state", "list"], 2),
        (["create", "/swapfile", "--size", "16M", "--priority", "40000"], 2),
        (["create", "/swapfile", "--size", "16M", "--method", "dd"], 2),
        (["create", "/dev/shm/swapfile", "--size", "16M"], 3),
        (["create", "/proc/swapfile", "--size", "16M"], 3),
        (["create", "/nodir/swapfile", "--size", "16M"], 3),
        (["remove", "/etc/fstab"], 3),
        (["resize", "/swapfile", "--size", "32M"], 3),
        (["rollback", "nosuchid"], 2),
    ],
)
def test_bad_input_gets_one_line_and_a_documented_exit_code(cli, args: list[str], code: int) -> None:
    result = cli(*args)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("swapctl: error: ")
    assert "Traceback" not in result.output and result.stdout == ""


def test_errors_in_json_mode_still_give_the_envelope(cli) -> None:
    result = cli("-o", "json", "create", "/dev/shm/s", "--size", "16M")
    doc = env_of(result)
    assert result.exit_code == 3 and doc["ok"] is False and doc["error"]["code"] == 3
    assert "tmpfs" in doc["error"]["message"] and doc["error"]["hint"]


def test_a_failed_step_exits_1_and_rolls_back(cli, root: Path, host) -> None:
    host.runner.fail["mkswap"] = (1, "mkswap: error: something broke")
    fstab = (root / "etc/fstab").read_bytes()
    result = cli("-o", "json", "create", "/swapfile", "--size", "16M")
    doc = env_of(result)
    assert result.exit_code == 1 and "rolled back" in doc["error"]["message"]
    assert [a["status"] for a in doc["actions"]][:3] == ["undone", "undone", "failed"]
    assert not (root / "swapfile").exists() and (root / "etc/fstab").read_bytes() == fstab


def test_not_root_is_refused_with_exit_3(cli, root: Path) -> None:
    result = cli("create", "/swapfile", "--size", "16M", host_override=fake_host(root, uid=1000))
    assert result.exit_code == 3 and "root" in result.stderr


def test_list_shows_areas_with_bytes_and_management(cli) -> None:
    cli("create", "/swap file", "--size", "16M")
    doc = env_of(cli("list", "-o", "json"))
    (area,) = doc["data"]["areas"]
    encryption = area.pop("encryption")
    assert area == {
        "path": "/swap file",
        "type": "file",
        "size": 16 * 2**20 - 4096,
        "used": 0,
        "priority": -2,
        "managed": True,
        "persisted": True,
        "encrypted": None,  # the tree has no sysfs for its root device (/dev/vda): cannot tell
    }
    assert encryption["encrypted"] is None and "/dev/vda" in encryption["reason"]
    assert doc["data"]["mem_total"] > 0


def test_list_warns_about_a_swap_file_others_can_read(cli, root: Path) -> None:
    cli("create", "/swapfile", "--size", "16M")
    os.chmod(root / "swapfile", 0o644)
    doc = env_of(cli("list", "-o", "json"))
    assert any("chmod 600" in w for w in doc["warnings"])


def test_list_as_yaml(cli) -> None:
    import yaml

    result = cli("list", "-o", "yaml")
    assert yaml.safe_load(result.stdout)["command"] == "list"


def test_remove_then_remove_again(cli, root: Path) -> None:
    cli("create", "/swapfile", "--size", "16M")
    first = env_of(cli("remove", "/swapfile", "-o", "json"))
    assert first["changed"] and not (root / "swapfile").exists()
    again = cli("remove", "/swapfile", "-o", "json")
    assert again.exit_code == 0 and env_of(again)["changed"] is False


def test_rollback_undoes_the_newest_then_goes_further_back(cli, root: Path, host) -> None:
    fstab = (root / "etc/fstab").read_bytes()
    cli("create", "/swapfile", "--size", "16M", "--priority", "7")
    cli("remove", "/swapfile")
    back1 = env_of(cli("rollback", "-o", "json"))
    assert back1["changed"] and back1["data"]["target_command"] == "remove"
    assert [(a.path, a.priority) for a in host.swaps()] == [("/swapfile", 7)]
    assert (root / "swapfile").stat().st_size == 16 * 2**20
    back2 = env_of(cli("rollback", "-o", "json"))
    assert back2["data"]["target_command"] == "create"
    assert host.swaps() == [] and not (root / "swapfile").exists()
    assert (root / "etc/fstab").read_bytes() == fstab
    nothing = cli("rollback", "-o", "json")
    assert nothing.exit_code == 0 and env_of(nothing)["changed"] is False
    statuses = [t["status"] for t in env_of(cli("history", "-o", "json"))["data"]["transactions"]]
    assert statuses == ["committed", "committed", "rolled-back", "rolled-back"]


def test_rollback_dry_run_changes_nothing(cli, root: Path) -> None:
    cli("create", "/swapfile", "--size", "16M")
    doc = env_of(cli("rollback", "--dry-run", "-o", "json"))
    # changed says what the real run would do, as every dry run does (Ansible's check mode reads it).
    assert doc["dry_run"] and doc["changed"] and {a["status"] for a in doc["actions"]} == {"planned"}
    assert (root / "swapfile").exists()


def test_rollback_dry_run_with_nothing_to_undo_still_says_it_was_a_dry_run(cli) -> None:
    doc = env_of(cli("rollback", "--dry-run", "-o", "json"))
    assert doc["dry_run"] is True and doc["changed"] is False and doc["data"] == {"target": None}
    assert doc["warnings"] == ["nothing to roll back"]


def test_a_pending_transaction_blocks_changes_until_rolled_back(cli, root: Path, host, monkeypatch) -> None:
    from swapctl.core.journal import Journal
    from swapctl.ops.swapfile import CreateFile

    j = Journal(host.paths.state_dir, boot_id=host.boot_id())
    with j.locked():
        tx = j.begin("create", {})
        j.intent(tx, 0, CreateFile(path="/swapfile", nocow=False), {})
    (root / "swapfile").touch(mode=0o600)  # the crash came after the file was made
    blocked = cli("create", "/other", "--size", "16M")
    assert blocked.exit_code == 3 and "pending" in blocked.stderr and f"rollback {tx}" in blocked.stderr
    assert cli("rollback").exit_code == 0
    assert not (root / "swapfile").exists()
    assert cli("create", "/other", "--size", "16M").exit_code == 0


def test_version_and_help() -> None:
    out = subprocess.run([sys.executable, "-m", "swapctl", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("swapctl ")
    helped = subprocess.run([sys.executable, "-m", "swapctl", "--help"], capture_output=True, text=True)
    for cmd in ("create", "list", "remove", "resize", "history", "rollback"):
        assert cmd in helped.stdout


def test_an_internal_error_prints_one_line_and_a_crash_log(cli, host, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(host, "swaps", lambda: 1 / 0)
    result = cli("list")
    assert result.exit_code == 70 and "Traceback" not in result.output
    assert "crash log" in result.stderr and list(tmp_path.glob("swapctl-crash-*.log"))


def test_list_as_a_user_who_cannot_read_the_journal_still_lists_and_says_why_managed_is_unknown(
    cli, root: Path, monkeypatch
) -> None:
    # The journal is 0600 in a 0700 directory: `swapctl list` is for everyone, the journal for root.
    from swapctl.core.journal import Journal

    cli("create", "/swapfile", "--size", "16M")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self.path))

    monkeypatch.setattr(Journal, "entries", denied)
    result = cli("-o", "json", "list")
    doc = env_of(result)
    assert result.exit_code == 0, result.output
    assert [(a["path"], a["managed"]) for a in doc["data"]["areas"]] == [("/swapfile", None)]
    assert any("journal" in w and "root" in w for w in doc["warnings"])


def test_history_as_a_user_who_cannot_read_the_journal_says_it_needs_root(cli, root: Path, monkeypatch) -> None:
    from swapctl.core.journal import Journal

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self.path))

    monkeypatch.setattr(Journal, "entries", denied)
    result = cli("history", host_override=fake_host(root, uid=1000))
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0].startswith("swapctl: error: cannot access ")
    assert "hint: " in result.stderr and "root" in result.stderr.splitlines()[1]
