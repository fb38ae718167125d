"""How the kernel reads a value written to an int sysctl (proc_dointvec_minmax, kernel/sysctl.c): what a boot's
`sysctl --system` or systemd-sysctl really leaves in /proc/sys/vm for the text a config file holds.

proc_skip_spaces(), then proc_get_long(): an optional "-", then digits read by strtoul with base 0 (010 is 8,
0x10 is 16), at most 21 characters, followed by a space, tab or newline; the int conversion refuses what does
not fit an int, the table's extra1/extra2 what is out of range. With sysctl_writes_strict (the default) the
rest of the write after the number and its blanks is taken and ignored: "10 # note" sets 10. Measured on this
machine's 6.18 (tests/system/test_vm_real.py)."""

from __future__ import annotations

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
TMPBUFLEN = 22  # proc_get_long copies at most TMPBUFLEN - 1 characters of the number
# The kernel's isspace() for proc_skip_spaces (lib/ctype.c): the C blanks and the Latin-1 no-break space byte
# 0xA0, which a file's raw byte reaches here as the surrogate "\udca0" (text read with surrogateescape).
_SPACE = " \t\n\v\f\r\udca0"
_AFTER = " \t\n"  # proc_wspace_sep: what may follow the number


def read_int(text: str) -> int | str:
    """The int the kernel reads from a write of `text` (the tools add a newline), or why it refuses (EINVAL)."""
    data = text + "\n"
    i = 0
    while i < len(data) and data[i] in _SPACE:
        i += 1
    if i == len(data):
        return "the value is empty"
    tmp = data[i : i + TMPBUFLEN - 1]  # what proc_get_long copies: the sign counts among its 21 characters
    neg = tmp[0] == "-"
    start = 1 if neg else 0
    if not tmp[start : start + 1].isascii() or not tmp[start : start + 1].isdigit():
        return f"{text.strip()[:24]!r} does not start with a digit"
    if tmp[start : start + 2] in ("0x", "0X") and tmp[start + 2 : start + 3] in tuple("0123456789abcdefABCDEF"):
        digits, base, end = "0123456789abcdefABCDEF", 16, start + 2
    elif tmp[start] == "0":
        digits, base, end = "01234567", 8, start + 1
    else:
        digits, base, end = "0123456789", 10, start
    while end < len(tmp) and tmp[end] in digits:
        end += 1
    if end == TMPBUFLEN - 1:
        return "the number is too long"
    if data[i + end] not in _AFTER:
        return f"{text.strip()[:24]!r} is not a number the kernel reads"
    body = tmp[start + 2 : end] if base == 16 else tmp[start:end]
    value = int(body, base) if body else 0
    value = -value if neg else value
    if not INT_MIN <= value <= INT_MAX:
        return f"{value} does not fit an int"
    return value


def accepts(text: str, lo: int, hi: int) -> int | str:
    """The value a sysctl with range [lo, hi] takes from `text`, or why the kernel refuses it."""
    value = read_int(text)
    if isinstance(value, int) and not lo <= value <= hi:
        return f"{value} is out of range ({lo}-{hi})"
    return value
