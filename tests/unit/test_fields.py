"""The checks a journal entry passes before a step is rebuilt from it: a damaged or forged line must be refused,
and every value swapctl itself writes must pass (rollback of a real transaction must never be refused)."""

from __future__ import annotations

import pytest

from swapctl.core import fields

SCHEMA = {
    "path": fields.Field(fields.is_path, "an absolute path"),
    "size": fields.Field(fields.is_int(1, 100), "1..100"),
    "note": fields.Field(fields.optional(fields.is_text), "text or null", required=False),
}


@pytest.mark.parametrize(
    "value, ok",
    [
        ("/swapfile", True),
        ("/var/swap dir/f\tx", True),
        ("/var/tmp/a\udcffb", True),  # a byte that was not UTF-8, kept as swapctl read it
        ("/" + "a" * 4094, True),  # 4095 bytes: under PATH_MAX
        ("/" + "a" * 4095, False),
        ("/" + "\u00e9" * 2047, True),  # 4095 bytes in UTF-8
        ("/" + "\u00e9" * 2048, False),
        ("swapfile", False),
        ("/", False),
        ("/a/../etc/passwd", False),
        ("/a/./b", False),
        ("/a//b", False),
        ("/a/", False),
        ("/a\0b", False),
        ("/\ud800", False),  # a JSON escape of half a surrogate pair: no bytes could give it
        (b"/swapfile", False),
        (None, False),
    ],
)
def test_a_path_is_absolute_normalised_and_stays_inside_the_root(value, ok: bool) -> None:
    assert fields.is_path(value) is ok


def test_integers_are_bounded_and_a_bool_is_no_integer() -> None:
    check = fields.is_int(1, 100)
    assert check(1) and check(100) and not check(0) and not check(101)
    assert not check(True) and not check(1.0) and not check("5")


def test_texts_content_names_and_lists() -> None:
    assert fields.is_text("vm.swappiness = 10") and not fields.is_text("a\0b") and not fields.is_text(5)
    assert not fields.is_text("x" * (1 << 20)) and fields.is_text("x" * ((1 << 20) - 1))
    assert not fields.is_text("\ud800") and not fields.is_content("\ud800")
    assert fields.is_content("fstab with a NUL\0 in it") and fields.is_content("x" * (16 << 20))
    assert not fields.is_content("x" * ((16 << 20) + 1)) and not fields.is_content(None)
    assert fields.one_of("a", "b")("a") and not fields.one_of("a", "b")("c") and not fields.one_of(1)(1)
    assert fields.optional(fields.is_bool)(None) and fields.optional(fields.is_bool)(True)
    assert not fields.optional(fields.is_bool)(0)
    assert fields.list_of(fields.is_text)(["a"] * 63) and not fields.list_of(fields.is_text)(["a"] * 64)
    assert not fields.list_of(fields.is_text)(["a", 1]) and not fields.list_of(fields.is_text)("a")
    assert fields.encodable("caf\u00e9") and not fields.encodable("\udfff\ud800")


def test_a_problem_names_the_first_thing_wrong() -> None:
    assert fields.problem({"path": "/s", "size": 5}, SCHEMA, "params") is None
    assert fields.problem({"path": "/s", "size": 5, "note": None}, SCHEMA, "params") is None
    assert fields.problem([], SCHEMA, "params") == "params is not an object"
    assert fields.problem({"path": "/s", "size": 5, "x": 1}, SCHEMA, "params") == "params has an unknown key 'x'"
    assert fields.problem({"path": "/s"}, SCHEMA, "params") == "params lacks size"
    assert fields.problem({"path": "s", "size": 5}, SCHEMA, "its undo record") == (
        "its undo record: path 's' is not an absolute path"
    )
    assert fields.problem({"path": "/s", "size": 5, "note": 3}, SCHEMA, "params") == (
        "params: note '3' is not text or null"
    )
    assert SCHEMA["path"].required is True and fields.Field(fields.is_bool, "x").required is True
