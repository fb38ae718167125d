"""Figures the reliability tests measure (docs/RELIABILITY.md): printed, and appended as JSON lines to the
file named by SWAPCTL_FIGURES when it is set, so the document can be refreshed from one run."""

from __future__ import annotations

import json
import os
from typing import Any


def report(section: str, **values: Any) -> dict[str, Any]:
    row = {"section": section, **values}
    line = json.dumps(row, sort_keys=False)
    print(f"\nFIGURES {line}")
    path = os.environ.get("SWAPCTL_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    return row
