"""Exit codes are an interface: scripts branch on them. Each error class carries the code the man page and
docs/ARCHITECTURE.md promise, and its message is the exception's text."""

from __future__ import annotations

import re
from pathlib import Path

from swapctl.core.errors import (
    CheckFailed,
    ExitCode,
    Interrupted,
    OperationFailed,
    Refused,
    RollbackFailed,
    SwapctlError,
    UsageError,
)

TOP = Path(__file__).resolve().parents[2]


def test_the_exit_codes_are_the_ones_the_man_page_documents() -> None:
    man = (TOP / "man/swapctl.8").read_text()
    section = man.split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
    documented = [int(n) for n in re.findall(r"\\fB(\d+)\\fR", section)]
    assert documented == [0, 1, 2, 3, 4, 5, 70, 130]
    assert [int(c) for c in ExitCode] == documented


def test_each_error_kind_exits_with_its_code() -> None:
    kinds = {
        SwapctlError: 1,
        OperationFailed: 1,
        UsageError: 2,
        Refused: 3,
        CheckFailed: 4,
        RollbackFailed: 5,
        Interrupted: 130,
    }
    assert {k: int(k("x").code) for k in kinds} == kinds
    assert ExitCode.OK == 0 and ExitCode.INTERNAL == 70


def test_an_error_holds_its_message_hint_data_and_a_code_given_to_it() -> None:
    err = Refused("not root", hint="run it as root", data={"transaction": "t1"})
    assert str(err) == "not root" == err.message and err.hint == "run it as root" and err.data == {"transaction": "t1"}
    assert SwapctlError("x").data == {} and SwapctlError("x").hint is None
    assert SwapctlError("x", code=ExitCode.INTERNAL).code == 70 and SwapctlError("y").code == 1
