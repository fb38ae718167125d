"""`swapctl metrics` on fake machines: the 6.12 two-node QEMU recording (doctor's healthy tree) with a swap file
whose name holds a space, a double quote and a backslash, a zram device in front of it and zswap enabled. Each
family's samples are checked to the value, every line against a strict parser of the text format 0.0.4 (and
`promtool check metrics` where it is installed), and the textfile is shown written whole or not at all."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.test_doctor_cli import BASE, BEGIN, INTENT, TX, healthy, journal, meminfo, write
from tests.cli.test_zram_zswap_cli import MM, zram_device
from tests.fakes import SWAPS_HEADER

NOW = 1764700000.25
ODD = '/srv/my "swap"\\file'  # /srv/my "swap"\file
ODD_IN_SWAPS = '/srv/my\\040"swap"\\134file'  # as the kernel escapes it in /proc/swaps (space, backslash)
PS = 4096


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = healthy(shutil.copytree(BASE, tmp_path / "root"))
    write(
        r,
        "/proc/swaps",
        SWAPS_HEADER
        + f"{ODD_IN_SWAPS}\tfile\t\t2097148\t\t1024\t\t-2\n"
        + "/dev/zram0\tpartition\t\t1048572\t\t8000\t\t100\n",
    )
    meminfo(r, SwapTotal=2097148 + 1048572, SwapFree=2097148 + 1048572 - 9024, Zswap=1024, Zswapped=4096)
    zram_device(r)
    for key, value in {"enabled": "Y", "compressor": "lz4", "zpool": "zsmalloc", "max_pool_percent": "20"}.items():
        write(r, f"/sys/module/zswap/parameters/{key}", value + "\n")
    vmstat = r / "proc/vmstat"
    text = vmstat.read_text()
    for key, n in (("zswpin", 5), ("zswpout", 70), ("zswpwb", 3)):
        text = re.sub(rf"^{key} \d+$", f"{key} {n}", text, flags=re.M)
    vmstat.write_text(text)
    return r


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: NOW)


# --- a strict reader of the text format 0.0.4 ------------------------------------------------------------
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+)|[+-]Inf|NaN)"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? ({VALUE})$")
LABEL_PAIR = re.compile(rf'({LABEL})="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def unescape(value: str) -> str:
    return re.sub(r"\\([\\\"n])", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse(text: str) -> dict[str, dict]:
    """name -> {type, help, samples: [(labels, value)]}; AssertionError on any line the format does not allow,
    a sample before its family's HELP and TYPE, a family given twice, a series given twice, or a counter whose
    name does not end in _total."""
    assert text.endswith("\n") and "\r" not in text
    fams: dict[str, dict] = {}
    current: str | None = None
    series: set[tuple] = set()
    for n, line in enumerate(text.splitlines(), 1):
        where = f"line {n}: {line!r}"
        if line.startswith("# HELP "):
            m = re.fullmatch(rf"# HELP ({NAME}) ((?:[^\\\n]|\\[\\n])*)", line)
            assert m, where
            assert m.group(1) not in fams, f"family repeats: {where}"
            current = m.group(1)
            fams[current] = {"help": m.group(2), "type": None, "samples": []}
            continue
        if line.startswith("# TYPE "):
            m = re.fullmatch(rf"# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)", line)
            assert m and m.group(1) == current and fams[current]["type"] is None, where
            fams[current]["type"] = m.group(2)
            continue
        assert not line.startswith("#") and line.strip(), f"a comment or blank line: {where}"
        m = SAMPLE.match(line)
        assert m, where
        name, body, value = m.groups()
        assert name == current and fams[name]["type"] is not None, f"sample without HELP and TYPE first: {where}"
        labels: dict[str, str] = {}
        rest = body or ""
        while rest:
            lm = LABEL_PAIR.match(rest)
            assert lm, f"bad labels: {where}"
            assert lm.group(1) not in labels and not lm.group(1).startswith("__"), where
            labels[lm.group(1)] = unescape(lm.group(2))
            rest = rest[lm.end() :]
            assert not (lm.group(3) == "," and not rest), where
        key = (name, tuple(sorted(labels.items())))
        assert key not in series, f"series repeats: {where}"
        series.add(key)
        fams[name]["samples"].append((labels, float(value)))
    for name, f in fams.items():
        assert f["type"] is not None and f["samples"], name
        assert (f["type"] == "counter") == name.endswith("_total"), f"counter naming: {name}"
        assert name.startswith("swapctl_"), name
    return fams


def values(fams: dict[str, dict], name: str) -> dict[tuple, float]:
    return {tuple(sorted(labels.items())): v for labels, v in fams[name]["samples"]}


def metrics(cli, *args: str, code: int = 0) -> str:  # noqa: ANN001
    r = cli("metrics", *args)
    assert r.exit_code == code, r.output
    return r.stdout


# --- the families ------------------------------------------------------------------------------------------
def test_families_and_values_on_two_nodes_with_a_file_zram_and_zswap(cli, root: Path) -> None:  # noqa: ANN001
    fams = parse(metrics(cli))
    f_ = (("path", ODD), ("type", "file"))
    z_ = (("path", "/dev/zram0"), ("type", "zram"))
    assert values(fams, "swapctl_swap_size_bytes") == {f_: 2097148 * 1024, z_: 1048572 * 1024}
    assert values(fams, "swapctl_swap_used_bytes") == {f_: 1024 * 1024, z_: 8000 * 1024}
    assert values(fams, "swapctl_swap_priority") == {f_: -2, z_: 100}
    assert values(fams, "swapctl_swap_encrypted") == {f_: 0}  # zram: in RAM, not at rest
    d = (("device", "zram0"),)
    assert MM.split() == ["4096000", "1024000", "1200128", "0", "1200128", "10", "2", "3", "1"]
    assert values(fams, "swapctl_zram_disksize_bytes") == {d: 1 << 30}
    assert values(fams, "swapctl_zram_orig_data_bytes") == {d: 4096000}
    assert values(fams, "swapctl_zram_compr_data_bytes") == {d: 1024000}
    assert values(fams, "swapctl_zram_mem_used_total_bytes") == {d: 1200128}
    assert values(fams, "swapctl_zram_mem_limit_bytes") == {d: 0}
    assert values(fams, "swapctl_zram_mem_used_max_bytes") == {d: 1200128}
    assert values(fams, "swapctl_zram_same_pages") == {d: 10}
    assert values(fams, "swapctl_zram_pages_compacted_total") == {d: 2}
    assert values(fams, "swapctl_zram_huge_pages") == {d: 3}
    assert values(fams, "swapctl_zram_huge_pages_since_total") == {d: 1}
    assert values(fams, "swapctl_zram_compression_ratio") == {d: 4.0}
    assert values(fams, "swapctl_zram_info") == {(("algorithm", "lz4"), ("device", "zram0")): 1}
    assert fams["swapctl_zram_orig_data_bytes"]["type"] == "gauge"
    assert fams["swapctl_zram_pages_compacted_total"]["type"] == "counter"
    # zswap: enabled, the pool's ratio from meminfo (4096 kB stored in 1024 kB), and vmstat's counters
    assert values(fams, "swapctl_zswap_enabled") == {(): 1}
    assert values(fams, "swapctl_zswap_compression_ratio") == {(): 4.0}
    assert values(fams, "swapctl_zswap_max_pool_ratio") == {(): 0.2}
    assert values(fams, "swapctl_zswap_info") == {(("compressor", "lz4"), ("zpool", "zsmalloc")): 1}
    assert values(fams, "swapctl_zswap_in_pages_total") == {(): 5}
    assert values(fams, "swapctl_zswap_out_pages_total") == {(): 70}
    assert values(fams, "swapctl_zswap_written_back_pages_total") == {(): 3}
    # the populated zones of both nodes, in bytes (zoneinfo counts pages of 4 KiB)
    n0dma, n0, n1 = (
        (("node", "0"), ("zone", "DMA")),
        (("node", "0"), ("zone", "DMA32")),
        (("node", "1"), ("zone", "DMA32")),
    )
    assert values(fams, "swapctl_zone_free_bytes") == {n0dma: 3776 * PS, n0: 237856 * PS, n1: 253380 * PS}
    assert values(fams, "swapctl_zone_watermark_min_bytes")[n1] == 8636 * PS
    assert values(fams, "swapctl_zone_watermark_low_bytes")[n1] == 10795 * PS
    assert values(fams, "swapctl_zone_watermark_high_bytes")[n1] == 12954 * PS
    assert values(fams, "swapctl_zone_watermark_low_bytes")[n0dma] == 160 * PS
    assert values(fams, "swapctl_zone_managed_bytes")[n1] == 257892 * PS
    settings = values(fams, "swapctl_vm_setting")
    assert settings[(("key", "vm.swappiness"),)] == int((root / "proc/sys/vm/swappiness").read_text())
    assert set(values(fams, "swapctl_vm_setting_drift").values()) == {0}
    # doctor's findings: zswap compresses in front of zram; the file is not encrypted at rest
    assert values(fams, "swapctl_finding") == {
        (("id", "zswap-in-front-of-zram"), ("severity", "warning")): 1,
        (("id", "swap-not-encrypted"), ("severity", "warning"), ("subject", ODD)): 1,
    }
    assert values(fams, "swapctl_findings") == {
        (("severity", "info"),): 0,
        (("severity", "warning"),): 2,
        (("severity", "critical"),): 0,
    }
    assert values(fams, "swapctl_pending_transaction") == {(): 0}
    assert values(fams, "swapctl_scrape_success") == {(): 1}
    assert values(fams, "swapctl_last_run_timestamp_seconds") == {(): NOW}
    # what node_exporter exports by default is not here: meminfo, and pswpin/pswpout and the other default fields
    assert not any(re.search(r"pswp|pgpg|pgfault|pgmajfault|oom_kill|mem_total|swap_free|swap_total", n) for n in fams)


def test_drift_and_a_pending_transaction(cli, root: Path) -> None:  # noqa: ANN001
    write(root, "/proc/sys/vm/vfs_cache_pressure", "50\n")  # set by hand, persisted nowhere
    journal(root, BEGIN, INTENT)
    fams = parse(metrics(cli))
    assert values(fams, "swapctl_vm_setting")[(("key", "vm.vfs_cache_pressure"),)] == 50
    drift = values(fams, "swapctl_vm_setting_drift")
    assert drift[(("key", "vm.vfs_cache_pressure"),)] == 1 and drift[(("key", "vm.swappiness"),)] == 0
    assert values(fams, "swapctl_pending_transaction") == {(): 1}
    found = values(fams, "swapctl_finding")
    assert found[(("id", "pending-transaction"), ("severity", "critical"), ("subject", TX))] == 1
    assert found[(("id", "persisted-drift"), ("severity", "warning"), ("subject", "vm.vfs_cache_pressure"))] == 1


def test_label_values_are_escaped(cli) -> None:  # noqa: ANN001
    out = metrics(cli)
    line = next(x for x in out.splitlines() if x.startswith("swapctl_swap_size_bytes{") and "srv" in x)
    assert line == 'swapctl_swap_size_bytes{path="/srv/my \\"swap\\"\\\\file",type="file"} ' + str(2097148 * 1024)
    from swapctl.ops.metrics import escape_label

    assert escape_label('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    assert unescape(escape_label('a\\b"c\nd\\n')) == 'a\\b"c\nd\\n'


def test_two_findings_alike_are_one_series() -> None:
    from swapctl.ops import doctor
    from swapctl.ops.metrics import MetricsReading, exposition, families

    alike = {"id": "swap-not-encrypted", "severity": "info", "subject": "/swapfile"}
    data = {"findings": [alike, dict(alike)], "counts": {"info": 2}}
    fams = parse(exposition(families(MetricsReading(doctor.Reading(), []), data, NOW)))
    assert values(fams, "swapctl_finding") == {
        (("id", "swap-not-encrypted"), ("severity", "info"), ("subject", "/swapfile")): 1
    }


def test_json_carries_the_same_families(cli) -> None:  # noqa: ANN001
    doc = json.loads(cli("-o", "json", "metrics").stdout)
    fams = {f["name"]: f for f in doc["data"]["families"]}
    assert doc["data"]["textfile"] is None
    assert set(fams) == set(parse(metrics(cli)))
    size = fams["swapctl_swap_size_bytes"]
    assert (
        size["type"] == "gauge"
        and {"labels": {"path": ODD, "type": "file"}, "value": 2097148 * 1024} in size["samples"]
    )


def test_a_machine_without_swap_zram_or_zswap_is_valid_exposition_too(cli, root: Path) -> None:  # noqa: ANN001
    write(root, "/proc/swaps", SWAPS_HEADER)
    shutil.rmtree(root / "sys/block")
    shutil.rmtree(root / "sys/module/zswap")
    fams = parse(metrics(cli))
    assert not any(n.startswith(("swapctl_swap_", "swapctl_zram_", "swapctl_zswap_enabled")) for n in fams)
    assert values(fams, "swapctl_finding") == {(("id", "no-swap"), ("severity", "warning")): 1}


PROMTOOL = ("/var/cache/swapctl-test/prometheus/usr/bin/promtool",)  # where scripts/install-test-deps puts it


def test_promtool_check_metrics_passes(cli) -> None:  # noqa: ANN001
    promtool = shutil.which("promtool") or next((p for p in PROMTOOL if os.access(p, os.X_OK)), None)
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus; scripts/install-test-deps unpacks it)")
    out = metrics(cli)
    r = subprocess.run([promtool, "check", "metrics"], input=out, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


# --- the textfile ------------------------------------------------------------------------------------------
def test_the_textfile_is_written_atomically_with_mode_0644(cli, tmp_path: Path) -> None:  # noqa: ANN001
    d = tmp_path / "textfile"
    d.mkdir()
    (d / "swapctl.prom").write_text("old\n")
    (d / "swapctl.prom").chmod(0o600)  # the file's mode is swapctl's, not what it finds
    old_inode = (d / "swapctl.prom").stat().st_ino
    umask = os.umask(0o077)
    try:
        r = cli("metrics", "--textfile-dir", str(d))
    finally:
        os.umask(umask)
    assert r.exit_code == 0, r.output
    assert r.stdout == ""  # prints nothing on success
    target = d / "swapctl.prom"
    assert sorted(p.name for p in d.iterdir()) == ["swapctl.prom"]  # no temp file left
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert target.stat().st_ino != old_inode  # renamed into place, not rewritten in place
    assert target.read_text() == metrics(cli)
    parse(target.read_text())
    doc = json.loads(cli("-o", "json", "metrics", "--textfile-dir", str(d)).stdout)
    assert doc["data"]["textfile"] == str(target)


def test_a_failed_write_leaves_the_old_file_and_no_temp(cli, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    d = tmp_path / "textfile"
    d.mkdir()
    (d / "swapctl.prom").write_text("old\n")

    def fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)
    r = cli("metrics", "--textfile-dir", str(d))
    assert r.exit_code == 3
    assert r.stderr.splitlines() == [f"swapctl: error: cannot write {d}/swapctl.prom: No space left on device"]
    assert sorted(p.name for p in d.iterdir()) == ["swapctl.prom"] and (d / "swapctl.prom").read_text() == "old\n"


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_a_bad_textfile_dir_is_one_line_and_exit_2(cli, tmp_path: Path, kind: str) -> None:  # noqa: ANN001
    d = tmp_path / "nope"
    if kind == "a file":
        d.write_text("")
    r = cli("metrics", "--textfile-dir", str(d))
    assert r.exit_code == 2 and r.stdout == ""
    why = "no such directory" if kind == "missing" else "not a directory"
    assert r.stderr.splitlines() == [f"swapctl: error: --textfile-dir {d}: {why}"]
    assert not (tmp_path / "nope").is_dir()


def test_a_failed_reading_replaces_the_textfile_with_scrape_success_0(cli, root: Path, tmp_path: Path) -> None:  # noqa: ANN001
    d = tmp_path / "textfile"
    d.mkdir()
    assert cli("metrics", "--textfile-dir", str(d)).exit_code == 0
    write(root, "/proc/swaps", SWAPS_HEADER + "garbage\n")
    r = cli("metrics", "--textfile-dir", str(d))
    assert r.exit_code == 3 and r.stderr.startswith("swapctl: error: ") and len(r.stderr.splitlines()) == 1
    fams = parse((d / "swapctl.prom").read_text())
    assert set(fams) == {"swapctl_scrape_success", "swapctl_last_run_timestamp_seconds"}
    assert values(fams, "swapctl_scrape_success") == {(): 0}


@pytest.mark.parametrize("bad", ["-1", "x", "61"])
def test_a_bad_interval_is_exit_2(cli, bad: str) -> None:  # noqa: ANN001
    r = cli("metrics", "--interval", bad)
    assert r.exit_code == 2 and r.stderr.startswith("swapctl: error: --interval")


def test_each_proc_and_sys_file_is_read_once_and_never_hot_add(cli, root: Path, monkeypatch) -> None:  # noqa: ANN001
    from swapctl.system import files

    reads: dict[str, int] = {}
    real = files.read_regular

    def counting(path, limit, shown=None):  # noqa: ANN001, ANN202
        inside = "/" + str(path.relative_to(root))
        reads[inside] = reads.get(inside, 0) + 1
        return real(path, limit, shown)

    monkeypatch.setattr(files, "read_regular", counting)
    write(root, "/sys/class/zram-control/hot_add", "1\n")
    metrics(cli)
    system = {p: n for p, n in reads.items() if p.startswith(("/proc/", "/sys/"))}
    assert {p: n for p, n in system.items() if n > 1} == {}
    assert {"/proc/vmstat", "/proc/meminfo", "/proc/zoneinfo", "/sys/block/zram0/mm_stat"} <= set(system)
    assert not any("hot_add" in p for p in reads)
