"""A test-only hook to make a plan fail or die at a chosen step (crash-consistency and fault-injection tests).

SWAPCTL_TEST_FAULT=KIND:SEQ:PHASE:ACTION, each part may be "*": KIND a step kind (swapon, fstab-set, ...),
SEQ its index in the plan, PHASE before|after (its apply), ACTION fail (raise) or kill (SIGKILL itself)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

ENV = "SWAPCTL_TEST_FAULT"


class InjectedFault(RuntimeError):
    pass


def fault_hook(spec: str | None = None) -> Callable[[str, int, str], None] | None:
    spec = spec if spec is not None else os.environ.get(ENV)
    if not spec:
        return None
    parts = (spec.split(":") + ["*", "*", "before", "fail"])[:4]
    want_kind, want_seq, want_phase, action = parts

    def hook(kind: str, seq: int, phase: str) -> None:
        if want_kind not in ("*", kind) or want_seq not in ("*", str(seq)) or want_phase not in ("*", phase):
            return
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise InjectedFault(f"injected fault at {kind}#{seq} {phase}")

    return hook
