"""Lines split as libmount, procps and systemd read them (at "\\n" only, joined back byte for byte), and paths
quoted so a person can paste them into a shell."""

from __future__ import annotations

import pytest

from swapctl.core.text import lines, nonblank_lines, shell_quote, split_lines


@pytest.mark.parametrize(
    "text, split, bare",
    [
        ("", [], []),
        ("a", ["a"], ["a"]),
        ("a\n", ["a\n"], ["a"]),
        ("a\nb", ["a\n", "b"], ["a", "b"]),
        ("a\n\n", ["a\n", "\n"], ["a", ""]),
        ("\n", ["\n"], [""]),
        ("a\rb\x0bc\u2028d\n", ["a\rb\x0bc\u2028d\n"], ["a\rb\x0bc\u2028d"]),  # only "\n" ends a line
    ],
)
def test_lines_end_at_newlines_only_and_join_back_byte_for_byte(text: str, split: list[str], bare: list[str]) -> None:
    assert split_lines(text) == split and "".join(split) == text
    assert lines(text) == bare


def test_nonblank_lines_skip_the_empty_ones() -> None:
    assert list(nonblank_lines("a\n\n\nb\r\n\n")) == ["a", "b\r"]
    assert list(nonblank_lines("")) == []


@pytest.mark.parametrize(
    "path, quoted",
    [
        ("/swapfile", "/swapfile"),
        ("/var/swap-1_a@b%c+d=e:f,g.h", "/var/swap-1_a@b%c+d=e:f,g.h"),
        ("", "''"),
        ("/swap file", "'/swap file'"),
        ("/a$b", "'/a$b'"),
        ("/caf\u00e9", "'/caf\u00e9'"),
        ("/it's", "$'/it\\'s'"),
        ("/a\\b'", "$'/a\\\\b\\''"),
        ("/a\tb", "$'/a\\x09b'"),
        ("/a\udcffb", "$'/a\\xffb'"),  # a byte that was not UTF-8
        ("/\udc80\udcff", "$'/\\x80\\xff'"),  # the first and last of them
        ("/a\u200bb\n", "$'/a\\xe2\\x80\\x8bb\\x0a'"),
    ],
)
def test_a_path_is_quoted_only_as_much_as_a_shell_needs(path: str, quoted: str) -> None:
    assert shell_quote(path) == quoted
