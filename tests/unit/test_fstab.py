from __future__ import annotations

from swapctl.ops.fstab import find_line, has_discard, set_line, swap_line

BASE = "# static\nUUID=abcd / ext4 defaults 0 1\n\n/dev/sdb1 none swap sw 0 0\n"


def test_a_new_line_is_appended_and_the_rest_kept_byte_for_byte() -> None:
    out = set_line(BASE, "/swapfile", swap_line("/swapfile", 10, True))
    assert out == BASE + "/swapfile none swap defaults,pri=10,discard 0 0\n"


def test_an_existing_line_is_replaced_in_place_and_duplicates_dropped() -> None:
    text = "/swapfile none swap sw 0 0\n# keep me\n/swapfile none swap sw,pri=1 0 0\n"
    out = set_line(text, "/swapfile", swap_line("/swapfile", None, False))
    assert out == "/swapfile none swap defaults 0 0\n# keep me\n"


def test_dropping_the_line_restores_the_original_bytes() -> None:
    added = set_line(BASE, "/swapfile", swap_line("/swapfile", None, False))
    assert set_line(added, "/swapfile", None) == BASE


def test_paths_with_blanks_are_escaped_and_found() -> None:
    line = swap_line("/var/swap dir/f\tx", None, False)
    assert line.split()[0] == "/var/swap\\040dir/f\\011x"
    assert find_line("x\n" + line + "\n", "/var/swap dir/f\tx") == line


def test_comments_and_other_filesystems_are_never_matched() -> None:
    text = "#/swapfile none swap sw 0 0\n/swapfile /mnt ext4 defaults 0 0\n"
    assert find_line(text, "/swapfile") is None


def test_a_file_without_final_newline_round_trips_byte_for_byte() -> None:
    added = set_line("a b c", "/s", "/s none swap defaults 0 0")
    assert added == "a b c\n/s none swap defaults 0 0"
    assert set_line(added, "/s", None) == "a b c"


def test_discard_option_is_recognised() -> None:
    assert has_discard("/s none swap defaults,discard=once 0 0")
    assert not has_discard("/s none swap defaults 0 0") and not has_discard(None)
