"""vm set plans on fake roots made from real kernel recordings: writes, persistence, all-or-none, the
safety policy, and the compare-and-swap undo that rollback relies on."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from swapctl.core.errors import OperationFailed, Refused, UsageError
from swapctl.core.journal import Journal
from swapctl.core.plan import Step, UndoContext, execute
from swapctl.kernel.knobs import KNOBS
from swapctl.ops.vm import read_state
from swapctl.ops.vm_set import PERSIST_FILE, SysctlPersist, SysctlWrite, build_set_plan
from swapctl.system.host import Host
from tests.fakes import FakeRunner, fake_host, make_root

RECORDING = "kernel-recordings/6.12/n2-1g-1g/step0/root"
SMALL = "kernel-recordings/6.1/n1-512m/step0/root"


def machine(fixtures: Path, tmp_path: Path, recording: str = RECORDING) -> Path:
    root = tmp_path / "root"
    shutil.copytree(fixtures / recording, root)
    release = (root / "proc/sys/kernel/osrelease").read_text().strip()
    make_root(root, osrelease=release, meminfo=(root / "proc/meminfo").read_text())
    return root


def config_file(root: Path, path: str, text: str) -> Path:
    """Write a config file (fstab, sysctl.d) of the fake machine, making its directory."""
    f = root / path.lstrip("/")
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text)
    return f


def vm(root: Path, name: str) -> int:
    return int((root / "proc/sys/vm" / name).read_text())


def journal_for(host: Host) -> Journal:
    return Journal(host.paths.state_dir, boot_id=host.boot_id(), kernel=host.kernel_release())


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def env(fixtures: Path, tmp_path: Path):
    root = machine(fixtures, tmp_path)
    host = fake_host(root)
    return root, host, journal_for(host)


def run(host: Host, journal: Journal, *texts: str, persist: bool = False, force: bool = False, dry_run: bool = False):
    plan = build_set_plan(host, list(texts), persist=persist, force=force)
    out = execute(plan, host, journal, dry_run=dry_run)
    return plan, out


def test_set_writes_each_value_and_journals_old_and_new_with_the_boot_id(env) -> None:
    root, host, journal = env
    assert vm(root, "swappiness") == 60
    plan, out = run(host, journal, "vm.swappiness=10", "watermark_scale_factor=200")
    assert out.changed and vm(root, "swappiness") == 10 and vm(root, "watermark_scale_factor") == 200
    assert [r["read_back"] for r in plan.data["settings"]] == [10, 200]
    (tx,) = journal.transactions()
    assert tx.status == "committed" and tx.boot_id == host.boot_id() != ""
    assert [(s.step["params"]["value"], s.record["old"]) for s in tx.steps] == [(10, 60), (200, 10)]


def test_setting_the_value_already_in_force_plans_nothing_and_journals_nothing(env) -> None:
    root, host, journal = env
    plan, out = run(host, journal, "swappiness=60", "zone_reclaim_mode=0")
    assert plan.steps == [] and out.changed is False and out.transaction is None
    assert not journal.path.exists()
    assert [r["changed"] for r in plan.data["settings"]] == [False, False]


def test_dry_run_writes_no_file_and_no_journal(env) -> None:
    root, host, journal = env
    before = files_under(root)
    plan, out = run(host, journal, "swappiness=10", "page-cluster=0", persist=True, dry_run=True)
    assert out.dry_run and out.changed and [a["status"] for a in out.actions] == ["planned"] * 3
    assert files_under(root) == before
    assert not journal.path.exists()


def test_a_real_run_reports_that_it_was_not_a_dry_run(env) -> None:
    # scripts read the envelope's dry_run to tell a prediction from a change
    root, host, journal = env
    _, out = run(host, journal, "swappiness=10")
    assert out.dry_run is False and out.changed and vm(root, "swappiness") == 10


def test_vm_set_on_top_of_a_pending_transaction_is_refused_and_changes_nothing(env) -> None:
    # vm set's planner does not look at the journal: the refusal under execute()'s lock is the only guard that
    # keeps a change from landing on top of a crash's half-done transaction.
    from swapctl.ops.swapfile import CreateFile

    root, host, journal = env
    with journal.locked():
        tx = journal.begin("create", {})
        journal.intent(tx, 0, CreateFile(path="/swapfile", nocow=False), {})
    before = files_under(root)
    plan = build_set_plan(host, ["swappiness=10"], persist=True, force=False)
    with pytest.raises(Refused, match="pending") as err:
        execute(plan, host, journal)
    assert f"swapctl rollback {tx}" in (err.value.hint or "")
    assert vm(root, "swappiness") == 60 and files_under(root) == before


def test_raise_only_leaves_a_higher_value_alone_and_raises_a_lower_one(env) -> None:
    root, host, journal = env
    assert vm(root, "min_free_kbytes") == 67584
    plan, out = run(host, journal, "min_free_kbytes=>16384")
    assert plan.steps == [] and not out.changed
    plan, out = run(host, journal, "min_free_kbytes=>100000")
    assert out.changed and vm(root, "min_free_kbytes") == 100000


def test_lower_only_leaves_a_lower_value_alone(env) -> None:
    root, host, journal = env
    plan, _ = run(host, journal, "swappiness=<80")
    assert plan.steps == []
    run(host, journal, "swappiness=<20")
    assert vm(root, "swappiness") == 20


def test_raise_only_is_re_decided_under_the_lock_when_another_run_got_there_first(env) -> None:
    root, host, journal = env
    plan = build_set_plan(host, ["swappiness=>90"], persist=False, force=False)
    (root / "proc/sys/vm/swappiness").write_text("95\n")  # another swapctl, between plan and execute
    out = execute(plan, host, journal)
    assert vm(root, "swappiness") == 95
    assert plan.data["settings"][0]["changed"] is False
    assert out.changed is False and [a["status"] for a in out.actions] == ["skipped"]
    assert any("already 95" in w for w in plan.warnings)


# --- safety policy ---------------------------------------------------------------------------------------
def test_min_free_kbytes_above_the_safe_share_is_refused_naming_the_limit(fixtures, tmp_path) -> None:
    root = machine(fixtures, tmp_path, SMALL)
    host = fake_host(root)
    state = read_state(host, [KNOBS["min_free_kbytes"]])
    limit = state.min_free.safe_limit
    # 5% of the 512 MiB machine's lowmem: 262144 (measured to panic it) is far above it.
    assert 20000 < limit < 30000
    with pytest.raises(Refused) as exc:
        build_set_plan(host, ["min_free_kbytes=262144"], persist=False, force=False)
    assert exc.value.code == 3 and f"{limit} kB" in exc.value.message and "5%" in exc.value.message
    assert "--force" in (exc.value.hint or "")
    plan = build_set_plan(host, [f"min_free_kbytes={limit}"], persist=False, force=False)
    assert len(plan.steps) == 1
    forced = build_set_plan(host, ["min_free_kbytes=262144"], persist=False, force=True)
    assert len(forced.steps) == 1 and any("--force" in w for w in forced.warnings)


def test_a_very_low_min_free_kbytes_warns(env) -> None:
    _, host, _ = env
    plan = build_set_plan(host, ["min_free_kbytes=64"], persist=False, force=False)
    assert any("below the kernel's own default" in w for w in plan.warnings)


def test_the_value_the_kernel_booted_with_is_not_called_below_its_default(fixtures, tmp_path) -> None:
    # The default is estimated from today's managed pages (2737 kB here), the kernel chose 2711 at boot.
    root = machine(fixtures, tmp_path, SMALL)
    host = fake_host(root)
    booted = vm(root, "min_free_kbytes")
    for text in (f"min_free_kbytes={booted}", "min_free_kbytes=>2048"):
        plan = build_set_plan(host, [text], persist=False, force=False)
        assert not [w for w in plan.warnings if "below the kernel's own default" in w]


def test_a_key_this_kernel_lacks_is_a_usage_error(env) -> None:
    root, host, _ = env
    (root / "proc/sys/vm/zone_reclaim_mode").unlink()  # a kernel built without CONFIG_NUMA
    with pytest.raises(UsageError, match="CONFIG_NUMA"):
        build_set_plan(host, ["zone_reclaim_mode=1"], persist=False, force=False)


def test_zone_reclaim_mode_on_one_node_warns_that_it_has_no_effect(fixtures, tmp_path) -> None:
    host = fake_host(machine(fixtures, tmp_path, SMALL))
    plan = build_set_plan(host, ["zone_reclaim_mode=1"], persist=False, force=False)
    assert any("one NUMA node" in w for w in plan.warnings)


# --- all or none -----------------------------------------------------------------------------------------
class FailingHost(Host):
    """A Host whose /proc/sys write of one key fails as the kernel would (EINVAL)."""

    fail_key: str = ""
    adjust: dict[str, str] = {}

    def write_sysctl(self, path: str, value: str) -> None:
        name = path.rsplit("/", 1)[-1]
        if name == self.fail_key:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
        super().write_sysctl(path, self.adjust.get(name, value))


def failing_host(root: Path, fail_key: str = "", adjust: dict[str, str] | None = None) -> FailingHost:
    base = fake_host(root)
    host = FailingHost(paths=base.paths, runner=FakeRunner(base.paths), uid=0, page_size=4096, live=True)
    host.fail_key, host.adjust = fail_key, adjust or {}
    return host


def test_a_write_the_kernel_rejects_restores_the_keys_already_written_and_exits_1(env) -> None:
    root, _, journal = env
    host = failing_host(root, "watermark_scale_factor")
    with pytest.raises(OperationFailed) as exc:
        run(host, journal, "swappiness=10", "page-cluster=1", "watermark_scale_factor=100")
    assert exc.value.code == 1 and "vm.watermark_scale_factor" in exc.value.message
    assert (vm(root, "swappiness"), vm(root, "page-cluster"), vm(root, "watermark_scale_factor")) == (60, 3, 10)
    (tx,) = journal.transactions()
    assert tx.status == "aborted" and [s.undone for s in tx.steps[:2]] == [True, True]
    assert [a["status"] for a in exc.value.data["actions"]] == ["undone", "undone", "failed"]


def test_a_value_the_kernel_adjusts_is_reported(env) -> None:
    root, _, journal = env
    host = failing_host(root, adjust={"swappiness": "11"})
    plan, _ = run(host, journal, "swappiness=10")
    row = plan.data["settings"][0]
    assert row["read_back"] == 11 and row["adjusted"] is True
    assert any("adjusted vm.swappiness" in w and "reads back 11" in w for w in plan.warnings)


# --- undo: compare and swap ---------------------------------------------------------------------------------
def _only_step(journal: Journal) -> tuple[Step, dict]:
    (tx,) = journal.transactions()
    (s,) = tx.steps
    return Step.from_record(s.step), s.record


def test_undo_restores_the_old_value_only_while_it_is_still_swapctls(env) -> None:
    root, host, journal = env
    run(host, journal, "swappiness=10")
    step, record = _only_step(journal)  # rebuilt from the journal, as rollback does
    assert isinstance(step, SysctlWrite) and step.runtime is True
    ctx = UndoContext()
    step.check_undo(host, record, ctx)
    step.undo(host, record, ctx)
    assert vm(root, "swappiness") == 60
    step.undo(host, record, ctx)  # idempotent: already undone
    step.check_undo(host, record, ctx)
    assert vm(root, "swappiness") == 60


def test_undo_refuses_when_someone_changed_the_value_since_naming_key_expected_and_found(env) -> None:
    root, host, journal = env
    run(host, journal, "swappiness=10")
    (root / "proc/sys/vm/swappiness").write_text("35\n")
    step, record = _only_step(journal)
    with pytest.raises(Refused) as exc:
        step.check_undo(host, record, UndoContext())
    msg = exc.value.message
    assert exc.value.code == 3 and "vm.swappiness" in msg and "35" in msg and "10" in msg
    with pytest.raises(Refused):
        step.undo(host, record, UndoContext())
    assert vm(root, "swappiness") == 35
    forced = UndoContext(force=True)
    step.check_undo(host, record, forced)
    step.undo(host, record, forced)
    assert vm(root, "swappiness") == 60


def test_a_rollback_lists_each_step_it_will_undo(env) -> None:
    from swapctl.ops import rollback as rb

    root, host, journal = env
    run(host, journal, "swappiness=10", "page-cluster=0")
    actions = rb.plan_rollback(host, journal, None).actions("planned")
    assert [a["step"] for a in actions] == [SysctlWrite.kind, SysctlWrite.kind]
    assert all(a["status"] == "planned" for a in actions)


def test_undo_of_a_runtime_value_from_an_earlier_boot_changes_nothing(env) -> None:
    root, host, journal = env
    run(host, journal, "swappiness=10")
    step, record = _only_step(journal)
    ctx = UndoContext(same_boot=False)
    step.undo(host, record, ctx)
    assert vm(root, "swappiness") == 10 and any("rebooted" in n for n in ctx.notes)


# --- persistence ---------------------------------------------------------------------------------------------
def test_persist_writes_one_line_per_key_keeps_other_lines_and_is_idempotent(env) -> None:
    root, host, journal = env
    conf = config_file(
        root, PERSIST_FILE, "# admin notes\nkernel.pid_max = 65536\nvm.swappiness = 5\nvm.swappiness = 6\n"
    )
    run(host, journal, "swappiness=10", "page-cluster=0", persist=True)
    assert conf.read_text() == ("# admin notes\nkernel.pid_max = 65536\nvm.swappiness = 10\nvm.page-cluster = 0\n")
    plan, out = run(host, journal, "swappiness=10", "page-cluster=0", persist=True)
    assert plan.steps == [] and not out.changed


def test_persist_creates_the_file_and_directory_0644_and_its_undo_removes_the_file(env) -> None:
    root, host, journal = env
    conf = root / PERSIST_FILE.lstrip("/")
    assert not conf.exists()
    run(host, journal, "swappiness=10", persist=True)
    assert "vm.swappiness = 10\n" in conf.read_text() and (conf.stat().st_mode & 0o777) == 0o644
    (tx,) = journal.transactions()
    for s in reversed(tx.steps):
        step = Step.from_record(s.step)
        step.check_undo(host, s.record, UndoContext())
        step.undo(host, s.record, UndoContext())
    assert not conf.exists() and vm(root, "swappiness") == 60


def test_persist_undo_after_an_admin_edit_reverts_only_swapctls_line(env) -> None:
    root, host, journal = env
    conf = config_file(root, PERSIST_FILE, "vm.swappiness = 30\n")
    run(host, journal, "swappiness=10", "page-cluster=1", persist=True)
    conf.write_text(conf.read_text() + "vm.vfs_cache_pressure = 50\n")  # the admin, later
    (tx,) = journal.transactions()
    persist = next(s for s in tx.steps if s.step["kind"] == SysctlPersist.kind)
    ctx = UndoContext()
    Step.from_record(persist.step).undo(host, persist.record, ctx)
    assert conf.read_text() == "vm.swappiness = 30\nvm.vfs_cache_pressure = 50\n"
    assert any("edited since" in n for n in ctx.notes)


def test_persist_warns_naming_a_later_file_that_wins_at_boot(env) -> None:
    root, host, journal = env
    config_file(root, "/etc/sysctl.d/99-sysctl.conf", "vm.swappiness = 1\n")
    plan, _ = run(host, journal, "swappiness=10", persist=True)
    (w,) = [w for w in plan.warnings if "wins at boot" in w]
    assert "/etc/sysctl.d/99-sysctl.conf" in w and "vm.swappiness = 1" in w
    assert "systemd-sysctl" in w and "sysctl --system" in w  # both appliers, by their names


def test_without_persist_a_runtime_change_warns_what_the_next_boot_will_apply(env) -> None:
    root, host, journal = env
    config_file(root, "/usr/lib/sysctl.d/50-vendor.conf", "vm.swappiness = 40\n")
    plan, _ = run(host, journal, "swappiness=10")
    assert any("/usr/lib/sysctl.d/50-vendor.conf sets vm.swappiness = 40" in w for w in plan.warnings)


def test_without_persist_the_hint_names_the_later_file_when_persist_would_not_win(env) -> None:
    root, host, journal = env
    config_file(root, "/etc/sysctl.d/99-sysctl.conf", "vm.swappiness = 30\n")
    plan, _ = run(host, journal, "swappiness=10")
    (w,) = [w for w in plan.warnings if "99-sysctl.conf" in w]
    assert "edit /etc/sysctl.d/99-sysctl.conf" in w and "add --persist" not in w


def test_a_raise_only_persist_writes_nothing_when_the_boot_value_already_meets_it(env) -> None:
    # The kernel's own default at boot is above the bound: pinning today's value would stop the kernel from
    # choosing (e.g. more after a memory upgrade), which "only ever raise it" never asked for.
    root, host, journal = env
    current = vm(root, "swappiness")
    assert current == 60
    plan, out = run(host, journal, "swappiness=>20", persist=True)
    assert plan.steps == [] and not out.changed
    assert not (root / PERSIST_FILE.lstrip("/")).exists()


def test_a_raise_only_persist_writes_the_bound_where_the_boot_value_would_not_meet_it(env) -> None:
    root, host, journal = env
    config_file(root, "/usr/lib/sysctl.d/50-vendor.conf", "vm.swappiness = 5\n")
    plan, out = run(host, journal, "swappiness=>20", persist=True)
    assert vm(root, "swappiness") == 60  # already above at runtime: left alone
    assert "vm.swappiness = 20" in (root / PERSIST_FILE.lstrip("/")).read_text()


def test_a_lower_only_persist_is_held_to_the_safe_limit_like_a_set(env) -> None:
    # =<N writes N itself to sysctl.d when the boot value is above it: N must pass the same limit.
    root, host, journal = env
    config_file(root, "/etc/sysctl.d/10-site.conf", "vm.min_free_kbytes = 3000000\n")
    with pytest.raises(Refused, match="safe limit"):
        build_set_plan(host, ["min_free_kbytes=<2000000"], persist=True, force=False)


def test_without_persist_no_advice_when_the_boot_value_already_meets_the_bound(env) -> None:
    root, host, journal = env
    config_file(root, "/etc/sysctl.d/10-site.conf", "vm.swappiness = 100\n")
    plan = build_set_plan(host, ["swappiness=>80"], persist=False, force=False)
    assert not [w for w in plan.warnings if "10-site.conf" in w]
    plan = build_set_plan(host, ["swappiness=>120"], persist=False, force=False)
    assert [w for w in plan.warnings if "10-site.conf" in w and "add --persist" in w]


def test_the_journal_stays_json_lines(env) -> None:
    root, host, journal = env
    run(host, journal, "swappiness=10", persist=True)
    run(host, journal, "swappiness=20", persist=True)
    lines = journal.path.read_text().splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)


def test_a_sysctl_d_directory_made_by_persist_goes_again_with_the_rollback(env) -> None:
    from swapctl.ops import rollback as rb

    root, host, journal = env
    shutil.rmtree(root / "etc/sysctl.d", ignore_errors=True)
    run(host, journal, "swappiness=11", persist=True)
    assert (root / "etc/sysctl.d/90-swapctl.conf").exists()
    plan = rb.plan_rollback(host, journal, None)
    with journal.locked():
        rb.run_rollback(host, journal, plan)
    assert not (root / "etc/sysctl.d").exists() and vm(root, "swappiness") == 60
