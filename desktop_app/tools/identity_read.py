"""A server's identity read and checked, without I/O: the ``identity/get`` result (draft §3, §5.1), the answer to
``identity/challenge`` (§5.2) and the domain's DNS record (§3.4).

:func:`read_identity` returns a :class:`ServerIdentity` whose key proved itself (every self-attestation verifies)
or raises :class:`IdentityInvalid` saying why not. Publisher attestations are kept as claims (see
:class:`PublisherClaim`: the draft names no trust root, ADR 0026); revocations are kept for the caller, who knows the
pinned key that must have signed them. What the draft leaves open and how it is read here: ADR 0026.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from desktop_app.tools.identity_errors import IdentityInvalid
from desktop_app.tools.identity_keys import (
    MAX_TEXT,
    BadValue,
    PublicKey,
    b64url_encode,
    canonical,
    parse_time,
    public_key,
    signature,
    text,
)

#: The most attestations one identity may list.
MAX_ATTESTATIONS = 32
#: The most TXT strings looked at for one domain.
MAX_DNS_RECORDS = 32
#: The revocation reason that makes a rotation worthless: whoever holds the old key may have signed it (§3.5 note).
KEY_COMPROMISE = "key-compromise"
#: The smallest challenge nonce (§5.2: at least 32 random bytes).
NONCE_BYTES = 32

DnsOutcome = Literal["not_checked", "no_record", "match", "mismatch"]


@dataclass(frozen=True, slots=True)
class PublisherClaim:
    """A ``publisher`` attestation: who says they published the server. ``valid``: its signature verifies with the
    publisher key it carries and it has not expired (``problem`` says otherwise). The draft defines no trust root
    and its signed payload does not name the server's key, so this is a claim shown to the person, never a proof."""

    name: str | None
    url: str | None
    fingerprint: str | None
    valid: bool
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Revocation:
    """A ``revocation`` attestation (§3.5): ``revoked_kid`` replaced by ``replacement_kid``, signed by the old key
    over ``payload`` (the attestation without ``signature``, RFC 8785). Checked against a pinned key by the caller."""

    revoked_kid: str
    replacement_kid: str
    reason: str | None
    signature: bytes
    payload: bytes

    def signed_by(self, key: PublicKey) -> bool:
        return key.verifies(self.signature, self.payload)

    @property
    def compromise(self) -> bool:
        return self.reason == KEY_COMPROMISE


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """A key that proved itself in its self-attestation, with what else the server said about it."""

    key: PublicKey
    signed_at: str
    publishers: tuple[PublisherClaim, ...] = ()
    revocations: tuple[Revocation, ...] = ()
    #: Attestations left aside: of types the draft does not define, or malformed ones of optional types.
    ignored: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint


def read_identity(result: object, *, now: float, url: str | None = None) -> ServerIdentity:
    """The ``identity/get`` result: a well-formed Ed25519 JWK and at least one self-attestation, each of which
    verifies (§3.3: required); a revocation naming the presented key itself refuses it."""
    try:
        return _read(result, now=now)
    except BadValue as exc:
        raise IdentityInvalid(str(exc), url=url) from exc


def _read(result: object, *, now: float) -> ServerIdentity:
    if not isinstance(result, Mapping):
        raise BadValue("the identity/get result is not an object")
    key = public_key(result.get("publicKey"))
    attestations = result.get("attestations")
    if not isinstance(attestations, list) or not attestations:
        raise BadValue("the identity/get result lists no attestations")
    if len(attestations) > MAX_ATTESTATIONS:
        raise BadValue(f"the identity/get result lists more than {MAX_ATTESTATIONS} attestations")
    signed_at: str | None = None
    publishers: list[PublisherClaim] = []
    revocations: list[Revocation] = []
    ignored: list[str] = []
    for index, item in enumerate(attestations):
        what = f"attestations[{index}]"
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "self":
            signed_at = _self_attestation(item, key, what=what)
        elif kind == "publisher":
            publishers.append(_publisher(item, now=now, what=what))
        elif kind == "revocation":
            try:
                revocations.append(_revocation(item, what=what))
            except BadValue as exc:
                ignored.append(str(exc))
        else:
            ignored.append(f"{what} is of a type this app does not know")
    if signed_at is None:
        raise BadValue("there is no self-attestation (the draft requires one)")
    if any(r.revoked_kid == key.kid for r in revocations):
        raise BadValue("the server lists its own key as revoked")
    return ServerIdentity(key, signed_at, tuple(publishers), tuple(revocations), tuple(ignored))


def _self_attestation(item: Mapping[str, Any], key: PublicKey, *, what: str) -> str:
    """§3.3: the signature over RFC 8785 of exactly ``type``, ``publicKey`` (the whole JWK as sent), ``signedAt``."""
    signed_at = text(item.get("signedAt"), what=f"{what}.signedAt")
    payload = canonical({"type": "self", "publicKey": key.jwk, "signedAt": signed_at})
    if not key.verifies(signature(item.get("signature"), what=f"{what}.signature"), payload):
        raise BadValue(f"the self-attestation's signature ({what}) does not verify with the server's key")
    return signed_at


def _without_signature(item: Mapping[str, Any], *, what: str) -> tuple[bytes, bytes]:
    """(signature, signed bytes): the draft signs the attestation object without its ``signature`` member."""
    signed = signature(item.get("signature"), what=f"{what}.signature")
    try:
        payload = canonical({k: v for k, v in item.items() if k != "signature"})
    except BadValue as exc:
        raise BadValue(f"{what} {exc}") from exc
    return signed, payload


def _publisher(item: Mapping[str, Any], *, now: float, what: str) -> PublisherClaim:
    issuer = item.get("issuer")
    issuer = issuer if isinstance(issuer, dict) else {}
    name = issuer.get("name") if isinstance(issuer.get("name"), str) else None
    link = issuer.get("url") if isinstance(issuer.get("url"), str) else None
    name, link = (v[:MAX_TEXT] if v else None for v in (name, link))
    try:
        key = public_key(issuer.get("publicKey"), what=f"{what}.issuer.publicKey", need_kid=False)
    except BadValue as exc:
        return PublisherClaim(name, link, None, False, str(exc))
    try:
        signed, payload = _without_signature(item, what=what)
        if "expiresAt" in item and parse_time(item["expiresAt"], what=f"{what}.expiresAt") <= now:
            return PublisherClaim(name, link, key.fingerprint, False, "it has expired")
    except BadValue as exc:
        return PublisherClaim(name, link, key.fingerprint, False, str(exc))
    if not key.verifies(signed, payload):
        return PublisherClaim(name, link, key.fingerprint, False, "its signature does not verify")
    return PublisherClaim(name, link, key.fingerprint, True)


def _revocation(item: Mapping[str, Any], *, what: str) -> Revocation:
    revoked = text(item.get("revokedKid"), what=f"{what}.revokedKid")
    replacement = text(item.get("replacementKid"), what=f"{what}.replacementKid")
    reason = item.get("reason")
    if reason is not None:
        reason = text(reason, what=f"{what}.reason")
    signed, payload = _without_signature(item, what=what)
    return Revocation(revoked, replacement, reason, signed, payload)


# --- challenge-response (§5.2) -----------------------------------------------------------------------------------


def challenge_answered(answer: object, key: PublicKey, *, nonce: bytes, timestamp: str) -> None:
    """The server signed ``nonce || timestamp`` (UTF-8) with the key it presented, naming that key's ``kid``."""
    try:
        if not isinstance(answer, Mapping):
            raise BadValue("the identity/challenge result is not an object")
        kid = text(answer.get("kid"), what="the challenge answer's kid")
        signed = signature(answer.get("signature"), what="the challenge answer's signature")
    except BadValue as exc:
        raise IdentityInvalid(str(exc)) from exc
    if kid != key.kid:
        raise IdentityInvalid("the challenge was answered with another key (kid)")
    if not key.verifies(signed, nonce + timestamp.encode("utf-8")):
        raise IdentityInvalid("the challenge answer's signature does not verify: the server does not hold its key")


# --- DNS (§3.4) ----------------------------------------------------------------------------------------------------


def dns_name(server_url: str) -> str | None:
    """``_mcp-identity.<host>`` for the server's URL; None for an IP address or a single-label name (``localhost``),
    which DNS cannot vouch for."""
    host = (urlsplit(server_url).hostname or "").rstrip(".").lower()
    if not host or "." not in host:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return f"_mcp-identity.{host}"
    return None


def _dns_fields(record: str) -> dict[str, str] | None:
    """``v=mcp1; kid=...; fp=...`` as a dict; None for a record of another kind or version."""
    fields: dict[str, str] = {}
    for part in record.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(name.strip().lower(), value.strip())
    return fields if fields.get("v") == "mcp1" else None


def check_dns(records: Sequence[str] | None, key: PublicKey) -> DnsOutcome:
    """§3.4: a ``v=mcp1`` TXT record whose ``kid`` and ``fp`` both match the key; ``mismatch`` when the domain
    publishes such records and none matches (the domain names another key)."""
    if records is None:
        return "not_checked"
    found = [f for r in list(records)[:MAX_DNS_RECORDS] if isinstance(r, str) and (f := _dns_fields(r)) is not None]
    if not found:
        return "no_record"
    expected = key.fingerprint.removeprefix("SHA256:")
    if any(f.get("kid") == key.kid and f.get("fp") == expected for f in found):
        return "match"
    return "mismatch"


def nonce_param(nonce: bytes) -> str:
    """The challenge as sent: unpadded base64url of at least :data:`NONCE_BYTES` bytes."""
    if len(nonce) < NONCE_BYTES:
        raise ValueError(f"a challenge needs at least {NONCE_BYTES} random bytes")
    return b64url_encode(nonce)
