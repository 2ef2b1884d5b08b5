"""The shortcut of ``exportable_text`` for printable ASCII changes no cell."""

from __future__ import annotations

from crawler.output.cells import _escaped, exportable_text


def test_every_character_is_escaped_as_the_long_way_does() -> None:
    """Every code point of the first blocks (C0, ASCII, C1, Latin, the bidirectional
    controls), surrogates and a few beyond, alone and among printable ASCII."""
    codes = [*range(0x2100), *range(0xD800, 0xE000, 7), 0xFEFF, 0xFFFD, 0x1F600, 0x10FFFF]
    for code in codes:
        char = chr(code)
        for text in (char, f"a{char}b", f"http://example.com/{char}"):
            assert exportable_text(text) == _escaped(text), hex(code)


def test_printable_ascii_is_kept_and_controls_are_escaped() -> None:
    assert exportable_text("http://example.com/a?b=c d~") == "http://example.com/a?b=c d~"
    assert exportable_text("a\x1bb\x7f") == "a\\x1bb\\x7f"
    assert exportable_text("tab\tnew\nline") == "tab\tnew\nline"
