"""The registry's pinned server keys: :class:`desktop_app.tools.identity_pins.KeyPins` on the ``server_key_pins``
table (schema migration 3). Each method is one transaction; replacing a pin compares and swaps, so two processes
that saw the same change cannot both act on it (docs/decisions/0026)."""

from __future__ import annotations

import sqlite3

from desktop_app.storage.registry_db import RegistryDatabase
from desktop_app.tools.identity_pins import PIN_ORIGINS, KeyPin


class KeyPinQueries(RegistryDatabase):
    """The key pin half of :class:`desktop_app.storage.registry.SqliteRegistry`."""

    def key_pin(self, server_id: int) -> KeyPin | None:
        with self._transaction(write=False) as conn:
            return _get(conn, server_id)

    def pin_key(self, server_id: int, pin: KeyPin) -> KeyPin:
        with self._transaction(write=True) as conn:
            current = _get(conn, server_id)
            if current is None:
                _insert(conn, server_id, pin)
                return pin
            if current.fingerprint == pin.fingerprint and pin.signs_tools and not current.signs_tools:
                conn.execute("UPDATE server_key_pins SET signs_tools = 1 WHERE server_id = ?", (server_id,))
                return _get(conn, server_id) or current
            return current

    def replace_key_pin(self, server_id: int, pin: KeyPin | None, *, expected: str) -> bool:
        with self._transaction(write=True) as conn:
            current = _get(conn, server_id)
            if current is None or current.fingerprint != expected:
                return False
            conn.execute("DELETE FROM server_key_pins WHERE server_id = ?", (server_id,))
            if pin is not None:
                _insert(conn, server_id, pin)
            return True


def _insert(conn: sqlite3.Connection, server_id: int, pin: KeyPin) -> None:
    conn.execute(
        """INSERT INTO server_key_pins (server_id, fingerprint, public_key, kid, pinned_at, origin, signs_tools,
                                        previous_fingerprint)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            server_id,
            pin.fingerprint,
            pin.public_key,
            pin.kid,
            pin.pinned_at,
            pin.origin,
            int(pin.signs_tools),
            pin.previous_fingerprint,
        ),
    )


def _get(conn: sqlite3.Connection, server_id: int) -> KeyPin | None:
    row = conn.execute("SELECT * FROM server_key_pins WHERE server_id = ?", (server_id,)).fetchone()
    if row is None:
        return None
    origin = next(o for o in PIN_ORIGINS if o == row["origin"])  # the table's CHECK allows only these
    return KeyPin(
        fingerprint=row["fingerprint"],
        public_key=row["public_key"],
        kid=row["kid"],
        pinned_at=row["pinned_at"],
        origin=origin,
        signs_tools=bool(row["signs_tools"]),
        previous_fingerprint=row["previous_fingerprint"],
    )
