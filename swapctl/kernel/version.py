"""Kernel releases as versions: the one reader of an osrelease string, for every table keyed by version."""

from __future__ import annotations

Version = tuple[int, int, int]  # (major, minor, patch); compare with tuples of three, never two


def parse_release(release: str | None) -> Version | None:
    """(6, 12, 117) from "6.12.117+deb12-amd64", (6, 6, 0) from "6.6"; None unless it starts with major.minor."""
    head = (release or "").strip()
    for i, ch in enumerate(head):
        if not (ch.isdigit() or ch == "."):
            head = head[:i]
            break
    parts = head.split(".")

    def number(p: str) -> bool:  # at most 9 digits: a release is no place for a 5000-digit number
        return p.isascii() and p.isdigit() and len(p) <= 9

    if len(parts) < 2 or not all(number(p) for p in parts[:2]):
        return None
    patch = parts[2] if len(parts) > 2 and number(parts[2]) else "0"
    return int(parts[0]), int(parts[1]), int(patch)


LATEST: Version = (99, 0, 0)  # the rules of the newest kernel, for a release that cannot be read


def rules_version(release: str | Version | None) -> Version:
    """The version whose rules apply: parsed from an osrelease string; an unknown one gets the newest rules."""
    if isinstance(release, tuple):
        return release
    return parse_release(release) or LATEST
