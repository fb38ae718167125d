"""fstab as libmount reads it, and swapctl's line edits: every other byte kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swapctl.ops.fstab import (
    FSTAB,
    FstabSet,
    find_line,
    fstab_set,
    lines_for,
    names,
    parse,
    persisted,
    rewrite,
    set_line,
    swap_line,
    swap_options,
    udev_encode,
)
from tests.fakes import fake_host, make_root

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
        # the edges of strtol's range and of the 19 digits that can fit in it
        (str(2**62 + 5), 5),  # 19 digits, within a long: cast to 5
        (str(2**63 + 5), None),  # 19 digits, past LONG_MAX: ERANGE
        (str(-(2**63)), 0),  # LONG_MIN fits; its low 32 bits are 0
        (str(-(2**63) - 2**32 + 5), None),  # under LONG_MIN: ERANGE, though its low 32 bits are 5
        (" " * 10 + str(2**40 + 7), 7),  # blanks before the digits do not count as digits
        (str(2**31), None),  # the cast makes it negative: automatic
        ("32767", 32767),
        ("32768", 32767),
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


def test_a_priority_of_0_is_written_not_dropped() -> None:
    # pri=0 is a priority like any other; only a negative one (or none) means "automatic"
    assert swap_line("/s", 0, None) == "/s none swap defaults,pri=0 0 0"
    assert swap_line("/s", -1, None) == "/s none swap defaults 0 0"
    assert swap_line("/s", None, "once") == "/s none swap defaults,discard=once 0 0"


def test_a_comment_or_a_line_with_a_bad_freq_or_passno_is_no_entry() -> None:
    assert parse("#x none swap sw 0 0\n  \t#y none swap sw 0 0\n") == []
    assert parse("/s none swap sw x 0\n/t none swap sw 0 y\n") == []
    assert [e.source for e in parse("/s none swap sw 0\n/t none swap sw\n")] == ["/s", "/t"]


# --- which lines name an area: paths through links, tags through udev's links or the swap header -------------
UUID = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
UUID2 = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def disk(tmp_path: Path):
    """A fake root with partitions /dev/sdb1 and /dev/sdc1 holding swap headers (label "swap-b", UUID and
    UUID2), udev's by-uuid link for sdb1 only and a by-partlabel link for sdc1, a swap file and a link to it."""
    root = make_root(tmp_path / "root")
    (root / "dev/disk/by-uuid").mkdir(parents=True)
    (root / "dev/disk/by-partlabel").mkdir(parents=True)
    header = bytearray(4096)
    header[1024:1036] = (1).to_bytes(4, "little") + (100).to_bytes(4, "little") + bytes(4)
    header[1036:1052] = bytes.fromhex(UUID.replace("-", ""))
    header[1052:1058] = b"swap-b"
    header[4086:] = b"SWAPSPACE2"
    (root / "dev/sdb1").write_bytes(bytes(header))
    header[1036:1052] = bytes.fromhex(UUID2.replace("-", ""))
    (root / "dev/sdc1").write_bytes(bytes(header))
    os.symlink("../../sdb1", root / "dev/disk/by-uuid" / UUID)
    os.symlink("../../sdc1", root / "dev/disk/by-partlabel/other")
    (root / "swapfile").write_bytes(b"")
    os.symlink("/swapfile", root / "swaplink")
    return fake_host(root)


def named(host, source: str, area: str, kind: str = "partition") -> bool:
    (entry,) = parse(f"{source} none swap sw 0 0\n")
    return names(host, entry, area, kind)


def test_a_tag_names_the_partition_its_udev_link_leads_to_quoted_or_not(disk) -> None:
    assert named(disk, f"UUID={UUID}", "/dev/sdb1")
    assert named(disk, f'UUID="{UUID}"', "/dev/sdb1") and named(disk, f"UUID='{UUID}'", "/dev/sdb1")
    assert not named(disk, f"UUID={UUID}", "/dev/sdc1")  # the link decides
    assert not named(disk, f"UUID={UUID}", "/dev/sdb1", kind="file")  # blkid finds tags on block devices only
    assert not named(disk, f'UUID="{UUID}', "/dev/sdb1")  # an unbalanced quote is part of the value
    assert not named(disk, f'UUID="{UUID}x', "/dev/sdb1")  # only a matching pair of quotes is taken off
    assert not named(disk, 'UUID=""', "/dev/sdb1") and not named(disk, "UUID=", "/dev/sdb1")
    assert named(disk, "PARTLABEL=other", "/dev/sdc1") and not named(disk, "PARTLABEL=other", "/dev/sdb1")


def test_without_a_udev_link_a_uuid_or_label_is_read_from_the_swap_header(disk) -> None:
    assert named(disk, "LABEL=swap-b", "/dev/sdc1") and named(disk, "LABEL=swap-b", "/dev/sdb1")
    assert named(disk, f"UUID={UUID2}", "/dev/sdc1") and not named(disk, f"UUID={UUID2}", "/dev/sdb1")
    assert not named(disk, "LABEL=swap-c", "/dev/sdc1")
    assert not named(disk, "LABEL=swap-b", "/dev/sdd1")  # no such device: no header
    assert not named(disk, "PARTUUID=1234", "/dev/sdc1")  # a partition table's tag: not in the swap header
    assert not named(disk, "FOO=swap-b", "/dev/sdc1")  # not a tag: a relative path, which names nothing


def test_a_path_names_the_area_it_resolves_to_through_links_as_the_kernel_looks_it_up(disk) -> None:
    assert named(disk, "/swapfile", "/swapfile", "file") and named(disk, "/swaplink", "/swapfile", "file")
    assert not named(disk, "/swapfile", "/other", "file") and not named(disk, "swapfile", "/swapfile", "file")
    assert not named(disk, "/missing/../swapfile", "/swapfile", "file")
    assert not named(disk, "/nowhere", "/nowhere/..", "file")


def test_the_lines_of_an_area_include_noauto_ones_but_only_an_auto_line_persists_it(disk) -> None:
    text = "/swapfile none swap sw,noauto 0 0\n/swapfile /mnt ext4 defaults 0 0\n/other none swap sw 0 0\n"
    entries = lines_for(disk, text, "/swapfile")
    assert [e.line for e in entries] == [0] and not persisted(entries)
    both = lines_for(disk, text + "/swaplink none swap sw 0 0\n", "/swapfile")
    assert [e.line for e in both] == [0, 3] and persisted(both)
    assert not persisted([])


@pytest.mark.parametrize(
    "value, link",
    [
        ("Linux swap", "Linux\\x20swap"),
        ("a/b\\c", "a\\x2fb\\x5cc"),
        ("#+-.:=@_Az09", "#+-.:=@_Az09"),
        ("caf\u00e9\u0080", "caf\u00e9\u0080"),  # valid UTF-8 beyond ASCII is kept, from U+0080 on
        ("\x7f", "\\x7f"),
        ("\udc80\udcff", "\\x80\\xff"),  # bytes that were not UTF-8 (surrogate escapes): encoded
        ("\ud7ff\udd00", "\ud7ff\udd00"),
    ],
)
def test_a_tag_value_is_encoded_as_udev_names_its_link(value: str, link: str) -> None:
    assert udev_encode(value) == link


# --- the fstab-set step -------------------------------------------------------------------------------------
def test_an_fstab_step_says_what_it_does_and_what_its_undo_puts_back() -> None:
    add = fstab_set("/swapfile", "/swapfile none swap defaults 0 0")
    assert add.describe() == "persist in /etc/fstab: /swapfile none swap defaults 0 0"
    assert (
        add.undo_description() == "restore /etc/fstab (remove the line for /swapfile, or put back the one it replaced)"
    )
    drop = fstab_set("/swapfile", None)
    assert drop.describe() == "remove the /swapfile line from /etc/fstab"
    assert drop.undo_description() == "restore /etc/fstab (put back the line for /swapfile)"
    old = "# x\n/swapfile none swap sw,pri=3 0 0\n"
    assert drop.undo_description_for({"old": old}) == "restore /etc/fstab (put back: /swapfile none swap sw,pri=3 0 0)"
    assert add.undo_description_for({"old": "# x\n"}) == "restore /etc/fstab (remove the line for /swapfile)"


def test_an_fstab_step_keeps_its_sources_only_when_they_are_more_than_the_area() -> None:
    assert fstab_set("/s", None, ["/s"]).params == {"path": FSTAB, "swap": "/s", "line": None}
    assert fstab_set("/s", None).sources == ["/s"]
    named_by_uuid = fstab_set("/dev/sdb1", None, ["UUID=x", "/dev/sdb1"])
    assert named_by_uuid.params["sources"] == ["UUID=x", "/dev/sdb1"] and named_by_uuid.sources == [
        "UUID=x",
        "/dev/sdb1",
    ]


def test_a_journal_entry_whose_line_is_not_one_swap_line_is_refused() -> None:
    params = {"path": FSTAB, "swap": "/s", "line": "/s none swap sw 0 0"}
    assert FstabSet.invalid(params, None) is None
    assert FstabSet.invalid({**params, "line": None}, None) is None
    assert (
        FstabSet.invalid({**params, "line": "/s /mnt ext4 defaults 0 0"}, None) == "its line is not one fstab swap line"
    )
    assert "never edits" in (FstabSet.invalid({**params, "path": "/etc/passwd"}, None) or "")
    assert FstabSet.invalid({**params, "line": "/s none swap sw 0 0\n"}, None)  # a line holds no newline


def test_an_fstab_that_does_not_exist_gets_the_line_and_dropping_from_nothing_writes_nothing() -> None:
    assert set_line(None, "/s", "/s none swap defaults 0 0") == "/s none swap defaults 0 0\n"
    assert set_line(None, "/s", None) is None
    assert set_line("", "/s", None) == ""


def test_an_fstab_that_is_a_link_is_edited_where_it_leads_and_stays_a_link(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    (root / "etc/fstab").rename(root / "etc/fstab.real")
    os.symlink("fstab.real", root / "etc/fstab")
    host = fake_host(root)
    step = fstab_set("/swapfile", "/swapfile none swap defaults 0 0")
    assert step.target(host) == "/etc/fstab.real"
    record = step.snapshot(host)
    step.apply(host, record)
    assert (root / "etc/fstab").is_symlink()
    assert (root / "etc/fstab.real").read_text().endswith("/swapfile none swap defaults 0 0\n")


def test_a_revert_over_an_admins_edit_takes_out_the_new_line_and_puts_back_the_one_it_replaced() -> None:
    # the step replaced the UUID= line for /dev/sdb1 with a path line; the admin added a line since
    step = fstab_set("/dev/sdb1", "/dev/sdb1 none swap defaults,pri=5 0 0", ["UUID=x"])
    old = "# fstab\nUUID=x none swap sw 0 0\n"
    current = "# fstab\n/dev/sdb1 none swap defaults,pri=5 0 0\n/dev/sdc1 none swap sw 0 0\n"
    assert step.revert(current, {"old": old}) == "# fstab\nUUID=x none swap sw 0 0\n/dev/sdc1 none swap sw 0 0\n"
    drop = fstab_set("/swapfile", None)
    assert drop.revert("# fstab\n# admin\n", {"old": "# fstab\n/swapfile none swap sw 0 0\n"}) == (
        "# fstab\n# admin\n/swapfile none swap sw 0 0\n"
    )
