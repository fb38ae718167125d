"""`zswap set` on fake machines: values normalised, checked and written in order, read back, persisted in
swapctl's own tmpfiles.d file, rolled back by compare and swap (the real kernel: tests/system)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_zram_zswap_cli import swaps, zswap_params

CRYPTO = (
    "name         : lzo-rle\ndriver       : lzo-rle-scomp\ntype         : scomp\n\n"
    "name         : sha256\ntype         : shash\n\nname         : deflate\ntype         : acomp\n"
)
PERSIST = "etc/tmpfiles.d/90-swapctl-zswap.conf"
PARAMS = "/sys/module/zswap/parameters"


@pytest.fixture
def zroot(root: Path) -> Path:
    zswap_params(root)
    (root / "proc/crypto").write_text(CRYPTO)
    (root / "swapfile").write_bytes(b"")
    swaps(root, "/swapfile                               file\t\t1048572\t\t0\t\t-2")
    return root


def param(root: Path, name: str) -> str:
    return (root / PARAMS.lstrip("/") / name).read_text().strip()


def test_set_writes_in_order_reads_back_persists_and_rolls_back(cli, zroot: Path) -> None:
    r = cli("-o", "json", "zswap", "set", "enabled=yes", "compressor=lzo-rle", "max_pool_percent=025", "--persist")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0, r.output
    # enabled=Y last: the pool is made with the compressor and the ceiling already in force
    assert [a["description"] for a in doc["actions"]] == [
        "set zswap compressor: lzo -> lzo-rle",
        "set zswap max_pool_percent: 20 -> 25",
        "set zswap enabled: N -> Y",
        f"persist zswap enabled=Y, compressor=lzo-rle, max_pool_percent=25 in /{PERSIST}",
    ]
    assert (param(zroot, "enabled"), param(zroot, "compressor"), param(zroot, "max_pool_percent")) == (
        "Y",
        "lzo-rle",
        "25",
    )
    lines = (zroot / PERSIST).read_text().splitlines()
    assert lines[-3:] == [
        f"w {PARAMS}/compressor - - - - lzo-rle",
        f"w {PARAMS}/max_pool_percent - - - - 25",
        f"w {PARAMS}/enabled - - - - Y",
    ]
    again = json.loads(cli("-o", "json", "zswap", "set", "enabled=Y", "--persist").stdout)
    assert not again["changed"] and again["actions"] == []
    assert cli("rollback", doc["transaction"]).exit_code == 0
    assert (param(zroot, "enabled"), param(zroot, "compressor"), param(zroot, "max_pool_percent")) == ("N", "lzo", "20")
    assert not (zroot / PERSIST).exists()


def test_rollback_refuses_a_value_someone_changed_since(cli, zroot: Path) -> None:
    doc = json.loads(cli("-o", "json", "zswap", "set", "max_pool_percent=30").stdout)
    (zroot / PARAMS.lstrip("/") / "max_pool_percent").write_text("40\n")
    r = cli("rollback", doc["transaction"])
    assert r.exit_code == 3 and "max_pool_percent is now 40, not 30 as swapctl wrote it" in r.output
    assert param(zroot, "max_pool_percent") == "40"
    assert cli("rollback", doc["transaction"], "--force").exit_code == 0
    assert param(zroot, "max_pool_percent") == "20"


def test_persist_keeps_other_lines_and_replaces_its_own(cli, zroot: Path) -> None:
    (zroot / "etc/tmpfiles.d").mkdir()
    other = "# mine\nd /run/foo 0755 root root -\nw /sys/module/zswap/parameters/max_pool_percent - - - - 10"
    (zroot / PERSIST).write_text(other)
    assert cli("zswap", "set", "max_pool_percent=15", "shrinker_enabled=Y", "--persist").exit_code == 0
    assert (zroot / PERSIST).read_text() == (
        "# mine\nd /run/foo 0755 root root -\n"
        f"w {PARAMS}/max_pool_percent - - - - 15\nw {PARAMS}/shrinker_enabled - - - - Y\n"
    )


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["compressor=lz4"], 2, "the crypto API has no compressor 'lz4' (/proc/crypto lists: deflate, lzo-rle"),
        (["max_pool_percent=101"], 2, "max_pool_percent takes a percentage, 0 to 100"),
        (["accept_threshold_percent=-1"], 2, "takes a percentage"),
        (["enabled=maybe"], 2, "enabled takes Y or N"),
        (["compressor=lzo;rm"], 2, "takes an algorithm name"),
        (["zpool=zsmalloc"], 2, "zswap zpool is not on this kernel (gone in 6.18)"),
        (["nosuch=1"], 2, "zswap has no parameter 'nosuch'"),
        (["enabled"], 2, "is not NAME=VALUE"),
    ],
)
def test_bad_values_are_one_line_errors_before_any_write(
    cli, zroot: Path, args: list[str], code: int, says: str
) -> None:
    r = cli("zswap", "set", *args)
    assert r.exit_code == code and says in r.output and "Traceback" not in r.output, r.output
    assert param(zroot, "enabled") == "N" and param(zroot, "max_pool_percent") == "20"


def test_enabling_without_swap_is_refused_and_disabling_warns_the_pool_stays(cli, zroot: Path) -> None:
    swaps(zroot)
    r = cli("zswap", "set", "enabled=Y")
    assert r.exit_code == 3 and "stores nothing" in r.output and param(zroot, "enabled") == "N"
    assert cli("zswap", "set", "enabled=Y", "--force").exit_code == 0
    r = cli("-o", "json", "zswap", "set", "enabled=N")
    assert any("does not empty its pool" in w for w in json.loads(r.stdout)["warnings"])


def test_a_failed_write_undoes_the_earlier_ones(cli, zroot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWAPCTL_TEST_FAULT", "zswap-write:1:before:fail")
    r = cli("zswap", "set", "compressor=lzo-rle", "enabled=Y")
    assert r.exit_code == 1 and "every change was rolled back" in r.output, r.output
    assert param(zroot, "compressor") == "lzo" and param(zroot, "enabled") == "N"


# --- apply: zram and zswap sections in the one transaction --------------------------------------------------
def test_apply_plans_zram_and_zswap_with_line_numbered_errors(cli, zroot: Path, tmp_path: Path) -> None:
    from tests.cli.test_zram_write_cli import FREE, control, zram_device

    zram_device(zroot, disksize=0, mm=FREE)
    control(zroot)
    spec = tmp_path / "state.yaml"
    spec.write_text('zram:\n  - size: "ram / 8"\n    algorithm: lz4\nzswap:\n  enabled: true\n  max_pool_percent: 30\n')
    doc = json.loads(cli("-o", "json", "apply", str(spec), "--dry-run").stdout)
    assert [a["step"] for a in doc["actions"]] == [
        "zram-setup", "zram-mkswap", "swapon", "zswap-write", "zswap-write", "zswap-persist",
    ]  # fmt: skip
    zram_item = doc["data"]["items"][0]
    assert zram_item["path"] == "/dev/zram0" and zram_item["after"]["size"] == 3000 << 20
    assert [i["key"] for i in doc["data"]["items"][1:]] == ["zswap.max_pool_percent", "zswap.enabled"]
    spec.write_text("zram:\n  - state: absent\n  - size: 1G\n    colour: red\nzswap:\n  enabled: maybe\n")
    r = cli("apply", str(spec))
    assert r.exit_code == 2, r.output
    assert "state.yaml:2: an absent zram device needs its device name" in r.output
    assert "state.yaml:4" in r.output and "colour" in r.output
    assert "state.yaml:6: zswap enabled='maybe': enabled takes Y or N" in r.output


def test_apply_sets_zswap_and_rolls_it_back_as_one(cli, zroot: Path, tmp_path: Path) -> None:
    spec = tmp_path / "state.yaml"
    spec.write_text("zswap:\n  compressor: deflate\n  shrinker_enabled: true\npersist: false\n")
    doc = json.loads(cli("-o", "json", "apply", str(spec)).stdout)
    assert param(zroot, "compressor") == "deflate" and param(zroot, "shrinker_enabled") == "Y"
    assert not (zroot / PERSIST).exists()
    assert json.loads(cli("-o", "json", "apply", str(spec)).stdout)["changed"] is False
    assert cli("rollback", doc["transaction"]).exit_code == 0
    assert param(zroot, "compressor") == "lzo" and param(zroot, "shrinker_enabled") == "N"


def test_apply_warns_after_the_run_when_zswap_compresses_in_front_of_zram(cli, zroot: Path, tmp_path: Path) -> None:
    from tests.cli.test_zram_write_cli import zram_device

    zram_device(zroot)
    swaps(zroot, "/dev/zram0                              partition\t1048572\t\t0\t\t100")
    spec = tmp_path / "state.yaml"
    spec.write_text("zswap:\n  enabled: true\npersist: false\n")
    doc = json.loads(cli("-o", "json", "apply", str(spec)).stdout)
    assert any("zswap is enabled while zram is the first swap area" in w for w in doc["warnings"]), doc
    assert any("swapctl zswap set enabled=N" in w for w in doc["warnings"])
