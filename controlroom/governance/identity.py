"""Agent identity: short-lived credentials the supervisor issues to each agent and checks.

Each agent run gets an EdDSA-signed JWT (Ed25519), valid for minutes and renewed while the
agent runs, together with a MAC key derived from the token's id. Every tool call is then
proved with that key (callproof.py), so the signature is verified once per credential and
each call costs one keyed hash; the verified credential is cached by its token string.

The signing key is generated in memory when the supervisor starts and never written down:
only this supervisor verifies its own tokens and they live for minutes, so after a restart
the agents are simply issued new ones, and there is no key file to steal, back up or rotate.

Time comes from the injected clock. PyJWT would judge `exp` (and `iat`, `nbf`) against the
real time, so it is told to require `exp` but not to check it, and expiry is checked here,
on every call, against the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from controlroom.clock import Clock
from controlroom.governance.callproof import CallMac, RecentCallIds, SeenCallIds
from controlroom.ids import TokenFactory, random_token

AUDIENCE = "controlroom-gate"
ALGORITHM = "EdDSA"
_REQUIRED = ["iss", "aud", "sub", "run", "iat", "exp", "jti"]

Reason = Literal[
    "expired",
    "no-expiry",
    "bad-signature",
    "wrong-algorithm",
    "wrong-issuer",
    "wrong-audience",
    "wrong-agent",
    "malformed",
    "call-mismatch",
    "replayed",
]


class CredentialRefused(Exception):
    """A token or a call proved with it was refused; `reason` is a stable code to journal."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: Reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Credential:
    """A token and what it proves; the runner holds it, the authority caches it verified.

    The token and MAC key stay out of `repr` so a credential logged by mistake leaks nothing;
    `mac` proves calls with the key (derived from it, so neither compared nor shown).
    """

    token: str = field(repr=False)
    agent_id: str
    run: str
    jti: str
    expires_ms: int
    mac_key: bytes = field(repr=False)
    mac: CallMac = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mac", CallMac(self.mac_key, self.agent_id, self.run))


def bind(credential: Credential, *, call_id: str, tool: str, args_hash: str) -> str:
    """The proof a runner sends with a call, binding it to `credential` (see callproof.py)."""
    return credential.mac.proof(tool, args_hash, call_id)


class CredentialAuthority:
    """Issues agents' credentials and checks them, and the calls proved with them."""

    def __init__(
        self,
        clock: Clock,
        *,
        issuer: str = "controlroom-supervisor",
        audience: str = AUDIENCE,
        lifetime_s: int = 15 * 60,
        renewal_margin_s: int = 3 * 60,
        signing_key: Ed25519PrivateKey | None = None,
        seen: SeenCallIds | None = None,
        new_id: TokenFactory = random_token,
        cache_size: int = 4096,
    ) -> None:
        if not 0 <= renewal_margin_s < lifetime_s:
            raise ValueError("the renewal margin must be shorter than the lifetime")
        self._clock = clock
        self._issuer = issuer
        self._audience = audience
        self._lifetime_s = lifetime_s
        self._renewal_margin_ms = renewal_margin_s * 1000
        self._key = Ed25519PrivateKey.generate() if signing_key is None else signing_key
        self._public_key = self._key.public_key()
        self._kid = key_id(self._key)
        # Never leaves the authority: MAC keys are derived from it, so a runner's key
        # proves calls for its own credential only.
        self._mac_secret = secrets.token_bytes(32)
        self._seen = seen if seen is not None else RecentCallIds(clock, lifetime_s)
        self._new_id = new_id
        self._cache_size = cache_size
        self._verified: dict[str, Credential] = {}

    def issue(self, agent_id: str, run: str) -> Credential:
        """A fresh credential for one agent's run (also how a credential is renewed)."""
        issued = self._clock.now_ms() // 1000  # JWT times are whole seconds
        expires = issued + self._lifetime_s
        jti = self._new_id()
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": agent_id,
            "run": run,
            "iat": issued,
            "exp": expires,
            "jti": jti,
        }
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid})
        credential = Credential(token, agent_id, run, jti, expires * 1000, self._mac_key(jti))
        # Known genuine: this authority just signed exactly this string. Checking our own
        # signature would cost an agent that lives a few dozen steps more than its calls;
        # any other string (a forgery, a tampered copy) is not in the cache and is verified.
        self._remember(credential)
        return credential

    def needs_renewal(self, credential: Credential) -> bool:
        """Whether `credential` is within the renewal margin of its expiry (or past it)."""
        return self._clock.now_ms() >= credential.expires_ms - self._renewal_margin_ms

    def verify(self, token: str, agent_id: str) -> Credential:
        """The credential `token` proves, if it is current and belongs to `agent_id`.

        The signature and claims are checked the first time a token is seen and the result
        cached; expiry and agent are checked every time, since a cached entry says only
        that the token is genuine.
        """
        credential = self._verified.get(token)
        if credential is None:
            credential = self._decode(token)
            self._remember(credential)
        if self._clock.now_ms() >= credential.expires_ms:
            expired = datetime.fromtimestamp(credential.expires_ms / 1000, UTC)
            raise CredentialRefused(
                "expired", f"the credential expired at {expired:%Y-%m-%d %H:%M:%S} UTC"
            )
        if credential.agent_id != agent_id:
            raise CredentialRefused(
                "wrong-agent", f"the credential is {credential.agent_id!r}'s, not {agent_id!r}'s"
            )
        return credential

    def check_call(
        self,
        token: str,
        proof: str,
        *,
        agent_id: str,
        run: str,
        call_id: str,
        tool: str,
        args_hash: str,
    ) -> Credential:
        """Accept one call: its credential is current and `agent_id`'s, its proof covers
        exactly this agent, run, tool, arguments and call id, and the call id is unused.

        The call id is claimed last, so a call refused for any other reason does not use up
        the id of the genuine call it may be imitating.
        """
        credential = self.verify(token, agent_id)
        # `verify` found the credential `agent_id`'s and its run is `run`: its `mac` proves
        # exactly this agent's and run's calls. `compare_digest` rejects non-ASCII strings
        # with TypeError, and no valid proof has any.
        if (
            credential.run != run
            or not proof.isascii()
            or not hmac.compare_digest(credential.mac.proof(tool, args_hash, call_id), proof)
        ):
            raise CredentialRefused(
                "call-mismatch", "the proof does not match this agent, run, tool, arguments and id"
            )
        # Ids are single-use per credential: a call id names a call within its agent's run
        # (`s3c0`), so the same id under a renewed credential is a different call.
        if not self._seen.claim(f"{credential.jti}/{call_id}"):
            raise CredentialRefused("replayed", f"call id {call_id!r} was already used")
        return credential

    def _decode(self, token: str) -> Credential:
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": _REQUIRED,
                    "strict_aud": True,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise _refusal(exc) from exc
        return self._credential(token, claims)

    def _credential(self, token: str, claims: dict[str, Any]) -> Credential:
        """The credential from signed claims, refusing types we never issue."""
        agent_id, run, jti, expires = (claims[k] for k in ("sub", "run", "jti", "exp"))
        if not all(isinstance(v, str) for v in (agent_id, run, jti)):
            raise CredentialRefused("malformed", "sub, run and jti must be strings")
        if type(expires) is not int:
            raise CredentialRefused("malformed", "exp must be whole seconds")
        return Credential(token, agent_id, run, jti, expires * 1000, self._mac_key(jti))

    def _mac_key(self, jti: str) -> bytes:
        """Derived, not stored: any credential's key can be recomputed from its id."""
        return hmac.digest(self._mac_secret, jti.encode(), "sha256")

    def _remember(self, credential: Credential) -> None:
        """Cache a verified credential; when full, drop expired ones, then the oldest."""
        if len(self._verified) >= self._cache_size:
            now = self._clock.now_ms()
            self._verified = {t: c for t, c in self._verified.items() if c.expires_ms > now}
            while len(self._verified) >= self._cache_size:
                del self._verified[next(iter(self._verified))]
        self._verified[credential.token] = credential


def key_id(key: Ed25519PrivateKey) -> str:
    """A short fingerprint of the public key, sent as the tokens' `kid` header.

    Only for diagnosis (which supervisor issued a token): verification uses the one key
    the authority holds, whatever a token's header names.
    """
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _refusal(exc: jwt.PyJWTError) -> CredentialRefused:
    """The refusal for a token PyJWT rejected, most specific reason first."""
    if isinstance(exc, jwt.MissingRequiredClaimError):
        if exc.claim == "exp":
            return CredentialRefused("no-expiry", "the token has no expiry (exp)")
        return CredentialRefused("malformed", f"the token has no {exc.claim!r} claim")
    reasons: tuple[tuple[type[jwt.PyJWTError], Reason], ...] = (
        (jwt.InvalidAlgorithmError, "wrong-algorithm"),
        (jwt.InvalidSignatureError, "bad-signature"),
        (jwt.InvalidAudienceError, "wrong-audience"),
        (jwt.InvalidIssuerError, "wrong-issuer"),
    )
    for kind, reason in reasons:
        if isinstance(exc, kind):
            return CredentialRefused(reason, str(exc))
    return CredentialRefused("malformed", str(exc))
