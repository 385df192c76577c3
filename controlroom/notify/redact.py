"""What of a route and of a server's answer may appear in a delivery error.

Delivery errors are journaled and shown to operators, so they must never carry a secret.
Webhook URLs often are one (a Slack incoming-webhook URL is its own credential: the last
path segments are the token), and a server's error page can be long, multi-line or
hostile. Everything a delivery error says about a URL or a response body goes through
this module.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from controlroom.notify.render import one_line

EXCERPT_LIMIT = 120
"""At most this many characters of a response body appear in an error."""

# A path segment shown as is: a word (`services`, `hooks`, `notify`) or a short id
# (`v1`, `42`). Anything longer or stranger may be a token and becomes `…`.
_WORD = re.compile(r"[A-Za-z._~-]{1,16}|[A-Za-z0-9._~-]{1,8}")


def display_url(url: str) -> str:
    """`url` fit for an error message: scheme, host, port and the path's word-like
    segments; user info, query, fragment and token-like segments are left out."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    segments = [s if not s or _WORD.fullmatch(s) else "…" for s in parts.path.split("/")]
    return f"{parts.scheme}://{netloc}{'/'.join(segments)}"


def excerpt(body: bytes, limit: int = EXCERPT_LIMIT) -> str:
    """The start of a response body as one short, quoted line (empty: nothing to show)."""
    text = one_line(body[: limit * 4].decode("utf-8", errors="replace"), limit)
    return repr(text) if text else ""
