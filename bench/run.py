"""Benchmarks against the raw tools (issue 8): start-up, create/remove, zero-fill, zoneinfo, stress touch rate.

    sudo .venv/bin/python bench/run.py [--quick]

Every figure is a ratio of medians of runs interleaved with the raw tool's, printed with the commands that
produced it. Swap files live in a root-owned 0700 directory under /var/tmp, removed (swapoff, rm) even on
failure. Asserts nothing about wall-clock: the figures belong to the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PY = sys.executable
GIB = 1 << 30
SIZE_RE = re.compile(r"^\s*(\S+)\s")


def swapctl_argv() -> list[str]:
    """The console script next to this interpreter (what users run), else `python -m swapctl`."""
    script = Path(PY).parent / "swapctl"
    return [str(script)] if script.exists() else [PY, "-m", "swapctl"]


SWAPCTL = swapctl_argv()


def show(argv: list[str] | str) -> str:
    return argv if isinstance(argv, str) else shlex.join(argv)


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, **kw)


def interleaved(cases: dict[str, Callable[[], None]], rounds: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each case, run round-robin (the starting case rotates) so drift hits all alike."""
    names = list(cases)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            cases[name]()
            elapsed = time.perf_counter() - start
            if r >= warmup:
                times[name].append(elapsed)
    return {n: statistics.median(v) for n, v in times.items()}


def proc(argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> Callable[[], None]:
    return lambda: subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd, check=False
    )


def heading(text: str) -> None:
    print(f"\n== {text}")


def figure(label: str, value: str, command: str) -> None:
    print(f"  {label:<44} {value:>12}   $ {command}")


# --- 1. start-up --------------------------------------------------------------------------------------
def bench_startup(rounds: int) -> None:
    heading(f"1. start-up: median of {rounds} interleaved runs, ratio to the import-typer floor")
    floor_argv = [PY, "-c", "import typer"]
    cases = {
        "floor": floor_argv,
        "list": [*SWAPCTL, "list", "-o", "json"],
        "vm get": [*SWAPCTL, "vm", "get", "-o", "json"],
        "watermarks": [*SWAPCTL, "watermarks", "-o", "json"],
        "top": [*SWAPCTL, "top", "-o", "json"],
    }
    # What TAB runs: the generated bash completion (static: no Python at all), completing `swapctl vm g`.
    bash_script = (
        f"source {shlex.quote(str(REPO / 'completions' / 'swapctl.bash'))}; "
        "COMP_WORDS=(swapctl vm g); COMP_CWORD=2; COMP_LINE='swapctl vm g'; COMP_POINT=12; "
        "_swapctl swapctl g vm; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    bash_argv = ["bash", "--norc", "--noprofile", "-c", bash_script]
    completed = subprocess.run(bash_argv, capture_output=True, text=True).stdout.split()
    if completed != ["get"]:
        print(f"  (warning: the bash completion offered {completed}, expected ['get'])")
    cases["bash completion"] = bash_argv
    for argv in cases.values():  # each must work before it is timed
        run(argv)
    medians = interleaved({n: proc(a) for n, a in cases.items()}, rounds)
    floor = medians["floor"]
    figure("floor: import typer", f"{floor * 1000:.1f} ms", show(floor_argv))
    for name, argv in cases.items():
        if name != "floor":
            figure(f"{name} (target <= 1.30x)", f"{medians[name] / floor:.2f}x", show(argv))
    # The protocol Typer's own completion scripts use; swapctl ships static scripts instead (completions/).
    env = dict(os.environ, _SWAPCTL_COMPLETE="complete_bash", COMP_WORDS="swapctl vm g", COMP_CWORD="2")
    rc = subprocess.run(SWAPCTL, env=env, capture_output=True).returncode
    print(f"  _SWAPCTL_COMPLETE=complete_bash {show(SWAPCTL)}: exit {rc} (not served: completions/ are static)")


# --- 1b. the single file against a venv -----------------------------------------------------------------
PYZ_PYTHONS = ("3.9", "3.11", "3.13")


def bench_pyz(rounds: int) -> None:
    """swapctl.pyz (tools/build-pyz) against a venv install, `list -o json`, on three Pythons: the venv is
    .venv for this interpreter and .venvs/3.X (tools/pythons.py) for the others."""
    sys.path.insert(0, str(REPO / "tools"))
    import pythons  # tools/pythons.py: finds the interpreters and makes their venvs

    heading(f"1b. swapctl.pyz: median of {rounds} interleaved runs of `list -o json`, ratio to a venv install")
    with tempfile.TemporaryDirectory(prefix="swapctl-bench-pyz.") as tmp:
        pyz = Path(tmp) / "swapctl.pyz"
        run([PY, str(REPO / "tools/build-pyz"), "--output", str(pyz)])
        env = dict(os.environ, SWAPCTL_PYZ_CACHE=str(Path(tmp) / "cache"))
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        for minor in PYZ_PYTHONS:
            python = pythons.find(minor)
            if python is None:
                print(f"  Python {minor}: no interpreter found")
                continue
            venv = Path(PY).parent.parent if minor == here else pythons.venv(minor, python)
            cases = {"venv": [str(venv / "bin/swapctl"), "list", "-o", "json"]}
            cases["pyz"] = [python, str(pyz), "list", "-o", "json"]
            cases["pyz, no cache"] = [python, str(pyz), "list", "-o", "json"]
            envs = {"venv": env, "pyz": env, "pyz, no cache": dict(env, SWAPCTL_PYZ_CACHE="0")}
            for name, argv in cases.items():  # each must work (and the cache be warm) before it is timed
                run(argv, env=envs[name])
            medians = interleaved({n: proc(a, env=envs[n]) for n, a in cases.items()}, rounds)
            base = medians["venv"]
            figure(f"Python {minor}: venv", f"{base * 1000:.1f} ms", show(cases["venv"]))
            figure(f"Python {minor}: pyz (target <= 1.20x)", f"{medians['pyz'] / base:.2f}x", show(cases["pyz"]))
            figure(
                f"Python {minor}: pyz, SWAPCTL_PYZ_CACHE=0",
                f"{medians['pyz, no cache'] / base:.2f}x",
                show(cases["pyz, no cache"]),
            )


# --- the scratch directory for swap files -----------------------------------------------------------
@contextmanager
def scratch() -> Iterator[Path]:
    """A root-owned 0700 directory in /var/tmp; every swap area in it is swapped off and deleted on exit."""
    path = Path(tempfile.mkdtemp(prefix="swapctl-bench.", dir="/var/tmp"))
    os.chmod(path, 0o700)
    try:
        yield path
    finally:
        with open("/proc/swaps") as fh:
            active = [line.split()[0].replace("\\040", " ") for line in fh.readlines()[1:]]
        for area in active:
            if area.startswith(str(path) + "/"):
                subprocess.run(["swapoff", area], check=False)
        shutil.rmtree(path, ignore_errors=True)


def raw_swap_cycle(path: Path, size: int) -> None:
    run(["fallocate", "-l", str(size), str(path)])
    run(["chmod", "600", str(path)])
    run(["mkswap", str(path)])
    run(["swapon", str(path)])
    run(["swapoff", str(path)])
    run(["rm", str(path)])


def count_fsyncs(argv: list[str], journal_dir: Path) -> dict[str, int]:
    """fsync/fdatasync calls of argv and its children (mkswap), split by what they synced (strace -y)."""
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        subprocess.run(
            ["strace", "-f", "-y", "-qq", "-e", "trace=fsync,fdatasync", "-o", out.name, *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        counts = {"journal": 0, "swap file": 0, "directory or other": 0}
        for line in out.read().splitlines():
            m = re.search(r"f(?:data)?sync\(\d+<([^>]*)>", line)
            if not m:
                continue
            target = m.group(1)
            if target.startswith(str(journal_dir) + "/") and not os.path.isdir(target):
                counts["journal"] += 1
            elif target.endswith(".img"):
                counts["swap file"] += 1
            else:
                counts["directory or other"] += 1
        return counts


# --- 2. create + remove -------------------------------------------------------------------------------
def bench_create_remove(rounds: int) -> None:
    heading(f"2. create + remove of a 1 GiB swap file with fallocate: median of {rounds} interleaved runs")
    with scratch() as d:
        state = d / "state"
        base = [*SWAPCTL, "--state-dir", str(state), "-o", "json"]
        sw = d / "swapctl.img"
        create = [*base, "create", str(sw), "--size", "1G", "--method", "fallocate", "--no-persist"]
        remove = [*base, "remove", str(sw)]
        raw = d / "raw.img"

        def swapctl_cycle() -> None:
            run(create)
            run(remove)

        floor_argv = [PY, "-c", "import typer"]
        medians = interleaved(
            {"raw": lambda: raw_swap_cycle(raw, GIB), "swapctl": swapctl_cycle, "floor": proc(floor_argv)}, rounds
        )
        own = medians["swapctl"] - 2 * medians["floor"]
        raw_cmd = f"fallocate -l 1G F; chmod 600 F; mkswap F; swapon F; swapoff F; rm F  (F={raw})"
        figure("raw sequence", f"{medians['raw'] * 1000:.1f} ms", raw_cmd)
        figure("swapctl create + remove", f"{medians['swapctl'] * 1000:.1f} ms", f"{show(create)}; {show(remove)}")
        figure("import-typer floor (x2 subtracted)", f"{medians['floor'] * 1000:.1f} ms", show(floor_argv))
        figure("swapctl own cost / raw (target <= 2x)", f"{own / medians['raw']:.2f}x", "(swapctl - 2 x floor) / raw")
        if shutil.which("strace"):
            created = subprocess.run(create, capture_output=True, text=True, check=True)
            steps = len(json.loads(created.stdout)["actions"])
            run(remove)
            fs_create = count_fsyncs(create, state)
            fs_remove = count_fsyncs(remove, state)
            figure(
                "fsyncs in create (journal / file / other)",
                f"{fs_create['journal']}/{fs_create['swap file']}/{fs_create['directory or other']}",
                f"strace -f -y -e trace=fsync,fdatasync {show(create)}",
            )
            figure(
                "fsyncs in remove (journal / file / other)",
                f"{fs_remove['journal']}/{fs_remove['swap file']}/{fs_remove['directory or other']}",
                f"strace -f -y -e trace=fsync,fdatasync {show(remove)}",
            )
            print(f"  create has {steps} steps: the journal syncs once per step intent plus once at commit")
        else:
            print("  fsync count skipped: strace is not installed (apt-get install strace)")


# --- 2c. top on a machine of 10,000 processes ------------------------------------------------------------
SMEM_CACHE = Path("/var/cache/swapctl-bench/smem")
CHILDREN = """
import gc, os, signal, sys
count, touch, group = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
gc.freeze()  # the children share the interpreter's pages: about 0.7 MiB each, measured (7 GiB for 10,000)
pids = []
for i in range(count):
    pid = os.fork()
    if pid == 0:
        if i % 10 == 0:  # one in ten joins the small memory cgroup, where its pages are pushed to swap
            with open(group + "/cgroup.procs", "w") as fh:
                fh.write(str(os.getpid()))
        block = bytearray(touch)  # its own anonymous pages
        for j in range(0, touch, 4096):
            block[j] = 1
        signal.pause()
        os._exit(0)
    pids.append(pid)
print("ready", flush=True)
sys.stdin.read()  # until the bench closes it
for pid in pids:
    os.kill(pid, signal.SIGKILL)
for pid in pids:
    os.waitpid(pid, 0)
"""


def smem_path() -> list[str] | None:
    """smem (Debian package smem): installed, else unpacked into a cache (the package holds a Python script)."""
    found = shutil.which("smem")
    if found:
        return [found]
    script = SMEM_CACHE / "usr/bin/smem"
    if not script.exists():
        with tempfile.TemporaryDirectory() as tmp:
            got = subprocess.run(["apt-get", "download", "-qq", "smem"], cwd=tmp, capture_output=True)
            debs = list(Path(tmp).glob("smem_*.deb"))
            if got.returncode != 0 or not debs:
                return None
            SMEM_CACHE.mkdir(parents=True, exist_ok=True)
            run(["dpkg-deb", "-x", str(debs[0]), str(SMEM_CACHE)])
    return ["python3", str(script)]


def bench_top(rounds: int, count: int) -> None:
    heading(f"2c. top with {count} processes (one in ten swapped out in a memory cgroup): median of {rounds} runs")
    smem = smem_path()
    group = Path(f"/sys/fs/cgroup/memory/swapctl-bench-top-{os.getpid()}")
    if not Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists():
        print("  skipped: needs the cgroup v1 memory controller at /sys/fs/cgroup/memory")
        return
    with scratch() as work:
        swapfile = work / "top.swap"
        run(["fallocate", "-l", str(1 << 30), str(swapfile)])
        os.chmod(swapfile, 0o600)
        run(["mkswap", str(swapfile)])
        run(["swapon", str(swapfile)])
        group.mkdir()
        parent = None
        try:
            (group / "memory.limit_in_bytes").write_text(str(64 << 20))  # 1,000 x 256 KiB: most goes to swap
            parent = subprocess.Popen(
                [PY, "-c", CHILDREN, str(count), str(256 << 10), str(group)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
            floor_argv = [PY, "-c", "import typer"]
            cases = {
                "floor": floor_argv,
                "swapctl": [*SWAPCTL, "top", "--limit", "0", "-o", "json"],
                "ps": ["ps", "-e", "-o", "pid,user,rss,comm"],
            }
            if smem is not None:
                cases["smem"] = [*smem, "-c", "pid user command swap rss"]
            medians = interleaved({n: proc(a) for n, a in cases.items()}, rounds)
        finally:
            if parent is not None:
                parent.communicate(timeout=120)
            deadline = time.monotonic() + 30
            while group.exists():
                try:
                    group.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
    floor = medians["floor"]
    for name, argv in cases.items():
        figure(name, f"{medians[name] * 1000:.1f} ms", show(argv))
    own = medians["swapctl"] - floor
    figure("swapctl beyond the floor / ps (target <= 1.5x)", f"{own / medians['ps']:.2f}x", "(swapctl - floor) / ps")
    if "smem" in medians:
        figure("swapctl / smem (target <= 0.3x)", f"{medians['swapctl'] / medians['smem']:.2f}x", "swapctl / smem")
    else:
        print("  smem: not installed and not downloadable (Debian package smem): no ratio")


# --- 2b. zram create + remove -----------------------------------------------------------------------------
def bench_zram(rounds: int) -> None:
    heading(f"2b. zram create + remove of a 64 MiB device: median of {rounds} interleaved runs")
    block = Path("/sys/block/zram0")
    if not block.exists() or (block / "initstate").read_text().strip() != "0":
        print("  skipped: needs a free /dev/zram0 (not set up, not swap)")
        return
    with scratch() as d:
        base = [*SWAPCTL, "--state-dir", str(d / "state"), "-o", "json"]
        create = [*base, "zram", "create", "--device", "zram0", "--size", "64M"]
        remove = [*base, "zram", "remove", "zram0"]
        # The sysfs writes, not zramctl: `zramctl --reset` also hot-removes the device (util-linux), which
        # would leave the machine without the zram0 it had.
        setup = ["sh", "-c", "echo 64M > /sys/block/zram0/disksize"]
        reset = ["sh", "-c", "echo 1 > /sys/block/zram0/reset"]
        raw_steps = [setup, ["mkswap", "/dev/zram0"], ["swapon", "-p", "100", "/dev/zram0"]]
        raw_steps += [["swapoff", "/dev/zram0"], reset]

        def raw_cycle() -> None:
            for argv in raw_steps:
                run(argv)

        def swapctl_cycle() -> None:
            run(create)
            run(remove)

        floor_argv = [PY, "-c", "import typer"]
        try:
            medians = interleaved({"raw": raw_cycle, "swapctl": swapctl_cycle, "floor": proc(floor_argv)}, rounds)
        finally:
            if "/dev/zram0" in Path("/proc/swaps").read_text():
                subprocess.run(["swapoff", "/dev/zram0"], check=False)
            if block.exists():
                (block / "reset").write_text("1")
        own = medians["swapctl"] - 2 * medians["floor"]
        figure("raw sequence", f"{medians['raw'] * 1000:.1f} ms", "; ".join(show(a) for a in raw_steps))
        figure("swapctl zram create + remove", f"{medians['swapctl'] * 1000:.1f} ms", f"{show(create)}; {show(remove)}")
        figure("import-typer floor (x2 subtracted)", f"{medians['floor'] * 1000:.1f} ms", show(floor_argv))
        figure("swapctl own cost / raw (target <= 1.5x)", f"{own / medians['raw']:.2f}x", "(swapctl - 2 x floor) / raw")


# --- 3. zero-fill throughput --------------------------------------------------------------------------
def bench_zero_fill(rounds: int) -> None:
    from swapctl.system.files import create_exclusive, zero_fill

    heading(f"3. zero-fill of 1 GiB (--method zero) vs dd, same filesystem: median of {rounds} interleaved runs")
    with scratch() as d:
        target = d / "zero.img"
        dd_argv = ["dd", "if=/dev/zero", f"of={target}", "bs=1M", "count=1024", "conv=fsync"]

        def ours() -> None:
            create_exclusive(target)
            zero_fill(target, GIB)
            target.unlink()

        def dd() -> None:
            run(dd_argv)
            target.unlink()

        medians = interleaved({"swapctl": ours, "dd": dd}, rounds)
        figure("dd", f"{GIB / medians['dd'] / 2**20:.0f} MiB/s", show(dd_argv))
        figure(
            "swapctl zero_fill",
            f"{GIB / medians['swapctl'] / 2**20:.0f} MiB/s",
            f"swapctl.system.files.zero_fill({target}, 1 GiB)  (what create --method zero runs)",
        )
        figure("throughput ratio (target >= 0.90x)", f"{medians['dd'] / medians['swapctl']:.2f}x", "dd time / ours")
        sw = d / "zero-cmd.img"
        base = [*SWAPCTL, "--state-dir", str(d / "state"), "-o", "json"]
        create = [*base, "create", str(sw), "--size", "1G", "--method", "zero", "--no-persist"]
        start = time.perf_counter()
        run(create)
        elapsed = time.perf_counter() - start
        run([*base, "remove", str(sw)])
        figure("end to end, one run (with mkswap, swapon)", f"{elapsed * 1000:.0f} ms", show(create))


# --- 4. zoneinfo --------------------------------------------------------------------------------------
def bench_zoneinfo() -> None:
    heading("4. zoneinfo parse + watermark prediction, synthetic nodes x CPUs (best of 7)")
    argv = [PY, str(REPO / "bench" / "zoneinfo_bench.py")]
    print(f"  $ {show(argv)}")
    out = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        print(f"  failed: {out.stderr.strip().splitlines()[-1:]}")
        return
    for line in out.stdout.splitlines():
        print(f"  {line}")


# --- 5. stress worker touch rate ----------------------------------------------------------------------
def worker_rate(size: int, seconds: float) -> float:
    from swapctl.system.stress_worker import WorkerProcess

    worker = WorkerProcess.spawn(
        size=size, pattern="random", file_size=0, file_dir="/var/tmp", max_seconds=seconds + 30
    )
    rates: list[float] = []
    try:
        worker.wait_ready(30)
        worker.go()
        filled = False
        deadline = None
        while True:
            for rep in worker.reports(0.2):
                if rep.get("event") == "filled":
                    filled, deadline = True, time.monotonic() + seconds
                elif rep.get("event") == "touch" and filled:
                    rates.append(float(rep["rate"]))
            if worker.returncode() is not None:
                raise RuntimeError(f"the stress worker exited early: {worker.stderr_tail()}")
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        worker.stop()
    return statistics.median(rates[1:] or rates)


def stress_ng_rate(size: int, seconds: float) -> tuple[float, str, list[str]]:
    argv = [
        "stress-ng",
        "--vm",
        "1",
        "--vm-keep",
        "--vm-bytes",
        str(size),
        "--vm-method",
        "write64",
        "--timeout",
        f"{int(seconds)}s",
        "--metrics-brief",
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    line = next(ln for ln in (out.stdout + out.stderr).splitlines() if re.search(r"\] vm\s+\d", ln))
    fields = line.split("]", 1)[1].split()
    bogo_per_s = float(fields[5])  # "bogo ops/s (real time)"
    version = subprocess.run(["stress-ng", "--version"], capture_output=True, text=True).stdout.split()
    # stress-ng's vm write64 counts 32 x 8-byte writes (256 B) per loop and reports the count >> 12
    # (VM_BOGO_SHIFT in stress-vm.c): one bogo op is 1 MiB written, i.e. 1 MiB / page size pages touched.
    return bogo_per_s * (1 << 20) / os.sysconf("SC_PAGE_SIZE"), " ".join(version[:3]), argv


def bench_stress(quick: bool) -> None:
    size, seconds = (128 << 20, 3.0) if quick else (256 << 20, 6.0)
    heading(f"5. page-touch rate of {size >> 20} MiB kept resident, {seconds:.0f} s each, no memory pressure")
    if not (REPO / "swapctl" / "cli" / "stress.py").exists():
        print("  skipped: swapctl stress does not exist yet")
        return
    if not shutil.which("stress-ng"):
        print("  skipped: stress-ng is not installed (apt-get install -y stress-ng)")
        return
    ours, theirs, version, argv = [], [], "", []
    for _ in range(1 if quick else 3):
        ours.append(worker_rate(size, seconds))
        rate, version, argv = stress_ng_rate(size, seconds)
        theirs.append(rate)
    mo, mt = statistics.median(ours), statistics.median(theirs)
    figure(
        "swapctl stress worker",
        f"{mo / 1e6:.2f} Mpages/s",
        f"{PY} -m swapctl.system.stress_worker --size {size} --pattern random ... (one word per page)",
    )
    figure(f"{version}", f"{mt / 1e6:.2f} Mpages/s", f"{show(argv)}  (bogo ops/s x 256 pages)")
    figure("ratio worker / stress-ng", f"{mo / mt:.2f}x", "")
    print("  stress-ng rewrites every byte of a page, the worker one word per page: both dirty every page.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds: a rough picture in about a minute")
    ap.add_argument(
        "--only",
        choices=("startup", "pyz", "create", "zram", "top", "zero", "zoneinfo", "stress"),
        action="append",
        help="run only these parts (repeatable)",
    )
    args = ap.parse_args(argv)
    # Time swapctl as installed, with its bytecode cached: a child that may not write .pyc files recompiles
    # every module on every run (pip writes them for a normal install; the warm-up round does it here).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parts = set(args.only or ("startup", "pyz", "create", "zram", "top", "zero", "zoneinfo", "stress"))
    needs_root = parts & {"create", "zram", "top", "zero", "stress"}
    if needs_root and os.geteuid() != 0:
        print(
            f"bench/run.py: error: {', '.join(sorted(needs_root))} need root (swapon, /var/tmp scratch)",
            file=sys.stderr,
        )
        print("hint: run it as root, or pick --only startup --only pyz --only zoneinfo", file=sys.stderr)
        return 3
    print(
        f"swapctl bench: {show(SWAPCTL)}; python {sys.version.split()[0]}; {os.uname().release}; "
        f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}"
    )
    if "startup" in parts:
        bench_startup(15 if args.quick else 41)
    if "pyz" in parts:
        bench_pyz(11 if args.quick else 31)
    if "create" in parts:
        bench_create_remove(3 if args.quick else 9)
    if "zram" in parts:
        bench_zram(5 if args.quick else 15)
    if "top" in parts:
        bench_top(3 if args.quick else 7, 2000 if args.quick else 10000)
    if "zero" in parts:
        bench_zero_fill(2 if args.quick else 5)
    if "zoneinfo" in parts:
        bench_zoneinfo()
    if "stress" in parts:
        bench_stress(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
