"""The house's rooms keep to their floors: cli on ops on system on kernel on core, each importing only from its
own room or the ones beneath (lazy imports inside functions and TYPE_CHECKING ones included), and no two
modules importing each other round a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import swapctl

PACKAGE = Path(swapctl.__file__).parent
FLOORS = {"core": 0, "kernel": 1, "system": 2, "ops": 3, "cli": 4}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every swapctl module the file imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("swapctl"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("swapctl"):
            for a in node.names:  # `from swapctl.ops import fstab` imports the module swapctl.ops.fstab
                sub = f"{node.module}.{a.name}"
                found.add(sub if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists() else node.module)
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def floor(module: str) -> int | None:
    parts = module.split(".")
    return FLOORS.get(parts[1]) if len(parts) > 1 else None


def test_every_module_lives_in_a_room() -> None:
    loose = [m for m in graph() if floor(m) is None and m not in ("swapctl", "swapctl.__main__")]
    assert not loose, f"modules outside cli/ops/system/kernel/core: {loose}"


def test_no_module_imports_from_a_room_above_its_own() -> None:
    upward = [
        f"{m} imports {i}"
        for m, deps in graph().items()
        for i in sorted(deps)
        if floor(m) is not None and floor(i) is not None and floor(i) > floor(m)
    ]  # type: ignore[operator]
    assert not upward, "\n".join(upward)


def test_no_import_circle() -> None:
    full = graph()
    g = {m: {d for d in deps if d in full and d != m} for m, deps in full.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []
    circles: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for d in sorted(g[m]):
            if state.get(d) == 1:
                circles.append(" -> ".join(path[path.index(d) :] + [d]))
            elif d not in state:
                visit(d)
        path.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    assert not circles, "\n".join(circles)
