"""Prompt-injection screening: a local risk signal on tool results and inter-agent messages.

The runtime screens every tool result and every message one agent passes another, so this is
pure standard library, offline and cheap (a few microseconds for a typical tool result, tens
for one that wakes rules or holds something to decode). It is a signal for quarantine and
review, not a proof: a determined attacker can phrase around any fixed rule set, and an
article about prompt injection quotes the very phrases it looks for.

What counts as evidence, and why it is weighted so (weights live with each rule in
`injection_rules`):
- an explicit tell (overriding instructions, a chat-template token, a markdown image whose URL
  carries a placeholder for data) is rare in honest text, so alone it reaches the flagging
  line;
- a circumstantial tell (addressing "the assistant", "without confirmation", a call to a
  snake_case tool, "system:" at the start of a line) is common in honest text (executive
  assistants, CLI manuals, code, bug reports), so it flags only together with others;
- hiding is evidence of intent: invisible tag characters, zero-width characters inside words,
  homoglyphs, and any rule that matches only once the text is decoded or de-obfuscated
  (base64, hex, leetspeak, spacing, reversal...) add weight of their own (`normalize`).

Score: pieces of evidence are combined as independent ones (noisy-OR), score = 1 - prod(1 - w),
each rule counted once at its strongest match. So one strong tell flags by itself, two middling
ones (0.3 and 0.3 give 0.51) flag together, more evidence never lowers the score, and the scale
stays within [0, 1). `standard` flags at 0.5; `strict` at 0.3, where one circumstantial tell
in a tool result is enough for review.

Discounts, because the most common false alarms are honest texts that use the words: a match
quoted or reported in a text that discusses attacks ("attackers write 'ignore previous
instructions'"), one the writer owns ("ignore my previous instructions"), one made
conditional ("ignore the above instructions if you already installed it") or scoped to an
ordinary subject ("ignore previous instructions about the dress code") counts for less.
Hidden-character evidence is never discounted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal, NamedTuple

from controlroom.governance.injection_rules import ALL_RULES, Rule
from controlroom.governance.normalize import (
    Signal,
    View,
    normalize,
    plain_view,
    quote,
    words,
)

Level = Literal["standard", "strict"]
THRESHOLDS: dict[str, float] = {"standard": 0.5, "strict": 0.3}
MAX_REASONS = 8


class Screening(NamedTuple):
    """The verdict on one text. `score` is in [0, 1), monotone in the evidence; `reasons` are
    the strongest pieces of evidence first, each quoting at most 60 characters of the
    normalized text that matched."""

    flagged: bool
    score: float
    reasons: tuple[str, ...]


def screen_or_hold(text: str, level: Level) -> Screening:
    """`screen`, except that a failure of the detector itself flags the text (held for
    review as a precaution) instead of letting it through or raising."""
    try:
        return screen(text, level)
    except Exception as exc:
        reason = f"screening failed ({type(exc).__name__}); held as a precaution"
        return Screening(True, 1.0, (reason,))


def screen(text: str, level: Level = "standard") -> Screening:
    """Screen `text` (a tool result or an agent's message) for prompt injection.

    Screening runs on every tool result, and most are ASCII text with nothing to decode or
    undo (`plain_view`) in which no rule matches: such a text is cleared after a few passes
    over it (`_quiet`). A plain text with a match skips normalizing, which would recover no
    other view, and anything else is read in full (`_full_screen`). Each route gives the
    verdict the full reading would; the tests hold them to it."""
    threshold = THRESHOLDS.get(level)
    if threshold is None:
        raise ValueError(f"unknown screening level {level!r}: use standard or strict")
    main = plain_view(text)
    if main is None:
        return _full_screen(text, threshold)
    chosen = plan(main)
    if _quiet(main, chosen):
        return _CLEAR
    return _verdict((main,), (), threshold, chosen)


_CLEAR = Screening(False, 0.0, ())


def _quiet(view: View, chosen: Plan) -> bool:
    """Whether no rule of the view's plan matches it and it holds no comment: for a plain
    text's only view this means no evidence at all."""
    text = view.text
    # a comment's opener, a character first (substring searches cost several times more)
    opened = ("<" in text and "<!--" in text) or ("]" in text and "]: " in text)
    if opened and next(_comments(text), None) is not None:
        return False
    for number, leads in chosen.items():
        rule = ALL_RULES[number]
        # one search settles a rule searched for (no leads); a word-led one is tried at its leads
        if leads is None and rule.pattern.search(text) is None:
            continue
        if next(_matches(rule, text, leads), None) is not None:
            return False
    return True


def _full_screen(text: str, threshold: float) -> Screening:
    """Every view of the text and every signal normalizing finds."""
    normalized = normalize(text)
    return _verdict(normalized.views, normalized.signals, threshold)


def _verdict(
    views: tuple[View, ...],
    signals: tuple[Signal, ...],
    threshold: float,
    chosen: Plan | None = None,
) -> Screening:
    """The evidence in the views (the first is the text itself, and `chosen` its plan if
    already made) and the signals, weighed."""
    evidence = _Evidence()
    for signal in signals:
        evidence.add(signal.key, signal.weight, signal.reason)
    main, *recovered = views
    in_main = _screen_view(main, evidence, chosen)
    _screen_comments(main, evidence, in_main)
    for view in recovered:
        for rule, match, weight in _hits(view):
            reason = f"{rule.label} (hidden by {view.origin}): {quote(match.group())}"
            evidence.add(f"{rule.name}@{view.origin}", weight, reason)
            if rule.name not in in_main:
                hidden = f"instructions hidden by {view.origin}"
                evidence.add(f"hidden@{view.origin}", _HIDING_WEIGHT * weight, hidden)
    score = evidence.score()
    return Screening(score >= threshold, round(score, 4), evidence.reasons())


# Hiding a matching phrase is evidence in proportion to what the phrase says: a full-weight
# override hidden in base64 adds 0.5, a weak tell revealed by leetspeak folding adds little.
_HIDING_WEIGHT = 0.65


class _Evidence:
    """Each piece of evidence once, at its strongest."""

    def __init__(self) -> None:
        self._found: dict[str, tuple[float, str]] = {}

    def add(self, key: str, weight: float, reason: str) -> None:
        if weight > self._found.get(key, (0.0, ""))[0]:
            self._found[key] = (weight, reason)

    def score(self) -> float:
        remaining = 1.0
        for weight, _ in self._found.values():
            remaining *= 1.0 - weight
        return 1.0 - remaining

    def reasons(self) -> tuple[str, ...]:
        ranked = sorted(self._found.values(), key=lambda found: -found[0])
        return tuple(dict.fromkeys(reason for _, reason in ranked))[:MAX_REASONS]


def _screen_view(
    view: View, evidence: _Evidence, chosen: Plan | None
) -> dict[str, tuple[int, int]]:
    """Apply the rules to the text itself; the span of each rule's strongest match."""
    spans = {}
    for rule, match, weight in _hits(view, chosen):
        evidence.add(rule.name, weight, f"{rule.label}: {quote(match.group())}")
        spans[rule.name] = match.span()
    return spans


# -- rules --------------------------------------------------------------------------------------


# Words too common to index a rule by when it has a rarer anchor group: a rule is looked up
# by its least common group, so a benign text wakes few rules.
_COMMON_WORDS = """
    a all an and any are as at be before but by can do don dont every for from have i if in is
    it its me my never no not now of on or our so that the their then these this to up us we
    what when while will with you your email user data file files code call run use get set
    make new send list read write show open print return post value content message request
    system
"""
_COMMON = frozenset(_COMMON_WORDS.split())


Groups = tuple[frozenset[str], ...]


def _split_groups(rule: Rule) -> tuple[frozenset[str], Groups]:
    """The rule's least common anchor group, which indexes it, and its other groups, which
    are all that is left to check once a view is found to hold a word of the first."""
    if not rule.groups:
        return frozenset(), ()
    groups = list(rule.groups)
    index = groups.pop(
        min(range(len(groups)), key=lambda at: (len(groups[at] & _COMMON) > 0, len(groups[at])))
    )
    return index, tuple(groups)


def _index() -> tuple[dict[str, tuple[tuple[int, Groups], ...]], tuple[tuple[str, int], ...]]:
    """Rules (with their other groups) by the words of their least common anchor group, and
    every rule's marks."""
    by_anchor: dict[str, list[tuple[int, Groups]]] = {}
    marks = []
    for number, rule in enumerate(ALL_RULES):
        index, others = _split_groups(rule)
        for anchor in index:
            by_anchor.setdefault(anchor, []).append((number, others))
        marks += [(mark, number) for mark in rule.marks]
    return {anchor: tuple(rules) for anchor, rules in by_anchor.items()}, tuple(marks)


Mark = tuple[str, int, frozenset[str]]


def _by_rarest_character(
    marks: tuple[tuple[str, int], ...],
) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """Marks grouped by their rarest character, which is tested first (a one-character test
    is a memchr, several times cheaper than a substring search): most texts lack `<`, `[` or
    `/` altogether, many lack "g" (which "ignore", "disregard" and "forget" share), and then
    none of the marks holding it need a search."""
    grouped: dict[str, list[tuple[str, int]]] = {}
    for mark, number in marks:
        grouped.setdefault(max(mark, key=_rarity), []).append((mark, number))
    return tuple((rarest, tuple(group)) for rarest, group in grouped.items())


def _by_enclosed_word(marks: tuple[tuple[str, int], ...]) -> dict[str, tuple[Mark, ...]]:
    """Marks that enclose words (see `_enclosed_words`), by the least common of them, each
    with all it encloses: a view without that word cannot hold the mark, so one set
    intersection rules out every such mark (JSON is full of `"`, but seldom of `"role"`)."""
    indexed: dict[str, list[Mark]] = {}
    for mark, number in marks:
        enclosed = _enclosed_words(mark)
        index = min(enclosed, key=lambda word: (word in _COMMON, -len(word), word))
        indexed.setdefault(index, []).append((mark, number, enclosed))
    return {word: tuple(group) for word, group in indexed.items()}


# Characters from the most to the least common in the texts screened: the quotes and colons
# of JSON (most tool results are JSON), then lower-case letters as in English; any other
# character is rarer.
_FREQUENCY = '":etaoinshrdlcumwfgypbvkjxqz'


def _rarity(char: str) -> int:
    return _FREQUENCY.find(char) if char in _FREQUENCY else len(_FREQUENCY)


def _enclosed_words(mark: str) -> frozenset[str]:
    """The words a mark holds between two of its separators ("role" in `"role"`): a view
    containing the mark has them among its words."""
    separators = [at for at, char in enumerate(mark) if not words(char)]
    if len(separators) < 2:
        return frozenset()
    return words(mark[separators[0] : separators[-1] + 1])


_BY_ANCHOR, _MARKS = _index()
_ANCHORS = frozenset(_BY_ANCHOR)
_BARE_MARKS = tuple(m for m in _MARKS if not _enclosed_words(m[0]))
_ASCII_MARKS = _by_rarest_character(tuple(m for m in _BARE_MARKS if m[0].isascii()))
_ALL_MARKS = _by_rarest_character(_BARE_MARKS)
_BY_MARK_WORD = _by_enclosed_word(tuple(m for m in _MARKS if _enclosed_words(m[0])))
_MARK_WORDS = frozenset(_BY_MARK_WORD)

Plan = dict[int, frozenset[str] | None]


def plan(view: View) -> Plan:
    """The rules (indexes into ALL_RULES) that could match the view, each with the words of
    its first group found there (where a match may begin), or None to search the whole view
    (the rule is gated by a mark, or matches may begin elsewhere)."""
    words = view.words
    chosen: Plan = {}
    for anchor in words & _ANCHORS:
        for number, others in _BY_ANCHOR[anchor]:
            for group in others:
                if group.isdisjoint(words):
                    break
            else:
                rule = ALL_RULES[number]
                chosen[number] = None if rule.search else rule.groups[0] & words
    text = view.text
    for word in words & _MARK_WORDS:
        for mark, number, enclosed in _BY_MARK_WORD[word]:
            if number not in chosen and enclosed <= words and mark in text:
                chosen[number] = None
    for rarest, marks in _ASCII_MARKS if text.isascii() else _ALL_MARKS:
        if rarest in text:
            for mark, number in marks:
                if number not in chosen and mark in text:
                    chosen[number] = None
    return chosen


def _hits(view: View, chosen: Plan | None = None) -> list[tuple[Rule, re.Match[str], float]]:
    """Each rule that matches, with its strongest match after discounts (of the rules in
    `chosen`, the view's plan if already made). Where two rules read the same words as the
    same kind of tell, that is one piece of evidence, not two: only the stronger counts."""
    rules = plan(view) if chosen is None else chosen
    found = sorted(_rule_hits(view, rules), key=lambda hit: -hit[2])
    kept: list[tuple[Rule, re.Match[str], float]] = []
    for hit in found:
        if not any(_same_evidence(hit, other) for other in kept):
            kept.append(hit)
    return kept


def _same_evidence(
    one: tuple[Rule, re.Match[str], float], other: tuple[Rule, re.Match[str], float]
) -> bool:
    """Matches overlapping by half the shorter one under the same label, or almost entirely."""
    (rule, match, _), (other_rule, other_match, _) = one, other
    overlap = min(match.end(), other_match.end()) - max(match.start(), other_match.start())
    shorter = min(match.end() - match.start(), other_match.end() - other_match.start())
    if overlap <= 0 or shorter <= 0:
        return False
    share = overlap / shorter
    return share >= 0.9 or (share >= 0.5 and rule.label == other_rule.label)


def _rule_hits(view: View, chosen: Plan) -> Iterator[tuple[Rule, re.Match[str], float]]:
    context = _Context(view.text)
    for number, leads in sorted(chosen.items()):
        rule = ALL_RULES[number]
        best: tuple[re.Match[str], float] | None = None
        for seen, match in enumerate(_matches(rule, view.text, leads), start=1):
            weight = rule.weight * context.discount(rule, match)
            if best is None or weight > best[1]:
                best = (match, weight)
            if weight >= rule.weight or seen >= 3:
                break
        if best is not None:
            yield rule, best[0], best[1]


def _matches(rule: Rule, text: str, leads: frozenset[str] | None) -> Iterator[re.Match[str]]:
    """The rule's matches that begin where it requires: searched for, or tried at each word
    start where one of `leads` occurs."""
    pattern = rule.pattern
    if leads is None:
        for match in pattern.finditer(text):
            if _starts_well(rule, text, match.start()):
                yield match
        return
    for start in sorted({start for lead in leads for start in _word_starts(text, lead)}):
        found = pattern.match(text, start)
        if found is not None and _starts_well(rule, text, start):
            yield found


def _word_starts(text: str, word: str) -> Iterator[int]:
    """Where `word` begins a word of `text` (it may continue: "ignor" in "ignoring")."""
    start = text.find(word)
    while start != -1:
        if start == 0 or not _word_char(text[start - 1]):
            yield start
        start = text.find(word, start + 1)


def _starts_well(rule: Rule, text: str, start: int) -> bool:
    """Whether a match begins where its rule requires: at a word start, or first on its line
    (after at most a few marks such as `#`, `>` or `**`)."""
    if rule.start == "word":
        return start == 0 or not _word_char(text[start - 1])
    if rule.start == "line":
        begin = text.rfind("\n", 0, start) + 1
        return start - begin <= 6 and not any(_word_char(c) for c in text[begin:start])
    return True


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


# -- discounts ----------------------------------------------------------------------------------

_DISCUSSION = re.compile(
    r"\b(?:angreifer\w*|angriff\w*|zum\W+beispiel|attaquants?|attaques?|par\W+exemple|"
    r"atacantes?|ataques?|por\W+ejemplo|attaccanti|attacc\w+|ad\W+esempio|злоумышленник\w*|"
    r"атак\w*|например|techniques?|jailbreaks?|injections?|attacks?|prompt[\s-]injections?|injection\W+(?:attacks?|attempts?|payloads?)|jailbreak(?:ing)?"
    r"\W+(?:attempts?|prompts?|attacks?|techniques?)|attackers?|adversar(?:y|ies|ial)|"
    r"red[\s-]team\w*|owasp|llm01|researchers?|security\W+(?:researchers?|teams?|awareness|"
    r"training|advisory|blog|review)|malicious\W+(?:prompts?|inputs?|instructions?|text|content|"
    r"payloads?|documents?)|for\W+example|for\W+instance|e\.g\.|such\W+as|phrases?\W+like|"
    r"strings?\W+like|known\W+as|example\W+(?:of|prompts?|payloads?|attacks?)|detect(?:ion|ors?|"
    r"s|ing)?|classifiers?|guardrails?|defen[cs]es?|mitigations?|vulnerabilit(?:y|ies)|"
    r"exploit(?:s|ed|ation)?|phishing|scams?|be\W+(?:wary|careful|suspicious)|incidents?|"
    r"tricked|manipulated|fooled|post-?mortem|case\W+study)\b"
)
_REPORTED_TAIL = re.compile(
    r"(?:[\"\u201c\u201d\u201e'\u2018\u2019\u201a\u00ab\u00bb`\u300c\u300e]|\b(?:like|as|to|saying|says|said|say|write|"
    r"writes|wrote|type|types|typed|enter|entered|tell|tells|told|e\.g\.|i\.e\.|such\W+as|"
    r"phrases?|strings?|text|sentences?|commands?|prompts?|payloads?|instructions?)\W{0,3}|"
    r"\b(?:make|makes|made|making|get|gets|got|trick|tricks|tricked|convince|convinces|"
    r"convinced|force|forces|forced|cause|causes|caused|let|lets|ask|asks|asked|asking|tell|"
    r"tells|told|instruct|instructs|instructed|want|wants|wanted)\W+(?:\w+\W+){0,2}?(?:model|"
    r"models|ai|llm|llms|assistant|assistants|chatbot|it|them|agents?)\W+(?:to\W+)?)\s*$"
)
_ADDRESSED_TAIL = re.compile(r"\byou\W+to\s*$")
_MENTION_AFTER = re.compile(r"^\s*[?\"\u201c\u201d'\u2019\u00bb`]")
_CONDITION = re.compile(r"^\W{0,3}(?:if|unless|when|in\W+case|once|only\W+if|after)\b")
_OWNED = re.compile(r"\b(?:my|our|mine)\b")
_OWNED_AFTER = re.compile(
    r"^\W{0,3}(?:that\W+)?(?:i|we)\W+(?:gave|sent|wrote|mentioned|shared|posted|provided|"
    r"listed|emailed|left)\b"
)
_SCOPED = re.compile(
    r"^\s+(?:about|on|regarding|concerning|related\W+to|in|of|concernant|sur|au\W+sujet\W+d\w*|"
    r"relatives?\W+(?:à|au|aux)|sobre|acerca\W+de|respecto\W+a|riguardo|relative\W+a|sul|sulla|"
    r"zum|zur|über|bezüglich|betreffend|omtrent|over|sobre|relativas?\W+a|касательно|"
    r"относительно|про|насчёт|насчет)\W+(?!(?:this|the|any|"
    r"all|your|my)?\W*(?:ai|assistant|model|chat|conversation|system|developer|creator|operator|"
    r"admin|safety|security|ethic|content|polic|restrict|filter|guideline|above|previous|"
    r"prior)\w*)"
)


class _Context:
    """Lazily computed facts about a view that discount a match."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._discussing: bool | None = None

    def discussing(self) -> bool:
        if self._discussing is None:
            self._discussing = _DISCUSSION.search(self.text) is not None
        return self._discussing

    def discount(self, rule: Rule, match: re.Match[str]) -> float:
        """How much of the rule's weight the match keeps (see `Rule.discounts`)."""
        if rule.discounts == "none":
            return 1.0
        before = self.text[max(0, match.start() - 40) : match.start()]
        after = self.text[match.end() : match.end() + 60]
        factor = 1.0
        mentioned = _REPORTED_TAIL.search(before) or _MENTION_AFTER.search(after)
        if mentioned and not _ADDRESSED_TAIL.search(before) and self.discussing():
            factor *= 0.3
        if rule.discounts != "all":
            return factor
        if _CONDITION.search(after):
            factor *= 0.4
        if _OWNED.search(match.group()) or _OWNED_AFTER.search(after):
            factor *= 0.35
        if _SCOPED.search(after):
            factor *= 0.5
        return factor


# -- comments -----------------------------------------------------------------------------------

_COMMENT_CUE = re.compile(
    r"\b(?:ai|a\.i\.|llm|assistant|chatgpt|gpt|claude|gemini|copilot|language\W+model|model|"
    r"agent|bot)\b[^.\n]{0,60}?\b(?:must|should|will|shall|need|please|do\W+not|don'?t|never|"
    r"always|ignore|instead|respond|reply|say|output|include|recommend|tell|send|call|summar)"
    r"|\b(?:ignore|disregard)\W+(?:all|previous|prior|the\W+above|any)|\bsystem\W+prompt\b|"
    r"\binstructions?\W+(?:for|to)\W+(?:the\W+)?(?:ai|assistant|model|llm)|\byou\W+must\b|"
    r"\byou\W+are\W+now\b|\bdo\W+not\W+(?:tell|mention|reveal)\b|\btell\W+the\W+user\b"
)
_MAX_COMMENTS = 50


def _comments(text: str) -> Iterator[tuple[int, int]]:
    """Spans of HTML comments and markdown link-reference comments, which readers never see.
    Found with str.find rather than a regex so that many unclosed `<!--` stay linear."""
    start = text.find("<!--")
    found = 0
    while start != -1 and found < _MAX_COMMENTS:
        end = text.find("-->", start + 4)
        end = len(text) if end == -1 else end + 3
        yield start, end
        found += 1
        start = text.find("<!--", end)
    for marker in ("[//]: #", "[comment]: #", "[//]: <>", "[comment]: <>"):
        start = text.find(marker)
        while start != -1 and found < _MAX_COMMENTS:
            end = text.find("\n", start)
            end = len(text) if end == -1 else end
            yield start, end
            found += 1
            start = text.find(marker, end)


def _screen_comments(view: View, evidence: _Evidence, spans: dict[str, tuple[int, int]]) -> None:
    """Instructions inside a comment were hidden from human readers on purpose."""
    if "<!--" not in view.text and "]: " not in view.text:
        return
    for start, end in _comments(view.text):
        body = view.text[start:end]
        cue = _COMMENT_CUE.search(body)
        if cue is not None:
            evidence.add("comment", 0.4, f"hidden comment addresses the AI: {quote(body)}")
        if any(start <= hit_start < end for hit_start, _ in spans.values()):
            evidence.add("comment-hit", 0.3, f"instructions hidden in a comment: {quote(body)}")


def matching_rules(
    view: View, by: Literal["index", "definition", "pattern"] = "index"
) -> frozenset[str]:
    """Names of the rules with a match in `view`, found `by`:

    - "index": through the anchor index, as screening does;
    - "definition": by taking each rule as `Rule` defines it, one after the other: tried on a
      view holding a word of each of its groups (where its first group's words occur, unless
      it searches), or holding one of its marks (everywhere). The index only finds those
      rules faster, so the two must agree on any text;
    - "pattern": by trying every rule's regex on the whole view, whatever words it holds.
      Where this finds more, a rule's groups miss a form its regex was written to catch; the
      tests hold the development texts to finding nothing more."""
    if by == "index":
        chosen = plan(view)
    else:
        chosen = {}
        for number, rule in enumerate(ALL_RULES):
            if by == "pattern":
                chosen[number] = None
            elif rule.groups and all(not group.isdisjoint(view.words) for group in rule.groups):
                chosen[number] = None if rule.search else rule.groups[0] & view.words
            elif any(mark in view.text for mark in rule.marks):
                chosen[number] = None
    return frozenset(
        ALL_RULES[number].name
        for number, leads in chosen.items()
        if next(_matches(ALL_RULES[number], view.text, leads), None) is not None
    )
