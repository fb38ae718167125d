"""tools/mutate.py makes the mutants docs/TESTING.md counts: one small change each, at the right line, never in a
docstring or an annotation, and every module it names has tests mapped that exist. (It runs nothing here.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("mutate_tool", ROOT / "tools/mutate.py")
assert SPEC and SPEC.loader
mutate = importlib.util.module_from_spec(SPEC)
sys.modules["mutate_tool"] = mutate
SPEC.loader.exec_module(mutate)

SOURCE = '''"""A docstring: 1 < 2 is no code."""
from __future__ import annotations


def f(x: int = 3, items: list[int] | None = None) -> bool:
    """Nor is this: a and b."""
    if x < 2 and not items:
        raise ValueError(x)
    y = items[-1] + x * 2
    log(y)
    y += 1
    return y == 4 or True
'''


def test_each_kind_of_mutant_is_made_once_at_its_line_and_compiles() -> None:
    made = {(m.line, m.what) for m in mutate.mutants(SOURCE)}
    assert made == {
        (5, "3 -> 4"),  # a default value is code; its annotation is not
        (7, "< -> <="),
        (7, "2 -> 3"),
        (7, "and -> or"),
        (7, "drop not"),
        (8, "delete raise"),
        (9, "+ -> -"),
        (9, "* -> //"),
        (9, "2 -> 3"),
        (9, "[-1] -> [0]"),
        (9, "1 -> 0"),
        (10, "delete call"),
        (11, "+= -> -="),
        (11, "1 -> 0"),
        (12, "return value -> None"),
        (12, "== -> !="),
        (12, "4 -> 5"),
        (12, "or -> and"),
        (12, "True -> False"),
    }
    for m in mutate.mutants(SOURCE):
        compile(m.source, "mutant", "exec")
        assert m.source.count("\n") == SOURCE.count("\n")  # tracebacks keep the module's line numbers


def test_a_mutant_changes_only_its_own_spot() -> None:
    (m,) = [m for m in mutate.mutants(SOURCE) if m.what == "< -> <="]
    assert m.source == SOURCE.replace("x < 2", "(x <= 2)")


def test_every_module_in_the_table_exists_and_its_tests_do_too() -> None:
    for module, tests in mutate.TESTS.items():
        assert (ROOT / module).is_file(), module
        assert tests and all((ROOT / t).is_file() for t in tests), module
        assert all(t.startswith(("tests/unit/", "tests/plans/", "tests/cli/")) for t in tests), module
