"""One SMTP send of a notification mail, the credentials it needs, and what a failure
means for retrying.

Credentials are named by environment variable in the policy and read here at send time,
so a rotated password needs no policy change and no secret is ever written down; an
error names the variable, never its value. SMTP says itself whether a failure is
transient: a 4xx reply (and a lost or refused connection, a timeout) may succeed later,
a 5xx reply never will.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from email.message import EmailMessage

import aiosmtplib

from controlroom.governance.policy import NotificationRoute
from controlroom.notify.outcome import AttemptFailed
from controlroom.notify.render import one_line


def credentials(route: NotificationRoute) -> tuple[str | None, str | None]:
    """The (username, password) the route's `username_env` and `password_env` name.

    Raises AttemptFailed (not retryable) naming a variable that is unset or empty, or
    when only one of the two is named: that is a configuration to fix, and sending
    without the credentials would only be refused.
    """
    values: list[str | None] = []
    for field, name in (("username_env", route.username_env), ("password_env", route.password_env)):
        if name is None:
            values.append(None)
            continue
        value = os.environ.get(name)
        if not value:
            raise AttemptFailed(
                f"environment variable {name} ({field}) is not set", retryable=False
            )
        values.append(value)
    username, password = values
    if (username is None) != (password is None):
        raise AttemptFailed(
            "the route names only one of username_env and password_env", retryable=False
        )
    return username, password


def _reply(code: int, message: str) -> str:
    return f"SMTP {code} {one_line(message, 120)}".rstrip()


async def send_once(
    route: NotificationRoute,
    message: EmailMessage,
    username: str | None,
    password: str | None,
) -> str:
    """Send `message` through the route's server once; what it accepted, on success.

    The whole conversation is bounded by `timeout_s`, as is each step of it. Raises
    AttemptFailed otherwise, saying whether a retry could help.
    """
    timeout_s = route.timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            refused, _ = await aiosmtplib.send(
                message,
                hostname=route.smtp_host,
                port=route.smtp_port,
                username=username,
                password=password,
                start_tls=route.starttls,
                timeout=timeout_s,
            )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        shown = ", ".join(f"{r.recipient} ({r.code})" for r in exc.recipients[:5])
        transient = any(400 <= code < 500 for code in codes)
        raise AttemptFailed(f"all recipients refused: {shown}", retryable=transient) from None
    except aiosmtplib.SMTPResponseException as exc:
        what = _reply(exc.code, exc.message)
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            what = f"authentication failed: {what}"
        raise AttemptFailed(what, retryable=400 <= exc.code < 500) from None
    except (TimeoutError, aiosmtplib.SMTPTimeoutError):
        raise AttemptFailed(f"timed out after {timeout_s:g}s", retryable=True) from None
    except ssl.SSLCertVerificationError as exc:
        raise AttemptFailed(
            f"TLS: {one_line(str(exc.verify_message or exc), 120)}", retryable=False
        ) from None
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
        text = one_line(str(exc), 120)
        raise AttemptFailed(f"connection failed ({text})", retryable=True) from None
    except (aiosmtplib.SMTPException, ValueError) as exc:
        # STARTTLS or AUTH the server does not offer, an address it cannot carry.
        text = one_line(str(exc), 120)
        raise AttemptFailed(f"cannot send ({text})", retryable=False) from None
    total = len(route.to)
    detail = f"SMTP accepted for {total - len(refused)} of {total} recipients"
    if refused:
        shown = ", ".join(f"{address} ({reply.code})" for address, reply in refused.items())
        detail += f"; refused: {one_line(shown, 200)}"
    return detail
