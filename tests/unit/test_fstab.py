"""fstab as libmount reads it, and swapctl's line edits: every other byte kept."""

from __future__ import annotations

import pytest

from swapctl.ops.fstab import find_line, parse, rewrite, set_line, swap_line, swap_options

BASE = "# static\nUUID=abcd / ext4 defaults 0 1\n\n/dev/sdb1 none swap sw 0 0\n"


def test_a_new_line_is_appended_and_the_rest_kept_byte_for_byte() -> None:
    out = set_line(BASE, "/swapfile", swap_line("/swapfile", 10, "both"))
    assert out == BASE + "/swapfile none swap defaults,pri=10,discard 0 0\n"


def test_an_existing_line_is_replaced_in_place_and_duplicates_dropped() -> None:
    text = "/swapfile none swap sw 0 0\n# keep me\n/swapfile none swap sw,pri=1 0 0\n"
    out = set_line(text, "/swapfile", swap_line("/swapfile", None, None))
    assert out == "/swapfile none swap defaults 0 0\n# keep me\n"


def test_dropping_the_line_restores_the_original_bytes() -> None:
    added = set_line(BASE, "/swapfile", swap_line("/swapfile", None, None))
    assert set_line(added, "/swapfile", None) == BASE


def test_paths_with_blanks_are_escaped_and_found() -> None:
    line = swap_line("/var/swap dir/f\tx", None, None)
    assert line.split()[0] == "/var/swap\\040dir/f\\011x"
    assert find_line("x\n" + line + "\n", "/var/swap dir/f\tx") == line


def test_comments_and_other_filesystems_are_never_matched() -> None:
    text = "#/swapfile none swap sw 0 0\n  \t# /swapfile none swap sw 0 0\n/swapfile /mnt ext4 defaults 0 0\n"
    assert find_line(text, "/swapfile") is None


def test_a_file_without_final_newline_round_trips_byte_for_byte() -> None:
    added = set_line("a b c", "/s", "/s none swap defaults 0 0")
    assert added == "a b c\n/s none swap defaults 0 0"
    assert set_line(added, "/s", None) == "a b c"


def test_a_line_is_appended_after_the_last_of_many_lines_when_the_file_has_no_final_newline() -> None:
    text = "UUID=a / ext4 defaults 0 1\nUUID=b /home ext4 defaults 0 2"
    added = set_line(text, "/s", "/s none swap defaults 0 0")
    assert added == text + "\n/s none swap defaults 0 0"
    assert [e.source for e in parse(added)] == ["UUID=a", "UUID=b", "/s"]


def test_discard_and_priority_are_read_whatever_the_spelling() -> None:
    assert swap_options(("defaults", "discard=once")) == (None, "once")
    assert swap_options(("discard=pages",)) == (None, "pages") and swap_options(("discard",)) == (None, "both")
    assert swap_options(("sw",)) == (None, None) and swap_options(None) == (None, None)
    assert swap_options(("pri=0",)) == (0, None)  # 0 is a priority, not "automatic"
    assert swap_options(("pri=-1",)) == (None, None)
    assert swap_options(("pri=" + "9" * 5000,)) == (None, None)  # strtol overflows: swapon sets nothing


@pytest.mark.parametrize(
    "value, priority",
    [
        ("5abc", 5),
        ("abc", None),
        ("0x10", 0),
        ("99999", 32767),
        (" 7", 7),
        ("+8", 8),
        ("-5", None),
        # a 64-bit long holds LONG_MAX; the (int) cast keeps 32 bits
        (str(2**63 - 1), None),
        (str(2**63), None),
        ("0" * 30 + "6", 6),
        ("99999999999", 32767),
        (str(2**32 + 3), 3),
    ],
)
def test_a_priority_is_read_as_swapon_reads_it(value: str, priority: int | None) -> None:
    assert swap_options((f"pri={value}",))[0] == priority


def test_options_are_found_by_name_and_quotes_hold_commas() -> None:
    (entry,) = parse("/s none swap sw,noauto=1 0 0\n")
    assert not entry.auto
    (entry,) = parse('/s none swap x-opt="a,noauto,b",sw 0 0\n')
    assert entry.auto and entry.options == ('x-opt="a,noauto,b"', "sw")


def test_a_line_holding_a_nul_is_no_entry_as_for_libmount() -> None:
    assert parse("/s none swap sw\0x 0 0\n/t none swap sw 0 0\n")[0].source == "/t"


def test_octal_escapes_are_bytes() -> None:
    (a, b) = parse("/var/tmp/caf\\303\\251 none swap sw 0 0\n/var/tmp/a\\377b none swap sw 0 0\n")
    assert a.source == "/var/tmp/café" and b.source == "/var/tmp/a\udcffb"


@pytest.mark.parametrize("sep", ["\r", "\v", "\f", "\x1c", "\x85", "\u2028"])
def test_only_a_newline_ends_a_line(sep: str) -> None:
    comment = "# moved" + sep + "/swapfile none swap sw 0 0\n"
    assert parse(comment) == []
    glued = "/swapfile none swap sw 0 0" + sep + "UUID=abcd / ext4 defaults 0 1\n"
    assert parse(glued) == [], "libmount rejects a passno that is not a number, and skips the line"


def test_a_crlf_line_is_read_and_fields_split_at_spaces_and_tabs_only() -> None:
    assert [e.source for e in parse("/s none swap sw 0 0\r\n")] == ["/s"]
    assert [(e.source, e.fstype) for e in parse("/a\u00a0b\tnone swap sw\n")] == [("/a\u00a0b", "swap")]
    (entry,) = parse("/s\vnone swap sw 0 0\n")  # a \v separates no fields: "/s\vnone" of type "sw"
    assert (entry.source, entry.is_swap) == ("/s\vnone", False)


def test_a_rewrite_keeps_the_lines_other_options_and_spacing() -> None:
    text = "UUID=a  none\tswap\tsw,nofail,pri=3,noauto\t0 0\n"
    (entry,) = parse(text)
    assert rewrite(text, entry, 7, "both") == "UUID=a  none\tswap\tsw,nofail,pri=7,discard\t0 0"
    once = "/s none swap discard=once 0 0\n"
    (entry,) = parse(once)
    assert rewrite(once, entry, 5, "once") == "/s none swap defaults,pri=5,discard=once 0 0"
    four = "/s none swap nofail\n"
    (entry,) = parse(four)
    assert rewrite(four, entry, None, None) == "/s none swap nofail"
    three = "/s none swap\n"
    (entry,) = parse(three)
    assert rewrite(three, entry, 0, None) == "/s none swap defaults,pri=0 0 0"
