"""How the kernel reads the text of a write to an int sysctl (kernel/procsys.py): what a boot's sysctl.d line
really leaves in /proc/sys/vm. The edges here are the kernel's: an int's range, proc_get_long's 21 characters
(its sign among them), base 0 and what may follow the number."""

from __future__ import annotations

import pytest

from swapctl.kernel import procsys
from swapctl.kernel.version import parse_release


@pytest.mark.parametrize(
    "text, value",
    [
        ("2147483647", 2**31 - 1),
        ("-2147483648", -(2**31)),
        ("0x7fffffff", 2**31 - 1),
        ("0x10", 16),
        ("-0x10", -16),
        ("0X1f", 31),
        ("0", 0),
        ("010", 8),
        ("0" * 19 + "5", 5),  # 20 characters: read
        (" \t10 # a note", 10),
        ("\udca010", 10),  # the Latin-1 no-break space is a blank to the kernel
    ],
)
def test_the_kernel_reads_the_number_a_write_starts_with(text: str, value: int) -> None:
    assert procsys.read_int(text) == value


@pytest.mark.parametrize(
    "text, why",
    [
        ("2147483648", "does not fit an int"),
        ("-2147483649", "does not fit an int"),
        ("", "the value is empty"),
        ("   ", "the value is empty"),
        ("0" * 20 + "5", "the number is too long"),  # 21 characters
        ("0" * 21 + "5", "the number is too long"),
        ("-" + "0" * 19 + "5", "the number is too long"),  # the sign counts among them
        ("x1", "does not start with a digit"),
        ("-x", "does not start with a digit"),
        ("\u0661", "does not start with a digit"),  # a digit, but not an ASCII one
        ("10x", "is not a number the kernel reads"),
        ("0x", "is not a number the kernel reads"),  # no hex digit: octal 0, then an "x"
        ("09", "is not a number the kernel reads"),  # octal
    ],
)
def test_the_kernel_refuses_what_it_cannot_read(text: str, why: str) -> None:
    got = procsys.read_int(text)
    assert isinstance(got, str) and why in got


def test_a_value_outside_the_knobs_range_is_refused_with_the_range() -> None:
    assert procsys.accepts("200", 0, 200) == 200 and procsys.accepts("0", 0, 200) == 0
    assert procsys.accepts("201", 0, 200) == "201 is out of range (0-200)"
    assert procsys.accepts("-1", 0, 200) == "-1 is out of range (0-200)"


@pytest.mark.parametrize(
    "release, version",
    [("123456789.1", (123456789, 1, 0)), ("1234567890.1", None), ("6.1.1234567890", (6, 1, 0)), ("6", None)],
)
def test_a_release_number_has_at_most_9_digits(release: str, version) -> None:
    assert parse_release(release) == version
