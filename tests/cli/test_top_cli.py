"""`swapctl top` on fake machines: who uses swap per process, user and cgroup, reconciled with the machine's
total; processes that vanish or cannot be read are skipped and counted; --interval gives rates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes import fake_host

MEMINFO = "MemTotal: 24576000 kB\nMemFree: 20000000 kB\nSwapTotal: 1048576 kB\nSwapFree: 948576 kB\n"


def proc(root: Path, pid: int, name: str, uid: int, swap_kb: int | None, *, cgroup: str = "0::/user.slice\n") -> None:
    d = root / "proc" / str(pid)
    d.mkdir(parents=True)
    lines = [f"Name:\t{name}", f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}"]
    if swap_kb is not None:
        lines += ["VmRSS:\t    2048 kB", "RssShmem:\t       0 kB", f"VmSwap:\t{swap_kb:8d} kB"]
    (d / "status").write_text("\n".join(lines) + "\n")
    (d / "cmdline").write_bytes(f"/usr/bin/{name}\0--flag\0".encode())
    (d / "cgroup").write_text(cgroup)
    (d / "stat").write_text(f"{pid} ({name} x) S 1 1 1 0 -1 4194560 100 0 {pid % 7} 0 1 1 0 0 20 0 1 0\n")
    (d / "smaps_rollup").write_text(f"Rss: 2048 kB\nSwapPss: {(swap_kb or 0) // 2} kB\n")


@pytest.fixture
def machine(root: Path) -> Path:
    (root / "proc/meminfo").write_text(MEMINFO)
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
    proc(root, 101, "postgres", 1000, 60000, cgroup="0::/system.slice/postgres.service\n")
    proc(root, 102, "java", 1000, 30000)
    proc(root, 103, "sshd", 0, 0)
    proc(root, 2, "kthreadd", 0, None)  # a kernel thread: no VmSwap
    (root / "proc/vmstat").write_text("pswpin 10\npswpout 20\nzswpout 0\n")
    return root


def data(cli, *args: str) -> dict:  # noqa: ANN001
    r = cli("-o", "json", "top", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["data"]


def test_top_ranks_processes_by_swap_and_reconciles_with_the_machine(cli, machine: Path) -> None:
    d = data(cli)
    assert [(r["pid"], r["user"], r["swap"]) for r in d["rows"]] == [
        (101, "alice", 60000 * 1024),
        (102, "alice", 30000 * 1024),
    ]  # sshd swaps nothing: not listed
    assert d["rows"][0]["command"] == "/usr/bin/postgres --flag"
    assert d["rows"][0]["share"] == 60.0  # of the 100000 kB the machine uses
    assert d["total"] == 90000 * 1024 and d["machine_used"] == 100000 * 1024
    assert d["skipped"] == {"vanished": 0, "unreadable": 0, "kernel_threads": 1}
    assert d["source"] == "VmSwap (status)"
    table = " ".join(cli("top").stdout.split())
    assert "87.9 MiB in processes; the machine uses 97.7 MiB of swap" in table
    assert "/usr/bin/postgres --flag" in table


def test_top_by_user_and_by_cgroup(cli, machine: Path) -> None:
    d = data(cli, "--by", "user")
    assert [(r["user"], r["processes"], r["swap"]) for r in d["rows"]] == [("alice", 2, 90000 * 1024)]
    cg = machine / "sys/fs/cgroup/system.slice/postgres.service"
    cg.mkdir(parents=True)
    (cg / "memory.swap.current").write_text(f"{61000 * 1024}\n")
    d = data(cli, "--by", "cgroup")
    rows = {r["cgroup"]: r for r in d["rows"]}
    assert rows["/system.slice/postgres.service"]["swap"] == 60000 * 1024
    assert rows["/system.slice/postgres.service"]["cgroup_swap"] == 61000 * 1024
    assert rows["/system.slice/postgres.service"]["cgroup_source"] == "memory.swap.current"
    assert rows["/user.slice"]["cgroup_swap"] is None


def test_a_cgroup_v1_memory_hierarchy_is_read_as_memsw_minus_usage(cli, machine: Path) -> None:
    (machine / "proc/101/cgroup").write_text("12:memory:/db\n11:cpu,cpuacct:/db\n0::/\n")
    cg = machine / "sys/fs/cgroup/memory/db"
    cg.mkdir(parents=True)
    (cg / "memory.memsw.usage_in_bytes").write_text("3000\n")
    (cg / "memory.usage_in_bytes").write_text("1000\n")
    rows = {r["cgroup"]: r for r in data(cli, "--by", "cgroup")["rows"]}
    assert rows["/db"]["cgroup_swap"] == 2000
    assert rows["/db"]["cgroup_source"] == "memory.memsw.usage_in_bytes - memory.usage_in_bytes"


def test_pss_and_limits(cli, machine: Path) -> None:
    d = data(cli, "--pss", "--limit", "1")
    assert [(r["pid"], r["swap"]) for r in d["rows"]] == [(101, 30000 * 1024)]
    assert d["source"] == "SwapPss (smaps_rollup)"


def test_vanished_and_unreadable_processes_are_counted_not_fatal(cli, machine: Path) -> None:
    (machine / "proc/999").mkdir()  # exited between the listing and the read
    proc(machine, 104, "odd", 0, 10)
    (machine / "proc/104/status").write_text("Name:\todd\nUid:\tnot-a-number\nVmSwap:\t10 kB\n")
    d = data(cli)
    assert d["skipped"]["vanished"] == 1 and d["skipped"]["unreadable"] == 1
    assert [r["pid"] for r in d["rows"]] == [101, 102]


def test_interval_prints_one_json_line_per_record_with_rates(cli, machine: Path, monkeypatch) -> None:  # noqa: ANN001
    import time

    vmstat = machine / "proc/vmstat"
    counts = iter([420, 820])
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        vmstat.write_text(f"pswpin 10\npswpout {next(counts)}\nzswpout 0\n")
        real_sleep(0.01)

    monkeypatch.setattr(time, "sleep", sleep)
    r = cli("-o", "json", "top", "--interval", "0.5", "--count", "2")
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(records) == 2 and all(rec["command"] == "top" for rec in records)
    assert all(rec["data"]["rates"]["pswpout"] > 0 for rec in records)
    assert "majflt_s" in records[0]["data"]["rows"][0]


def test_interval_reads_each_process_once_per_refresh(cli, machine: Path, monkeypatch) -> None:  # noqa: ANN001
    """The report and the major-fault rates come from one pass over /proc per refresh (and one before the first)."""
    import collections
    import time

    from swapctl.system import processes

    reads: collections.Counter[str] = collections.Counter()
    real_read = processes._read

    def counted(host, path: str) -> str:  # noqa: ANN001
        reads[path] += 1
        return real_read(host, path)

    monkeypatch.setattr(processes, "_read", counted)
    monkeypatch.setattr(time, "sleep", lambda s: None)
    r = cli("-o", "json", "top", "--interval", "0.5", "--count", "2")
    assert r.exit_code == 0, r.output
    assert reads["/proc/101/status"] == 3 and reads["/proc/101/stat"] == 3, reads


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--by", "node"], "--by 'node' is not one of process, user, cgroup"),
        (["--count", "3"], "--count needs --interval"),
        (["--interval", "0"], "--interval 0 is out of range"),
        (["--limit", "x"], "--limit"),
    ],
)
def test_bad_options_are_one_line_errors(cli, machine: Path, args: list[str], says: str) -> None:
    r = cli("top", *args)
    assert r.exit_code == 2 and says in r.output and "Traceback" not in r.output, r.output


def test_pss_as_a_normal_user_says_what_it_leaves_out(cli, machine: Path) -> None:
    r = cli("-o", "json", "top", "--pss", host_override=fake_host(machine, uid=1000))
    assert "only as root" in json.loads(r.stdout)["data"]["note"]


def test_on_a_terminal_each_record_replaces_the_last_and_piped_they_follow(machine: Path) -> None:
    import subprocess
    import sys

    from tests.cli.test_terminal_widths import REPO, on_pty

    argv = ["--root", str(machine), "top", "--interval", "0.1", "--count", "2"]
    shown = on_pty(argv, 80, raw=True)
    assert shown.count("\x1b[H\x1b[2J") == 2 and shown.count("postgres") == 2, shown
    piped = subprocess.run(
        [sys.executable, "-m", "swapctl", *argv], capture_output=True, text=True, timeout=60, cwd=REPO
    ).stdout
    assert "\x1b[" not in piped and piped.count("postgres") == 2, piped


def v2_group(machine: Path, *, stat: str, swap_max: str = "max", events: str = "high 0\nmax 0\nfail 0\n") -> Path:
    cg = machine / "sys/fs/cgroup/system.slice/postgres.service"
    cg.mkdir(parents=True)
    (cg / "memory.swap.current").write_text(f"{61000 * 1024}\n")
    (cg / "memory.swap.max").write_text(swap_max + "\n")
    (cg / "memory.swap.events").write_text(events)
    (cg / "memory.stat").write_text(stat)
    return cg


def test_a_v2_cgroup_shows_its_swap_limit_events_zswap_and_counters(cli, machine: Path) -> None:
    cg = v2_group(
        machine,
        stat="anon 4096\nswap 0\nzswpin 3\nzswpout 9\npswpin 120\npswpout 480\npgfault 77\n",
        swap_max=str(64 << 20),
        events="high 0\nmax 2\nfail 1\n",
    )
    (cg / "memory.zswap.current").write_text("1048576\n")
    row = {r["cgroup"]: r for r in data(cli, "--by", "cgroup")["rows"]}["/system.slice/postgres.service"]
    assert row["cgroup_swap_max"] == 64 << 20
    assert row["cgroup_swap_events"] == {"high": 0, "max": 2, "fail": 1}
    assert row["cgroup_zswap"] == 1 << 20
    assert row["cgroup_counters"] == {"pswpin": 120, "pswpout": 480, "zswpin": 3, "zswpout": 9}
    text = " ".join(cli("top", "--by", "cgroup").stdout.split())
    assert "swap.max 64 MiB, swap.events max 2 fail 1, zswap 1 MiB" in text


def _interval(cli, machine: Path, monkeypatch, stats: list[str], *args: str):  # noqa: ANN001, ANN202
    """`top --by cgroup --interval 1` with the group's memory.stat stepping through `stats`, one per sleep."""
    import time

    stat = machine / "sys/fs/cgroup/system.slice/postgres.service/memory.stat"
    steps = iter(stats)
    monkeypatch.setattr(time, "sleep", lambda s: stat.write_text(next(steps)))
    clock = iter(float(n) for n in range(100))
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    return cli(*args, "top", "--by", "cgroup", "--interval", "1", "--count", str(len(stats)))


def test_interval_by_cgroup_gives_each_groups_own_swap_rates_from_memory_stat(cli, machine: Path, monkeypatch) -> None:  # noqa: ANN001
    v2_group(machine, stat="pswpin 100\npswpout 1000\n")
    r = _interval(cli, machine, monkeypatch, ["pswpin 130\npswpout 1400\n", "pswpin 130\npswpout 1500\n"], "-o", "json")
    assert r.exit_code == 0, r.output
    records = [json.loads(line)["data"] for line in r.stdout.splitlines()]
    rates = [{x["cgroup"]: x["rates"] for x in rec["rows"]} for rec in records]
    assert [x["/system.slice/postgres.service"] for x in rates] == [
        {"pswpin": 30.0, "pswpout": 400.0},
        {"pswpin": 0.0, "pswpout": 100.0},
    ]
    assert rates[0]["/user.slice"] is None  # no memory.stat of its own here
    assert records[0]["cgroup_rates_note"] is None


def test_interval_by_cgroup_on_a_terminal_shows_in_and_out_columns(cli, machine: Path, monkeypatch) -> None:  # noqa: ANN001
    v2_group(machine, stat="pswpin 100\npswpout 1000\n")
    r = _interval(cli, machine, monkeypatch, ["pswpin 130\npswpout 1400\n"])
    assert r.exit_code == 0, r.output
    header = next(line for line in r.stdout.splitlines() if "CGROUP" in line)
    assert header.split()[-2:] == ["IN/S", "OUT/S"]
    row = next(line for line in r.stdout.splitlines() if "postgres.service" in line)
    assert row.split()[-2:] == ["30", "400"]


def test_without_per_cgroup_counters_the_rates_say_why(cli, machine: Path, monkeypatch) -> None:  # noqa: ANN001
    v2_group(machine, stat="anon 4096\nswap 0\n")  # before 6.13: no pswpin/pswpout in memory.stat
    r = _interval(cli, machine, monkeypatch, ["anon 4096\nswap 0\n"], "-o", "json")
    rec = json.loads(r.stdout)["data"]
    assert all(x["rates"] is None for x in rec["rows"])
    assert "cgroup v2 on Linux 6.13 or later" in rec["cgroup_rates_note"]
    text = " ".join(_interval(cli, machine, monkeypatch, ["swap 0\n"]).stdout.split())
    assert "need cgroup v2 on Linux 6.13 or later" in text
