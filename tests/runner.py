"""Typer's CliRunner with Click 8.2's result on every Click the project runs on: `stdout` and `stderr` apart,
and `output` all that the user saw. Click 8.2 (bundled in Typer 0.24 and later) does this itself; Click 8.1,
which Python 3.9's Typer 0.23 uses, either mixes stderr into stdout or leaves it out of `output`."""

from __future__ import annotations

import inspect
from typing import Any

from typer import testing

_CLICK_8_1 = "mix_stderr" in inspect.signature(testing.CliRunner.__init__).parameters


class _Result(testing.Result):  # type: ignore[misc]
    @property
    def output(self) -> str:  # what the terminal showed (8.2 interleaves; the tests only look inside it)
        return self.stdout + self.stderr


class _Runner(testing.CliRunner):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(mix_stderr=False, **kwargs)

    def invoke(self, *args: Any, **kwargs: Any) -> testing.Result:
        result = super().invoke(*args, **kwargs)
        result.__class__ = _Result
        return result


CliRunner = _Runner if _CLICK_8_1 else testing.CliRunner
