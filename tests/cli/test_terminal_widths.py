"""Every table command as a person sees it: the real swapctl on a real pseudo-terminal of 60, 80, 100, 120 and
200 columns, on captured machines of one, two and eight nodes. No line is wider than the terminal, and no number,
id, key, path or header word is ever split across lines: each row's tokens stand whole, in order, on one line."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes import FIXTURES
from tests.synth_zoneinfo import render_zoneinfo, synth_zones

REPO = Path(__file__).resolve().parents[2]
WIDTHS = (60, 80, 100, 120, 200)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TX = "20261202T071214-c310"


def on_pty(
    argv: list[str], cols: int, env: dict[str, str] | None = None, codes: tuple[int, ...] = (0,), raw: bool = False
) -> str:
    """stdout of `python -m swapctl ARGV` on a pseudo-terminal `cols` wide (stderr to a pipe), its escape
    sequences removed unless raw; the exit status must be one of `codes`."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("SWAPCTL_") and k != "COLUMNS"}
    run_env.update(PYTHONPATH=str(REPO), TERM="xterm", NO_COLOR="1", **(env or {}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "swapctl", *argv],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=run_env,
        close_fds=True,
    )
    os.close(slave)
    # Read until the master reports EIO: that happens only once every writer has closed the slave *and* what
    # they wrote has been drained. Stopping when the child has exited instead loses output that was still in
    # the tty's buffers (seen on a loaded CI machine: an empty table).
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: no writer left and nothing buffered
            break
        if not data:
            break
        chunks.append(data)
    else:
        proc.kill()
    os.close(master)
    err = proc.communicate(timeout=10)[1].decode()
    assert proc.returncode in codes, err
    text = b"".join(chunks).decode()
    return (text if raw else ANSI.sub("", text)).replace("\r\n", "\n")


def json_of(argv: list[str], codes: tuple[int, ...] = (0,)) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWAPCTL_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, "-m", "swapctl", "-o", "json", *argv], capture_output=True, text=True, env=env
    )
    assert proc.returncode in codes, proc.stderr
    return json.loads(proc.stdout)["data"]


def whole_on_one_line(text: str, tokens: list[str]) -> bool:
    """The tokens stand whole (between blanks), in this order, on one line of the output; a token "…/NAME" is
    a path shortened in its middle, ending in /NAME."""

    def word(t: str) -> str:
        return r"\S*" + re.escape(t[1:]) if t.startswith("…/") else re.escape(t)

    pattern = r"(^|\s)" + r"\s+(\S+\s+)*?".join(word(t) for t in tokens) + r"($|\s)"
    return any(re.search(pattern, line) for line in text.split("\n"))


# --- the machines -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("widths")
    one = shutil.copytree(FIXTURES / "kernel-recordings/6.1/n1-512m/step0/root", base / "one")
    two = shutil.copytree(FIXTURES / "kernel-recordings/6.12/n2-1g-1g/step0/root", base / "two")
    eight = shutil.copytree(FIXTURES / "kernel-recordings/6.12/n2-1g-1g/step0/root", base / "eight")
    (eight / "proc/zoneinfo").write_text(render_zoneinfo(synth_zones(8, 1 << 26), 4))
    (eight / "sys/devices/system/node/has_memory").write_text("0-7\n")
    (eight / "sys/devices/system/node/online").write_text("0-7\n")
    for n in range(8):
        d = eight / f"sys/devices/system/node/node{n}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "distance").write_text(" ".join("10" if m == n else "21" for m in range(8)) + "\n")
        (d / "meminfo").write_text(f"Node {n} MemTotal: {268435456 + n} kB\nNode {n} MemFree: {200000000 + n} kB\n")
        (d / "cpulist").write_text(f"{n * 32}-{n * 32 + 31}\n")
    swaps = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
    for name, kib, used, prio in (
        ("/swapfile", 4194300, 1048576, 10),
        ("/var/lib/swapctl-areas/a/rather/deep/directory/holding/swap-01", 1048572, 0, -2),
        ("/dev/dm-1", 33554428, 2097152, -3),
    ):
        pad = " " * max(40 - len(name), 1)  # swap_show(): padded to column 40, at least one blank
        swaps += f"{name}{pad}{'partition' if name.startswith('/dev') else 'file'}\t\t{kib}\t\t{used}\t\t{prio}\n"
    for root in (one, two, eight):
        (root / "proc/swaps").write_text(swaps)
        (root / "etc/sysctl.d").mkdir(parents=True)
        (root / "etc/sysctl.d/90-swapctl.conf").write_text("vm.swappiness = 10\nvm.watermark_scale_factor = 200\n")
        (root / "usr/lib/sysctl.d").mkdir(parents=True)
        (root / "usr/lib/sysctl.d/50-default-and-a-long-name-for-packages.conf").write_text("vm.page-cluster = 2\n")
        (root / "etc/fstab").write_text("/swapfile none swap sw,pri=10 0 0\n")
        state = root / "var/lib/swapctl"
        state.mkdir(parents=True, mode=0o700)
        begin = {
            "t": "begin",
            "tx": TX,
            "command": "vm set",
            "time": 1764656000.0,
            "boot_id": "",
            "kernel": "6.1.0",
            "meta": {},
        }
        intent = {
            "t": "intent",
            "tx": TX,
            "seq": 0,
            "undo": {"old": 60},
            "step": {
                "kind": "sysctl-write",
                "params": {"name": "swappiness", "value": 10, "mode": "set", "planned_old": 60},
            },
        }
        (state / "journal.jsonl").write_text(
            "\n".join(
                json.dumps(e)
                for e in (
                    begin,
                    intent,
                    {"t": "done", "tx": TX, "seq": 0},
                    {"t": "end", "tx": TX, "status": "committed"},
                )
            )
            + "\n"
        )
        os.chmod(state / "journal.jsonl", 0o600)
    return {"one": one, "two": two, "eight": eight}


# --- what each command must show whole -----------------------------------------------------------------------


def zone_rows(data: dict) -> list[list[str]]:
    return [
        [str(z["node"]), z["zone"], str(z["free"]), str(z["min"]), str(z["low"]), str(z["high"])]
        for z in data["zones"]
        if z["managed"]
    ]


def what_if_rows(data: dict) -> list[list[str]]:
    rows = []
    for z in data["zones"]:
        if z["managed"]:
            rows.append([str(z["node"]), z["zone"], "now", str(z["min"]), str(z["low"]), str(z["high"])])
            p = z["predicted"]
            rows.append(["what", "if", str(p["min"]), str(p["low"]), str(p["high"])])
    return rows


def list_rows(data: dict) -> list[list[str]]:
    # A path may be shortened in its middle ("…"), never folded: its start and its file name stay whole.
    return [
        ["…/" + a["path"].rsplit("/", 1)[-1] if len(a["path"]) > 30 else a["path"], a["type"]] for a in data["areas"]
    ]


def vm_rows(data: dict) -> list[list[str]]:
    return [[s["key"], str(s["value"])] for s in data["settings"]]


def numa_rows(data: dict) -> list[list[str]]:
    return [[str(n["node"])] for n in data["nodes"]]


def doctor_rows(data: dict) -> list[list[str]]:
    # Each block's head: the severity and the id stand whole on one line (a subject may wrap below them).
    return [[f["severity"].upper(), f["id"]] for f in data["findings"]]


def history_rows(data: dict) -> list[list[str]]:
    return [[t["id"], t["command"].split()[0]] for t in data["transactions"]]


COMMANDS: dict[str, tuple[list[str], Callable[[dict], list[list[str]]], list[str]]] = {
    "list": (["list"], list_rows, ["PATH", "TYPE", "SIZE", "USED", "PRIO"]),
    "vm get": (["vm", "get"], vm_rows, ["KEY", "VALUE", "BOOT", "SOURCE"]),
    "watermarks": (["watermarks"], zone_rows, ["NODE", "ZONE", "FREE", "MIN", "LOW", "HIGH"]),
    "what-if": (
        ["watermarks", "--what-if", "min_free_kbytes=90112", "--what-if", "watermark_scale_factor=150"],
        what_if_rows,
        ["NODE", "ZONE", "MIN", "LOW", "HIGH"],
    ),
    "numa": (["numa"], numa_rows, ["NODE", "TOTAL", "FREE"]),
    "history": (["history"], history_rows, ["ID", "COMMAND", "STATUS"]),
    "doctor": (["doctor", "--interval", "0"], doctor_rows, ["evidence:"]),
}
# Commands that exit 4 when the machine fails their check (doctor: a finding at warning or above).
CHECK_CODES = {"doctor": (0, 4)}


@pytest.mark.parametrize("machine", ["one", "two", "eight"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_table_fits_the_terminal_and_never_splits_a_token(
    machines: dict[str, Path], machine: str, command: str
) -> None:
    argv, rows_of, headers = COMMANDS[command]
    root = str(machines[machine])
    codes = CHECK_CODES.get(command, (0,))
    expected = rows_of(json_of(["--root", root, *argv], codes))
    assert expected, "the command shows rows on this machine"
    for cols in WIDTHS:
        text = on_pty(["--root", root, *argv], cols, codes=codes)
        too_wide = [line for line in text.split("\n") if len(line) > cols]
        assert not too_wide, f"{cols} columns: {too_wide[:3]}\n{text}"
        for tokens in expected:
            assert whole_on_one_line(text, tokens), f"{cols} columns: {tokens} not whole on one line\n{text}"
        assert whole_on_one_line(text, headers), f"{cols} columns: the headers {headers} are split\n{text}"


def test_wide_shows_every_column_and_the_empty_zones(machines: dict[str, Path]) -> None:
    text = on_pty(["--root", str(machines["two"]), "-o", "wide", "watermarks"], 200)
    assert whole_on_one_line(
        text,
        [
            "NODE",
            "ZONE",
            "STATE",
            "FREE",
            "MIN",
            "LOW",
            "HIGH",
            "PROMO",
            "BOOST",
            "MANAGED",
            "PRESENT",
            "SPANNED",
            "PROTECTION",
        ],
    ), text
    assert whole_on_one_line(text, ["1", "Movable", "empty"]), text


def test_the_list_summary_is_one_line_and_a_piped_table_starts_with_its_header(machines: dict[str, Path]) -> None:
    root = str(machines["two"])
    text = on_pty(["--root", root, "list"], 200)
    assert any(line.startswith("total ") and "available" in line for line in text.split("\n")), text
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWAPCTL_")}
    env["PYTHONPATH"] = str(REPO)
    piped = subprocess.run(
        [sys.executable, "-m", "swapctl", "--root", root, "list"], capture_output=True, text=True, env=env, check=True
    ).stdout
    first = piped.split("\n")[0]
    assert first.split()[:2] == ["PATH", "TYPE"], piped
    assert all(len(line) < 1000 for line in piped.split("\n"))
