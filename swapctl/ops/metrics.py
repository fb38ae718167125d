"""`swapctl metrics`: doctor's one reading of the machine as Prometheus text exposition (format 0.0.4), for
node_exporter's textfile collector or a scrape of stdout.

read() takes doctor's Reading (ops/doctor.py read(), every file at most once through a ReadOnce Host) and the
zram devices through the same Host; families() is a pure function of that reading and doctor's findings, and
exposition() of the families. Names follow node_exporter's conventions: the `swapctl_` prefix, base units
(bytes, seconds), `_total` on counters, `_ratio` for a share of 0..1.

Not exported, because node_exporter already does by default: every /proc/meminfo line (node_memory_*_bytes:
SwapTotal, SwapFree, Zswap, Zswapped, ...) and the vmstat fields its default set takes (node_vmstat_pgpgin,
pgpgout, pswpin, pswpout, pgfault, pgmajfault, oom_kill). No rates either: they are Prometheus's job, from the
counters (rate(swapctl_zswap_out_pages_total[5m]))."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swapctl.core.errors import Refused, UsageError

if TYPE_CHECKING:
    from swapctl.core.journal import Journal
    from swapctl.ops.doctor import Reading
    from swapctl.system.host import Host
    from swapctl.system.zram import ZramDevice

PREFIX = "swapctl_"
TEXTFILE = "swapctl.prom"  # node_exporter's textfile collector reads DIR/*.prom
TYPES = ("gauge", "counter")

Labels = dict[str, str]


@dataclass
class Family:
    name: str
    type: str  # gauge | counter
    help: str
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def add(self, value: float | None, **labels: str) -> None:
        if value is not None:
            self.samples.append((labels, value))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "help": self.help,
            "samples": [{"labels": labels, "value": value} for labels, value in self.samples],
        }


@dataclass
class MetricsReading:
    reading: Reading
    zram: list[ZramDevice]


def read(
    host: Host,
    journal: Journal,
    *,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> MetricsReading:
    """Doctor's reading, and the zram devices through the same ReadOnce Host (the swap list read their
    mm_stat already: those files are not read again)."""
    from swapctl.ops import doctor
    from swapctl.system import zram
    from swapctl.system.host import ReadOnce

    once = host if isinstance(host, ReadOnce) else ReadOnce(host)
    reading = doctor.read(once, journal, interval=interval, sleep=sleep, clock=clock)
    return MetricsReading(reading, zram.read_devices(once))


# --- the families ----------------------------------------------------------------------------------------
class _Families:
    def __init__(self) -> None:
        self.all: dict[str, Family] = {}

    def __call__(self, name: str, type: str, help: str) -> Family:
        assert type in TYPES and name not in self.all
        assert (type == "counter") == name.endswith("_total"), name
        fam = self.all[PREFIX + name] = Family(PREFIX + name, type, help)
        return fam

    def out(self) -> list[Family]:
        return [f for f in self.all.values() if f.samples]


def families(m: MetricsReading, data: dict[str, Any], now: float) -> list[Family]:
    """Every family with at least one sample, in a fixed order; data is doctor's diagnose() of m.reading."""
    r = m.reading
    fam = _Families()
    _swap(fam, r.areas)
    _zram(fam, m.zram)
    _zswap(fam, r)
    _zones(fam, r)
    _vm(fam, r.vm_rows)
    _findings(fam, data)
    pending = fam(
        "pending_transaction",
        "gauge",
        "1 when a transaction is pending in the journal (a crash left "
        "it half-done, or its undo failed: swapctl rollback), else 0; absent when the journal is unreadable",
    )
    if r.journal_problem is None and not any(c["check"] == "pending-transaction" for c in r.not_checked):
        pending.add(1 if r.pending is not None else 0)
    fam("scrape_success", "gauge", "1 when swapctl read the machine, 0 when the reading failed").add(1)
    fam("last_run_timestamp_seconds", "gauge", "When swapctl last read the machine, in seconds since the epoch").add(
        round(now, 3)
    )
    return fam.out()


def failed(now: float) -> list[Family]:
    """What a textfile holds when the reading failed: node_exporter goes on serving the last file otherwise."""
    fam = _Families()
    fam("scrape_success", "gauge", "1 when swapctl read the machine, 0 when the reading failed").add(0)
    fam("last_run_timestamp_seconds", "gauge", "When swapctl last read the machine, in seconds since the epoch").add(
        round(now, 3)
    )
    return fam.out()


def _swap(fam: _Families, areas: list[dict[str, Any]]) -> None:
    size = fam("swap_size_bytes", "gauge", "Size of a swap area (/proc/swaps Size)")
    used = fam("swap_used_bytes", "gauge", "Bytes of a swap area in use (/proc/swaps Used)")
    prio = fam("swap_priority", "gauge", "Priority of a swap area (/proc/swaps; higher is used first)")
    enc = fam(
        "swap_encrypted",
        "gauge",
        "1 when a swap area's device stack has dm-crypt, 0 when not; absent when it cannot tell (zram: in RAM)",
    )
    for a in areas:
        labels = {"path": a["path"], "type": a["type"]}
        size.add(a["size"], **labels)
        used.add(a["used"], **labels)
        prio.add(a["priority"], **labels)
        if a.get("encrypted") is not None:
            enc.add(1 if a["encrypted"] else 0, **labels)


def _zram(fam: _Families, devices: list[ZramDevice]) -> None:
    """zram's page counts stay pages, as mm_stat names them; bd_stat's 4 KiB units become bytes."""
    from swapctl.kernel.zram import ratio

    disksize = fam("zram_disksize_bytes", "gauge", "Uncompressed capacity of a zram device (disksize; 0: not set up)")
    info = fam("zram_info", "gauge", "A zram device and its compression algorithm (comp_algorithm), always 1")
    gauges = (
        ("orig_data_size", "zram_orig_data_bytes", "Uncompressed bytes stored in a zram device (mm_stat)"),
        ("compr_data_size", "zram_compr_data_bytes", "Compressed size of the data stored in a zram device (mm_stat)"),
        (
            "mem_used_total",
            "zram_mem_used_total_bytes",
            "Memory a zram device uses, allocator overhead included: its cost in RAM (mm_stat)",
        ),
        ("mem_limit", "zram_mem_limit_bytes", "Memory limit of a zram device (mm_stat; 0: none)"),
        ("mem_used_max", "zram_mem_used_max_bytes", "Most memory a zram device has used (mm_stat)"),
        ("same_pages", "zram_same_pages", "Pages of a zram device filled with one repeated word, stored without data"),
        ("huge_pages", "zram_huge_pages", "Incompressible pages a zram device stores whole (mm_stat, 5.0+)"),
    )
    counters = (
        ("pages_compacted", "mm", "zram_pages_compacted_total", "Pages freed by compaction of a zram device (mm_stat)"),
        (
            "huge_pages_since",
            "mm",
            "zram_huge_pages_since_total",
            "Incompressible pages a zram device has stored since set up (mm_stat, 5.15+)",
        ),
        ("failed_reads", "io", "zram_failed_reads_total", "Failed reads of a zram device (io_stat)"),
        ("failed_writes", "io", "zram_failed_writes_total", "Failed writes of a zram device (io_stat)"),
        ("invalid_io", "io", "zram_invalid_io_total", "Non-page-aligned I/O requests to a zram device (io_stat)"),
        ("notify_free", "io", "zram_notify_free_total", "Pages freed in a zram device by swap slot frees (io_stat)"),
    )
    by_field = {k: fam(name, "gauge", text) for k, name, text in gauges}
    by_counter = {k: (where, fam(name, "counter", text)) for k, where, name, text in counters}
    compression = fam(
        "zram_compression_ratio",
        "gauge",
        "orig_data_size / compr_data_size of a zram device: bytes of pages per byte compressed (absent while empty)",
    )
    backing = fam("zram_backing_bytes", "gauge", "Bytes a zram device holds on its backing device (bd_stat bd_count)")
    bd_reads = fam("zram_backing_read_bytes_total", "counter", "Bytes read from a zram device's backing device")
    bd_writes = fam("zram_backing_written_bytes_total", "counter", "Bytes written to a zram device's backing device")
    for dev in devices:
        d = dev.name
        disksize.add(dev.disksize, device=d)
        info.add(1, device=d, algorithm=dev.algorithm or "")
        if not dev.initialized:
            continue
        for key, f in by_field.items():
            f.add(dev.mm.get(key), device=d)
        for key, (where, f) in by_counter.items():
            f.add((dev.mm if where == "mm" else dev.io).get(key), device=d)
        if "orig_data_size" in dev.mm and "compr_data_size" in dev.mm:
            compression.add(ratio(dev.mm["orig_data_size"], dev.mm["compr_data_size"]), device=d)
        if dev.backing_dev is not None and dev.bd:
            # bd_stat counts 4 KiB pages whatever the machine's page size (zram_drv.c FOUR_K)
            backing.add(dev.bd.get("bd_count", 0) * 4096, device=d)
            bd_reads.add(dev.bd.get("bd_reads", 0) * 4096, device=d)
            bd_writes.add(dev.bd.get("bd_writes", 0) * 4096, device=d)


def _zswap(fam: _Families, r: Reading) -> None:
    params = r.zswap
    enabled = fam("zswap_enabled", "gauge", "1 when zswap is enabled (/sys/module/zswap/parameters/enabled)")
    info = fam("zswap_info", "gauge", "zswap's compressor and zpool (/sys/module/zswap/parameters), always 1")
    max_pool = fam("zswap_max_pool_ratio", "gauge", "Most of RAM zswap's pool may take (max_pool_percent / 100)")
    compression = fam(
        "zswap_compression_ratio",
        "gauge",
        "meminfo Zswapped / Zswap: bytes of pages per byte of zswap's pool (absent while empty; the two values "
        "are node_memory_Zswapped_bytes and node_memory_Zswap_bytes)",
    )
    counters = (
        ("zswpin", "zswap_in_pages_total", "Pages loaded from zswap back into memory (/proc/vmstat zswpin)"),
        ("zswpout", "zswap_out_pages_total", "Pages stored into zswap (/proc/vmstat zswpout)"),
        ("zswpwb", "zswap_written_back_pages_total", "Pages zswap wrote back to the swap device (/proc/vmstat zswpwb)"),
    )
    made = [(key, fam(name, "counter", text)) for key, name, text in counters]
    if params is not None:
        if params.get("enabled") in ("Y", "N"):
            enabled.add(1 if params["enabled"] == "Y" else 0)
        labels = {k: params[k] for k in ("compressor", "zpool") if k in params}
        if labels:
            info.add(1, **labels)
        pct = params.get("max_pool_percent", "")
        if pct.isdigit() and pct.isascii():
            max_pool.add(int(pct) / 100)
    pool, stored = r.meminfo.get("Zswap"), r.meminfo.get("Zswapped")
    if pool and stored is not None:
        compression.add(round(stored / pool, 3))
    for key, f in made:
        if r.vmstat is not None:
            f.add(r.vmstat.get(key))


def _zones(fam: _Families, r: Reading) -> None:
    zones = r.state.memory.zones if r.state is not None else []
    ps = r.page_size
    free = fam("zone_free_bytes", "gauge", "Free memory of a zone (/proc/zoneinfo pages free, times the page size)")
    marks = [
        (w, fam(f"zone_watermark_{w}_bytes", "gauge", f"The {w} watermark of a zone (/proc/zoneinfo {w}){why}"))
        for w, why in (
            ("min", ": below it only atomic and reclaiming allocations succeed; others reclaim directly"),
            ("low", ": below it kswapd wakes"),
            ("high", ": kswapd reclaims until free memory reaches it, then sleeps"),
        )
    ]
    managed = fam("zone_managed_bytes", "gauge", "Memory of a zone the page allocator manages (/proc/zoneinfo managed)")
    for z in zones:
        if not z.populated:
            continue
        labels = {"node": str(z.node), "zone": z.name}
        free.add(z.free * ps, **labels)
        for w, f in marks:
            f.add(getattr(z, w) * ps, **labels)
        managed.add(z.managed * ps, **labels)


def _vm(fam: _Families, rows: list[dict[str, Any]]) -> None:
    setting = fam("vm_setting", "gauge", "The running value of a vm sysctl, as /proc/sys/vm shows it (key's unit)")
    drift = fam(
        "vm_setting_drift",
        "gauge",
        "1 when a vm sysctl's running value differs from what the next boot applies (sysctl.d), else 0",
    )
    for row in rows:
        value = row.get("value")
        if not row.get("available") or not isinstance(value, int):
            continue
        setting.add(value, key=row["key"])
        drift.add(1 if row.get("drift") else 0, key=row["key"])


def _findings(fam: _Families, data: dict[str, Any]) -> None:
    from swapctl.ops.doctor import SEVERITIES

    finding = fam(
        "finding",
        "gauge",
        "1 for each finding of swapctl doctor (id and severity; subject: the area, cgroup, key or transaction)",
    )
    seen: set[tuple[tuple[str, str], ...]] = set()
    for f in data["findings"]:
        labels = {"id": f["id"], "severity": f["severity"]}
        if f.get("subject"):
            labels["subject"] = str(f["subject"])
        key = tuple(sorted(labels.items()))
        if key not in seen:  # one series per label set: two findings alike are one sample
            seen.add(key)
            finding.add(1, **labels)
    counts = fam("findings", "gauge", "Number of swapctl doctor findings at each severity")
    for severity in SEVERITIES:
        counts.add(data["counts"].get(severity, 0), severity=severity)


# --- the text --------------------------------------------------------------------------------------------
def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def exposition(fams: Iterable[Family]) -> str:
    """Text format 0.0.4: for each family its HELP and TYPE lines, then its samples."""
    lines = []
    for f in fams:
        lines += [f"# HELP {f.name} {escape_help(f.help)}", f"# TYPE {f.name} {f.type}"]
        for labels, value in f.samples:
            body = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
            lines.append(f"{f.name}{{{body}}} {format_value(value)}" if body else f"{f.name} {format_value(value)}")
    return "".join(line + "\n" for line in lines)


# --- the textfile ----------------------------------------------------------------------------------------
def textfile_dir(text: str) -> Path:
    """--textfile-dir: a directory that exists (swapctl never makes it: a typo would go unnoticed)."""
    path = Path(text).absolute()
    if not path.exists():
        raise UsageError(f"--textfile-dir {text}: no such directory")
    if not path.is_dir():
        raise UsageError(f"--textfile-dir {text}: not a directory")
    return path


def write_textfile(directory: Path, text: str) -> Path:
    """DIR/swapctl.prom, atomically (a temp file in DIR, fsync, rename, fsync of DIR), mode 0644: the textfile
    collector never reads half a file, and the temp file's name does not end in .prom."""
    from swapctl.system import files

    target = directory / TEXTFILE
    try:
        files.atomic_write(target, text.encode(), mode=0o644)
    except PermissionError:
        raise Refused(
            f"cannot write {target}: permission denied", hint="run it as the directory's owner, or root"
        ) from None
    except OSError as exc:
        raise Refused(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
