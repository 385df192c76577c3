"""Outbound rules: what must not leave through a tool call's arguments.

A rule names an argument and either patterns that must not appear in it (secrets, keys) or
the only domains its e-mail addresses and URLs may point to. The reason given for a refusal
names the rule, never the matching text, so a refusal does not copy a secret once more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic_core import to_json

from controlroom.governance.policy import OutboundRule

# Anchored on "@" and "://" with bounded look-arounds: an unanchored `[...]+@` retries from
# every position of a long argument (quadratic; 25 ms for 5,000 characters).
_EMAIL = re.compile(r"(?<=[A-Za-z0-9._%+\-])@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]{0,31}://(?:[^/\s@]{0,256}@)?([A-Za-z0-9.\-]+)")


def refusal(rules: Iterable[OutboundRule], tool: str, arguments: dict[str, Any]) -> str | None:
    """Why this call breaks an outbound rule, or None if it breaks none."""
    for rule in rules:
        if rule.tool not in (None, tool) or rule.argument not in arguments:
            continue
        text = as_text(arguments[rule.argument])
        for pattern in rule.deny_patterns:
            if re.search(pattern, text):
                return (
                    f"outbound rule: argument {rule.argument!r} matches a pattern that must not "
                    f"leave ({pattern!r})"
                )
        if rule.allow_domains is not None:
            for domain in destinations(text):
                if not _allowed(domain, rule.allow_domains):
                    allowed = ", ".join(rule.allow_domains) or "none"
                    return (
                        f"outbound rule: argument {rule.argument!r} goes to {domain}, which is "
                        f"not an allowed domain ({allowed})"
                    )
    return None


def as_text(value: Any) -> str:
    """An argument as the text that would leave: itself if text, else its JSON."""
    return value if isinstance(value, str) else to_json(value, fallback=str).decode()


def destinations(text: str) -> list[str]:
    """The domains of the e-mail addresses and URLs in `text`, lower-cased, each once."""
    found = [match.group(1) for match in _EMAIL.finditer(text)] if "@" in text else []
    if "://" in text:
        found += [match.group(1) for match in _URL.finditer(text)]
    return list(dict.fromkeys(domain.lower().rstrip(".") for domain in found))


def _allowed(domain: str, allowed: Iterable[str]) -> bool:
    return any(domain == a.lower() or domain.endswith("." + a.lower()) for a in allowed)
