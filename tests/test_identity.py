"""Agent credentials: every token attack is built for real and refused with its reason.

Forged tokens are assembled by hand (base64url segments, HMACs from the standard library)
where PyJWT would refuse to make them, and each is first shown to be a well-formed token,
so a refusal is the authority's doing and not an accident of a broken forgery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from controlroom.clock import FakeClock
from controlroom.governance.callproof import CallMac, RecentCallIds, call_message, call_proof
from controlroom.governance.identity import (
    AUDIENCE,
    Credential,
    CredentialAuthority,
    CredentialRefused,
    bind,
    key_id,
)
from controlroom.ids import CountingTokens

AGENT = "refunds-1"
RUN = "run-1"
LIFETIME = 15 * 60
ARGS = hashlib.sha256(b'{"amount":20}').hexdigest()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def authority(clock: FakeClock, key: Ed25519PrivateKey) -> CredentialAuthority:
    return CredentialAuthority(clock, signing_key=key, new_id=CountingTokens("jti"))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def segment(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def claims(clock: FakeClock, **changes: Any) -> dict[str, Any]:
    """The claims the authority would issue now, with `changes` (None removes a claim)."""
    now = clock.now_ms() // 1000
    base: dict[str, Any] = {
        "iss": "controlroom-supervisor",
        "aud": AUDIENCE,
        "sub": AGENT,
        "run": RUN,
        "iat": now,
        "exp": now + LIFETIME,
        "jti": "forged-1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def decode_ignoring_time(token: str, key: Any, algorithm: str) -> dict[str, Any]:
    """PyJWT's own verification, times aside: the tokens carry the fake clock's times, which
    PyJWT would judge by the real time."""
    return jwt.decode(
        token,
        key,
        algorithms=[algorithm],
        audience=AUDIENCE,
        options={"verify_exp": False, "verify_iat": False},
    )


def refusal(authority: CredentialAuthority, token: str, agent_id: str = AGENT) -> str:
    """The reason `authority` gives for refusing `token` (fails the test if it accepts)."""
    with pytest.raises(CredentialRefused) as refused:
        authority.verify(token, agent_id)
    return refused.value.reason


def call(
    authority: CredentialAuthority,
    credential: Credential,
    call_id: str = "call-1",
    tool: str = "refund",
    args_hash: str = ARGS,
    proof: str | None = None,
    agent_id: str | None = None,
    run: str | None = None,
) -> Credential:
    """Check one call made with `credential`, proved honestly unless `proof` is given, as
    the credential's own agent and run unless they are given."""
    if proof is None:
        proof = bind(credential, call_id=call_id, tool=tool, args_hash=args_hash)
    return authority.check_call(
        credential.token,
        proof,
        agent_id=credential.agent_id if agent_id is None else agent_id,
        run=credential.run if run is None else run,
        call_id=call_id,
        tool=tool,
        args_hash=args_hash,
    )


# -- accepted ---------------------------------------------------------------------------------


def test_valid_call_is_accepted(authority: CredentialAuthority, key: Ed25519PrivateKey) -> None:
    credential = authority.issue(AGENT, RUN)
    accepted = call(authority, credential)
    assert (accepted.agent_id, accepted.run, accepted.jti) == (AGENT, RUN, "jti-1")
    header = jwt.get_unverified_header(credential.token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == key_id(key)


def test_credential_repr_hides_token_and_key(authority: CredentialAuthority) -> None:
    credential = authority.issue(AGENT, RUN)
    assert credential.token not in repr(credential)
    assert credential.mac_key.hex() not in repr(credential)


# -- expiry -----------------------------------------------------------------------------------


def test_expired_token_is_refused(authority: CredentialAuthority, clock: FakeClock) -> None:
    credential = authority.issue(AGENT, RUN)
    clock.advance(LIFETIME - 1)
    assert authority.verify(credential.token, AGENT) is not None
    clock.advance(1)  # exactly at `exp` the token is no longer valid
    assert refusal(authority, credential.token) == "expired"
    with pytest.raises(CredentialRefused) as refused:
        authority.verify(credential.token, AGENT)
    assert refused.value.message == "the credential expired at 2026-01-01 00:15:00 UTC"


def test_expiry_is_checked_even_after_the_token_was_cached(
    authority: CredentialAuthority, clock: FakeClock
) -> None:
    credential = authority.issue(AGENT, RUN)
    call(authority, credential, call_id="call-1")
    clock.advance(LIFETIME + 60)
    with pytest.raises(CredentialRefused) as refused:
        call(authority, credential, call_id="call-2")
    assert refused.value.reason == "expired"


def test_token_without_expiry_is_refused(
    authority: CredentialAuthority, key: Ed25519PrivateKey, clock: FakeClock
) -> None:
    token = jwt.encode(claims(clock, exp=None), key, algorithm="EdDSA")
    decoded = decode_ignoring_time(token, key.public_key(), "EdDSA")
    assert decoded["sub"] == AGENT and "exp" not in decoded
    assert refusal(authority, token) == "no-expiry"


@pytest.mark.parametrize("exp", ["9999999999", 9999999999.5, True])
def test_expiry_of_the_wrong_type_is_refused(
    authority: CredentialAuthority, key: Ed25519PrivateKey, clock: FakeClock, exp: Any
) -> None:
    token = jwt.encode(claims(clock, exp=exp), key, algorithm="EdDSA")
    assert refusal(authority, token) == "malformed"


def test_renewal_is_due_within_the_margin(authority: CredentialAuthority, clock: FakeClock) -> None:
    credential = authority.issue(AGENT, RUN)
    assert not authority.needs_renewal(credential)
    clock.advance(LIFETIME - 3 * 60 - 1)
    assert not authority.needs_renewal(credential)
    clock.advance(1)
    assert authority.needs_renewal(credential)
    renewed = authority.issue(AGENT, RUN)
    assert renewed.jti != credential.jti and renewed.mac_key != credential.mac_key
    assert not authority.needs_renewal(renewed)


# -- signature and algorithm ------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_unsigned_token_is_refused(
    authority: CredentialAuthority, clock: FakeClock, key: Ed25519PrivateKey, alg: str
) -> None:
    header = {"alg": alg, "typ": "JWT", "kid": key_id(key)}
    token = f"{segment(header)}.{segment(claims(clock))}."
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == AGENT
    assert refusal(authority, token) == "wrong-algorithm"


@pytest.mark.parametrize("key_format", ["pem", "raw"])
def test_hs256_signed_with_the_public_key_is_refused(
    authority: CredentialAuthority, clock: FakeClock, key: Ed25519PrivateKey, key_format: str
) -> None:
    """The key-confusion attack: the public key, which anyone may know, used as an HMAC key."""
    public = key.public_key()
    if key_format == "pem":
        secret = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    else:
        secret = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    header = {"alg": "HS256", "typ": "JWT", "kid": key_id(key)}
    signing_input = f"{segment(header)}.{segment(claims(clock))}"
    signature = hmac.digest(secret, signing_input.encode(), "sha256")
    token = f"{signing_input}.{b64(signature)}"
    if key_format == "raw":  # a genuine HS256 token: a verifier trusting `alg` would accept it
        assert decode_ignoring_time(token, secret, "HS256")["sub"] == AGENT
    assert refusal(authority, token) == "wrong-algorithm"


def test_token_signed_by_another_key_is_refused(
    authority: CredentialAuthority, clock: FakeClock, key: Ed25519PrivateKey
) -> None:
    forger = Ed25519PrivateKey.generate()
    # The forger copies our key id, so only the signature itself can give it away.
    token = jwt.encode(claims(clock), forger, algorithm="EdDSA", headers={"kid": key_id(key)})
    assert refusal(authority, token) == "bad-signature"
    impostor = CredentialAuthority(clock, signing_key=forger)
    assert refusal(authority, impostor.issue(AGENT, RUN).token) == "bad-signature"


@pytest.mark.parametrize(
    "tamper",
    [
        {"sub": "admin-1"},
        {"exp": 4_102_444_800},  # 2100: a credential that would never expire
        {"run": "run-2"},
    ],
    ids=["sub", "exp", "run"],
)
def test_tampered_claims_are_refused(
    authority: CredentialAuthority, tamper: dict[str, Any]
) -> None:
    credential = authority.issue(AGENT, RUN)
    header, payload, signature = credential.token.split(".")
    changed = json.loads(unb64(payload)) | tamper
    token = f"{header}.{segment(changed)}.{signature}"
    assert jwt.decode(token, options={"verify_signature": False}) == changed
    assert refusal(authority, token, changed["sub"]) == "bad-signature"


# -- audience, issuer, agent ------------------------------------------------------------------


def test_token_for_another_audience_is_refused(
    authority: CredentialAuthority, clock: FakeClock, key: Ed25519PrivateKey
) -> None:
    """Same key, same agent, but minted for another service: not a gate credential."""
    elsewhere = CredentialAuthority(clock, signing_key=key, audience="controlroom-dashboard")
    assert refusal(authority, elsewhere.issue(AGENT, RUN).token) == "wrong-audience"
    listed = jwt.encode(claims(clock, aud=[AUDIENCE, "other"]), key, algorithm="EdDSA")
    assert refusal(authority, listed) == "wrong-audience"


def test_token_from_another_issuer_is_refused(
    authority: CredentialAuthority, clock: FakeClock, key: Ed25519PrivateKey
) -> None:
    elsewhere = CredentialAuthority(clock, signing_key=key, issuer="someone-else")
    assert refusal(authority, elsewhere.issue(AGENT, RUN).token) == "wrong-issuer"


def test_another_agents_token_is_refused(authority: CredentialAuthority) -> None:
    theirs = authority.issue("refunds-2", RUN)
    assert refusal(authority, theirs.token, AGENT) == "wrong-agent"
    with pytest.raises(CredentialRefused) as refused:
        call(authority, theirs, agent_id=AGENT)
    assert refused.value.reason == "wrong-agent"


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c", "a.b"])
def test_garbage_is_refused_as_malformed(authority: CredentialAuthority, token: str) -> None:
    assert refusal(authority, token) == "malformed"


def test_missing_claim_is_refused_as_malformed(
    authority: CredentialAuthority, clock: FakeClock, key: Ed25519PrivateKey
) -> None:
    token = jwt.encode(claims(clock, run=None), key, algorithm="EdDSA")
    assert refusal(authority, token) == "malformed"


# -- calls ------------------------------------------------------------------------------------


def test_replayed_call_id_is_refused(authority: CredentialAuthority) -> None:
    credential = authority.issue(AGENT, RUN)
    call(authority, credential, call_id="call-1")
    with pytest.raises(CredentialRefused) as refused:
        call(authority, credential, call_id="call-1")
    assert refused.value.reason == "replayed"
    # Nor with another tool: the id is spent, whatever the call it is put on.
    with pytest.raises(CredentialRefused) as refused:
        call(authority, credential, call_id="call-1", tool="lookup")
    assert refused.value.reason == "replayed"
    call(authority, credential, call_id="call-2")
    # Ids are single-use per credential: a renewed credential names its own calls (the
    # runtime's ids are per run, `s3c0`, and a call resumed after a pause is re-proved).
    renewed = authority.issue(AGENT, RUN)
    call(authority, renewed, call_id="call-1")
    with pytest.raises(CredentialRefused) as refused:
        call(authority, renewed, call_id="call-1")
    assert refused.value.reason == "replayed"


@pytest.mark.parametrize(
    "presented",
    [
        {"args_hash": hashlib.sha256(b'{"amount":5000}').hexdigest()},
        {"tool": "delete_account"},
        {"call_id": "call-9"},
    ],
    ids=["args", "tool", "call-id"],
)
def test_call_that_differs_from_its_proof_is_refused(
    authority: CredentialAuthority, presented: dict[str, str]
) -> None:
    credential = authority.issue(AGENT, RUN)
    proof = bind(credential, call_id="call-1", tool="refund", args_hash=ARGS)
    with pytest.raises(CredentialRefused) as refused:
        call(authority, credential, proof=proof, **presented)
    assert refused.value.reason == "call-mismatch"


def test_call_for_another_run_is_refused(authority: CredentialAuthority) -> None:
    """Even proved with the credential's own key, a call must belong to the credential's run."""
    credential = authority.issue(AGENT, RUN)
    message = call_message(AGENT, "run-2", "refund", ARGS, "call-1")
    proof = call_proof(credential.mac_key, message)
    with pytest.raises(CredentialRefused) as refused:
        call(authority, credential, proof=proof, run="run-2")
    assert refused.value.reason == "call-mismatch"


@pytest.mark.parametrize("change", ["flip", "empty", "non-ascii", "other-key"])
def test_tampered_proof_is_refused(authority: CredentialAuthority, change: str) -> None:
    credential = authority.issue(AGENT, RUN)
    proof = bind(credential, call_id="call-1", tool="refund", args_hash=ARGS)
    tampered = {
        "flip": proof[:-1] + ("0" if proof[-1] != "0" else "1"),
        "empty": "",
        "non-ascii": proof[:-1] + "é",
        "other-key": bind(
            authority.issue(AGENT, RUN), call_id="call-1", tool="refund", args_hash=ARGS
        ),
    }[change]
    with pytest.raises(CredentialRefused) as refused:
        call(authority, credential, proof=tampered)
    assert refused.value.reason == "call-mismatch"
    # The refused attempt did not use up the id: the genuine call still goes through.
    call(authority, credential, proof=proof)


def test_fields_cannot_be_shifted_between_each_other() -> None:
    """Length prefixes: moving characters from one field to the next changes the message."""
    assert call_message("a", "r", "t|x", "h", "c") != call_message("a", "r", "t", "x|h", "c")
    assert call_message("a", "r", "t", "", "c") != call_message("a", "r", "", "t", "c")


@pytest.mark.parametrize(
    ("agent_id", "run", "tool", "args_hash", "call_id"),
    [
        (AGENT, RUN, "refund", ARGS, "call-1"),
        ("", "", "", "", ""),
        ("a|b", "r:1", "t\u00e9l\u00e9", "h" * 300, "s3c0"),
        ("agent\ud800", RUN, "tool\udfff", ARGS, "\U0001f600"),  # lone surrogates
    ],
)
def test_a_credentials_mac_proves_exactly_the_call_message(
    agent_id: str, run: str, tool: str, args_hash: str, call_id: str
) -> None:
    """The per-credential MAC, which hashes the agent and run once, gives the proof of the
    whole message: the runner's proofs and the authority's checks agree with `call_proof`."""
    key = hashlib.sha256(b"key").digest()
    expected = call_proof(key, call_message(agent_id, run, tool, args_hash, call_id))
    mac = CallMac(key, agent_id, run)
    assert mac.proof(tool, args_hash, call_id) == expected
    assert mac.proof(tool, args_hash, call_id) == expected  # its state is left as it was


# -- verification once per credential ---------------------------------------------------------


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token PyJWT is asked to verify (each such call checks a signature)."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return seen


def test_signature_is_verified_once_per_credential(
    authority: CredentialAuthority, clock: FakeClock, key: Ed25519PrivateKey, decodes: list[str]
) -> None:
    # A token this authority signed is known genuine: its calls never decode it.
    own = authority.issue(AGENT, RUN)
    for n in range(50):
        call(authority, own, call_id=f"call-{n}")
    assert decodes == []
    # One it did not sign (here another authority's, with the same key) is checked once.
    peer = CredentialAuthority(clock, signing_key=key, new_id=CountingTokens("peer"))
    first = peer.issue(AGENT, RUN)
    for _ in range(50):
        authority.verify(first.token, AGENT)
    assert decodes == [first.token]
    second = peer.issue(AGENT, RUN)
    authority.verify(second.token, AGENT)
    authority.verify(second.token, AGENT)
    assert decodes == [first.token, second.token]


def test_verification_cache_is_bounded_and_drops_expired_first(
    clock: FakeClock, key: Ed25519PrivateKey, decodes: list[str]
) -> None:
    authority = CredentialAuthority(clock, signing_key=key, cache_size=2)
    peer = CredentialAuthority(clock, signing_key=key)  # its tokens need verifying
    early = peer.issue("a-1", RUN)
    clock.advance(10 * 60)
    later = peer.issue("b-1", RUN)
    authority.verify(later.token, "b-1")  # cached first, but expires last
    authority.verify(early.token, "a-1")
    clock.advance(6 * 60)  # `early` has expired, `later` has not
    newest = peer.issue("c-1", RUN)
    authority.verify(newest.token, "c-1")
    assert len(decodes) == 3
    authority.verify(later.token, "b-1")
    assert len(decodes) == 3, "a valid entry was evicted while an expired one could go"
    third = peer.issue("d-1", RUN)
    authority.verify(third.token, "d-1")  # full of valid entries: the oldest goes
    authority.verify(newest.token, "c-1")
    assert len(decodes) == 4
    authority.verify(later.token, "b-1")
    assert decodes[-1] == later.token


# -- replay guard -----------------------------------------------------------------------------


def test_recent_call_ids_are_forgotten_only_after_the_retention(clock: FakeClock) -> None:
    seen = RecentCallIds(clock, retain_s=LIFETIME)
    assert seen.claim("call-1")
    clock.advance(LIFETIME - 1)
    assert not seen.claim("call-1")
    assert seen.claim("call-2")
    clock.advance(1)
    assert seen.claim("call-1")
    assert not seen.claim("call-2")
    clock.advance(LIFETIME)
    assert seen.claim("call-3")
    assert len(seen) == 1  # memory holds only the ids of the last retention period


def test_default_guard_outlives_every_credential_that_could_replay(
    authority: CredentialAuthority, clock: FakeClock
) -> None:
    """An id used as soon as its credential was issued is remembered until it expires."""
    credential = authority.issue(AGENT, RUN)
    call(authority, credential, call_id="early")
    clock.advance(LIFETIME - 1)  # the last second the credential is valid
    with pytest.raises(CredentialRefused) as refused:
        call(authority, credential, call_id="early")
    assert refused.value.reason == "replayed"


def test_renewal_margin_must_fit_in_the_lifetime(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        CredentialAuthority(clock, lifetime_s=60, renewal_margin_s=60)
