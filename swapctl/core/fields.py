"""Checks for the values a journal line carries into a step, so a damaged or forged entry is refused before any
step is rebuilt from it: in-machine paths that stay inside the root, bounded integers, known names."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any, NamedTuple

Check = Callable[[Any], bool]


class Field(NamedTuple):
    check: Check
    what: str  # what the value must be, for the error
    required: bool = True


def encodable(v: str) -> bool:
    """Whether a string is bytes swapctl could have read (UTF-8, or a non-UTF-8 byte kept as a surrogate): a
    JSON escape such as \\ud800 in the journal gives a string that is neither."""
    try:
        v.encode("utf-8", "surrogateescape")
        return True
    except UnicodeEncodeError:
        return False


def is_path(v: Any) -> bool:
    """An absolute, normalised in-machine path: no "..", no NUL, within PATH_MAX. Joined under --root it
    cannot leave the tree (links are resolved inside it)."""
    return (
        isinstance(v, str)
        and v.startswith("/")
        and "\0" not in v
        and encodable(v)
        and len(v.encode("utf-8", "surrogateescape")) < 4096
        and posixpath.normpath(v) == v
        and ".." not in v.split("/")
        and v != "/"
    )


def is_int(lo: int, hi: int) -> Check:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def is_text(v: Any) -> bool:
    """A short text without NUL (a name, a line swapctl writes)."""
    return isinstance(v, str) and "\0" not in v and len(v) < 1 << 20 and encodable(v)


def is_content(v: Any) -> bool:
    """A file's text as swapctl read it: any bytes (a NUL in fstab included), within what it reads of one."""
    return isinstance(v, str) and len(v) <= 16 << 20 and encodable(v)


def one_of(*values: Any) -> Check:
    return lambda v: isinstance(v, str) and v in values


def optional(check: Check) -> Check:
    return lambda v: v is None or check(v)


def list_of(check: Check) -> Check:
    return lambda v: isinstance(v, list) and len(v) < 64 and all(check(x) for x in v)


def problem(values: Any, schema: dict[str, Field], what: str) -> str | None:
    """Why `values` does not fit `schema` (an unknown key, a missing or wrong one), or None when it fits."""
    if not isinstance(values, dict):
        return f"{what} is not an object"
    for key in values:
        if key not in schema:
            return f"{what} has an unknown key {str(key)[:40]!r}"
    for key, f in schema.items():
        if key not in values:
            if f.required:
                return f"{what} lacks {key}"
            continue
        if not f.check(values[key]):
            return f"{what}: {key} {str(values[key])[:60]!r} is not {f.what}"
    return None
