"""Show untrusted text as written: what agents, tools and models produce is data, not markup.

A task, a result, an error, a tool's arguments may contain Rich markup (`[bold]`,
`[link=...]`), terminal escape sequences (ESC ... that clear the screen or write the
clipboard), other control characters, or bidirectional overrides that make the screen show
something other than what is stored. `literal` returns a `rich.text.Text` built with
`Text(...)`, never parsed as markup, with every such character replaced by a visible
escape, flattened to one line and clipped.
"""

from __future__ import annotations

import unicodedata

from rich.text import Text

# Bidi embeddings, overrides and isolates, and the marks that reorder text invisibly.
_BIDI = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C])
_NAMED = {"\x1b": "\\x1b", "\x07": "\\a", "\x08": "\\b", "\x7f": "\\x7f"}
ESCAPE_STYLE = "reverse"


def _escape(ch: str) -> str | None:
    """The visible stand-in for `ch`, or None if it is shown as it is."""
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if code in _BIDI:
        return f"⟨U+{code:04X}⟩"
    category = unicodedata.category(ch)
    if category == "Cc":
        return f"\\x{code:02x}" if code < 0x100 else f"⟨U+{code:04X}⟩"
    if category in ("Cf", "Cs", "Co", "Zl", "Zp"):
        return f"⟨U+{code:04X}⟩"
    return None


def _pieces(text: str, limit: int) -> tuple[list[tuple[str, bool]], bool]:
    """(piece, is_escape) pairs covering at most `limit` characters, and whether it was cut."""
    pieces: list[tuple[str, bool]] = []
    length = 0
    for ch in text:
        escaped = None if ch in "\r\n\t" else _escape(ch)
        piece = " " if ch in "\r\n\t" else (escaped or ch)
        if length + len(piece) > limit:
            # Too long: drop whole pieces (never half an escape) to make room for the "…".
            while pieces and length > limit - 1:
                length -= len(pieces.pop()[0])
            return pieces, True
        pieces.append((piece, escaped is not None))
        length += len(piece)
    return pieces, False


def visible(text: str, limit: int = 200) -> str:
    """`text` on one line with control and bidi characters escaped, clipped to `limit`."""
    pieces, cut = _pieces(text, limit)
    return "".join(piece for piece, _ in pieces) + ("…" if cut else "")


def literal(text: str, limit: int = 200) -> Text:
    """`text` as a Rich `Text` that shows it literally: markup inert, escapes visible.

    Escapes are shown reversed, so `\\x1b` typed by an agent differs from a real ESC.
    """
    head = text[: limit + 1]
    if head.isprintable():  # the common case: nothing to escape (isprintable is False for
        # every control, format, bidi, surrogate, private-use and line-separator character)
        if len(text) <= limit:
            return Text(text, no_wrap=True, overflow="ellipsis", end="")
        return Text(text[: limit - 1] + "…", no_wrap=True, overflow="ellipsis", end="")
    pieces, cut = _pieces(text, limit)
    shown = Text(no_wrap=True, overflow="ellipsis", end="")
    for piece, escaped in pieces:
        shown.append(piece, ESCAPE_STYLE if escaped else None)
    if cut:
        shown.append("…")
    return shown


def cell(text: str, limit: int = 200) -> str | Text:
    """`literal` for a table cell: the plain string itself when there is nothing to escape
    (the common case, and a string costs the collector nothing), else the escaped `Text`."""
    head = text[: limit + 1]
    if head.isprintable():
        return text if len(text) <= limit else text[: limit - 1] + "…"
    return literal(text, limit)


def literal_block(text: str, limit: int = 4_000) -> Text:
    """Like `literal`, but keeps line breaks (for a conversation or a result shown whole);
    every other control character, escape and bidi mark is still made visible."""
    shown = Text(end="")
    for n, line in enumerate(text.split("\n")):
        if n:
            shown.append("\n")
        if len(shown) >= limit:
            shown.append("…")
            break
        shown.append_text(literal(line, max(1, limit - len(shown))))
    shown.no_wrap = False
    return shown
