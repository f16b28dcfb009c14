"""Which notifications the tray shows: one setting per kind in the profile's registry (Preferences > Notifications).

A kind is on unless its setting says ``"off"``: a profile that never chose gets every notification, as before the
setting existed. The tray asks :func:`allowed` just before it shows a message; the tray icon's state and its menu say
the same things whatever is chosen here (docs/decisions/0033-preferences-about-filter.md).
"""

from __future__ import annotations

import logging
from typing import Literal, Protocol

from desktop_app.errors import ConnectorError

log = logging.getLogger(__name__)

#: What a notification is about: an account must sign in again, tools wait for a review, a sign-in that cannot be
#: renewed expires soon.
Kind = Literal["sign_in", "reviews", "expiring"]
KINDS: tuple[Kind, ...] = ("sign_in", "reviews", "expiring")

#: The registry key of each kind (``"off"``: not shown; anything else or none: shown).
SETTING: dict[Kind, str] = {
    "sign_in": "notify_sign_in",
    "reviews": "notify_reviews",
    "expiring": "notify_expiring",
}


class Settings(Protocol):
    """The part of the registry this needs (``desktop_app.accounts.ports.Registry`` has it)."""

    def get_setting(self, key: str) -> str | None: ...
    def set_setting(self, key: str, value: str | None) -> None: ...


def allowed(registry: Settings, kind: Kind) -> bool:
    """Whether the tray may show a notification of ``kind``. A registry that cannot be read (busy, gone) lets it
    through: a message too many is better than a missed sign-in."""
    try:
        return registry.get_setting(SETTING[kind]) != "off"
    except ConnectorError as exc:
        log.info("Could not read the notification setting %s: %s", kind, exc.code)
        return True


def set_allowed(registry: Settings, kind: Kind, on: bool) -> None:
    registry.set_setting(SETTING[kind], "on" if on else "off")
