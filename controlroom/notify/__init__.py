"""Outbound notifications: delivering one notification over one route (log, webhook,
Slack, SMTP), with retries, reporting success or a clear failure.

The approval record in the database is the truth; a notification is only a view of it,
so this package decides nothing and stores nothing. Its caller, the supervisor's durable
outbox, calls `Notifier.deliver`, journals the outcome and never lets a delivery block an
agent. Rendering is in `render`, transports in `webhook` and `mail`, the retry loop in
`deliver`.
"""

from controlroom.notify.deliver import Notifier, default_backoff
from controlroom.notify.outcome import Delivered, DeliveryFailed
from controlroom.notify.render import email_message, generic_payload, slack_payload

__all__ = [
    "Delivered",
    "DeliveryFailed",
    "Notifier",
    "default_backoff",
    "email_message",
    "generic_payload",
    "slack_payload",
]
