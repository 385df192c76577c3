"""The views of a text that injection screening reads: what a model would read, not the bytes.

A model reads full-width and mathematical letters, words split by zero-width characters,
Unicode tag characters (invisible, yet they spell ASCII), homoglyphs, leetspeak, spaced-out
letters, reversed or ROT13 text and encodings (base64, base32, hex, binary, Morse, URL and
HTML escapes) about as fluently as plain prose, so an attacker uses them to slip instructions
past a filter. Screening therefore reads several views of one text: the text folded to a
canonical form (NFKC, casefolded, invisible characters removed) and whatever a decoder or an
undoing of an obfuscation recovers from it. Each view names its origin, so a rule that matches
only in a recovered view can be reported as hidden, which is itself evidence of intent.

Cost matters because every tool result is screened: most texts are plain ASCII prose, so every
step sits behind a cheap gate (`str.isascii`, a substring test, one regex pass), nothing is
decoded unless something looks encoded, and an undone obfuscation is kept only when it reveals
a word an attacker would need to hide (`TELLTALE`). A text that opens no gate at all is a
plain view (`plain_view`), which screening reads without normalizing. Every regex is linear in
its input (no nested unbounded quantifiers), and decoding is bounded by `MAX_DECODED` and
`MAX_RUNS`.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import NamedTuple
from urllib.parse import unquote

MAX_DEPTH = 2  # base64 inside hex inside the text, and no deeper
# Escapes decoded inside escapes ("&amp;lt;" is "&lt;" is "<"): a few levels show any real
# hiding, and the bound keeps "&amp;amp;amp;..." from recursing once per level.
MAX_ESCAPE_DEPTH = 4
MAX_DECODED = 200_000  # characters of decoded text per screening, over all runs
MAX_RUNS = 64  # encoded runs decoded per text


class Signal(NamedTuple):
    """Evidence found while normalizing, scored like a rule hit."""

    key: str
    weight: float
    reason: str


class View(NamedTuple):
    """One reading of the text. `origin` is "" for the text itself, else how it was recovered;
    `words` (lower-case tokens) let screening skip every rule whose anchor words are absent."""

    text: str
    origin: str
    words: frozenset[str]


class Normalized(NamedTuple):
    """The views of a text (the first is the text itself) and what normalizing it revealed."""

    views: tuple[View, ...]
    signals: tuple[Signal, ...]


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words an attacker has to get past a filter. An undone obfuscation (leetspeak, spacing,
# reversal, ROT13, homoglyphs, escapes) becomes a view only if it reveals one of these, so
# benign texts that merely contain digits or entities cost one gate and no second screening.
TELLTALE = _wordset(
    """ignore ignoring disregard forget override bypass instructions instruction previous prior
    prompt system rules guidelines jailbreak jailbroken developer unrestricted uncensored
    unfiltered restrictions reveal password passwords secret secrets credentials exfiltrate
    pretend dan admin assistant ai llm delete execute transfer forward send conversation history
    sudo mode new task tool call email url http https image api key token data user model
    respond reply output print say"""
)
_LONG_TELLTALE = tuple(w for w in TELLTALE if len(w) >= 6)
_REVERSED = frozenset(w[::-1] for w in TELLTALE if len(w) >= 5)
_ROT13 = frozenset(codecs.encode(w, "rot13") for w in TELLTALE if len(w) >= 5)
_TURNED = _REVERSED | _ROT13

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)
_TAG_RUN = re.compile("[\U000e0000-\U000e007f]+")
_FLAG = "\U0001f3f4"  # a black flag followed by tag characters is a subdivision flag emoji
_SELECTOR_RUN = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]{4,}")
_SPLIT_WORD = re.compile("[a-zA-Z][\u200b-\u200d\u2060-\u2064\ufeff\u180e]+[a-zA-Z]")
_BIDI_OVERRIDE = re.compile("[\u202d\u202e]")
_MIXED_SCRIPT = re.compile("[a-z][\u0370-\u03ff\u0400-\u04ff]|[\u0370-\u03ff\u0400-\u04ff][a-z]")

# Cyrillic and Greek letters that render like Latin ones (after casefolding).
_SKELETON = str.maketrans(
    "аеорсухіјѕԁӏвкмнтԛԝєӕαβεικνορτυχωϲ",
    "aeopcyxijsdlbkmhtqweæabeiknoptuxwc",
)
# Enclosed, squared and regional-indicator letters, which NFKC leaves alone (circled ones it maps).
_LETTERLIKE = str.maketrans(
    {
        **{0x1F130 + i: chr(97 + i) for i in range(26)},  # squared
        **{0x1F150 + i: chr(97 + i) for i in range(26)},  # negative circled
        **{0x1F170 + i: chr(97 + i) for i in range(26)},  # negative squared
        **{0x1F1E6 + i: chr(97 + i) for i in range(26)},  # regional indicators
    }
)
_LEET = str.maketrans("0134578@$|!€", "oieastbasiie")
_ASCII_LEET = bytes(_LEET.get(c, c) for c in range(256))
# Gates: each begins with a literal or a small character class, so the regex engine skips to
# candidate positions instead of trying every one (a gate costs about 2 us on 500 characters).
# One pass over the digits serves three gates: leetspeak, spaced hex (printable ASCII is
# 0x20-0x7e, so hex-encoded text pairs start with 2-7) and binary octets.
_DIGIT_HINTS = re.compile(
    r"[0-9@$](?:(?P<leetspeak>(?<=[0134578@$])(?:[a-z]{1,4}[0134578@$]|[a-z]{3}))|"
    r"(?P<hex>(?<=[2-7])[0-9a-f][\s,:;]{1,2}[2-7][0-9a-f][\s,:;]{1,2}[2-7])|"
    r"(?P<binary>(?<=[01])[01]{7}[\s,]{0,2}[01]{8}))"
)
_SPACED_HINT = re.compile(r" [^\W\d_][ .\-_*|/+]{1,3}[^\W\d_][ .\-_*|/+]{1,3}[^\W\d_][ .\-_*|/+]")
_SPACED = re.compile(r"(?<![^\W\d_])(?:[^\W\d_][ .\-_*|/+]{1,3}){4,}[^\W\d_](?![^\W\d_])")
_GAP = re.compile(r"[ .\-_*|/+]+")

_URL_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_ENTITY = re.compile(r"&(?:#[0-9]{2,7}|#[xX][0-9a-fA-F]{2,6}|[a-zA-Z]{2,8});")
_BACKSLASH_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})|\\x([0-9a-fA-F]{2})")

_B64_CHARS = "A-Za-z0-9+/_-"
_BASE64_RUN = re.compile(
    rf"[{_B64_CHARS}]{{20,}}={{0,2}}"
    rf"(?:[ \t]*\r?\n[ \t]*[{_B64_CHARS}]{{8,}}={{0,2}}(?=[ \t]*(?:\r?\n|$)))*"
)
_BASE32_RUN = re.compile(r"[A-Z2-7]{24,}={0,6}")
_HEX_RUN = re.compile(r"(?:(?:0x|\\x)?[0-9a-fA-F]{2}[\s,:;]{0,2}){12,}")
# Stretches of the characters a hex run is made of, long enough to hold one: `_HEX_RUN`
# begins with a group, so the regex engine tries it at every position of the text, which
# costs five times more than finding these stretches first and searching only inside them.
_HEX_STRETCH = re.compile(r"[0-9a-fA-Fx\\\s,:;]{24,}")
_HEX_PAIR = re.compile(r"(?:0x|\\x)?([0-9a-fA-F]{2})")
_BINARY_RUN = re.compile(r"(?:[01]{8}[\s,]{0,2}){4,}")
_MORSE_RUN = re.compile(r"(?:[.\-]{1,6}[ /|]{1,3}){5,}[.\-]{1,6}")
_MORSE_HINT = re.compile(r"[.\-][.\-]{0,5}[ /|][ /|]{0,2}[.\-][.\-]{0,5}[ /|]{1,3}[.\-]")
_LONG_RUN = 20  # shortest whitespace-free token worth trying as base64, base32 or hex
# A digit inside a run of at least _LONG_RUN base64-alphabet characters has at least 9 of
# them on one side; starting at digits, this gate skips most of a prose or code text.
_ENCODED_HINT = re.compile(
    rf"[0-9](?:(?<=[{_B64_CHARS}]{{10}})|(?=[{_B64_CHARS}]{{{_LONG_RUN // 2 - 1}}}))"
)
_LETTERS = re.compile(r"[^\W\d_]{3}")


# An ASCII text in character classes, one byte each: a letter stays itself, a digit or a
# leetspeak symbol (@ $) becomes a tab, the rest of the base64 alphabet a newline, whitespace
# or a separator of spaced hex a vertical tab, anything else a form feed. Each branch of
# `_NUMERIC_HINT` is the class image of a branch of `_DIGIT_HINTS` (leetspeak, spaced hex,
# binary) or of `_ENCODED_HINT`, so where it finds nothing neither of them can match. It
# begins with a literal (the tab), which the regex engine finds as fast as str.find, so one
# pass over the classes replaces two over the text for the usual result whose digits are few
# and stand apart from letters. Every class but the letters is whitespace, so the same bytes,
# split, are the text's words: one translation serves the digit gate and `words`.
def _character_class(char: str) -> str:
    if char.isalpha():
        return char
    if char in "0123456789@$":
        return "\t"
    if char in "+/_-":
        return "\n"
    if char.isspace() or char in ",:;":
        return "\v"
    return "\f"


_CLASSES = "".join(map(_character_class, map(chr, range(128)))).encode() + b"\f" * 128
_NUMERIC_HINT = re.compile(
    rb"\t(?:[A-Za-z]|[A-Za-z\t]\v{1,2}\t[A-Za-z\t]\v{1,2}\t|\t{7}\v{0,2}\t"
    rb"|(?<=[A-Za-z\t\n]{10})|(?=[A-Za-z\t\n]{9}))"
)

_MORSE_CODES = (
    ".- -... -.-. -.. . ..-. --. .... .. .--- -.- .-.. -- -. --- .--. --.- .-. ... - ..- "
    "...- .-- -..- -.-- --.. ----- .---- ..--- ...-- ....- ..... -.... --... ---.. ----."
)
_MORSE = dict(zip(_MORSE_CODES.split(" "), "abcdefghijklmnopqrstuvwxyz0123456789", strict=True))

# ASCII punctuation and digits, and the common Unicode punctuation, separate words.
_SEPARATORS = str.maketrans(
    {
        **{chr(c): " " for c in range(128) if not chr(c).isalpha()},
        **dict.fromkeys("\u2018\u2019\u201c\u201d\u00ab\u00bb\u2013\u2014\u2026\u2022\u00b7", " "),
        **dict.fromkeys("\u201e\u201a\u2039\u203a\u3001\u3002\uff0c\uff1a\uff1b\uff01\uff1f", " "),
        **dict.fromkeys("\uff08\uff09\u3010\u3011\u300c\u300d\u300e\u300f\u00bf\u00a1", " "),
    }
)
_WHITESPACE = str.maketrans(dict.fromkeys(" \t\r\n\f\v", None))


def words(text: str) -> frozenset[str]:
    """The word tokens of an already casefolded text (punctuation and digits separate them).

    An ASCII text goes through the byte table of `_CLASSES`, whose every class but the
    letters is whitespace: bytes.translate is several times faster than str.translate with a
    dict, and most screened texts are ASCII."""
    if text.isascii():
        return frozenset(text.encode().translate(_CLASSES).decode().split())
    return frozenset(text.translate(_SEPARATORS).split())


def normalize(text: str) -> Normalized:
    """The views of `text` worth screening and the hidden-character evidence found on the way."""
    views, signals = _normalize(text, "", 0, _Budget())
    unique = {view.text: view for view in reversed(views)}  # the first view of each text wins
    return Normalized(tuple(view for view in views if unique[view.text] is view), tuple(signals))


def plain_view(text: str) -> View | None:
    """The text's folded view when normalizing it would recover nothing else, else None.

    That is an ASCII text (which hides no characters and mixes no scripts) with no hint of an
    obfuscation or an encoding, no reversed or ROT13 telltale word and no escape: then
    `normalize(text)` is this view alone, with no signal, and screening may skip it. The
    answer may be None where `normalize` would find nothing after all (a hint whose decoding
    reveals no telltale word), never a view where it would find something."""
    if not text.isascii():
        return None
    folded = text.lower()  # what casefolding gives for ASCII
    # `_numeric` and `words` of an ASCII text from one translation (this runs on every tool
    # result); the digit gate first: it settles most texts that are not plain
    classes = folded.encode().translate(_CLASSES)
    if _NUMERIC_HINT.search(classes) is not None:
        return None
    found = frozenset(classes.decode().split())
    if (
        found.isdisjoint(_TURNED)
        and not _hints(text, folded, found, numeric=False)
        and not _unescaped(text)
    ):
        return View(folded, "", found)
    return None


class _Budget:
    """How much more decoding this screening may do, shared by every nested decode."""

    def __init__(self) -> None:
        self.chars = MAX_DECODED
        self.runs = MAX_RUNS

    def take(self, decoded: str) -> bool:
        if self.runs <= 0 or len(decoded) > self.chars:
            return False
        self.runs -= 1
        self.chars -= len(decoded)
        return True


def _normalize(
    text: str, origin: str, depth: int, budget: _Budget
) -> tuple[list[View], list[Signal]]:
    """`text` folded, plus what hidden characters, obfuscations, escapes and encoded runs in
    it recover, each of those normalized in turn (to MAX_DEPTH for encodings)."""
    signals: list[Signal] = []
    recovered: list[tuple[str, str]] = []  # (origin, text) to normalize one level deeper
    if not text.isascii():
        recovered += _hidden_characters(text, signals)
        text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)).translate(_LETTERLIKE)
    folded = text.casefold()
    main = View(folded, origin, words(folded))
    views = [main]
    if not folded.isascii() and _MIXED_SCRIPT.search(folded):
        signals.append(Signal("homoglyphs", 0.3, "mixed-script words (homoglyphs)"))
        _keep(views, main, folded.translate(_SKELETON), _join(origin, "homoglyphs"))
    hints = _hints(text, folded, main.words, _numeric(text, folded))
    _undo_obfuscations(views, main, origin, hints)
    if depth < MAX_ESCAPE_DEPTH:
        recovered += _unescaped(text)
    if depth < MAX_DEPTH:
        recovered += _decoded_runs(text, budget, hints)
    for name, inner in recovered:
        nested_views, nested_signals = _normalize(inner, _join(origin, name), depth + 1, budget)
        if name in _ESCAPES:  # an escape-decoded copy is worth reading only if it reveals more
            _keep(views, main, nested_views[0].text, nested_views[0].origin)
            views += nested_views[1:]
        else:
            views += nested_views
        signals += nested_signals
    return views, signals


_ESCAPES = frozenset({"URL escapes", "HTML entities", "backslash escapes"})


def _join(outer: str, inner: str) -> str:
    return f"{inner} in {outer}" if outer else inner


def _keep(views: list[View], main: View, text: str, origin: str) -> None:
    """Add `text` as a view if it has telltale words the text itself does not show, alone or
    run together ("ignoreallpreviousinstructions" when letters were spaced one by one)."""
    found = words(text)
    new = found - main.words
    if new & TELLTALE or any(t in word for word in new if len(word) > 12 for t in _LONG_TELLTALE):
        views.append(View(text, origin, found))


def _hidden_characters(text: str, signals: list[Signal]) -> list[tuple[str, str]]:
    """Evidence from characters a reader does not see, and the text some of them spell."""
    recovered: list[tuple[str, str]] = []
    tags = _tag_text(text)
    if len(tags.strip()) >= 2:
        signals.append(Signal("tags", 0.6, f"hidden Unicode tag characters spell: {quote(tags)}"))
        recovered.append(("tag characters", tags))
    for run in _SELECTOR_RUN.findall(text):
        smuggled = _readable(bytes(_selector_byte(c) for c in run))
        if smuggled is not None:
            reason = f"bytes hidden in variation selectors: {quote(smuggled)}"
            signals.append(Signal("selectors", 0.5, reason))
            recovered.append(("variation selectors", smuggled))
    split = len(_SPLIT_WORD.findall(text))
    if split:
        weight = 0.35 if split >= 2 else 0.15
        signals.append(
            Signal("zero-width", weight, f"zero-width characters inside words ({split})")
        )
    if _BIDI_OVERRIDE.search(text):
        signals.append(Signal("bidi", 0.2, "bidirectional override characters"))
    return recovered


def _tag_text(text: str) -> str:
    """The ASCII spelled by Unicode tag characters, leaving out subdivision flag emoji."""
    spelled = []
    for match in _TAG_RUN.finditer(text):
        if match.start() > 0 and text[match.start() - 1] == _FLAG:
            continue
        spelled.append("".join(chr(ord(c) - 0xE0000) for c in match.group() if _printable_tag(c)))
    return " ".join(spelled)


def _printable_tag(char: str) -> bool:
    return 0xE0020 <= ord(char) <= 0xE007E


def _selector_byte(char: str) -> int:
    """Variation selectors 1-256 as the bytes 0-255 (the emoji-smuggling encoding)."""
    code = ord(char)
    return code - 0xFE00 if code <= 0xFE0F else code - 0xE0100 + 16


_LETTERS_ALONE = frozenset("abcdefghijklmnopqrstuvwxyz")


def _numeric(text: str, folded: str) -> bool:
    """Whether the digits of the text may hint at leetspeak, hex, binary or an encoded run
    (see `_NUMERIC_HINT`): if not, `_hints` skips the gates that start at digits."""
    if not text.isascii():
        return True
    return _NUMERIC_HINT.search(folded.encode().translate(_CLASSES)) is not None


def _hints(text: str, folded: str, words: frozenset[str], numeric: bool) -> set[str]:
    """Which obfuscations and encodings the text may hold, from a few cheap passes."""
    hints = set()
    for match in _DIGIT_HINTS.finditer(folded) if numeric else ():
        hints.add(match.lastgroup or "")
        if len(hints) == 3:
            break
    # Spaced letters and Morse code both need spaces: one memchr rules out what a set
    # intersection and two substring counts would (a compact JSON result has none).
    if " " in text:
        if len(words & _LETTERS_ALONE) >= 4 and _SPACED_HINT.search(folded):
            hints.add("spaced")
        if text.count(" .") + text.count(" -") >= 4 and _MORSE_HINT.search(text):
            hints.add("Morse code")
    # "0x" is a digit before a letter, so without `numeric` there is none to count
    if (numeric and folded.count("0x") >= 8) or ("\\" in folded and folded.count("\\x") >= 8):
        hints.add("hex")
    if numeric and _ENCODED_HINT.search(text):
        long_tokens = [token for token in text.split() if len(token) >= _LONG_RUN]
        if any(map(_encoded_token, long_tokens)):
            hints.update(("base64", "base32", "hex"))
    return hints


def _encoded_token(token: str) -> bool:
    """A long run of the base64 alphabet with a digit in it (base64 of text almost always has
    one, hex always), that is not a lower-case identifier or slug unless it is all hex."""
    for match in _ALPHABET_RUN.finditer(token):
        run = match.group()
        if not any(c.isdigit() for c in run):
            continue
        if not run.islower() or all(c in _HEX_DIGITS for c in run):
            return True
    return False


_ALPHABET_RUN = re.compile(rf"[{_B64_CHARS}]{{{_LONG_RUN},}}")


def _undo_obfuscations(views: list[View], main: View, origin: str, hints: set[str]) -> None:
    """Leetspeak, spaced-out letters, reversed text and ROT13, each only behind its own gate."""
    text = main.text
    if "leetspeak" in hints:
        _keep(views, main, _unleet(text), _join(origin, "leetspeak"))
    if "spaced" in hints:
        _keep(views, main, _SPACED.sub(_unspace, text), _join(origin, "spaced letters"))
    if main.words & _REVERSED:
        _keep(views, main, text[::-1], _join(origin, "reversed text"))
        reversed_words = " ".join(word[::-1] for word in text.split())
        _keep(views, main, reversed_words, _join(origin, "reversed words"))
    if main.words & _ROT13:
        _keep(views, main, codecs.encode(text, "rot13"), _join(origin, "ROT13"))


def _unleet(text: str) -> str:
    """Leetspeak digits and symbols read as letters (as a byte table for ASCII text, which
    bytes.translate applies several times faster than str.translate its dict)."""
    if text.isascii():
        return text.encode().translate(_ASCII_LEET).decode()
    return text.translate(_LEET)


def _unspace(match: re.Match[str]) -> str:
    """Letters spaced out one by one, joined again. Word breaks are the gaps wider than the
    narrowest ("i g n o r e   a l l"), else the spaces among other marks ("i-g-n-o-r-e a-l-l");
    with neither, the letters are run together and `_keep` looks for telltale words inside."""
    run = match.group()
    gaps = _GAP.findall(run)
    narrowest = min(len(gap) for gap in gaps)
    if any(len(gap) > narrowest for gap in gaps):
        return _GAP.sub(lambda gap: " " if len(gap.group()) > narrowest else "", run)
    if any(" " in gap for gap in gaps) and not all(gap.isspace() for gap in gaps):
        return _GAP.sub(lambda gap: " " if " " in gap.group() else "", run)
    return _GAP.sub("", run)


def _unescaped(text: str) -> list[tuple[str, str]]:
    """The text with URL escapes, HTML entities or backslash escapes decoded, where present."""
    found: list[tuple[str, str]] = []
    if "%" in text and len(_URL_ESCAPE.findall(text)) >= 3:
        found.append(("URL escapes", unquote(text)))
    if "&" in text and _ENTITY.search(text):
        found.append(("HTML entities", html.unescape(text)))
    if "\\" in text and _BACKSLASH_ESCAPE.search(text):
        found.append(("backslash escapes", _BACKSLASH_ESCAPE.sub(_unbackslash, text)))
    if not found:
        return found  # most texts: no comprehension to run
    # An unknown entity ("&abc;") decodes to itself: it reveals nothing, and reading it again
    # would recurse without end.
    return [(name, decoded) for name, decoded in found if decoded != text]


def _unbackslash(match: re.Match[str]) -> str:
    code = int(match.group(1) or match.group(2) or match.group(3), 16)
    return chr(code) if code <= 0x10FFFF else match.group()


def _decoded_runs(text: str, budget: _Budget, hints: set[str]) -> Iterator[tuple[str, str]]:
    """Runs that look encoded and decode to readable text, as (encoding, decoded text)."""
    for name, runs, decode in _DECODERS:
        if name not in hints:
            continue
        for match in runs(text):
            decoded = decode(match.group())
            if decoded is not None and decoded != match.group() and budget.take(decoded):
                yield name, decoded
            if budget.runs <= 0:
                return


def _base64(run: str) -> str | None:
    if not _mixed_alphabet(run):
        return None
    packed = run.translate(_WHITESPACE).rstrip("=").replace("-", "+").replace("_", "/")
    for start in range(4):  # a run may begin mid-quantum ("key=" glued to its value)
        chunk = packed[start:]
        remainder = len(chunk) % 4
        chunk = chunk[:-1] if remainder == 1 else chunk + "=" * (-len(chunk) % 4)
        try:
            decoded = _readable(base64.b64decode(chunk, validate=True))
        except binascii.Error:
            continue
        if decoded is not None:
            return decoded
    return None


def _mixed_alphabet(run: str) -> bool:
    """Base64 of text mixes upper and lower case; words and identifiers rarely do both at
    length, and all-hex runs are left to the hex decoder."""
    return not run.islower() and not run.isupper() and not all(c in _HEX_DIGITS for c in run)


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF\r\n\t ")


def _base32(run: str) -> str | None:
    if not any(c in "234567" for c in run):
        return None
    packed = run.rstrip("=")
    try:
        return _readable(base64.b32decode(packed + "=" * (-len(packed) % 8)))
    except (binascii.Error, ValueError):
        return None


def _hex_runs(text: str) -> Iterator[re.Match[str]]:
    """The matches of `_HEX_RUN` in the text, in order. A match never crosses a character
    outside `_HEX_STRETCH`, and the pattern looks neither behind nor ahead, so searching each
    stretch on its own finds the same matches as searching the whole text."""
    for stretch in _HEX_STRETCH.finditer(text):
        yield from _HEX_RUN.finditer(text, stretch.start(), stretch.end())


def _hex(run: str) -> str | None:
    """The run as hex; a few pairs at either end may be a word that looked like hex ("ad: "
    from "Payload: ") or a trailing token, so those are tried without."""
    data = bytes.fromhex("".join(_HEX_PAIR.findall(run)))  # a byte per pair
    for start in range(min(4, len(data))):
        for end in range(len(data), max(start, len(data) - 4), -1):
            decoded = _readable(data[start:end])
            if decoded is not None:
                return decoded
    return None


def _binary(run: str) -> str | None:
    bits = "".join(c for c in run if c in "01")
    return _readable(bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits) - 7, 8)))


def _morse(run: str) -> str | None:
    spelled = []
    for word in re.split(r"\s*[/|]\s*| {2,}", run):
        spelled.append("".join(_MORSE.get(code, "") for code in word.split()))
    decoded = " ".join(w for w in spelled if w)
    return decoded if _LETTERS.search(decoded) else None


# Each decoder runs only if `_hints` named it.
_DECODERS: tuple[
    tuple[str, Callable[[str], Iterator[re.Match[str]]], Callable[[str], str | None]], ...
] = (
    ("base64", _BASE64_RUN.finditer, _base64),
    ("base32", _BASE32_RUN.finditer, _base32),
    ("hex", _hex_runs, _hex),
    ("binary", _BINARY_RUN.finditer, _binary),
    ("Morse code", _MORSE_RUN.finditer, _morse),
)


def _readable(data: bytes) -> str | None:
    """`data` as text if it reads like text (UTF-8, printable, with letters), else None, so
    hashes, keys, image data and other binary runs are not screened as if they were prose."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    visible = text.translate(_WHITESPACE)
    if len(visible) < 4 or not _LETTERS.search(text):
        return None
    if not visible.isprintable():
        unprintable = sum(1 for c in visible if not c.isprintable())
        if unprintable > len(visible) // 20:
            return None
    return text


def quote(text: str, limit: int = 60) -> str:
    """`text` on one line, at most `limit` characters, quoted for a reason an operator reads."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return "'" + (flat if len(flat) <= limit else flat[: limit - 1] + "\u2026") + "'"
