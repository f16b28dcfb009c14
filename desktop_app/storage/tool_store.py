"""The tool control's tables in the registry (:class:`desktop_app.tools.ports.ToolStore` on SQLite).

A view on a registry's connection (:class:`~desktop_app.storage.registry_db.RegistryDatabase`): the same file, lock
and transactions as every other query, so a bridge, the window and the command line share one truth. Definitions are
stored as their RFC 8785 text; the tables are made by the ``_tool_control`` migration (storage/schema.py).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping

from desktop_app.storage.registry_db import RegistryDatabase
from desktop_app.storage.registry_rows import insert_event, require_account
from desktop_app.tools.canonical import ToolDefinition, definition_from_text
from desktop_app.tools.model import ToolBook, ToolChange, ToolRecord, ToolSettings
from desktop_app.tools.policy import EVENT_KIND
from desktop_app.tools.ports import Decide

log = logging.getLogger(__name__)

#: The ``settings`` rows of the profile's defaults ("on" / "off"; absent: the default).
DESTRUCTIVE_OFF = "tools_destructive_off"
NEW_NEED_APPROVAL = "tools_new_need_approval"

_COLUMNS = (
    "name, enabled, hold, pinned, pending, identity_hold, identity_accepted, first_seen, changed_at, approved_at, "
    "gone_at"
)


class SqliteToolStore:
    """The tool records of every connector of one registry (see the module)."""

    def __init__(self, database: RegistryDatabase) -> None:
        self._db = database

    @classmethod
    def of(cls, registry: object) -> SqliteToolStore:
        """The store of a profile's registry (what ``Accounts.registry`` is when it was opened from a profile)."""
        if not isinstance(registry, RegistryDatabase):
            raise TypeError(f"tool switches are kept in a SQLite registry, not in {type(registry).__name__}")
        return cls(registry)

    # -- settings --------------------------------------------------------------------------------------------
    def tool_settings(self) -> ToolSettings:
        with self._db._transaction(write=False) as conn:
            return _settings(conn)

    def set_tool_settings(self, settings: ToolSettings) -> None:
        with self._db._transaction(write=True) as conn:
            values = ((DESTRUCTIVE_OFF, settings.destructive_off), (NEW_NEED_APPROVAL, settings.new_need_approval))
            for key, value in values:
                conn.execute(
                    """INSERT INTO settings (key, value) VALUES (?, ?)
                       ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
                    (key, "on" if value else "off"),
                )

    # -- records ---------------------------------------------------------------------------------------------
    def tool_book(self, account_id: int) -> ToolBook:
        with self._db._transaction(write=False) as conn:
            return _book(conn, account_id)

    def tool_record(self, account_id: int, name: str) -> ToolRecord | None:
        with self._db._transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM tools WHERE account_id = ? AND name = ?",  # noqa: S608 - fixed columns
                (account_id, name),
            ).fetchone()
        return None if row is None else _record(row)

    def tool_revision(self, account_id: int) -> int:
        with self._db._transaction(write=False) as conn:
            row = conn.execute("SELECT revision FROM tool_connectors WHERE account_id = ?", (account_id,)).fetchone()
        return 0 if row is None else int(row[0])

    def update_tools(self, account_id: int, decide: Decide, *, now: float) -> tuple[ToolBook, ToolChange]:
        with self._db._transaction(write=True) as conn:
            account = require_account(conn, account_id)
            change = decide(_book(conn, account_id), _settings(conn))
            if change.empty:
                return _book(conn, account_id), change
            for record in change.write:
                _put(conn, account_id, record)
            for name in change.delete:
                conn.execute("DELETE FROM tools WHERE account_id = ? AND name = ?", (account_id, name))
            conn.execute(
                """INSERT INTO tool_connectors (account_id, revision, listed_at) VALUES (?, 1, ?)
                   ON CONFLICT (account_id) DO UPDATE SET revision = revision + 1,
                       listed_at = coalesce(listed_at, excluded.listed_at)""",
                (account_id, now if change.listed else None),
            )
            if change.event:
                insert_event(conn, account.server_id, account_id, EVENT_KIND, change.event, now)
            return _book(conn, account_id), change

    def tools_waiting(self) -> Mapping[int, int]:
        with self._db._transaction(write=False) as conn:
            rows = conn.execute(
                """SELECT account_id, count(*) FROM tools
                   WHERE hold IS NOT NULL OR identity_hold IS NOT NULL GROUP BY account_id"""
            ).fetchall()
        return {int(row[0]): int(row[1]) for row in rows}


def _settings(conn: sqlite3.Connection) -> ToolSettings:
    values = dict(
        conn.execute(
            "SELECT key, value FROM settings WHERE key IN (?, ?)", (DESTRUCTIVE_OFF, NEW_NEED_APPROVAL)
        ).fetchall()
    )
    defaults = ToolSettings()
    return ToolSettings(
        destructive_off=_switch(values.get(DESTRUCTIVE_OFF), defaults.destructive_off),
        new_need_approval=_switch(values.get(NEW_NEED_APPROVAL), defaults.new_need_approval),
    )


def _switch(value: object, default: bool) -> bool:
    return {"on": True, "off": False}.get(value, default) if isinstance(value, str) else default


def _book(conn: sqlite3.Connection, account_id: int) -> ToolBook:
    head = conn.execute(
        "SELECT revision, listed_at FROM tool_connectors WHERE account_id = ?", (account_id,)
    ).fetchone()
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM tools WHERE account_id = ? ORDER BY name",  # noqa: S608 - fixed columns
        (account_id,),
    ).fetchall()
    records = {}
    for row in rows:
        try:
            record = _record(row)
        except ValueError:  # written by hand or damaged: that tool is treated as never seen (held when it comes)
            log.warning("A stored tool of account %s cannot be read; it is left out", account_id)
            continue
        records[record.name] = record
    if head is None:
        return ToolBook(records)
    return ToolBook(records, listed=head[1] is not None, revision=int(head[0]))


def _definition(text: object) -> ToolDefinition | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError("a stored tool definition is not text")
    return definition_from_text(text)


def _record(row: sqlite3.Row | tuple[object, ...]) -> ToolRecord:
    name, enabled, hold, pinned, pending, identity_hold, accepted, first_seen, changed, approved, gone = tuple(row)
    if hold not in (None, "changed", "new"):
        raise ValueError("unknown hold")
    return ToolRecord(
        name=str(name),
        enabled=bool(enabled),
        first_seen=float(first_seen),
        hold=hold,
        pinned=_definition(pinned),
        pending=_definition(pending),
        identity_hold=None if identity_hold is None else str(identity_hold),
        identity_accepted=None if accepted is None else str(accepted),
        changed_at=None if changed is None else float(changed),
        approved_at=None if approved is None else float(approved),
        gone_at=None if gone is None else float(gone),
    )


def _put(conn: sqlite3.Connection, account_id: int, record: ToolRecord) -> None:
    conn.execute(
        f"""INSERT OR REPLACE INTO tools (account_id, {_COLUMNS})
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",  # noqa: S608 - fixed columns
        (
            account_id,
            record.name,
            int(record.enabled),
            record.hold,
            None if record.pinned is None else record.pinned.text(),
            None if record.pending is None else record.pending.text(),
            record.identity_hold,
            record.identity_accepted,
            record.first_seen,
            record.changed_at,
            record.approved_at,
            record.gone_at,
        ),
    )
