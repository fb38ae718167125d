"""Tables in a pipe (`swapctl list | cat`, `| grep`, `| awk`): a line per row, a caption or note on one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fakes import SWAPS_HEADER, envelope, fake_host, make_root

ONE_NODE = "kernel-recordings/6.1/n1-512m/step0/root"


def with_swaps(root: Path, *names: str) -> None:
    """Active swap areas as /proc/swaps lists them: names already in the kernel's octal escapes."""
    # The kernel pads a name to 40 columns, with at least one space after a longer one.
    rows = "".join(f"{name:<39} file\t\t16380\t\t0\t\t{prio}\n" for prio, name in enumerate(names, start=1))
    (root / "proc/swaps").write_text(SWAPS_HEADER + rows)


def test_list_in_a_pipe_keeps_the_caption_on_one_line(cli, root: Path) -> None:
    # A short path makes the table narrower than its caption: the caption must not wrap to the table.
    with_swaps(root, "/s")
    out = cli("list").stdout
    captions = [line.strip() for line in out.splitlines() if "total" in line or "available" in line]
    assert len(captions) == 1, out
    assert captions[0].startswith("total 16 MiB, used 0 B; memory: ") and captions[0].endswith(" available")


@pytest.mark.parametrize(
    "escaped,shown",
    [
        (r"/var/tmp/cap\040swap\011tab", r"/var/tmp/cap swap\ttab"),
        (r"/var/tmp/new\012line", r"/var/tmp/new\nline"),
        ("/var/tmp/esc\x1b[31mred", r"/var/tmp/esc\x1b[31mred"),
    ],
)
def test_list_in_a_pipe_shows_a_control_character_in_a_path_escaped_on_its_own_row(
    cli, root: Path, escaped: str, shown: str
) -> None:
    with_swaps(root, escaped, "/var/tmp/plain")
    out = cli("list").stdout
    rows = [line for line in out.splitlines() if "file" in line]
    assert len(rows) == 2, out
    assert shown in rows[0] and "16 MiB" in rows[0] and rows[0].split()[-3:] == ["1", "no", "no"]
    assert "\t" not in out and "\x1b" not in out


def test_list_in_a_pipe_never_wraps_a_path_longer_than_a_wide_terminal(cli, root: Path) -> None:
    long = "/var/tmp" + "/" + "/".join(["x" * 200] * 6)  # 1209 characters, each name within NAME_MAX
    with_swaps(root, long)
    out = cli("list").stdout
    rows = [line for line in out.splitlines() if "file" in line]
    assert len(rows) == 1 and long in rows[0] and rows[0].split()[-2:] == ["no", "no"], out


def test_vm_get_in_a_pipe_prints_each_note_on_one_line(fixtures: Path, tmp_path: Path) -> None:
    from swapctl.cli.app import app
    from swapctl.cli.context import Invocation
    from tests.runner import CliRunner

    root = tmp_path / "root"
    shutil.copytree(fixtures / ONE_NODE, root)
    make_root(
        root,
        osrelease=(root / "proc/sys/kernel/osrelease").read_text().strip(),
        meminfo=(root / "proc/meminfo").read_text(),
    )
    host = fake_host(root)
    run = lambda *a: CliRunner().invoke(app, list(a), obj=Invocation(host=host), catch_exceptions=False)  # noqa: E731
    settings = envelope(run("-o", "json", "vm", "get").stdout)["data"]["settings"]
    notes = [f"{s['key']}: {n}" for s in settings for n in s.get("notes", []) if "khugepaged" not in n]
    assert any("one NUMA node" in n for n in notes)  # a note longer than the table is wide
    lines = [line.strip() for line in run("vm", "get").stdout.splitlines()]
    for note in notes:
        assert note in lines, "\n".join(lines)
    assert any(line.startswith("vm.min_free_kbytes: kernel default") and "safe limit" in line for line in lines)
