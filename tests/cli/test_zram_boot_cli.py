"""`zram create --persist` where zram-generator is not installed (ops/zram_boot.py): a systemd unit of swapctl's
where the next boot's init is systemd, an udev rule and an fstab line where udev is, a refusal naming each reason
where neither; what `list` and `zram status` then say the next boot does, and remove and resize keeping it true.
The unit's own shell runs here on a fake sysfs; the boot lane (tests/vm/test_boot_scenarios.py) boots both."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from swapctl.ops import bootswap, zram_boot
from tests.cli.test_zram_write_cli import FREE, control, plan, steps
from tests.cli.test_zram_zswap_cli import swaps, zram_device
from tests.fakes import systemd_init

MIB = 1 << 20
UNIT = "etc/systemd/system/swapctl-zram-0.service"
WANTS = "etc/systemd/system/swap.target.d/swapctl-zram-0.conf"
RUN = "run/swapctl/zram-0"
RULES = "etc/udev/rules.d/90-swapctl-zram.rules"
AREA = "/dev/zram0                              partition\t65532\t\t0\t\t50"


def has_udev(root: Path, *, module: bool = True) -> None:
    """Another init (sysvinit's /sbin/init, a regular file) that starts udev with its init script."""
    (root / "sbin").mkdir(exist_ok=True)
    (root / "sbin/init").write_text("")
    (root / "sbin/udevd").write_text("")
    (root / "etc/init.d").mkdir(parents=True)
    (root / "etc/init.d/udev").write_text("")
    (root / "sys/module/zram").mkdir(parents=True)
    if module:
        (root / "sys/module/zram/initstate").write_text("live\n")


def cmdline(root: Path, text: str) -> None:
    (root / "proc/cmdline").write_text(text + "\n")


def at_boot(cli) -> list[dict]:  # noqa: ANN001
    return json.loads(cli("-o", "json", "list").stdout)["data"]["at_boot"]


def test_where_nothing_would_run_at_boot_persist_is_refused_with_every_reason(cli, root: Path) -> None:
    # As this machine: systemd installed, but the kernel runs another init (rdinit=), and no udev.
    systemd_init(root)
    cmdline(root, "console=ttyS0 rdinit=/process_api -- --flag")
    zram_device(root, disksize=0, mm=FREE)
    r = cli("zram", "create", "--size", "64M", "--persist")
    assert r.exit_code == 3, r.output
    assert r.output.count("\n") == 2 and "Traceback" not in r.output  # the error, then its hint
    for why in (
        "nothing here would set the device up at boot",
        "zram-generator is not installed",
        "the next boot's init is /process_api, not systemd",
        "udev is not installed",
    ):
        assert why in r.output, r.output
    assert not (root / "etc/systemd/system").exists()


@pytest.mark.parametrize(
    ("words", "init"),
    [
        ("quiet", "/lib/systemd/systemd"),
        ("init=/bin/sh", "/bin/sh"),
        ("rdinit=/init", "/lib/systemd/systemd"),  # an initramfs's own /init goes on to /sbin/init
        ("rdinit=/process_api init=/usr/lib/systemd/systemd", "/usr/lib/systemd/systemd"),
    ],
)
def test_the_next_boots_init_is_the_command_lines_or_sbin_init(host, root: Path, words: str, init: str) -> None:
    systemd_init(root)
    cmdline(root, words)
    assert zram_boot.boot_init(host) == init
    assert zram_boot.systemd_boots(host) == init.endswith("/systemd")


def test_persist_via_a_way_that_cannot_run_here_is_refused_and_an_unknown_one_is_bad_input(cli, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    r = cli("zram", "create", "--size", "64M", "--persist-via", "systemd", "--dry-run")
    assert r.exit_code == 3 and "--persist-via systemd: the next boot's init is /sbin/init, not systemd" in r.output
    r = cli("zram", "create", "--size", "64M", "--persist-via", "upstart", "--dry-run")
    assert r.exit_code == 2 and "'upstart' is not one of: auto, zram-generator, systemd, udev" in r.output


# --- a systemd unit ------------------------------------------------------------------------------------------
def test_a_unit_persists_by_configuration_and_list_status_remove_say_and_undo_it(cli, root: Path) -> None:
    systemd_init(root)
    zram_device(root, disksize=64 * MIB)
    swaps(root, AREA)
    code, doc = plan(cli, "create", "--size", "64M", "--algorithm", "lz4", "--priority", "50", "--persist")
    assert code == 0 and steps(doc) == ["zram-boot-file"] * 3, doc
    assert doc["data"]["persist_via"] == "systemd" and doc["data"]["persist"] == "/" + UNIT
    unit = (root / UNIT).read_text()
    assert "Description=zram swap set up by swapctl (64 MiB, lz4, priority 50)\n" in unit
    for env in ("KEY=0", f"DISKSIZE={64 * MIB}", "ALGORITHM=lz4", "PARAMS=", "MEM_LIMIT=", "PRIORITY=50"):
        assert f'Environment="{env}"\n' in unit
    assert "cat /sys/class/zram-control/hot_add" in unit and "Before=swap.target" in unit
    assert (root / WANTS).read_text().endswith("[Unit]\nWants=swapctl-zram-0.service\n")
    assert (root / RUN).read_text() == "zram0\n"  # it was there: not added, so never hot-removed

    [boot] = at_boot(cli)
    assert boot["source"] == bootswap.NEW_DEVICE and boot["via"] == "systemd" and boot["priority"] == 50
    assert boot["size"] == 64 * MIB and boot["algorithm"] == "lz4" and boot["device_now"] == "/dev/zram0"
    listed = json.loads(cli("-o", "json", "list").stdout)["data"]["areas"]
    assert [a["persisted"] for a in listed] == [True]
    assert "new zram device (priority 50; /etc/systemd/system/swapctl-zram-0.service)" in cli("list").stdout
    [dev] = json.loads(cli("-o", "json", "zram", "status").stdout)["data"]["devices"]
    assert dev["boot_file"] == "/" + UNIT

    code, doc = plan(cli, "create", "--size", "64M", "--algorithm", "lz4", "--priority", "50", "--persist")
    assert code == 0 and not doc["changed"]
    code, doc = plan(cli, "resize", "zram0", "--size", "128M", "--dry-run")
    assert steps(doc)[-1] == "zram-boot-file" and doc["actions"][-1]["description"] == f"write /{UNIT}"
    code, doc = plan(cli, "remove", "zram0", "--dry-run")
    assert steps(doc) == ["swapoff", "zram-reset", *["zram-boot-file"] * 3], doc
    assert [a["description"] for a in doc["actions"][2:]] == [f"remove /{p}" for p in (UNIT, WANTS, RUN)]

    # The three files are swapctl's own: rolling the create back takes them away, and the machine is as before.
    assert cli("rollback").exit_code == 0
    assert not (root / UNIT).exists() and not (root / WANTS).exists() and not (root / RUN).exists()
    assert at_boot(cli) == []


def test_a_hot_added_device_is_recorded_as_added_and_remove_hot_removes_it(cli, root: Path) -> None:
    systemd_init(root)
    zram_device(root)  # zram0 in use
    swaps(root, "/dev/zram0                              partition\t1048572\t\t0\t\t100")
    control(root)
    code, doc = plan(cli, "create", "--size", "64M", "--persist", "--dry-run")
    assert code == 0 and steps(doc) == ["zram-hot-add", "zram-setup", "zram-mkswap", "swapon", *["zram-boot-file"] * 3]
    assert doc["actions"][-1]["description"] == "record in /run/swapctl/zram-0 that this boot's device is zram1 added"
    # After a boot: the unit made zram1 (hot_add), and says so.
    zram_device(root, "zram1", disksize=64 * MIB)
    swaps(
        root, "/dev/zram0                              partition\t1048572\t\t0\t\t100", AREA.replace("zram0", "zram1")
    )
    (root / UNIT).parent.mkdir(parents=True)
    (root / UNIT).write_text(zram_boot.unit_text(0, zram_boot.Spec(64 * MIB, priority=50)))
    (root / WANTS).parent.mkdir(parents=True)
    (root / WANTS).write_text("[Unit]\nWants=swapctl-zram-0.service\n")
    (root / RUN).parent.mkdir(parents=True)
    (root / RUN).write_text("zram1 added\n")
    code, doc = plan(cli, "remove", "zram1", "--dry-run")
    assert steps(doc) == ["swapoff", "zram-reset", "zram-hot-remove", *["zram-boot-file"] * 3], doc
    # A second persisted device gets the next unit.
    code, doc = plan(cli, "create", "--device", "zram2", "--size", "32M", "--persist", "--dry-run")
    assert any(a["description"] == "write /etc/systemd/system/swapctl-zram-1.service" for a in doc["actions"]), doc


def test_a_unit_written_by_hand_over_swapctls_is_read_only_when_it_is_swapctls() -> None:
    spec = zram_boot.Spec(3 * MIB, "zstd", ("level=3",), 8 * MIB, None)
    assert zram_boot.parse_unit(zram_boot.unit_text(4, spec)) == spec
    assert zram_boot.parse_unit("[Service]\nExecStart=/bin/true\n") is None
    with pytest.raises(Exception, match="cannot be written to a systemd unit"):
        zram_boot.unit_text(0, zram_boot.Spec(MIB, "lz4'; rm -rf /"))


def _script(unit: str, which: str) -> str:
    """The unit's Exec line as the shell gets it: systemd turns "$$" into "$"."""
    [line] = [ln for ln in unit.splitlines() if ln.startswith(f"{which}=/bin/sh -c '")]
    return line.split(" -c '", 1)[1][:-1].replace("$$", "$")


def test_the_units_shell_sets_the_new_device_up_in_the_kernels_order_and_stop_takes_it_away(tmp_path: Path) -> None:
    """The unit's start and stop scripts, run by /bin/sh on a fake sysfs and fake mkswap/swapon/swapoff that log."""
    fake = tmp_path / "fs"
    log = tmp_path / "log"
    ctl = fake / "sys/class/zram-control"
    ctl.mkdir(parents=True)
    (ctl / "hot_add").write_text("3\n")
    dev = fake / "sys/block/zram3"
    dev.mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("mkswap", "swapon", "swapoff"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho {tool} "$@" >> {log}\n')
        (bin_dir / tool).chmod(0o755)
    unit = zram_boot.unit_text(0, zram_boot.Spec(64 * MIB, "lz4", ("level=3",), 32 * MIB, 50))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    for k, v in re.findall(r'^Environment="([A-Z_]+)=(.*)"$', unit, re.M):
        env[k] = v

    def run(which: str) -> None:
        script = _script(unit, which).replace("/sys/", f"{fake}/sys/").replace("/run/", f"{fake}/run/")
        subprocess.run(["/bin/sh", "-c", script], env=env, check=True, timeout=30)

    run("ExecStart")
    assert (dev / "comp_algorithm").read_text() == "lz4\n"
    assert (dev / "algorithm_params").read_text() == "level=3\n"
    assert (dev / "mem_limit").read_text() == f"{32 * MIB}\n"
    assert (dev / "disksize").read_text() == f"{64 * MIB}\n"
    assert log.read_text() == "mkswap /dev/zram3\nswapon -p 50 /dev/zram3\n"
    assert (fake / "run/swapctl/zram-0").read_text() == "zram3 added\n"
    run("ExecStop")
    assert log.read_text().endswith("swapoff /dev/zram3\n")
    assert (dev / "reset").read_text() == "1\n" and (ctl / "hot_remove").read_text() == "3\n"
    assert not (fake / "run/swapctl/zram-0").exists()


def test_the_units_shell_undoes_a_hot_add_whose_device_cannot_be_set_up(tmp_path: Path) -> None:
    fake = tmp_path / "fs"
    ctl = fake / "sys/class/zram-control"
    ctl.mkdir(parents=True)
    (ctl / "hot_add").write_text("5\n")
    (fake / "sys/block/zram5").mkdir(parents=True)
    (fake / "sys/block/zram5/disksize").mkdir()  # writing it fails, as the kernel's EBUSY or ENOMEM would
    _failing_start(fake, ctl)


def _failing_start(fake: Path, ctl: Path) -> None:
    unit = zram_boot.unit_text(0, zram_boot.Spec(64 * MIB))
    env = {"PATH": "/usr/bin:/bin", **dict(re.findall(r'^Environment="([A-Z_]+)=(.*)"$', unit, re.M))}
    script = _script(unit, "ExecStart").replace("/sys/", f"{fake}/sys/").replace("/run/", f"{fake}/run/")
    script = script.replace("swapoff ", "true ")
    r = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, timeout=30)
    assert r.returncode == 1
    assert (ctl / "hot_remove").read_text() == "5\n" and (fake / "sys/block/zram5/reset").read_text() == "1\n"
    assert not (fake / "run").exists()


# --- an udev rule and an fstab line ----------------------------------------------------------------------
def test_udev_persists_a_device_the_driver_makes_with_a_rule_an_fstab_line_and_the_module(cli, root: Path) -> None:
    has_udev(root)
    zram_device(root, disksize=64 * MIB)
    swaps(root, AREA)
    (root / "sbin/mkswap").write_text("")
    code, doc = plan(cli, "create", "--size", "64M", "--algorithm", "lz4", "--priority", "50", "--persist")
    assert code == 0 and steps(doc) == ["zram-udev-rule", "fstab-set", "zram-boot-file"], doc
    assert doc["data"]["persist_via"] == "udev"
    assert (root / RULES).read_text() == zram_boot.UDEV_HEADER + (
        f'ACTION=="add", SUBSYSTEM=="block", KERNEL=="zram0", ATTR{{comp_algorithm}}="lz4", '
        f'ATTR{{disksize}}="{64 * MIB}", RUN+="/bin/sh -c \'/sbin/mkswap /dev/%k && '
        '{ [ -d /run/systemd/system ] || /sbin/swapon -p 50 /dev/%k; }\'", TAG+="systemd"\n'
    )  # without systemd the rule swaps it on itself: sysvinit's swapon -a does not wait for udev
    assert (root / "etc/fstab").read_text().endswith("/dev/zram0 none swap defaults,pri=50 0 0\n")
    assert (root / "etc/modules-load.d/swapctl-zram.conf").read_text().endswith("\nzram\n")
    [boot] = at_boot(cli)
    assert (boot["source"], boot["via"], boot["priority"]) == ("/dev/zram0", "fstab", 50)
    assert boot["size"] == 64 * MIB and boot["algorithm"] == "lz4" and boot["rule"] == "/" + RULES
    [dev] = json.loads(cli("-o", "json", "zram", "status").stdout)["data"]["devices"]
    assert dev["boot_file"] == "/" + RULES

    code, doc = plan(cli, "resize", "zram0", "--size", "128M", "--dry-run")
    assert steps(doc)[-1] == "zram-udev-rule" and f'ATTR{{disksize}}="{128 * MIB}"' in doc["actions"][-1]["description"]
    code, doc = plan(cli, "remove", "zram0", "--dry-run")
    assert code == 0 and steps(doc) == ["swapoff", "zram-reset", "zram-udev-rule", "fstab-set", "zram-boot-file"]
    assert doc["actions"][2]["description"] == f"drop zram0's rule from /{RULES}"
    assert cli("rollback").exit_code == 0
    assert not (root / RULES).exists() and not (root / "etc/modules-load.d/swapctl-zram.conf").exists()
    assert "zram0" not in (root / "etc/fstab").read_text()


def test_udev_refuses_a_device_number_the_driver_does_not_make_at_boot(cli, root: Path) -> None:
    has_udev(root, module=False)  # built in: no modules-load.d file
    zram_device(root)
    swaps(root, "/dev/zram0                              partition\t1048572\t\t0\t\t100")
    control(root)
    r = cli("zram", "create", "--size", "64M", "--persist", "--dry-run")
    assert r.exit_code == 3 and "at boot the zram driver makes zram0, not zram1" in r.output, r.output
    cmdline(root, "quiet zram.num_devices=2")
    code, doc = plan(cli, "create", "--size", "64M", "--persist", "--dry-run")
    assert code == 0 and steps(doc)[-2:] == ["zram-udev-rule", "fstab-set"], doc


def test_modprobe_d_options_give_a_modules_device_count(host, root: Path) -> None:
    (root / "etc/modprobe.d").mkdir(parents=True)
    (root / "etc/modprobe.d/zram.conf").write_text("# mine\noptions zram num_devices=4\n")
    assert zram_boot.boot_devices(host) == 4
    cmdline(root, "zram.num_devices=x")
    assert zram_boot.boot_devices(host) == 1


# --- what is swapctl's, and what is read back ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("zram-boot-file", {"path": "/etc/passwd", "text": "root::0:0::/:/bin/sh\n"}),
        ("zram-boot-file", {"path": "/etc/systemd/system/sshd.service", "text": None}),
        ("zram-boot-file", {"path": "/run/swapctl/zram-1/../../../etc/shadow", "text": ""}),
        ("zram-udev-rule", {"path": "/etc/udev/rules.d/99-other.rules", "settings": {"zram0": None}}),
        ("zram-udev-rule", {"path": "/" + RULES, "settings": {"zram0": 'ACTION=="add", KERNEL=="zram1"'}}),
        ("zram-udev-rule", {"path": "/" + RULES, "settings": {"zram0": None, "zram1": None}}),
    ],
)
def test_a_forged_journal_entry_for_another_file_or_device_is_refused(kind: str, params: dict) -> None:
    from swapctl.core.plan import Step, StepRecordError

    with pytest.raises(StepRecordError):
        Step.from_record({"kind": kind, "params": params}, None)


def test_the_rules_file_keeps_other_lines_and_a_rollback_over_an_edit_reverts_only_swapctls(
    cli, host, root: Path
) -> None:
    has_udev(root, module=False)
    zram_device(root, disksize=64 * MIB)
    swaps(root, AREA)
    (root / RULES).parent.mkdir(parents=True)
    mine = '# the admin\'s\nACTION=="add", KERNEL=="zram9", ATTR{disksize}="1"\n'
    (root / RULES).write_text(mine)
    code, doc = plan(cli, "create", "--size", "64M", "--priority", "50", "--persist")
    assert code == 0 and steps(doc) == ["zram-udev-rule", "fstab-set"], doc  # built in: no modules-load.d
    text = (root / RULES).read_text()
    assert text.startswith(mine) and text.count("\n") == 3 and 'KERNEL=="zram0"' in text
    assert set(zram_boot.rules(host)) == {"zram0", "zram9"}
    (root / RULES).write_text(text + "# added later by hand\n")
    assert cli("rollback").exit_code == 0
    assert (root / RULES).read_text() == mine + "# added later by hand\n"


def test_udev_does_not_count_where_the_command_line_names_another_init(cli, root: Path) -> None:
    has_udev(root)
    cmdline(root, "init=/bin/sh")
    zram_device(root, disksize=0, mm=FREE)
    r = cli("zram", "create", "--size", "64M", "--persist-via", "udev", "--dry-run")
    assert r.exit_code == 3, r.output
    assert "nothing starts udev at boot (no /etc/init.d/udev, and the next boot's init is /bin/sh" in r.output


def test_systemd_starts_udev_itself_so_no_init_script_is_needed(host, root: Path) -> None:
    systemd_init(root)
    (root / "lib/systemd/systemd-udevd").write_text("")
    assert zram_boot.udev_starts(host) and zram_boot.choose(host, "udev") == "udev"
    assert zram_boot.choose(host) == "systemd"  # the unit comes first: it needs no device number


def test_at_boot_leaves_out_a_unit_without_its_drop_in_or_where_systemd_does_not_boot(cli, root: Path) -> None:
    systemd_init(root)
    (root / UNIT).parent.mkdir(parents=True)
    (root / UNIT).write_text(zram_boot.unit_text(0, zram_boot.Spec(64 * MIB)))
    assert at_boot(cli) == []  # not pulled in by swap.target: it does not run
    (root / WANTS).parent.mkdir(parents=True)
    (root / WANTS).write_text(zram_boot.WANTS_TEXT.format(unit="swapctl-zram-0.service"))
    [boot] = at_boot(cli)
    assert boot["priority"] is None and boot["device_now"] is None and boot["algorithm"] is None
    cmdline(root, "init=/sbin/openrc-init")
    assert at_boot(cli) == []
    assert zram_boot.parse_rule('ACTION=="add", KERNEL=="zram0", ATTR{comp_algorithm}="lz4"') is None


def test_removing_a_device_that_is_gone_still_drops_its_udev_rule_and_fstab_line(cli, root: Path) -> None:
    has_udev(root)
    zram_device(root, disksize=64 * MIB)
    swaps(root, AREA)
    assert plan(cli, "create", "--size", "64M", "--priority", "50", "--persist")[0] == 0
    shutil.rmtree(root / "sys/block/zram0")  # the module not loaded: no zram0 now
    swaps(root)
    code, doc = plan(cli, "remove", "zram0")
    assert code == 0 and steps(doc) == ["zram-udev-rule", "fstab-set", "zram-boot-file"], doc
    assert not (root / RULES).exists() and "zram0" not in (root / "etc/fstab").read_text()


def test_udev_needs_something_to_start_it_when_systemd_does_not_boot(host, root: Path) -> None:
    (root / "sbin").mkdir()
    (root / "sbin/init").write_text("")  # sysvinit's own
    (root / "sbin/udevd").write_text("")
    assert not zram_boot.udev_starts(host)  # no init script, no service
    (root / "etc/sv/udevd").mkdir(parents=True)  # runit's service
    assert zram_boot.udev_starts(host)
    (root / "sbin/udevd").unlink()
    assert not zram_boot.udev_starts(host)


@pytest.mark.parametrize(("priority", "written"), [(None, ""), (-1, ""), (0, "0"), (32767, "32767")])
def test_the_unit_turns_on_a_negative_or_no_priority_as_the_kernels_automatic_one(priority, written: str) -> None:
    unit = zram_boot.unit_text(2, zram_boot.Spec(MIB, priority=priority))
    assert f'Environment="PRIORITY={written}"\n' in unit
    assert zram_boot.parse_unit(unit).priority == (int(written) if written else None)
    assert zram_boot.parse_unit(unit.replace('"KEY=2"', '"KEY=2')) is not None  # only the DISKSIZE line matters
    assert zram_boot.parse_unit(unit.replace(f'"DISKSIZE={MIB}"', f'"DISKSIZE={MIB}')) is None


def test_the_rule_carries_params_and_mem_limit_in_the_kernels_order_and_finds_mkswap(host, root: Path) -> None:
    spec = zram_boot.Spec(64 * MIB, "zstd", ("level=3", "dict=/etc/zd"), 16 * MIB)
    line = zram_boot.rule_line(host, "zram0", spec)
    assert line == (
        'ACTION=="add", SUBSYSTEM=="block", KERNEL=="zram0", ATTR{comp_algorithm}="zstd", '
        'ATTR{algorithm_params}="level=3 dict=/etc/zd", ATTR{mem_limit}="16777216", ATTR{disksize}="67108864", '
        "RUN+=\"/bin/sh -c '/sbin/mkswap /dev/%k && { [ -d /run/systemd/system ] || /sbin/swapon /dev/%k; }'\", "
        'TAG+="systemd"'
    )  # no mkswap or swapon in the tree: /sbin's, where every distribution has them; no priority: automatic
    assert zram_boot.parse_rule(line) == spec
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/mkswap").write_text("")
    assert "-c '/usr/sbin/mkswap /dev/%k && " in zram_boot.rule_line(host, "zram0", spec)
    for priority, swapon in ((7, "swapon -p 7 /dev/%k"), (0, "swapon -p 0 /dev/%k"), (-1, "swapon /dev/%k")):
        line = zram_boot.rule_line(host, "zram0", spec._replace(priority=priority))
        assert swapon in line and zram_boot.parse_rule(line).priority == (None if priority < 0 else priority)
    with pytest.raises(Exception, match="cannot be written to an udev rule"):
        zram_boot.rule_line(host, "zram0", spec._replace(algorithm='lz4", RUN+="/bin/sh'))
    assert zram_boot.own_rule('KERNEL=="zram0", ATTR{disksize}="1"') is None  # not an add rule: not swapctl's
    assert zram_boot.ZramBootFile(path="/run/swapctl/zram-3", text=None).undo_description() == (
        "restore /run/swapctl/zram-3"
    )


def test_a_bad_device_count_is_the_drivers_default_and_a_long_list_is_cut(cli, root: Path) -> None:
    (root / "etc/modprobe.d").mkdir(parents=True)
    (root / "etc/modprobe.d/zram.conf").write_text("options zram num_devices=many\n")
    has_udev(root)
    zram_device(root)
    swaps(root, "/dev/zram0                              partition\t1048572\t\t0\t\t100")
    control(root)
    r = cli("zram", "create", "--size", "64M", "--persist", "--dry-run")
    assert r.exit_code == 3 and "the zram driver makes zram0, not zram1" in r.output, r.output
    (root / "etc/modprobe.d/zram.conf").write_text("options zram num_devices=1\n")
    for i in range(1, 6):
        zram_device(root, f"zram{i}")
    (root / "etc/modprobe.d/zram.conf").write_text("options zram num_devices=6\n")
    r = cli("zram", "create", "--device", "zram6", "--size", "64M", "--persist", "--dry-run")
    assert "makes zram0, zram1, zram2, zram3, ..., not zram6" in r.output, r.output
    (root / "etc/modprobe.d/zram.conf").write_text("options zram num_devices=4\n")
    r = cli("zram", "create", "--device", "zram6", "--size", "64M", "--persist", "--dry-run")
    assert "makes zram0, zram1, zram2, zram3, not zram6" in r.output, r.output


def test_apply_persists_a_zram_device_the_way_its_yaml_asks(cli, root: Path, tmp_path: Path) -> None:
    systemd_init(root)
    (root / "sbin/udevd").write_text("")  # systemd starts udev: both ways run here
    zram_device(root, disksize=0, mm=FREE)
    spec = tmp_path / "state.yaml"
    spec.write_text("zram:\n  - device: zram0\n    size: 64M\n    persist: true\n    persist_via: udev\n")
    doc = json.loads(cli("-o", "json", "apply", str(spec), "--dry-run").stdout)
    assert [a["step"] for a in doc["actions"]][-3:] == ["zram-udev-rule", "fstab-set", "zram-boot-file"], doc
    spec.write_text("zram:\n  - size: 64M\n    persist: true\n")  # auto: the unit comes first
    doc = json.loads(cli("-o", "json", "apply", str(spec), "--dry-run").stdout)
    assert [a["step"] for a in doc["actions"]][-3:] == ["zram-boot-file"] * 3, doc
    spec.write_text("zram:\n  - size: 64M\n    persist: true\n    persist_via: upstart\n")
    r = cli("apply", str(spec))
    assert r.exit_code == 2 and "state.yaml:4: persist_via 'upstart' is not one of: auto, zram-generator" in r.output
