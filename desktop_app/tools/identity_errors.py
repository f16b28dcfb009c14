"""The identity corners of the app's error tree (``desktop_app.errors``).

::

    ConnectorError
     ├── ProtocolViolation
     │    └── IdentityInvalid        the server declared the extension; what it sent does not prove its key
     ├── UserActionRequired
     │    └── KeyPinMoved            the pinned key changed while the person was deciding: look again
     └── ConfigurationError
          └── NothingToAccept        asked to accept a key, but the server's key did not change
"""

from __future__ import annotations

from desktop_app.errors import ConfigurationError, ProtocolViolation, UserActionRequired


class IdentityInvalid(ProtocolViolation):
    """The server declared the identity extension, but what it sent does not prove its key (``reason`` says what;
    the server's own words never appear in it)."""

    def __init__(self, reason: str, *, url: str | None = None) -> None:
        super().__init__("server_identity_invalid", f"The server's identity does not verify: {reason}.", url=url)
        self.reason = reason


class KeyPinMoved(UserActionRequired):
    """The key pinned for ``server`` is no longer the one the person was shown (another window or command changed
    it meanwhile): nothing was accepted."""

    def __init__(self, *, server: str) -> None:
        super().__init__(
            "server_key_pin_moved", f"The key pinned for {server} changed meanwhile; nothing was accepted."
        )
        self.server = server


class NothingToAccept(ConfigurationError):
    """Asked to accept a server's new key, but its key did not change (``status``: what the check found)."""

    def __init__(self, *, server: str, status: str) -> None:
        super().__init__("nothing_to_accept", f"{server}: there is no changed key to accept (identity {status}).")
        self.server = server
        self.status = status
