"""Pinned server keys (trust on first use, like SSH's ``known_hosts``): the record and the port storage implements.

Light on purpose (no cryptography here): the registry imports it. The decisions are in
docs/decisions/0026-server-identity.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

#: How a key came to be pinned: seen first, accepted by the person after a change, or rotated to by the server with
#: a rotation its pinned key signed.
PinOrigin = Literal["first_use", "accepted", "rotated"]
PIN_ORIGINS: tuple[PinOrigin, ...] = ("first_use", "accepted", "rotated")


@dataclass(frozen=True, slots=True)
class KeyPin:
    """A server's pinned Ed25519 key.

    ``fingerprint``: ``SHA256:`` and the base64url SHA-256 of the raw 32-byte key (what the draft's DNS record
    carries); ``public_key``: the key itself (the JWK's ``x``), needed to check a rotation the pinned key signed;
    ``signs_tools``: the server was seen signing its tools with this key, so from then on an unsigned tool is held;
    ``previous_fingerprint``: the key this one replaced (accepted or rotated), for the record.
    """

    fingerprint: str
    public_key: str
    kid: str
    pinned_at: float
    origin: PinOrigin = "first_use"
    signs_tools: bool = False
    previous_fingerprint: str | None = None


@runtime_checkable
class KeyPins(Protocol):
    """Where pinned keys live (the registry implements it: :class:`desktop_app.storage.key_pins.KeyPinQueries`)."""

    def key_pin(self, server_id: int) -> KeyPin | None:
        """The server's pinned key, if any."""
        ...

    def pin_key(self, server_id: int, pin: KeyPin) -> KeyPin:
        """Pin ``pin`` when the server has no pin (first use); when the same key is pinned, only remember that it
        signs tools (never forgotten once seen); a different pinned key is left alone. Returns what is pinned now."""
        ...

    def replace_key_pin(self, server_id: int, pin: KeyPin | None, *, expected: str) -> bool:
        """Replace the pin (``None``: forget it) only while the pinned fingerprint is still ``expected``; False when
        it is not (another process changed it meanwhile, or there is none)."""
        ...
