"""`zram create | resize | remove` planned on fake machines (the real kernel runs them in
tests/system/test_zram_zswap_real.py): which device, which size, which steps, and every refusal before a change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swapctl.core.plan import Step, StepRecordError
from swapctl.ops import sizing, zram_set
from tests.cli.test_zram_zswap_cli import swaps, zram_device
from tests.fakes import fake_host, systemd_init

MIB, GIB = 1 << 20, 1 << 30
FREE = "0 0 0 0 0 0 0 0 0\n"


def control(root: Path) -> None:
    d = root / "sys/class/zram-control"
    d.mkdir(parents=True)
    (d / "hot_add").write_text("1\n")
    (d / "hot_remove").write_text("")


def plan(cli, *args: str) -> tuple[int, dict]:  # noqa: ANN001
    r = cli("-o", "json", "zram", *args)
    return r.exit_code, json.loads(r.stdout)


def steps(doc: dict) -> list[str]:
    return [a["step"] for a in doc["actions"]]


def test_create_auto_takes_the_free_device_with_zram_generators_size_and_priority(cli, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    control(root)
    code, doc = plan(cli, "create", "--dry-run")
    assert code == 0 and doc["dry_run"]
    assert steps(doc) == ["zram-setup", "zram-mkswap", "swapon"]
    # MemTotal 24576000 kB = 24000 MiB: min(ram / 2, 4096) -> 4096 MiB
    assert doc["data"]["device"] == "/dev/zram0" and doc["data"]["disksize"] == 4096 * MIB
    assert doc["data"]["size_rule"] == {"expression": "min(ram / 2, 4096)", "ram_mib": 24000.0, "size": 4 * GIB}
    assert doc["actions"][2]["description"] == "swapon /dev/zram0 priority 100"


def test_create_auto_adds_a_device_when_every_one_is_in_use(cli, root: Path) -> None:
    zram_device(root)
    swaps(root, "/dev/zram0                              partition\t1048572\t\t0\t\t100")
    control(root)
    code, doc = plan(cli, "create", "--size", "ram / 8", "--algorithm", "lzo", "--mem-limit", "1G", "--dry-run")
    assert code == 0, doc
    assert steps(doc) == ["zram-hot-add", "zram-setup", "zram-mkswap", "swapon"]
    assert doc["data"]["device"] == "/dev/zram1" and doc["data"]["disksize"] == 3000 * MIB
    assert doc["actions"][1]["description"] == "set up /dev/zram1: 2.9 GiB, lzo, mem_limit 1 GiB"


def test_create_again_changes_nothing(cli, root: Path) -> None:
    zram_device(root, disksize=64 * MIB)
    swaps(root, "/dev/zram0                              partition\t65532\t\t0\t\t100")
    code, doc = plan(cli, "create", "--size", "64M")
    assert code == 0 and not doc["changed"] and doc["actions"] == []
    assert doc["data"]["device"] == "/dev/zram0"


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--algorithm", "zstd"], 2, "zram has no compression algorithm 'zstd' (this kernel's zram offers: lzo-rle"),
        (["--device", "zram5"], 2, "there is no /dev/zram5, and the kernel adds zram1 next"),
        (["--device", "sda"], 2, "'sda' is not a zram device name"),
        (["--size", "ram ** 2"], 2, "neither a size nor a zram-size expression: unexpected '*'"),
        (["--size", "ram / 0"], 2, "division by zero"),
        (["--size", "16K"], 2, "below the 10 pages mkswap accepts"),
        (["--size", "12Q"], 2, "has an unknown unit"),
        (["--priority", "40000"], 2, "priority 40000 is out of range"),
        (["--device", "zram0"], 3, "/dev/zram0 is already set up (1 GiB, lz4)"),
    ],
)
def test_create_refuses_bad_input_in_one_line_before_any_change(
    cli, root: Path, args: list[str], code: int, says: str
) -> None:
    zram_device(root)
    control(root)
    before = sorted(p.read_bytes() for p in root.rglob("*") if p.is_file())
    r = cli("zram", "create", *args)
    assert r.exit_code == code, r.output
    assert says in r.output and "Traceback" not in r.output
    assert r.output.count("\n") <= 2  # the error, and at most a hint
    assert sorted(p.read_bytes() for p in root.rglob("*") if p.is_file()) == before


def test_a_kernel_without_zram_control_and_no_free_device_is_refused(cli, root: Path) -> None:
    zram_device(root)
    swaps(root, "/dev/zram0                              partition\t1048572\t\t0\t\t100")
    r = cli("zram", "create", "--size", "2G")
    assert r.exit_code == 3 and "no zram-control to add one" in r.output


def test_not_root_is_refused(cli, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    r = cli("zram", "create", "--size", "1G", host_override=fake_host(root, uid=1000))
    assert r.exit_code == 3 and "setting up zram needs root" in r.output


def test_remove_resets_a_device_it_did_not_add_and_warns_it_stays(cli, root: Path) -> None:
    zram_device(root)
    swaps(root, "/dev/zram0                              partition\t1048572\t\t0\t\t100")
    code, doc = plan(cli, "remove", "/dev/zram0", "--dry-run")
    assert code == 0 and steps(doc) == ["swapoff", "zram-reset"]
    assert "/dev/zram0 was not added by swapctl, so it stays (reset, empty)" in doc["warnings"]


def test_remove_refuses_a_set_up_device_that_is_not_swap_and_ignores_a_missing_one(cli, root: Path) -> None:
    zram_device(root)
    r = cli("zram", "remove", "zram0")
    assert r.exit_code == 3 and "is set up but is not a swap area" in r.output
    code, doc = plan(cli, "remove", "zram0", "--force", "--dry-run")
    assert code == 0 and steps(doc) == ["zram-reset"]
    code, doc = plan(cli, "remove", "zram3")
    assert code == 0 and not doc["changed"]


def test_swapoff_of_zram_counts_the_stored_pages_not_the_compressed_ones(cli, root: Path) -> None:
    # 20 GiB stored in 5 GiB of RAM: swapoff needs 15 GiB more than it frees; 23500000 kB are available.
    mm = f"{20 * GIB} {4 * GIB} {5 * GIB} 0 {5 * GIB} 0 0 0 0\n"
    zram_device(root, disksize=24 * GIB, mm=mm)
    swaps(root, f"/dev/zram0                              partition\t{24 << 20}\t\t{20 << 20}\t\t100")
    assert cli("zram", "resize", "zram0", "--size", "32G", "--dry-run").exit_code == 0
    (root / "proc/meminfo").write_text("MemTotal:       24576000 kB\nMemAvailable:    8000000 kB\n")
    r = cli("zram", "resize", "zram0", "--size", "32G")
    assert r.exit_code == 3
    assert "would decompress 20 GiB back into memory (freeing the 5 GiB it uses)" in r.output
    r = cli("zram", "remove", "zram0")
    assert r.exit_code == 3 and "would decompress 20 GiB" in r.output


def test_resize_keeps_algorithm_limit_and_priority(cli, root: Path) -> None:
    zram_device(root, mm=f"0 0 0 {512 * MIB} 0 0 0 0 0\n")
    swaps(root, "/dev/zram0                              partition\t1048572\t\t0\t\t5")
    code, doc = plan(cli, "resize", "zram0", "--size", "2G", "--dry-run")
    assert code == 0
    assert steps(doc) == ["swapoff", "zram-reset", "zram-setup", "zram-mkswap", "swapon"]
    assert doc["actions"][2]["description"] == "set up /dev/zram0: 2 GiB, lz4, mem_limit 512 MiB"
    assert doc["actions"][4]["description"] == "swapon /dev/zram0 priority 5"
    code, doc = plan(cli, "resize", "zram0", "--size", "1G")
    assert code == 0 and not doc["changed"]
    r = cli("zram", "resize", "zram1", "--size", "1G")
    assert r.exit_code == 3 and "is not an active zram swap area" in r.output


@pytest.mark.parametrize(
    ("text", "ram", "mib"),
    [
        ("min(ram / 2, 4096)", 24000, 4096),
        ("min(ram / 2, 4096)", 2000, 1000),
        ("ram * 2", 100, 200),
        ("25 / 100 * ram", 1000, 250),
        ("max(512, ram / 4) - 1 + 1", 1000, 512),
        ("-(1 + 2) * 3", 0, -9),
        ("2 + 3 * 4", 0, 14),
        ("(2 + 3) * 4", 0, 20),
        ("10 - 2 - 3", 0, 5),
        ("64 / 2 / 2", 0, 16),
    ],
)
def test_zram_generator_size_expressions(text: str, ram: float, mib: float) -> None:
    assert sizing.zram_expression(text, ram) == mib


@pytest.mark.parametrize("text", ["", "ram ram", "swap", "min(1", "1 +", "2 ** 3", "1/0", "x" * 201, "min()"])
def test_a_broken_size_expression_is_an_error(text: str) -> None:
    with pytest.raises(sizing.ExpressionError):
        sizing.zram_expression(text, 1000)


def test_the_next_device_is_the_lowest_free_id() -> None:
    assert zram_set.next_id([]) == "zram0"
    assert zram_set.next_id(["zram0", "zram1"]) == "zram2"
    assert zram_set.next_id(["zram0", "zram2"]) == "zram1"
    assert zram_set.next_id(["zram1"]) == "zram0"


@pytest.mark.parametrize(
    ("kind", "params", "record"),
    [
        ("zram-setup", {"device": "../../etc/passwd", "disksize": GIB}, None),
        ("zram-setup", {"device": "zram0", "disksize": 0}, None),
        ("zram-setup", {"device": "zram0", "disksize": GIB, "algorithm": "lz4 > /x"}, None),
        ("zram-hot-add", {"device": "zram01"}, None),
        ("zram-reset", {"device": "zram0"}, {"algorithm": "lz4", "mem_limit": None, "disksize": -1}),
    ],
)
def test_a_forged_zram_journal_entry_is_refused(kind: str, params: dict, record: dict | None) -> None:
    with pytest.raises(StepRecordError):
        Step.from_record({"kind": kind, "params": params}, record)


# --- --persist: a section in swapctl's zram-generator drop-in ------------------------------------------------
DROP_IN = "etc/systemd/zram-generator.conf.d/90-swapctl.conf"


def generator(root: Path) -> None:
    g = root / "usr/lib/systemd/system-generators/zram-generator"
    g.parent.mkdir(parents=True)
    g.write_text("")
    systemd_init(root)


def test_persist_writes_the_device_section_and_remove_and_resize_keep_it_true(cli, root: Path) -> None:
    zram_device(root, disksize=64 * MIB)
    swaps(root, "/dev/zram0                              partition\t65532\t\t0\t\t100")
    generator(root)
    (root / DROP_IN).parent.mkdir(parents=True)
    (root / DROP_IN).write_text("[zram1]\nzram-size = ram\n")  # someone's section: kept byte for byte
    # The area is there already: only the drop-in is written.
    code, doc = plan(cli, "create", "--size", "64M", "--algorithm", "lz4", "--persist")
    assert code == 0 and steps(doc) == ["zram-persist"], doc
    assert (root / DROP_IN).read_text() == (
        "[zram1]\nzram-size = ram\n[zram0]\nzram-size = 64\nswap-priority = 100\ncompression-algorithm = lz4\n"
    )
    code, doc = plan(cli, "create", "--size", "64M", "--algorithm", "lz4", "--persist")
    assert code == 0 and not doc["changed"]
    code, doc = plan(cli, "resize", "zram0", "--size", "min(ram / 4, 128)", "--dry-run")
    assert steps(doc)[-1] == "zram-persist"
    assert doc["actions"][-1]["description"] == (
        "persist [zram0] zram-size = min(ram / 4, 128), swap-priority = 100, compression-algorithm = lz4 "
        "in /etc/systemd/zram-generator.conf.d/90-swapctl.conf"
    )
    code, doc = plan(cli, "remove", "zram0", "--dry-run")
    assert steps(doc) == ["swapoff", "zram-reset", "zram-persist"]
    assert doc["actions"][-1]["description"].startswith("drop [zram0] from")


def test_zram_generator_installed_where_systemd_does_not_boot_is_refused_for_the_init(cli, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)
    generator(root)
    (root / "proc/cmdline").write_text("init=/bin/busybox\n")  # a generator of systemd's: nothing runs it
    r = cli("zram", "create", "--size", "1G", "--persist")
    assert r.exit_code == 3 and "the next boot's init is /bin/busybox, not systemd" in r.output, r.output
    assert "zram-generator is not installed" not in r.output
    (root / "etc/systemd").mkdir(parents=True)
    (root / "etc/systemd/zram-generator.conf").write_text("[zram0]\n")
    assert json.loads(cli("-o", "json", "list").stdout)["data"]["at_boot"] == []


def test_the_drop_in_editor_keeps_other_sections_and_removes_an_emptied_file() -> None:
    other = "# mine\n[zram1]\nzram-size = ram\n"
    added = zram_set.set_section(other, "zram0", {"zram-size": "512"})
    assert added == other + "[zram0]\nzram-size = 512\n"
    assert zram_set.set_section(added, "zram0", None) == other
    fresh = zram_set.set_section(None, "zram2", {"zram-size": "ram / 2"})
    assert fresh == zram_set.PERSIST_HEADER + "[zram2]\nzram-size = ram / 2\n"
    assert zram_set.set_section(fresh, "zram2", None) is None
    assert zram_set._mib(4096 * 3) == "0.01171875" and zram_set._mib(64 * MIB) == "64"


def test_status_names_the_zram_generator_file_that_sets_each_device_up_at_boot(cli, root: Path) -> None:
    zram_device(root)
    zram_device(root, "zram1", disksize=0, mm=FREE)
    (root / "usr/lib/systemd").mkdir(parents=True)
    (root / "usr/lib/systemd/zram-generator.conf").write_text("[zram0]\nzram-size = ram / 2\n")
    for d, text in (("etc", "[zram1]\n"), ("usr/lib", "[zram0]\n[zram1]\n")):
        (root / d / "systemd/zram-generator.conf.d").mkdir(parents=True, exist_ok=True)
        (root / d / "systemd/zram-generator.conf.d/50-x.conf").write_text(text)  # /etc's hides /usr/lib's
    (root / "etc/systemd/zram-generator.conf.d/90-swapctl.conf").write_text("[zram0]\nzram-size = 64\n")
    doc = json.loads(cli("-o", "json", "zram", "status").stdout)
    owners = {d["device"]: d["boot_file"] for d in doc["data"]["devices"]}
    assert owners == {
        "/dev/zram0": "/etc/systemd/zram-generator.conf.d/90-swapctl.conf",
        "/dev/zram1": "/etc/systemd/zram-generator.conf.d/50-x.conf",
    }
    table = " ".join(cli("zram", "status").stdout.split())
    assert "/dev/zram0: set up at boot by /etc/systemd/zram-generator.conf.d/90-swapctl.conf" in table


# --- --algorithm-params: the algorithm's level and dictionary (algorithm_params, Linux 6.13+) ----------------
def params_device(root: Path, name: str = "zram0", **kw) -> None:  # noqa: ANN003
    zram_device(root, name, **kw)
    (root / "sys/block" / name / "algorithm_params").write_text("")


def test_create_writes_the_algorithm_params_after_the_algorithm_and_persists_them_zram_generators_way(
    cli, root: Path
) -> None:
    params_device(root, disksize=0, mm=FREE)
    generator(root)
    (root / "etc/zstd.dict").write_bytes(b"dictionary")
    code, doc = plan(
        cli, "create", "--size", "64M", "--algorithm", "lz4", "--algorithm-params", "level=3, dict=/etc/zstd.dict",
        "--persist", "--dry-run",
    )  # fmt: skip
    assert code == 0, doc
    assert doc["data"]["algorithm_params"] == ["level=3", "dict=/etc/zstd.dict"]
    assert doc["actions"][0]["description"] == "set up /dev/zram0: 64 MiB, lz4 (level=3 dict=/etc/zstd.dict)"
    assert "compression-algorithm = lz4(level=3,dict=/etc/zstd.dict)" in doc["actions"][-1]["description"]


def test_set_up_writes_comp_algorithm_then_algorithm_params_then_disksize(root: Path, monkeypatch) -> None:  # noqa: ANN001
    params_device(root, disksize=0, mm=FREE)
    host = fake_host(root)
    order: list[tuple[str, str]] = []

    def write(path: str, value: str) -> None:
        order.append((path.rsplit("/", 1)[1], value))
        if path.endswith("disksize"):  # the kernel initialises the device
            (root / path.lstrip("/")).write_text(value + "\n")
            (root / "sys/block/zram0/initstate").write_text("1\n")

    monkeypatch.setattr(host, "write_sysctl", write)
    zram_set.ZramSetup(
        device="zram0", algorithm="lzo", algorithm_params=["level=1"], mem_limit=None, disksize=64 * MIB
    ).apply(host, {})
    assert order == [("comp_algorithm", "lzo"), ("algorithm_params", "level=1"), ("disksize", str(64 * MIB))]


@pytest.mark.parametrize(
    ("params", "code", "says"),
    [
        ("algo=lz4", 2, "has no parameter 'algo' swapctl passes (level, dict)"),
        ("level=fast", 2, "level 'fast' is not a whole number"),
        ("level=1 level=2", 2, "gives level twice"),
        ("dict=etc/zstd.dict", 2, "is not an absolute path"),
        ("dict=/etc/none.dict", 2, "dict /etc/none.dict is not a regular file"),
        ("", 2, "--algorithm-params '' is empty"),
    ],
)
def test_bad_algorithm_params_are_refused_in_one_line(cli, root: Path, params: str, code: int, says: str) -> None:
    params_device(root, disksize=0, mm=FREE)
    r = cli("zram", "create", "--size", "64M", "--algorithm-params", params, "--dry-run")
    assert r.exit_code == code and says in r.output and r.output.count("\n") <= 2, r.output


def test_a_kernel_without_algorithm_params_refuses_them_and_persist_needs_a_named_algorithm(cli, root: Path) -> None:
    zram_device(root, disksize=0, mm=FREE)  # before 6.13: no algorithm_params file
    r = cli("zram", "create", "--size", "64M", "--algorithm-params", "level=3", "--dry-run")
    assert r.exit_code == 3 and "takes no algorithm_params (they came with Linux 6.13)" in r.output
    params_device(root, "zram1", disksize=0, mm=FREE)
    generator(root)
    control(root)
    for taken in ("zram0", "zram1"):  # both in use: auto adds zram2, whose algorithm is not known yet
        (root / "sys/block" / taken / "initstate").write_text("1\n")
    r = cli("zram", "create", "--size", "64M", "--algorithm-params", "level=3", "--persist", "--dry-run")
    assert r.exit_code == 2 and "--persist with --algorithm-params needs --algorithm" in r.output, r.output


def test_resize_and_the_undo_of_remove_set_again_the_params_swapctl_set(cli, root: Path, monkeypatch) -> None:  # noqa: ANN001
    from swapctl.core.journal import Journal
    from swapctl.core.plan import Plan, execute

    params_device(root, disksize=64 * MIB)
    swaps(root, "/dev/zram0                              partition\t65532\t\t0\t\t100")
    host = fake_host(root)
    monkeypatch.setattr(zram_set, "_set_up", lambda *a: None)
    journal = Journal(host.paths.state_dir, boot_id=host.boot_id(), kernel=host.kernel_release())
    setup = Plan("zram create")
    setup.add(zram_set.ZramSetup(device="zram0", algorithm="lz4", algorithm_params=["level=7"], disksize=64 * MIB))
    execute(setup, host, journal, dry_run=False, meta={}, fault=None)
    code, doc = plan(cli, "resize", "zram0", "--size", "128M", "--dry-run")
    assert code == 0 and doc["actions"][2]["description"] == "set up /dev/zram0: 128 MiB, lz4 (level=7)", doc
    reset = next(s for s in zram_set.plan_remove(host, journal, "zram0").steps if s.kind == "zram-reset")
    assert reset.undo_description() == "set up /dev/zram0 again (level=7) and mkswap it"
