"""The servers/accounts tree model: consistent for Qt (qtmodeltester), minimal changes, the words it shows."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QPersistentModelIndex, Qt

from desktop_app.accounts.models import Account, AccountState, Server, ServerSettings
from desktop_app.ui.model import ACCOUNT_ROLE, SERVER_ROLE, STATE, TONE_ROLE, ConnectorsModel

NOW = 1_800_000_000.0


def server(n: int, name: str | None = None) -> Server:
    return Server(
        n, f"https://s{n}.example/mcp", f"https://s{n}.example/mcp", name or f"s{n}", None, ServerSettings(), NOW - 1000
    )


def account(n: int, server_id: int, **changes: object) -> Account:
    base = Account(
        id=n,
        key=f"k{n}",
        server_id=server_id,
        issuer="https://login.example",
        client_id="c",
        subject=f"u{n}",
        label=f"user{n}@example.com",
        identity_source="id_token",
        login_hint=None,
        nickname=None,
        state=AccountState.SIGNED_IN,
        scopes=("files:read",),
        expires_at=NOW + 3000,
        has_refresh_token=True,
        created_at=NOW - 500,
        signed_in_at=NOW - 500,
        last_refresh=NOW - 120,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_model_passes_qtmodeltester_through_changes(qtmodeltester) -> None:
    """The tester checks the model once, then watches every insertion, removal and change that follows."""
    model = ConnectorsModel(clock=lambda: NOW)
    s1, s2, s3 = server(1), server(2), server(3)
    model.set_snapshot([(s1, [account(1, 1), account(2, 1)]), (s2, [])])
    qtmodeltester.check(model, force_py=True)
    model.set_snapshot([(s1, [account(2, 1), account(3, 1)]), (s2, [account(4, 2)]), (s3, [])])
    model.set_snapshot([(s3, [account(5, 3)])])
    model.set_snapshot([(s2, []), (s3, [account(5, 3)])])
    model.set_snapshot([(s3, []), (s2, [])])  # moved: a reset
    model.refresh_times()
    model.account_changed(5)
    model.set_snapshot([])
    assert model.rowCount() == 0


def test_changes_are_rows_not_resets_so_selection_survives(qtbot) -> None:
    model = ConnectorsModel(clock=lambda: NOW)
    s1 = server(1)
    model.set_snapshot([(s1, [account(1, 1), account(2, 1)])])
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    kept = QPersistentModelIndex(model.index_of_account(2))
    # alice renewed, a new account arrived before bob, another server appeared.
    model.set_snapshot([(s1, [account(1, 1, last_refresh=NOW), account(3, 1), account(2, 1)]), (server(2), [])])
    assert resets == []
    assert kept.isValid() and model.account_at(kept).id == 2
    assert [model.account_at(model.index(r, 0, model.index(0, 0))).id for r in range(3)] == [1, 3, 2]
    # Rows that moved (a rename re-sorted the servers): a reset, and still right.
    model.set_snapshot([(server(2), []), (s1, [account(1, 1)])])
    assert resets == [1]
    assert model.server_at(model.index(0, 0)).id == 2


def test_what_each_row_says() -> None:
    model = ConnectorsModel(clock=lambda: NOW, busy=lambda account_id: "Renewing" if account_id == 4 else None)
    accounts = [
        account(1, 1),
        account(2, 1, state=AccountState.NEEDS_SIGN_IN, last_error="invalid_grant: the grant was revoked"),
        account(3, 1, state=AccountState.SIGNED_OUT, nickname="old"),
        account(4, 1),
        account(5, 1, last_error="the server answered 503", failures=2),
        account(6, 1, expires_at=NOW - 10, has_refresh_token=False),
    ]
    model.set_snapshot([(server(1, "Files"), accounts)])
    parent = model.index(0, 0)
    states = [model.index(r, STATE, parent).data() for r in range(6)]
    assert states == [
        "Signed in",  # the expiry is in the details and the tooltip
        "Needs sign-in",
        "Signed out",
        "Renewing…",
        "Signed in · renewal failing (kept; will retry)",
        "Expired · sign in again",
    ]
    tones = [model.index(r, 0, parent).data(TONE_ROLE) for r in range(6)]
    assert tones == ["good", "attention", "idle", "working", "problem", "attention"]
    assert model.index(2, 0, parent).data() == "old (user3@example.com)"
    assert "the grant was revoked" in model.index(1, 0, parent).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, 0).data() == "Files" and model.index(0, STATE).data() == "1 of 5 accounts need sign-in"
    assert model.index(0, 0, parent).data(ACCOUNT_ROLE).id == 1
    assert model.index(0, 0, parent).data(SERVER_ROLE).name == "Files"
    assert model.index(0, 3, parent).data() == "2 min ago"
    fresh = account(7, 2, last_refresh=None)
    model.set_snapshot([(server(2), [fresh, account(8, 2, last_refresh=None, state=AccountState.SIGNED_OUT)])])
    parent = model.index(0, 0)
    assert [model.index(r, 3, parent).data() for r in range(2)] == ["not yet", "—"]
    assert model.index(0, STATE).data() == "1 account signed in"


def test_server_chosen_text_cannot_break_a_row() -> None:
    model = ConnectorsModel(clock=lambda: NOW)
    model.set_snapshot([(server(1, "evil\nserver\x1b[31m"), [account(1, 1, label="a\u202eb@example.com\nx")])])
    name = model.index(0, 0).data()
    label = model.index(0, 0, model.index(0, 0)).data()
    for text in (name, label):
        assert "\n" not in text and "\x1b" not in text and "\u202e" not in text
