"""Progress as a person sees it: the zero-fill and swapoff bars on a terminal, in binary units, with the label
as written (no markup), gone for good after an interrupt; and nothing of them in JSON or a pipe."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from swapctl.cli import render
from swapctl.cli.context import Invocation, attach_progress
from swapctl.core.plan import execute
from swapctl.ops.swapfile import plan_remove
from tests.fakes import SWAPS_HEADER, fake_host


class Recorder:
    """Stands in for render.progress_bar: records the bars and what they were told."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.bars: list[dict] = []
        self.fail_after = fail_after

    def __call__(self, label: str, total: int) -> Recorder:
        self.bars.append({"label": label, "total": total, "done": [], "closed": False})
        return self

    def update(self, done: int) -> None:
        self.bars[-1]["done"].append(done)
        if self.fail_after is not None and len(self.bars[-1]["done"]) > self.fail_after:
            raise KeyboardInterrupt

    def close(self) -> None:
        self.bars[-1]["closed"] = True


def test_the_bar_shows_its_label_as_written_and_sizes_in_binary_units() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None, markup=False)
    bar = render.ProgressBar("writing zeros to /var/[x]/swap", 64 << 20, console=console)
    bar.update(32 << 20)
    bar.bar.refresh()
    bar.close()
    text = out.getvalue()
    assert "writing zeros to /var/[x]/swap" in text and "[progress.description]" not in text
    assert "32 MiB / 64 MiB" in text and " MB" not in text and "GB" not in text


def test_an_interrupted_zero_fill_closes_its_bar_before_the_error_is_printed(tmp_path: Path, root: Path) -> None:
    host = fake_host(root)
    host.progress = rec = Recorder(fail_after=1)
    (root / "var/tmp/z").write_bytes(b"")
    with pytest.raises(KeyboardInterrupt):
        host.zero_fill("/var/tmp/z", 64 << 20)
    assert rec.bars[0]["closed"] and rec.bars[0]["total"] == 64 << 20


def test_swapoff_shows_the_used_pages_coming_back(root: Path) -> None:
    host = fake_host(root)
    host.progress = rec = Recorder()
    (root / "var/tmp/s").write_bytes(b"\0" * (64 << 10))
    (root / "proc/swaps").write_text(SWAPS_HEADER + "/var/tmp/s                              file\t\t60\t\t40\t\t-2\n")
    plan = plan_remove(host, _journal(root, host), "/var/tmp/s", keep_file=True, force=True)
    execute(plan, host, _journal(root, host))
    (bar,) = rec.bars
    assert bar["label"] == "swapoff /var/tmp/s: paging back in" and bar["total"] == 40 << 10 and bar["closed"]


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_no_bar_is_attached_for_json_or_yaml_even_on_a_terminal(root: Path, monkeypatch, output: str) -> None:
    host = fake_host(root)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    attach_progress(Invocation(output=output), host)
    assert host.progress is None
    attach_progress(Invocation(output="table"), host)
    assert host.progress is render.progress_bar


def _journal(root: Path, host):
    from swapctl.core.journal import Journal

    return Journal(host.paths.state_dir)
