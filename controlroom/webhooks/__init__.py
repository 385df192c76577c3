"""Inbound webhooks: approval decisions sent by chat tools and other systems over HTTP.

A decision arrives as a signed request (Slack's `v0` HMAC scheme), is checked here
(signature, freshness, replay, shape, the approval still open and accepting the verdict)
and is then handed to the supervisor as a `decide` command in the inbox. This package never
writes the journal or the approvals table: the supervisor applies the command, with the
authority rules it enforces, exactly as it does for a decision typed at the CLI.

- `signing`: the signature scheme (pure).
- `decision`: the shape of a decision request body (pure).
- `app`: the Starlette app that ties them to the store.
- `server`: running that app on uvicorn, bound to loopback unless told otherwise.
"""
