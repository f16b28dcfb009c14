"""Server identity and tool attestation, the client side (ext-auth pull request 17; docs/decisions/0026).

Pure apart from the pins it is given (no network, no clock): the caller gathers the :class:`Evidence`
(:mod:`desktop_app.tools.identity_fetch` asks the server and DNS) and calls :func:`attest`, which returns the
:class:`Attestation` the tool gate takes. The decision table, in order:

==================================================  ===============  ==============================================
what the server showed                              status           tools
==================================================  ===============  ==============================================
no extension, no pin                                ``not_attested``  as today
no extension, but a key is pinned (a downgrade)     ``key_changed``   all refused until the person accepts
extension, identity or challenge does not verify,   ``invalid``       all refused
its DNS record names another key, or it revokes
its own key
a verified key, nothing pinned                      ``first_use``     pinned now; each tool's signature checked
the pinned key                                      ``verified``      each tool's signature checked
another key, with a rotation the pinned key signed  ``verified``      pinned now (``pinned_fingerprint`` the old
(reason not ``key-compromise``)                                       one); each tool's signature checked
another key otherwise                               ``key_changed``   all refused until the person accepts
==================================================  ===============  ==============================================

A tool is held when its signature is malformed, names another key, or does not verify; when the server signs tools
(some tool of this list, or any list since the pin) an unsigned tool is held too. Accepting a changed key is the
person's act: :func:`accept_new_key`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

from desktop_app.tools.identity_errors import IdentityInvalid, KeyPinMoved, NothingToAccept
from desktop_app.tools.identity_keys import (
    EXTENSION,
    BadValue,
    PublicKey,
    b64url_decode,
    canonical,
    signature,
)
from desktop_app.tools.identity_pins import KeyPin, KeyPins
from desktop_app.tools.identity_read import (
    NONCE_BYTES,
    DnsOutcome,
    ServerIdentity,
    challenge_answered,
    check_dns,
    nonce_param,
    read_identity,
)

Status = Literal["not_attested", "first_use", "verified", "key_changed", "invalid"]

#: Why a tool is held (the tool gate shows it; the window and the command line may word it their way).
HOLD_UNSIGNED = "it is not signed, though this server signs its tools"
HOLD_MALFORMED = "its signature is malformed"
HOLD_OTHER_KEY = "it is signed with another key than the server's"
HOLD_NOT_CANONICAL = "its definition cannot be put in the signed form (RFC 8785)"
HOLD_BAD_SIGNATURE = "its signature does not verify"
#: Why every tool of a server is refused.
REFUSED_KEY_CHANGED = "the server's identity key changed since it was pinned"
REFUSED_STOPPED = "the server no longer proves its identity, though its key was pinned"
REFUSED_COMPROMISED = "the server's pinned key was revoked as compromised"
REFUSED_DNS = "the domain's DNS record names another key"
#: The members of a tool definition its signature covers (draft §4.1; ``outputSchema`` when present).
SIGNED_MEMBERS = ("name", "description", "inputSchema", "outputSchema")


@dataclass(frozen=True, slots=True)
class Attestation:
    """What the tool gate needs: whether the server may be used at all, and which tools are held and why."""

    status: Literal["not_attested", "first_use", "verified", "key_changed", "invalid"]
    fingerprint: str | None  # the server key's, shown to the person
    pinned_fingerprint: str | None  # what was pinned before (for key_changed; the old key after a rotation)
    server_refused: str | None  # set when every tool must be refused (key changed / revoked / invalid)
    holds: Mapping[str, str]  # tool name -> why it is held ("its signature does not verify")
    verified_tools: frozenset[str]


@dataclass(frozen=True, slots=True)
class Challenge:
    """What we sent with ``identity/challenge``: a fresh nonce and our clock's time (draft §5.2)."""

    nonce: bytes
    timestamp: str

    def params(self) -> dict[str, str]:
        return {"challenge": nonce_param(self.nonce), "timestamp": self.timestamp}


def new_challenge(now: float, *, random: Callable[[int], bytes] = secrets.token_bytes) -> Challenge:
    """32 random bytes and ``now`` as ``YYYY-MM-DDTHH:MM:SSZ``."""
    moment = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Challenge(random(NONCE_BYTES), moment)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the server (and DNS) said, gathered by :mod:`desktop_app.tools.identity_fetch` or a test.

    ``identity``: the ``identity/get`` result; ``challenge`` and ``answer``: what we sent and the
    ``identity/challenge`` result; ``dns``: the TXT strings at ``_mcp-identity.<host>`` (None: not looked up);
    ``failure``: why asking the server failed (its request refused, a malformed answer), in our words.
    """

    identity: Mapping[str, Any] | None = None
    challenge: Challenge | None = None
    answer: Mapping[str, Any] | None = None
    dns: tuple[str, ...] | None = None
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """:func:`assess`'s full answer: the :class:`Attestation`, and for the person what stands behind it."""

    attestation: Attestation
    identity: ServerIdentity | None = None
    dns: DnsOutcome = "not_checked"
    problem: str | None = None  # why the identity is invalid
    pin: KeyPin | None = field(default=None)  # what is pinned after the check


def declared(handshake_result: Mapping[str, Any]) -> bool:
    """Whether the ``initialize`` or ``server/discover`` result declares the extension (version 1.x, draft §2)."""
    capabilities = handshake_result.get("capabilities")
    extensions = capabilities.get("extensions") if isinstance(capabilities, dict) else None
    settings = extensions.get(EXTENSION) if isinstance(extensions, dict) else None
    if not isinstance(settings, dict):
        return False
    version = settings.get("version", "1")
    return isinstance(version, str) and version.split(".")[0] == "1"


def attest(
    server_id: int,
    handshake_result: Mapping[str, Any],
    evidence: Evidence,
    tools: Sequence[Mapping[str, Any]],
    pins: KeyPins,
    *,
    now: float,
) -> Attestation:
    """The server's identity against its pin, and each tool's signature (the module's table). Pins a first key,
    and a rotation its pinned key signed."""
    return assess(server_id, handshake_result, evidence, tools, pins, now=now).attestation


def assess(
    server_id: int,
    handshake_result: Mapping[str, Any],
    evidence: Evidence,
    tools: Sequence[Mapping[str, Any]],
    pins: KeyPins,
    *,
    now: float,
) -> Assessment:
    """:func:`attest`, with the identity, the DNS outcome and the problem behind it."""
    pin = pins.key_pin(server_id)
    pinned = pin.fingerprint if pin is not None else None
    if not declared(handshake_result):
        if pin is None:
            return Assessment(_refused("not_attested", None, None, None))
        return Assessment(_refused("key_changed", None, pinned, REFUSED_STOPPED), pin=pin)
    try:
        identity = _proven(evidence, now=now)
    except IdentityInvalid as exc:
        return Assessment(_refused("invalid", None, pinned, exc.message), problem=exc.reason, pin=pin)
    key = identity.key
    dns = check_dns(evidence.dns, key)
    if dns == "mismatch":
        invalid = _refused("invalid", key.fingerprint, pinned, REFUSED_DNS)
        return Assessment(invalid, identity, dns, REFUSED_DNS, pin)
    status: Status = "verified"
    if pin is None:
        pin = pins.pin_key(server_id, KeyPin(key.fingerprint, key.x, key.kid, now))
        status = "first_use" if pin.fingerprint == key.fingerprint else "key_changed"
    elif pin.fingerprint != key.fingerprint:
        rotated = _rotation(identity, pin, now=now)
        if rotated is None or not pins.replace_key_pin(server_id, rotated, expected=pin.fingerprint):
            refusal = REFUSED_COMPROMISED if _compromised(identity, pin) else REFUSED_KEY_CHANGED
            return Assessment(
                _refused("key_changed", key.fingerprint, pin.fingerprint, refusal), identity, dns, pin=pin
            )
        pin = rotated
    if status == "key_changed":  # another process pinned another key a moment ago
        refused = _refused("key_changed", key.fingerprint, pin.fingerprint, REFUSED_KEY_CHANGED)
        return Assessment(refused, identity, dns, pin=pin)
    holds, verified = check_tools(tools, key, signs_tools=pin.signs_tools)
    if verified and not pin.signs_tools:
        pin = pins.pin_key(server_id, replace(pin, signs_tools=True))
    before = pinned if pinned != key.fingerprint else None
    pinned_before = before if status == "verified" else None
    attestation = Attestation(status, key.fingerprint, pinned_before, None, MappingProxyType(holds), verified)
    return Assessment(attestation, identity, dns, pin=pin)


def accept_new_key(server_id: int, server: str, assessment: Assessment, pins: KeyPins, *, now: float) -> KeyPin | None:
    """The person accepts what :func:`assess` found changed, having seen both fingerprints: the new key is pinned
    (``None``: the pin is forgotten, for a server that stopped proving its identity). Raises
    :class:`NothingToAccept` when nothing changed, :class:`KeyPinMoved` when the pin is no longer the one shown."""
    found = assessment.attestation
    if found.status != "key_changed" or found.pinned_fingerprint is None:
        raise NothingToAccept(server=server, status=found.status)
    identity = assessment.identity
    new = None
    if identity is not None:
        key = identity.key
        new = KeyPin(key.fingerprint, key.x, key.kid, now, "accepted", previous_fingerprint=found.pinned_fingerprint)
    if not pins.replace_key_pin(server_id, new, expected=found.pinned_fingerprint):
        raise KeyPinMoved(server=server)
    return new


def check_tools(
    tools: Sequence[Mapping[str, Any]], key: PublicKey, *, signs_tools: bool
) -> tuple[dict[str, str], frozenset[str]]:
    """(held tool → why, tools whose signature verifies). A name listed twice is verified only if every entry is."""
    signed_here = any(_signature_entry(tool) is not None for tool in tools if isinstance(tool, Mapping))
    holds: dict[str, str] = {}
    verified: set[str] = set()
    for tool in tools:
        name = tool.get("name") if isinstance(tool, Mapping) else None
        if not isinstance(name, str):
            continue
        why = _tool_problem(tool, key, expect_signature=signs_tools or signed_here)
        if why is None:
            verified.add(name)
        elif why:
            holds.setdefault(name, why)
    return holds, frozenset(verified - holds.keys())


def _tool_problem(tool: Mapping[str, Any], key: PublicKey, *, expect_signature: bool) -> str | None:
    """None: verified; ``""``: unsigned and not expected to be; else why the tool is held."""
    entry = _signature_entry(tool)
    if entry is None:
        return HOLD_UNSIGNED if expect_signature else ""
    if not isinstance(entry, Mapping):
        return HOLD_MALFORMED
    try:
        signed = signature(entry.get("signature"))
    except BadValue:
        return HOLD_MALFORMED
    if entry.get("kid") != key.kid:
        return HOLD_OTHER_KEY
    try:
        payload = canonical({member: tool[member] for member in SIGNED_MEMBERS if member in tool})
    except BadValue:
        return HOLD_NOT_CANONICAL
    return None if key.verifies(signed, payload) else HOLD_BAD_SIGNATURE


def _signature_entry(tool: Mapping[str, Any]) -> object:
    meta = tool.get("_meta")
    return meta.get(EXTENSION) if isinstance(meta, Mapping) else None


def _proven(evidence: Evidence, *, now: float) -> ServerIdentity:
    """The identity, its self-attestation and the challenge answered with its key; else :class:`IdentityInvalid`."""
    if evidence.failure is not None:
        raise IdentityInvalid(evidence.failure)
    if evidence.identity is None:
        raise IdentityInvalid("it declares the identity extension but its identity was not read")
    identity = read_identity(evidence.identity, now=now)
    if evidence.challenge is None or evidence.answer is None:
        raise IdentityInvalid("its identity challenge was not answered")
    challenge = evidence.challenge
    challenge_answered(evidence.answer, identity.key, nonce=challenge.nonce, timestamp=challenge.timestamp)
    return identity


def _rotation(identity: ServerIdentity, pin: KeyPin, *, now: float) -> KeyPin | None:
    """The new pin when a revocation signed by the pinned key hands over to the presented key, for a reason other
    than compromise (draft §3.5: such a revocation is worthless after a compromise); else None."""
    old = _pinned_key(pin)
    key = identity.key
    for revocation in identity.revocations:
        if (
            revocation.revoked_kid == pin.kid
            and revocation.replacement_kid == key.kid
            and not revocation.compromise
            and old is not None
            and revocation.signed_by(old)
        ):
            return KeyPin(key.fingerprint, key.x, key.kid, now, "rotated", pin.signs_tools, pin.fingerprint)
    return None


def _compromised(identity: ServerIdentity, pin: KeyPin) -> bool:
    old = _pinned_key(pin)
    return old is not None and any(
        r.revoked_kid == pin.kid and r.compromise and r.signed_by(old) for r in identity.revocations
    )


def _pinned_key(pin: KeyPin) -> PublicKey | None:
    try:
        return PublicKey(b64url_decode(pin.public_key, what="the pinned key", size=32), pin.kid, {})
    except BadValue:
        return None


def _refused(status: Status, fingerprint: str | None, pinned: str | None, why: str | None) -> Attestation:
    return Attestation(status, fingerprint, pinned, why, MappingProxyType({}), frozenset())
