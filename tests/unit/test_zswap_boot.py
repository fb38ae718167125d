"""What zswap's parameters will be after the next boot (`zswap get`'s AT BOOT): the kernel command line as
the module starts, then systemd-tmpfiles' first `w` line for each parameter, over it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swapctl.ops import zswap
from tests.cli.test_zswap_set_cli import zroot  # noqa: F401 (a fixture: /proc/crypto without lz4, a swap area)

PARAMS = {"enabled": "N", "compressor": "lzo", "max_pool_percent": "20", "accept_threshold_percent": "90"}


@pytest.fixture
def machine(root: Path) -> Path:
    d = root / "sys/module/zswap/parameters"
    d.mkdir(parents=True)
    for k, v in PARAMS.items():
        (d / k).write_text(v + "\n")
    tool = root / "usr/bin/systemd-tmpfiles"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/false\n")
    return root


def tmpfiles(root: Path, where: str, name: str, text: str) -> None:
    d = root / where.lstrip("/")
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text)


def test_nothing_set_means_the_built_in_defaults(host, machine: Path) -> None:
    got = zswap.at_boot(host, PARAMS)
    assert {k: v["value"] for k, v in got.items()} == dict.fromkeys(PARAMS)
    assert got["enabled"]["source"] == zswap.BUILT_IN


def test_the_command_line_then_tmpfiles_over_it(host, machine: Path) -> None:
    (machine / "proc/cmdline").write_text("root=/dev/vda zswap.enabled=1 zswap.max_pool_percent=30 zswap.bogus=1\n")
    tmpfiles(
        machine,
        "/etc/tmpfiles.d",
        "90-swapctl-zswap.conf",
        "w /sys/module/zswap/parameters/max_pool_percent - - - - 25\n",
    )
    got = zswap.at_boot(host, PARAMS)
    assert got["enabled"] == {"value": "Y", "source": "the kernel command line (/proc/cmdline)"}
    assert got["max_pool_percent"] == {
        "value": "25",
        "source": "/etc/tmpfiles.d/90-swapctl-zswap.conf line 1",
    }


def test_the_first_file_by_name_wins_and_etc_hides_the_same_name_elsewhere(host, machine: Path) -> None:
    p = "/sys/module/zswap/parameters/compressor"
    tmpfiles(machine, "/usr/lib/tmpfiles.d", "10-vendor.conf", f"w {p} - - - - zstd\n")
    tmpfiles(machine, "/etc/tmpfiles.d", "10-vendor.conf", f"# masked by the admin\nw! {p} - - - - lz4\n")
    tmpfiles(machine, "/etc/tmpfiles.d", "50-later.conf", f"w {p} - - - - 842\n")
    tmpfiles(machine, "/usr/lib/tmpfiles.d", "05-other.conf", f"d /run/x 0755 - - -\nf {p} - - - - deflate\n")
    assert zswap.at_boot(host, PARAMS)["compressor"] == {
        "value": "lz4",
        "source": "/etc/tmpfiles.d/10-vendor.conf line 2",
    }


def test_without_systemd_tmpfiles_its_lines_do_not_count(host, machine: Path) -> None:
    (machine / "usr/bin/systemd-tmpfiles").unlink()
    tmpfiles(machine, "/etc/tmpfiles.d", "90-swapctl-zswap.conf", "w /sys/module/zswap/parameters/enabled - - - - Y\n")
    assert zswap.at_boot(host, PARAMS)["enabled"]["value"] is None


def test_zswap_get_shows_the_boot_values(cli, machine: Path) -> None:
    tmpfiles(machine, "/etc/tmpfiles.d", "90-swapctl-zswap.conf", "w /sys/module/zswap/parameters/enabled - - - - Y\n")
    r = cli("-o", "json", "zswap", "get")
    assert json.loads(r.stdout)["data"]["at_boot"]["enabled"]["value"] == "Y"
    row = next(line for line in cli("zswap", "get").stdout.splitlines() if line.split()[:1] == ["enabled"])
    assert row.split()[:3] == ["enabled", "N", "Y"] and "90-swapctl-zswap.conf" in row


def test_a_compressor_built_as_a_module_is_accepted_the_kernel_loads_it_on_the_write(cli, zroot: Path) -> None:  # noqa: F811
    """Debian's kernels build lz4 as a module: not in /proc/crypto until loaded, but writing "lz4" to zswap's
    compressor makes the crypto API load crypto-lz4. A name no module gives is still refused."""
    release = (zroot / "proc/sys/kernel/osrelease").read_text().strip()
    alias = zroot / "lib/modules" / release / "modules.alias"
    alias.parent.mkdir(parents=True)
    alias.write_text("alias crypto-lz4 lz4\nalias crypto-sha256 sha256_generic\nalias crypto-lz4hc lz4hc\n")
    r = cli("-o", "json", "zswap", "set", "compressor=lz4")
    assert r.exit_code == 0, r.output
    assert (zroot / "sys/module/zswap/parameters/compressor").read_text().strip() == "lz4"
    r = cli("zswap", "set", "compressor=zstd")
    assert r.exit_code == 2 and "no compressor 'zstd'" in r.output
