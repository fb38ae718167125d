"""The vm sysctls swapctl manages: each knob's range by kernel version (and swapctl's stricter policy where the
kernel's range lets a value hurt the machine), its default, and the one parser of `KEY=VALUE` assignments that
`vm set`, `watermarks --what-if` and `apply` share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from swapctl.core.errors import UsageError
from swapctl.kernel.procsys import INT_MAX, INT_MIN
from swapctl.kernel.version import Version


class Knob(NamedTuple):
    name: str  # the file under /proc/sys/vm
    summary: str
    # (lowest, highest) the sysctl handler accepts on the first kernel that has the knob (`since`, or any kernel
    # swapctl runs on), then (release, lowest, highest) for each release that changed it, oldest first; from the
    # sysctl tables of kernel/sysctl.c, mm/page_alloc.c, mm/swap.c, fs/dcache.c.
    first_range: tuple[int, int]
    range_changes: tuple[tuple[Version, int, int], ...] = ()
    since: Version | None = None  # the first kernel that has it
    policy: tuple[int, int] = (INT_MIN, INT_MAX)  # swapctl's own limits where the kernel's let an admin hurt
    policy_reason: str = ""
    default: int | None = None  # the kernel's boot value where it is a constant
    needs: str = ""  # the kernel option without which the file is absent
    # (from, until, lowest, highest, why): releases where stable or distribution builds took a change before the
    # mainline release that made it (or not at all), so the release string cannot tell the range; from None: every
    # release before `until`. lowest..highest is what some build there takes (mainline's range and the others'
    # together): swapctl accepts it, says so, and lets the kernel decide (a refused write is undone).
    uncertain: tuple[tuple[Version | None, Version, int, int, str], ...] = ()

    @property
    def key(self) -> str:
        return f"vm.{self.name}"

    def kernel_range(self, version: Version | None) -> tuple[int, int]:
        """What the kernel's handler takes (None: an unknown kernel, the newest table)."""
        lo, hi = self.first_range
        for release, changed_lo, changed_hi in self.range_changes:
            if version is None or version >= release:
                lo, hi = changed_lo, changed_hi
        return lo, hi

    def _window(self, version: Version | None) -> tuple[Version | None, Version, int, int, str] | None:
        if version is None:
            return None
        return next((w for w in self.uncertain if (w[0] is None or w[0] <= version) and version < w[1]), None)

    def possible_range(self, version: Version | None) -> tuple[int, int]:
        """What some build of this release takes: the mainline range, or an uncertain window's wider one."""
        w = self._window(version)
        return (w[2], w[3]) if w else self.kernel_range(version)

    def doubt(self, version: Version | None) -> str | None:
        """Why this release's range is not certain, or None."""
        w = self._window(version)
        return w[4] if w else None

    def doubt_about(self, value: int, version: Version | None) -> str | None:
        """What to say of a value some builds of this release take and others refuse; None when all agree."""
        lo, hi = self.kernel_range(version)
        why = self.doubt(version)
        if why is None or lo <= value <= hi:
            return None
        return f"{self.key}={value}: {why}; the kernel will take it or refuse it"

    def accepted_range(self, version: Version | None) -> tuple[int, int]:
        """What swapctl takes: what the kernel may take, within swapctl's policy."""
        lo, hi = self.possible_range(version)
        return max(lo, self.policy[0]), min(hi, self.policy[1])


_NO_NEGATIVE = (
    "before Linux 5.12 a stable update may refuse a negative value (3b3376f222e3, March 2021); "
    "the release does not say which"
)

KNOBS: dict[str, Knob] = {
    k.name: k
    for k in (
        # min_free_kbytes_sysctl_handler: proc_dointvec_minmax, extra1 = 0, no upper bound. Too large a value
        # panics the kernel; the safety policy (kernel/mm.py min_free_facts) refuses that, not the range.
        Knob(
            "min_free_kbytes",
            "memory the kernel keeps free for atomic allocations and reclaim (kB)",
            (0, INT_MAX),
        ),
        # 0..100 until 5.7; 5.8 raised the ceiling to 200 (SYSCTL_TWO_HUNDRED) for fast swap devices.
        Knob(
            "swappiness",
            "how readily anonymous memory is swapped rather than page cache dropped",
            (0, 100),
            (((5, 8, 0), 0, 200),),
            default=60,
        ),
        # proc_dointvec took any int (negative too) until 3b3376f222e3 "mm/vmscan: fix underflow value setting
        # risk in vm_table" (5.12; sent to the stable series in March 2021, so an older build may refuse it too);
        # it is a bit mask of three bits, so swapctl takes 0-7 only.
        Knob(
            "zone_reclaim_mode",
            "reclaim on the local NUMA node before allocating from another (bit mask)",
            (INT_MIN, INT_MAX),
            (((5, 12, 0), 0, INT_MAX),),
            policy=(0, 7),
            policy_reason="only bits 1, 2 and 4 mean anything",
            default=0,
            needs="CONFIG_NUMA",
            uncertain=((None, (5, 12, 0), INT_MIN, INT_MAX, _NO_NEGATIVE),),
        ),
        # New in 4.6 with 1..1000; 39c65a94cd96 raised the ceiling to 3000 in 5.17, and 5.15's stable series took
        # it in 2022 (the 5.15.16 tree has 1000, the 5.15.100 tree 3000), so 5.15 and 5.16 builds differ.
        Knob(
            "watermark_scale_factor",
            "gap between the min, low and high watermarks, in 1/10000 of memory",
            (1, 1000),
            (((5, 17, 0), 1, 3000),),
            since=(4, 6, 0),
            default=10,
            uncertain=(
                (
                    (5, 15, 0),
                    (5, 17, 0),
                    1,
                    3000,
                    "Linux 5.15 and 5.16 take up to 3000 only with the 2022 stable update (before it, 1000; "
                    "mainline 5.17); the release does not say which",
                ),
            ),
        ),
        # New in 5.0; proc_dointvec_minmax with extra1 = 0.
        Knob(
            "watermark_boost_factor",
            "temporary watermark boost after fragmentation events, in 1/10000",
            (0, INT_MAX),
            since=(5, 0, 0),
            default=15000,
        ),
        # Same 5.12 fix as zone_reclaim_mode: negative values were accepted before and could crash reclaim.
        Knob(
            "vfs_cache_pressure",
            "how hard the dentry and inode caches are reclaimed (100 = fair)",
            (INT_MIN, INT_MAX),
            (((5, 12, 0), 0, INT_MAX),),
            policy=(0, INT_MAX),
            policy_reason="a negative pressure is meaningless",
            default=100,
            uncertain=((None, (5, 12, 0), INT_MIN, INT_MAX, _NO_NEGATIVE),),
        ),
        # A shift count: 6.2 capped it at 31 (page_cluster_max) because larger values overflow; swapctl keeps
        # that cap on older kernels too.
        Knob(
            "page-cluster",
            "swap readahead: 2^N pages read in one attempt (0 disables readahead)",
            (0, INT_MAX),
            (((6, 2, 0), 0, 31),),
            policy=(0, 31),
            policy_reason="it is a shift count; 2^31 pages is already beyond any swap device",
            default=3,
        ),
    )
}


def knob_named(text: str) -> Knob:
    """`swappiness` or `vm.swappiness` -> its Knob; anything else is a usage error (exit 2)."""
    name = text[3:] if text.startswith("vm.") else text
    knob = KNOBS.get(name)
    if knob is None:
        import difflib  # only for a misspelt key: kept off start-up

        close = difflib.get_close_matches(name, list(KNOBS), n=1)
        hint = (f"did you mean {close[0]}? " if close else "") + "keys: " + ", ".join(KNOBS)
        raise UsageError(f"{text!r} is not a vm sysctl swapctl manages", hint=hint)
    return knob


# --- assignments ---------------------------------------------------------------------------------------
SET, RAISE, LOWER = "set", "raise", "lower"
_OPS = {">": RAISE, "<": LOWER}
_INT = re.compile(r"[+-]?[0-9]+")


class Assignment(NamedTuple):
    knob: Knob
    value: int
    mode: str = SET  # set | raise (KEY=>N: only if it raises the value) | lower (KEY=<N)

    @property
    def text(self) -> str:
        op = {SET: "=", RAISE: "=>", LOWER: "=<"}[self.mode]
        return f"{self.knob.key}{op}{self.value}"

    def target(self, current: int) -> int:
        """The value in force after it (raise/lower-only keep a current value already past N)."""
        if self.mode == RAISE:
            return max(current, self.value)
        if self.mode == LOWER:
            return min(current, self.value)
        return self.value


def parse_assignment(text: str) -> Assignment:
    """`KEY=VALUE`, `KEY=>N` (only raise) or `KEY=<N` (only lower); VALUE a decimal integer."""
    key, sep, rest = text.partition("=")
    if not sep:
        raise UsageError(f"{text!r} is not an assignment", hint="write KEY=VALUE, e.g. vm.swappiness=10")
    knob = knob_named(key.strip())
    mode = SET
    if rest[:1] in _OPS:
        mode, rest = _OPS[rest[0]], rest[1:]
    raw = rest.strip(" \t")  # blanks as a shell leaves them; a no-break space is no blank
    if not raw:
        raise UsageError(f"{knob.key} has an empty value", hint=f"write {knob.key}=N")
    if not _INT.fullmatch(raw) or not raw.isascii():
        # The kernel would read "0x10" or "010" with base 0; swapctl takes decimal only, and writes decimal.
        raise UsageError(f"{knob.key}={raw[:40]!r} is not a decimal integer", hint=f"write {knob.key}=N")
    if len(raw.lstrip("+-").lstrip("0")) > 19:
        # Past any int the kernel takes (and past what int() reads: 4300 digits), whatever the knob.
        raise UsageError(
            f"{knob.key}={raw[:20]}... is out of range: it has {len(raw.lstrip('+-'))} digits",
            hint=f"give a value in {_range_text(*knob.kernel_range(None))}",
        )
    return Assignment(knob, int(raw), mode)


def check_assignments(
    texts: Iterable[str],
    version: Version | None,
    release: str = "",
    *,
    keys: tuple[str, ...] | None = None,
    outside: str = "cannot be given here",
    values_only: bool = False,
) -> Iterator[Assignment | UsageError]:
    """For each text in turn, its Assignment or what is wrong with it: not an assignment, a key outside `keys`,
    `=>N`/`=<N` where `values_only`, a key given twice, a knob this kernel does not have yet, or a value out of
    the range this kernel (and swapctl) accepts. One reading for every command that takes assignments."""
    seen: set[str] = set()
    for text in texts:
        try:
            a = parse_assignment(text)
            if keys is not None and a.knob.name not in keys:
                raise UsageError(f"{a.knob.key} {outside}", hint=f"keys: {', '.join(keys)}")
            if values_only and a.mode != SET:
                raise UsageError(
                    f"{a.text} only raises or lowers: this needs a value", hint=f"write {a.knob.key}={a.value}"
                )
            if a.knob.name in seen:
                raise UsageError(f"{a.knob.key} is assigned more than once", hint="give each key once")
            seen.add(a.knob.name)
            if a.knob.since is not None and version is not None and version < a.knob.since:
                raise UsageError(
                    f"{a.knob.key} does not exist before Linux {'.'.join(map(str, a.knob.since))}"
                    f" ({'this kernel is ' + release if release else 'this kernel is older'})"
                )
            check_range(a.knob, a.value, version, release)
        except UsageError as exc:
            yield exc
            continue
        yield a


def parse_assignments(
    texts: list[str],
    version: Version | None,
    release: str = "",
    *,
    keys: tuple[str, ...] | None = None,
    outside: str = "cannot be given here",
    values_only: bool = False,
) -> list[Assignment]:
    """Every assignment parsed and range-checked before anything else; the first bad one fails them all."""
    if not texts:
        raise UsageError("nothing to set", hint="swapctl vm set KEY=VALUE..., e.g. vm.swappiness=10")
    out = []
    for item in check_assignments(texts, version, release, keys=keys, outside=outside, values_only=values_only):
        if isinstance(item, UsageError):
            raise item
        out.append(item)
    return out


def check_range(knob: Knob, value: int, version: Version | None, release: str = "") -> None:
    lo, hi = knob.accepted_range(version)
    if lo <= value <= hi:
        return
    klo, khi = knob.possible_range(version)
    where = f"Linux {release}" if release else "this kernel"
    if klo <= value <= khi:
        # The kernel would take it; swapctl does not.
        raise UsageError(
            f"{knob.key}={value} is out of range: swapctl accepts {lo}-{hi} ({knob.policy_reason})",
            hint=f"give a value in {lo}-{hi}",
        )
    raise UsageError(
        f"{knob.key}={value} is out of range: {where} accepts {_range_text(lo, hi)}",
        hint=f"give a value in {_range_text(lo, hi)}",
    )


def _range_text(lo: int, hi: int) -> str:
    return f"{lo}-{hi}"
