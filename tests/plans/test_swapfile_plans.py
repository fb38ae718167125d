"""Plans on a fake root with a fake runner: what gets created, refused, undone."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from swapctl.core.errors import Interrupted, OperationFailed, Refused, UsageError
from swapctl.core.journal import Journal
from swapctl.core.plan import execute
from swapctl.ops.swapfile import plan_create, plan_remove, plan_resize
from swapctl.system.faults import fault_hook
from tests.fakes import fake_host, make_root

MiB = 1 << 20


@pytest.fixture
def env(tmp_path: Path):
    root = make_root(tmp_path / "root")
    host = fake_host(root)
    journal = Journal(host.paths.state_dir, boot_id=host.boot_id(), kernel="6.18.0")
    return root, host, journal


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under the fake root (the journal aside), to show a failed plan left all as it was."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and "var/lib/swapctl" not in str(p):
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def test_create_makes_a_0600_swap_file_swaps_it_on_and_persists_it(env) -> None:
    root, host, journal = env
    out = execute(plan_create(host, journal, "/swapfile", "16M", priority=5), host, journal)
    assert out.changed
    f = root / "swapfile"
    assert f.stat().st_size == 16 * MiB and (f.stat().st_mode & 0o777) == 0o600
    assert host.swap_signature("/swapfile") is not None
    assert [(a.path, a.priority) for a in host.swaps()] == [("/swapfile", 5)]
    assert (root / "etc/fstab").read_text().endswith("/swapfile none swap defaults,pri=5 0 0\n")
    assert [c[0] for c in host.runner.calls] == ["mkswap", "swapon"]


def test_the_same_create_again_changes_nothing(env) -> None:
    _, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M"), host, journal)
    n = len(journal.transactions())
    plan = plan_create(host, journal, "/swapfile", "16M")
    out = execute(plan, host, journal)
    assert not out.changed and plan.steps == [] and len(journal.transactions()) == n


def test_create_again_without_options_keeps_the_priority_and_discard_it_was_made_with(env) -> None:
    root, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M", priority=10, discard=True), host, journal)
    fstab = (root / "etc/fstab").read_bytes()
    plan = plan_create(host, journal, "/swapfile", "16M")
    assert plan.steps == []
    assert (root / "etc/fstab").read_bytes() == fstab


def test_create_again_leaves_a_hand_written_line_that_means_the_same(env) -> None:
    root, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M", persist=False), host, journal)
    with open(root / "etc/fstab", "a") as fh:
        fh.write("/swapfile  none  swap  sw  0  0\n")
    assert plan_create(host, journal, "/swapfile", "16M").steps == []
    assert plan_create(host, journal, "/swapfile", "16M", discard=False).steps == []


def test_discard_on_an_active_area_is_refused_like_a_priority_so_fstab_and_the_area_never_disagree(env) -> None:
    root, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M", priority=10), host, journal)
    fstab = (root / "etc/fstab").read_bytes()
    with pytest.raises(Refused) as exc:
        plan_create(host, journal, "/swapfile", "16M", discard=True)
    assert "already active without discard" in exc.value.message
    assert "remove --keep-file /swapfile" in exc.value.hint and "--discard" in exc.value.hint
    assert (root / "etc/fstab").read_bytes() == fstab
    assert plan_create(host, journal, "/swapfile", "16M", discard=False).steps == []


def test_no_discard_on_an_area_that_runs_with_discard_is_refused_and_create_again_keeps_discard(env) -> None:
    root, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M", discard=True), host, journal)
    with pytest.raises(Refused) as exc:
        plan_create(host, journal, "/swapfile", "16M", discard=False)
    assert "already active with discard" in exc.value.message and "--no-discard" in exc.value.hint
    assert plan_create(host, journal, "/swapfile", "16M").steps == []
    assert (root / "etc/fstab").read_text().endswith("/swapfile none swap defaults,discard 0 0\n")


def test_an_active_area_without_a_line_is_persisted_at_the_priority_it_runs_with(env) -> None:
    root, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M", priority=7, persist=False), host, journal)
    execute(plan_create(host, journal, "/swapfile", "16M"), host, journal)
    assert (root / "etc/fstab").read_text().endswith("/swapfile none swap defaults,pri=7 0 0\n")


@pytest.mark.parametrize("exists", [False, True], ids=["new file", "inactive swap file"])
def test_create_swaps_on_with_the_priority_and_discard_its_fstab_line_asks_for(env, exists: bool) -> None:
    root, host, journal = env
    if exists:
        execute(plan_create(host, journal, "/swapfile", "16M", persist=False), host, journal)
        execute(plan_remove(host, journal, "/swapfile", keep_file=True), host, journal)
    with open(root / "etc/fstab", "a") as fh:
        fh.write("/swapfile none swap sw,pri=5,discard 0 0\n")
    fstab = (root / "etc/fstab").read_bytes()
    execute(plan_create(host, journal, "/swapfile", "16M"), host, journal)
    assert [(a.path, a.priority) for a in host.swaps()] == [("/swapfile", 5)]
    assert ["--discard" in c for c in host.runner.calls if c[0] == "swapon"][-1]
    assert (root / "etc/fstab").read_bytes() == fstab


def test_another_priority_for_an_active_area_is_refused_with_a_way_to_change_it(env) -> None:
    _, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M", priority=5), host, journal)
    with pytest.raises(Refused) as err:
        plan_create(host, journal, "/swapfile", "16M", priority=7)
    assert "priority 5" in err.value.message
    assert "resize" not in (err.value.hint or "") and "--priority 7" in (err.value.hint or "")


def test_an_inactive_valid_swap_file_is_only_swapped_on(env) -> None:
    root, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M", persist=False), host, journal)
    host.runner.run(["swapoff", str(root / "swapfile")])
    plan = plan_create(host, journal, "/swapfile", "16M", persist=False)
    assert [s.kind for s in plan.steps] == ["swapon"]


def test_dry_run_runs_no_command_and_writes_no_file(env) -> None:
    root, host, journal = env
    before = snapshot(root)
    out = execute(plan_create(host, journal, "/swapfile", "16M"), host, journal, dry_run=True)
    assert out.dry_run and out.changed and {a["status"] for a in out.actions} == {"planned"}
    assert host.runner.calls == [] and snapshot(root) == before
    assert not journal.path.exists()


@pytest.mark.parametrize("kind", ["create-file", "allocate", "mkswap", "swapon", "fstab-set"])
def test_a_failure_at_any_step_leaves_the_machine_as_it_was(env, kind: str) -> None:
    root, host, journal = env
    before = snapshot(root)
    with pytest.raises(OperationFailed, match="rolled back"):
        execute(plan_create(host, journal, "/swapfile", "16M"), host, journal, fault=fault_hook(f"{kind}:*:after:fail"))
    assert snapshot(root) == before
    assert journal.transactions()[-1].status == "aborted" and journal.pending() is None


def test_a_second_ctrl_c_during_the_undo_waits_until_everything_is_undone(env) -> None:
    # Impatient users press Ctrl-C twice; the second one lands while the first one's undo swaps the area off.
    root, host, journal = env
    before = snapshot(root)
    real_run = host.runner.run

    def run(argv, **kw):
        if argv[0] == "swapoff":
            os.kill(os.getpid(), signal.SIGINT)
        return real_run(argv, **kw)

    def first_ctrl_c(kind: str, seq: int, phase: str) -> None:
        if kind == "fstab-set" and phase == "after":
            raise KeyboardInterrupt

    host.runner.run = run
    with pytest.raises(Interrupted, match="rolled back"):
        execute(plan_create(host, journal, "/swapfile", "16M"), host, journal, fault=first_ctrl_c)
    assert snapshot(root) == before
    assert journal.transactions()[-1].status == "aborted" and journal.pending() is None


def test_swapon_failing_with_einval_rewrites_with_zeros_and_retries_once(env) -> None:
    _, host, journal = env
    runner = host.runner
    real_run = runner.run
    attempts = []

    def flaky(argv, **kw):
        if argv[0] == "swapon" and not attempts:
            attempts.append(argv)
            return type(runner).run.__globals__["Result"](argv, 255, "", "swapon: failed: Invalid argument")
        return real_run(argv, **kw)

    runner.run = flaky
    out = execute(plan_create(host, journal, "/swapfile", "16M"), host, journal)
    assert out.changed and [a.path for a in host.swaps()] == ["/swapfile"]
    assert [c[0] for c in runner.calls].count("mkswap") == 2


def test_swapon_failing_for_good_explains_and_rolls_back(env) -> None:
    root, host, journal = env
    host.runner.fail["swapon"] = (255, "swapon: /swapfile: swapon failed: Invalid argument")
    with pytest.raises(OperationFailed, match="Invalid argument") as err:
        execute(plan_create(host, journal, "/swapfile", "16M", method="fallocate"), host, journal)
    assert "unwritten extents" in err.value.message or "kernel:" in err.value.message
    assert not (root / "swapfile").exists()


@pytest.mark.parametrize("size", ["0", "-1G", "abc", "36K"])
def test_sizes_that_mkswap_cannot_take_are_usage_errors(env, size: str) -> None:
    _, host, journal = env
    with pytest.raises(UsageError):
        plan_create(host, journal, "/swapfile", size)


@pytest.mark.parametrize("prio", [-2, 32768])
def test_priorities_outside_the_kernels_range_are_usage_errors(env, prio: int) -> None:
    _, host, journal = env
    with pytest.raises(UsageError):
        plan_create(host, journal, "/swapfile", "16M", priority=prio)


@pytest.mark.parametrize("path", ["swapfile", "../swapfile", "/var/../swapfile", "/"])
def test_paths_must_be_absolute_and_normal(env, path: str) -> None:
    _, host, journal = env
    with pytest.raises(UsageError):
        plan_create(host, journal, path, "16M")


def test_not_root_is_refused_before_anything(env) -> None:
    root, _, journal = env
    host = fake_host(root, uid=1000)
    with pytest.raises(Refused, match="root"):
        plan_create(host, journal, "/swapfile", "16M")


@pytest.mark.parametrize("fs", ["tmpfs", "overlay", "zfs", "nfs4", "squashfs"])
def test_filesystems_that_cannot_hold_swap_are_refused_with_a_reason(tmp_path: Path, fs: str) -> None:
    host = fake_host(make_root(tmp_path / "r", fstype=fs))
    journal = Journal(host.paths.state_dir)
    with pytest.raises(Refused, match=f"on {fs}, which cannot hold swap"):
        plan_create(host, journal, "/swapfile", "16M")


def test_btrfs_files_are_made_nocow(tmp_path: Path) -> None:
    host = fake_host(make_root(tmp_path / "r", fstype="btrfs"))
    plan = plan_create(host, Journal(host.paths.state_dir), "/swapfile", "16M")
    assert plan.steps[0].params["nocow"] is True


def test_a_symlink_is_never_followed(env) -> None:
    root, host, journal = env
    os.symlink("/etc/passwd", root / "swapfile")
    with pytest.raises(Refused, match="symbolic link"):
        plan_create(host, journal, "/swapfile", "16M")
    with pytest.raises(Refused, match="symbolic link"):
        plan_remove(host, journal, "/swapfile")


def test_a_directory_writable_by_others_is_refused(env) -> None:
    root, host, journal = env
    (root / "var/tmp").chmod(0o1777)
    with pytest.raises(Refused, match="writable by other users"):
        plan_create(host, journal, "/var/tmp/swapfile", "16M")


@pytest.mark.parametrize(
    "path, why",
    [
        ("/etc/swapfile", "under /etc"),
        ("/usr/lib/swap", "under /usr"),
        ("/root/.bashrc", r"hidden name \(\.bashrc\)"),
        ("/var/tmp/.cache/swap", r"hidden name \(\.cache\)"),
    ],
)
def test_a_system_directory_or_a_hidden_name_is_no_place_for_a_swap_file(env, path: str, why: str) -> None:
    root, host, journal = env
    (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    before = snapshot(root)
    with pytest.raises(Refused, match=why):
        plan_create(host, journal, path, "16M")
    assert snapshot(root) == before


def test_remove_swaps_off_a_hidden_swap_file_made_by_hand_but_keeps_it(env) -> None:
    root, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M"), host, journal)
    os.rename(root / "swapfile", root / ".swapfile")  # someone else's tool keeps its swap at /.swapfile
    host.runner.run(["swapoff", str(root / "swapfile")])
    host.runner.run(["swapon", str(root / ".swapfile")])
    plan = plan_remove(host, journal, "/.swapfile", force=True)
    assert any("hidden name" in w and "kept" in w for w in plan.warnings), plan.warnings
    execute(plan, host, journal)
    assert host.swaps() == [] and (root / ".swapfile").exists()


def test_an_existing_file_that_is_not_swap_is_refused_and_untouched(env) -> None:
    root, host, journal = env
    (root / "swapfile").write_text("precious")
    with pytest.raises(Refused, match="not a swap area"):
        plan_create(host, journal, "/swapfile", "16M")
    assert (root / "swapfile").read_text() == "precious"


def test_force_replaces_an_existing_file(env) -> None:
    root, host, journal = env
    (root / "swapfile").write_text("junk")
    execute(plan_create(host, journal, "/swapfile", "16M", force=True), host, journal)
    assert (root / "swapfile").stat().st_size == 16 * MiB
    assert not (root / "swapfile.swapctl-replaced").exists()


def test_too_little_free_space_is_refused(env) -> None:
    _, host, journal = env
    with pytest.raises(Refused, match="free"):
        plan_create(host, journal, "/swapfile", "1P")


def test_remove_swaps_off_unpersists_and_deletes_what_swapctl_made(env) -> None:
    root, host, journal = env
    fstab_before = (root / "etc/fstab").read_bytes()
    execute(plan_create(host, journal, "/swapfile", "16M"), host, journal)
    out = execute(plan_remove(host, journal, "/swapfile"), host, journal)
    assert out.changed and host.swaps() == [] and not (root / "swapfile").exists()
    assert (root / "etc/fstab").read_bytes() == fstab_before
    again = plan_remove(host, journal, "/swapfile")
    assert again.steps == []


def test_remove_refuses_a_plain_file_and_never_deletes_it(env) -> None:
    root, host, journal = env
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    with pytest.raises(Refused, match="not a swap area"):
        plan_remove(host, journal, "/etc/passwd")
    assert (root / "etc/passwd").exists()


def test_remove_keeps_a_swap_file_swapctl_did_not_make(env) -> None:
    root, host, journal = env
    other = Journal(root / "elsewhere")
    execute(plan_create(host, other, "/swapfile", "16M", persist=False), host, other)
    plan = plan_remove(host, journal, "/swapfile")
    assert [s.kind for s in plan.steps] == ["swapoff"] and "not made by swapctl" in plan.warnings[0]


def test_remove_refuses_when_used_swap_would_not_fit_in_memory(env) -> None:
    root, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M", persist=False), host, journal)
    swaps = (root / "proc/swaps").read_text().replace("\t\t0\t\t-2", "\t\t16000\t\t-2")
    (root / "proc/swaps").write_text(swaps)
    (root / "proc/meminfo").write_text("MemTotal: 1000000 kB\nMemAvailable: 20000 kB\n")
    with pytest.raises(Refused, match="available") as err:
        plan_remove(host, journal, "/swapfile")
    assert "MiB" in err.value.message


def test_resize_bridges_so_swap_never_has_a_gap(env) -> None:
    root, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M", priority=3), host, journal)
    out = execute(plan_resize(host, journal, "/swapfile", "32M"), host, journal)
    assert out.changed
    assert [(a.path, a.priority) for a in host.swaps()] == [("/swapfile", 3)]
    assert (root / "swapfile").stat().st_size == 32 * MiB
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("swapfile")) == ["swapfile"]
    kinds = [a["step"] for a in out.actions]
    assert kinds.index("swapon") < kinds.index("swapoff")


def test_resize_to_the_same_size_changes_nothing(env) -> None:
    _, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M"), host, journal)
    assert plan_resize(host, journal, "/swapfile", "16M").steps == []


@pytest.mark.parametrize("seq", range(12))
def test_resize_failing_at_any_step_restores_the_old_area(env, seq: int) -> None:
    root, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M", priority=3), host, journal)
    before = snapshot(root)
    with pytest.raises(OperationFailed):
        execute(plan_resize(host, journal, "/swapfile", "32M"), host, journal, fault=fault_hook(f"*:{seq}:after:fail"))
    assert snapshot(root).keys() == before.keys()
    assert (root / "swapfile").stat().st_size == 16 * MiB
    assert [(a.path, a.priority) for a in host.swaps()] == [("/swapfile", 3)]


def test_a_tree_that_is_not_the_running_machine_refuses_every_swapon_and_swapoff_before_any_change(env) -> None:
    # What --root gives: a Host whose files are a tree; the kernel tools would act on the live machine.
    from swapctl.ops.rollback import rollback

    root, host, journal = env
    execute(plan_create(host, journal, "/swapfile", "16M"), host, journal)
    execute(plan_create(host, journal, "/other", "16M", persist=False), host, journal)
    execute(plan_remove(host, journal, "/other", keep_file=True), host, journal)
    host.live = False
    before, calls = snapshot(root), len(host.runner.calls)
    attempts = [
        lambda: plan_create(host, journal, "/new", "16M"),
        lambda: plan_create(host, journal, "/other", "16M"),  # an inactive swap file: swapon only
        lambda: plan_remove(host, journal, "/swapfile"),
        lambda: plan_resize(host, journal, "/swapfile", "32M"),
    ]
    for make in attempts:
        for dry_run in (True, False):
            with pytest.raises(Refused, match="not the running machine"):
                execute(make(), host, journal, dry_run=dry_run)
    for dry_run in (True, False):
        with pytest.raises(Refused, match="not the running machine"):
            rollback(host, journal, None, dry_run=dry_run)
    assert snapshot(root) == before and len(host.runner.calls) == calls
