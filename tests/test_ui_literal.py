"""`ui.literal`: whatever agents, tools and models wrote is shown as written, never obeyed."""

from __future__ import annotations

import pytest
from rich.console import Console

from controlroom.ui.literal import literal, visible

HOSTILE = (
    "[bold red]FAKE[/] [link=http://evil]x[/link] \x1b[2J \x1b]52;c;ZXZpbA==\x07 "
    "\u202eevil\u202c \u2066iso\u2069 \x00\x08\x7f\r\nnext"
)


def test_markup_is_text() -> None:
    """Rich markup stays literal text with no style or link attached."""
    shown = literal("[bold red]FAKE[/] [link=http://evil]x[/link]")
    assert shown.plain == "[bold red]FAKE[/] [link=http://evil]x[/link]"
    assert shown.spans == []


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1b]52;c;ZXZpbA==\x07", "\\x1b]52;c;ZXZpbA==\\a"),
        ("a\u202eb", "a⟨U+202E⟩b"),
        ("\u2066x\u2069", "⟨U+2066⟩x⟨U+2069⟩"),
        ("\u202a\u202b\u202c\u202d", "⟨U+202A⟩⟨U+202B⟩⟨U+202C⟩⟨U+202D⟩"),
        ("\x00\x08\x7f\x9b", "\\x00\\b\\x7f\\x9b"),
        ("zero\u200bwidth", "zero⟨U+200B⟩width"),
        ("two\nlines\r\tx", "two lines  x"),
    ],
)
def test_control_and_bidi_characters_become_visible_escapes(raw: str, escaped: str) -> None:
    """Each control or bidi character is replaced by a visible escape; lines are joined."""
    assert visible(raw) == escaped
    assert literal(raw).plain == escaped


def test_escapes_are_marked_but_typed_backslashes_are_not() -> None:
    """A real ESC is shown reversed; the four characters `\\x1b` typed by an agent are not."""
    real = literal("\x1b")
    typed = literal("\\x1b")
    assert real.plain == typed.plain == "\\x1b"
    assert [span.style for span in real.spans] == ["reverse"]
    assert typed.spans == []


def test_long_text_is_clipped() -> None:
    """A 10,000-character line is clipped to the limit, with an ellipsis."""
    shown = literal("x" * 10_000, 80)
    assert len(shown.plain) == 80
    assert shown.plain.endswith("…")
    assert len(literal("x" * 80, 80).plain) == 80
    assert not literal("x" * 80, 80).plain.endswith("…")


def test_clipping_never_splits_an_escape() -> None:
    """A clip falls before an escape, never inside it."""
    shown = visible("ab\x1b", 5)
    assert shown == "ab…"


def test_rendered_output_has_no_control_characters() -> None:
    """Rendered to a terminal, a hostile string yields no ESC, BEL or bidi character of its
    own (only the console's own styling sequences, which the no-colour console omits)."""
    console = Console(width=400, color_system=None, force_terminal=False, legacy_windows=False)
    with console.capture() as capture:
        console.print(literal(HOSTILE, 400))
    out = capture.get()
    assert "[bold red]FAKE[/]" in out
    assert "[link=http://evil]x[/link]" in out
    for bad in ("\x1b", "\x07", "\x00", "\x08", "\x7f", "\u202e", "\u2066", "\r"):
        assert bad not in out


@pytest.mark.parametrize("limit", [1, 2, 5, 40])
def test_plain_text_takes_the_short_way_to_the_same_result(limit: int) -> None:
    """Text with nothing to escape (the common case, shown without a character-by-character
    walk) clips exactly as the walk does."""
    for text in ("", "a", "abcde", "abcdef", "naïve café 東京", "x" * 100, "two  spaces"):
        assert literal(text, limit).plain == visible(text, limit)
        assert literal(text, limit).spans == []
