"""The one error type swapctl raises, and the exit codes it maps to (see the man page, EXIT STATUS)."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the operation failed; every change was rolled back
    USAGE = 2  # bad usage or bad input
    REFUSED = 3  # refused before anything changed
    CHECK_FAILED = 4  # a check ran and the system failed it
    ROLLBACK_FAILED = 5  # an undo failed: a person must look
    INTERNAL = 70  # a bug
    INTERRUPTED = 130  # interrupted, after rolling back


class SwapctlError(Exception):
    """An error a person can act on: one line, an exit code, and an optional hint."""

    code: ExitCode = ExitCode.FAILED

    def __init__(
        self, message: str, *, hint: str | None = None, code: ExitCode | None = None, data: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.data = data or {}
        if code is not None:
            self.code = code


class UsageError(SwapctlError):
    code = ExitCode.USAGE


class Refused(SwapctlError):
    code = ExitCode.REFUSED


class OperationFailed(SwapctlError):
    code = ExitCode.FAILED


class CheckFailed(SwapctlError):
    code = ExitCode.CHECK_FAILED


class RollbackFailed(SwapctlError):
    code = ExitCode.ROLLBACK_FAILED


class Interrupted(SwapctlError):
    code = ExitCode.INTERRUPTED
