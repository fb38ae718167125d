"""zip(..., strict=True) for Python 3.9: pairs whose sides must be of one length (a test that zips a shorter
list would otherwise pass on what it never compared)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import zip_longest
from typing import Any

_MISSING = object()


def pairs(*sides: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    for row in zip_longest(*sides, fillvalue=_MISSING):
        if _MISSING in row:
            raise AssertionError("the sides differ in length")
        yield row
