#!/usr/bin/env python3
"""A small mutation-testing runner for the developer loop: do the tests fail when the code is wrong?

For each module it makes mutants from the module's syntax tree (one small change each: a comparison or an
arithmetic operator swapped, a constant moved by one, `and`/`or` swapped, a `not` dropped, True/False swapped,
a call, a raise or a returned value deleted, an index -1 made 0), runs the module's tests (TESTS below) against
each mutant, and prints a table: mutants, killed (a test failed or timed out), survived, score, and every
survivor with its line and mutation. docs/TESTING.md holds the latest table and why each survivor is harmless.

It never writes the working tree: each worker copies swapctl/, tests/ and pyproject.toml into a temporary
directory and puts one mutant at a time into its copy of the module (other people run tests from this checkout
while it works). At most two workers, each pytest under `nice -n 19`: a two-core machine that also runs CI.

    .venv/bin/python tools/mutate.py                         # every module in TESTS (about an hour)
    .venv/bin/python tools/mutate.py swapctl/core/units.py   # one module, with its tests from TESTS
    .venv/bin/python tools/mutate.py swapctl/ops/fstab.py --tests tests/unit/test_fstab.py --line 120-140
    .venv/bin/python tools/mutate.py swapctl/core/units.py --list   # the mutants only, nothing run

Not a CI gate and not part of the default pytest run."""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv/bin/python"

# Which tests exercise which module: a run uses only these (the most direct first, as -x stops at the first
# failure), so a module takes minutes, not the whole suite per mutant. Only tests/unit, tests/plans and
# tests/cli: fake roots, no privileges. Add a file here when it is the one that tests the module.
_VM_PLANS = "tests/plans/test_vm_plans.py"
_SWAP_PLANS = "tests/plans/test_swapfile_plans.py"
# Left out on purpose: tests/cli/test_hostile_redteam.py (11 minutes), test_hostile_files.py (3 minutes) and
# test_hostile_input.py (1 minute): they would make each mutant cost minutes; tests/unit/test_atomic_files.py
# (kill rounds, 15 s, about atomicity rather than content).
TESTS: dict[str, list[str]] = {
    "swapctl/core/errors.py": ["tests/unit/test_errors.py", "tests/unit/test_plan.py", _SWAP_PLANS],
    "swapctl/core/fields.py": [
        "tests/unit/test_fields.py",
        "tests/unit/test_plan.py",
        "tests/cli/test_journal_cli.py",
        _SWAP_PLANS,
        _VM_PLANS,
    ],
    "swapctl/core/journal.py": [
        "tests/unit/test_journal.py",
        "tests/unit/test_journal_mutants.py",
        "tests/unit/test_plan.py",
        "tests/cli/test_journal_cli.py",
        "tests/cli/test_journal_state_cli.py",
        _SWAP_PLANS,
        _VM_PLANS,
    ],
    "swapctl/core/plan.py": ["tests/unit/test_plan.py", "tests/unit/test_journal.py", _SWAP_PLANS, _VM_PLANS],
    "swapctl/core/text.py": [
        "tests/unit/test_text.py",
        "tests/unit/test_fstab.py",
        "tests/unit/test_fileedit.py",
        _VM_PLANS,
    ],
    "swapctl/core/units.py": ["tests/unit/test_units.py"],
    "swapctl/kernel/knobs.py": [
        "tests/unit/test_vm_knobs.py",
        "tests/unit/test_knobs_mutants.py",
        _VM_PLANS,
        "tests/cli/test_vm_cli.py",
    ],
    "swapctl/kernel/mm.py": [
        "tests/unit/test_watermarks_predict.py",
        "tests/unit/test_zoneinfo.py",
        _VM_PLANS,
        "tests/cli/test_watermarks_cli.py",
    ],
    "swapctl/kernel/procsys.py": [
        "tests/unit/test_procsys.py",
        "tests/unit/test_vm_knobs.py",
        "tests/unit/test_nextboot.py",
    ],
    "swapctl/kernel/version.py": [
        "tests/unit/test_procsys.py",
        "tests/unit/test_watermarks_predict.py",
        "tests/unit/test_zram_zswap_rules.py",
        "tests/unit/test_vm_knobs.py",
    ],
    "swapctl/kernel/zram.py": [
        "tests/unit/test_kernel_zram_zswap.py",
        "tests/unit/test_zram_zswap_rules.py",
        "tests/cli/test_zram_zswap_cli.py",
        "tests/cli/test_zram_write_cli.py",
    ],
    "swapctl/kernel/zswap.py": [
        "tests/unit/test_zswap_boot.py",
        "tests/unit/test_kernel_zram_zswap.py",
        "tests/unit/test_zram_zswap_rules.py",
        "tests/cli/test_zswap_set_cli.py",
        "tests/cli/test_zram_zswap_cli.py",
    ],
    "swapctl/ops/fstab.py": ["tests/unit/test_fstab.py", _SWAP_PLANS, "tests/cli/test_journal_cli.py"],
    "swapctl/ops/fileedit.py": ["tests/unit/test_fileedit.py", "tests/unit/test_fstab.py", _VM_PLANS, _SWAP_PLANS],
    "swapctl/ops/nextboot.py": [
        "tests/unit/test_nextboot_mutants.py",
        "tests/unit/test_nextboot.py",
        _VM_PLANS,
        "tests/cli/test_vm_cli.py",
    ],
    "swapctl/ops/watermarks.py": ["tests/cli/test_watermarks_cli.py", "tests/unit/test_watermarks_predict.py"],
    "swapctl/ops/zram_set.py": [
        "tests/cli/test_zram_set_edges.py",
        "tests/cli/test_zram_write_cli.py",
        "tests/cli/test_zram_zswap_cli.py",
        "tests/cli/test_zram_boot_cli.py",
    ],
    "swapctl/ops/zram_boot.py": [
        "tests/cli/test_zram_boot_cli.py",
        "tests/cli/test_zram_write_cli.py",
        "tests/unit/test_bootswap.py",
    ],
    "swapctl/ops/zswap_set.py": [
        "tests/unit/test_zswap_set_mutants.py",
        "tests/plans/test_zswap_plans.py",
        "tests/cli/test_zswap_set_cli.py",
        "tests/unit/test_fileedit.py",
    ],
}


class Mutant(NamedTuple):
    line: int
    what: str  # "< -> <=", "delete call", ...
    source: str  # the whole module, mutated


# --- making mutants -----------------------------------------------------------------------------------------
_CMP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BIN = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
}
_SYM = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.Div: "/",
    ast.Mod: "%",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.And: "and",
    ast.Or: "or",
}


def _skipped(tree: ast.Module) -> set[int]:
    """Nodes never mutated (by id): annotations (not evaluated under `from __future__ import annotations`),
    docstrings, `if TYPE_CHECKING:` blocks, and everything inside an f-string (whose inner positions Python
    before 3.12 does not give)."""
    out: set[int] = set()

    def cover(node: ast.AST | None) -> None:
        if node is not None:
            out.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            cover(node.returns)
            for a in [
                *node.args.args,
                *node.args.posonlyargs,
                *node.args.kwonlyargs,
                node.args.vararg,
                node.args.kwarg,
            ]:
                if a is not None:
                    cover(a.annotation)
        elif isinstance(node, ast.AnnAssign):
            cover(node.annotation)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            cover(node)
        elif isinstance(node, ast.JoinedStr):
            cover(node)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                cover(body[0])
    return out


def _changes(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """(what, replacement node) for each mutation of this one node."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            new = _CMP.get(type(op))
            if new:
                m = copy.deepcopy(node)
                m.ops[i] = new()
                yield f"{_SYM[type(op)]} -> {_SYM[new]}", m
    elif isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        new = _BIN[type(node.op)]
        m = copy.deepcopy(node)
        m.op = new()
        yield f"{_SYM[type(node.op)]} -> {_SYM[new]}", m
    elif isinstance(node, ast.BoolOp):
        m = copy.deepcopy(node)
        m.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield f"{_SYM[type(node.op)]} -> {_SYM[type(m.op)]}", m
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "drop not", copy.deepcopy(node.operand)
    elif isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool):
            yield f"{v} -> {not v}", ast.Constant(not v)
        elif isinstance(v, int):
            new_v = {0: 1, 1: 0}.get(v, v + 1)
            yield f"{v} -> {new_v}", ast.Constant(new_v)
    elif isinstance(node, ast.Subscript):
        s = node.slice
        if isinstance(s, ast.UnaryOp) and isinstance(s.op, ast.USub) and getattr(s.operand, "value", None) == 1:
            m = copy.deepcopy(node)
            m.slice = ast.Constant(0)
            yield "[-1] -> [0]", m


def _statement_changes(node: ast.stmt) -> Iterator[tuple[str, str]]:
    """(what, replacement text) for a statement deleted or its value dropped."""
    if isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):
        yield "delete call", "pass"
    elif isinstance(node, ast.Raise):
        yield "delete raise", "pass"
    elif (
        isinstance(node, ast.Return)
        and node.value is not None
        and not (isinstance(node.value, ast.Constant) and node.value.value is None)
    ):
        yield "return value -> None", "return None"
    elif isinstance(node, ast.AugAssign) and type(node.op) in _BIN:
        new = _BIN[type(node.op)]
        m = copy.deepcopy(node)
        m.op = new()
        yield f"{_SYM[type(node.op)]}= -> {_SYM[new]}=", ast.unparse(m)


def _offsets(source: str) -> list[int]:
    starts, n = [0], 0
    for line in source.splitlines(keepends=True):
        n += len(line)
        starts.append(n)
    return starts


def _replace(source: str, starts: list[int], node: ast.AST, text: str) -> str:
    # col offsets are in UTF-8 bytes
    def at(line: int, col: int) -> int:
        row = source[starts[line - 1] : starts[line]]
        return starts[line - 1] + len(row.encode("utf-8")[:col].decode("utf-8"))

    a = at(node.lineno, node.col_offset)  # type: ignore[attr-defined]
    b = at(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
    # keep the line count, so a traceback's lines still match the real module
    return source[:a] + text + "\n" * source[a:b].count("\n") * isinstance(node, ast.expr) + source[b:]


def mutants(source: str) -> list[Mutant]:
    tree = ast.parse(source)
    skip = _skipped(tree)
    starts = _offsets(source)
    out: list[Mutant] = []
    for node in ast.walk(tree):
        if id(node) in skip or not hasattr(node, "lineno"):
            continue
        if isinstance(node, ast.stmt):
            for what, text in _statement_changes(node):
                out.append(Mutant(node.lineno, what, _replace(source, starts, node, text)))
        elif isinstance(node, ast.expr):
            for what, new in _changes(node):
                text = "(" + ast.unparse(new) + ")"
                out.append(Mutant(node.lineno, what, _replace(source, starts, node, text)))
    valid = []
    for m in out:
        try:
            compile(m.source, "<mutant>", "exec")
        except SyntaxError:
            continue
        if m.source != source:
            valid.append(m)
    return sorted(valid, key=lambda m: m.line)


# --- running them -------------------------------------------------------------------------------------------
def _tree(base: Path) -> Path:
    """A copy of the package and its tests that a worker may change."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for d in ("swapctl", "tests", "man", "docs"):  # man and docs: tests that check the code against them
        if (ROOT / d).is_dir():
            shutil.copytree(ROOT / d, base / d, ignore=ignore, symlinks=True)
    shutil.copy(ROOT / "pyproject.toml", base / "pyproject.toml")
    return base


def _env(tree: Path) -> dict[str, str]:
    # SWAPCTL_TEST_LANE: no extra lanes (tests/lanes.py); the tree first on the path, never the real package
    return {**os.environ, "SWAPCTL_TEST_LANE": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(tree)}


# A worker is one long-lived Python per tree that has imported pytest and the libraries the tests use (never
# swapctl or tests: those are what a mutant changes) and forks a fresh pytest per mutant: each run saves the
# interpreter's start and those imports.
_SERVER = r"""
import json, os, signal, sys, time
import pytest, hypothesis, pytest_mock, typer, rich, rich.console, rich.table, yaml
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fd = os.open(os.devnull, os.O_RDWR)
        os.dup2(fd, 0); os.dup2(fd, 1); os.dup2(fd, 2)
        try:
            code = pytest.main(job["argv"])
        except BaseException:
            code = 99
        os._exit(int(code))
    deadline = time.monotonic() + job["timeout"]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            out = "passed" if os.waitstatus_to_exitcode(status) == 0 else "failed"
            break
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            out = "timeout"
            break
        time.sleep(0.02)
    try:
        os.killpg(pid, signal.SIGKILL)  # whatever the tests left running
    except ProcessLookupError:
        pass
    sys.stdout.write(out + "\n")
    sys.stdout.flush()
"""


class Worker:
    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self.proc = subprocess.Popen(
            ["nice", "-n", "19", str(PYTHON), "-c", _SERVER],
            cwd=tree,
            env=_env(tree),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, tests: list[str], timeout: float) -> str:
        """'passed', 'failed' or 'timeout'."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        argv = ["-x", "-q", "-p", "no:cacheprovider", "--hypothesis-seed=0", *tests]
        self.proc.stdin.write(json.dumps({"argv": argv, "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip() or "failed"

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


class Result(NamedTuple):
    module: str
    total: int
    killed: int
    survivors: list[Mutant]
    seconds: float
    note: str = ""


def run_module(module: str, tests: list[str], workers: list[Worker], lines: tuple[int, int] | None) -> Result:
    started = time.monotonic()
    real = (ROOT / module).read_text()
    ms = [m for m in mutants(real) if lines is None or lines[0] <= m.line <= lines[1]]
    t0 = time.monotonic()
    if workers[0].run(tests, timeout=1800) != "passed":
        return Result(module, len(ms), 0, [], time.monotonic() - started, "the tests fail without a mutant")
    timeout = max(30.0, 3 * (time.monotonic() - t0) + 10)
    free: list[Worker] = list(workers)
    lock = threading.Lock()
    survivors: list[Mutant] = []

    def one(m: Mutant) -> None:
        with lock:
            worker = free.pop()
        target = worker.tree / module
        try:
            target.write_text(m.source)
            if worker.run(tests, timeout) == "passed":
                with lock:
                    survivors.append(m)
                    print(f"  survived {module}:{m.line} {m.what}", flush=True)
        finally:
            target.write_text(real)
            with lock:
                free.append(worker)

    with ThreadPoolExecutor(len(workers)) as pool:
        list(pool.map(one, ms))
    survivors.sort(key=lambda m: (m.line, m.what))
    return Result(module, len(ms), len(ms) - len(survivors), survivors, time.monotonic() - started)


def table(results: list[Result]) -> str:
    rows = ["| module | mutants | killed | survived | score |", "|---|---:|---:|---:|---:|"]
    for r in results:
        score = f"{100 * r.killed / r.total:.0f}%" if r.total else "-"
        rows.append(f"| `{r.module}` | {r.total} | {r.killed} | {len(r.survivors)} | {score} |{r.note}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help="module paths (default: every module in TESTS)")
    ap.add_argument("--tests", nargs="+", help="test files to run instead of the module's TESTS entry")
    ap.add_argument("--workers", type=int, default=2, choices=(1, 2))
    ap.add_argument("--line", help="only mutants on these lines: N or N-M")
    ap.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    args = ap.parse_args(argv)
    modules = args.modules or list(TESTS)
    lines = None
    if args.line:
        lo, _, hi = args.line.partition("-")
        lines = (int(lo), int(hi or lo))
    for module in modules:
        if module not in TESTS and not args.tests:
            ap.error(f"{module}: no tests mapped in TESTS; pass --tests")
    if args.list:
        for module in modules:
            for m in mutants((ROOT / module).read_text()):
                if lines is None or lines[0] <= m.line <= lines[1]:
                    print(f"{module}:{m.line}: {m.what}")
        return 0
    results = []
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill still removes the temporary trees
    with tempfile.TemporaryDirectory(prefix="swapctl-mutate-") as tmp:
        workers = [Worker(_tree(Path(tmp) / f"w{i}")) for i in range(args.workers)]
        try:
            for module in modules:
                print(f"{module}: ...", flush=True)
                r = run_module(module, args.tests or TESTS[module], workers, lines)
                score = f"{100 * r.killed / r.total:.0f}%" if r.total else "-"
                print(f"{module}: {r.killed}/{r.total} killed ({score}) in {r.seconds:.0f}s {r.note}", flush=True)
                results.append(r)
        finally:
            for w in workers:
                w.close()
    print()
    print(table(results))
    print()
    for r in results:
        for m in r.survivors:
            print(f"{r.module}:{m.line}: {m.what}")
    print(f"\n{time.monotonic() - started:.0f}s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
