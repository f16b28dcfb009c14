"""A server's Activity list, from what the registry holds after real renewals against the lab (issue 17 item 9):
each row names its account and says what each renewal did."""

from __future__ import annotations

import asyncio

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.accounts.manager import Accounts
from desktop_app.errors import SignInRequired
from desktop_app.oauth.http import new_client
from desktop_app.ui.details_panel import DetailsPanel
from tests.lab.accounts import sign_in
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab


def test_a_server_activity_names_the_account_of_each_row_and_what_each_renewal_did(
    qtbot: QtBot, profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    alice = sign_in(profile, lab_mcp.url, "alice")
    bob = sign_in(profile, lab_mcp.url, "bob")

    async def renew() -> None:
        async with new_client() as http:
            await profile.token(http, alice, force=True)
            assert lab_as.revoke_grants("bob") >= 1
            with pytest.raises(SignInRequired):
                await profile.token(http, bob, force=True)

    asyncio.run(renew())
    # A renewal that met a network failure while the token was still valid, as the renewal records it (the lab's
    # server cannot be unreachable for one account only).
    profile.registry.record_refresh_failure(
        alice.id, code="network", message="Could not connect to the lab.", needs_sign_in=False, now=profile.clock()
    )
    server = profile.registry.server(alice.server_id)
    assert server is not None
    panel = DetailsPanel()
    qtbot.addWidget(panel)
    panel.show_server(
        server, accounts=profile.registry.accounts(server.id), events=profile.registry.events(server_id=server.id)
    )
    model = panel.activity_model
    shown = [model.item(row, 1).text() for row in range(model.rowCount())]
    alice_name, bob_name = alice.display_name, bob.display_name
    assert shown[0] == f"{alice_name}: renewal failed: the server is unreachable (kept)"
    assert shown[1] == f"{bob_name}: renewal failed: the server no longer accepts this sign-in (must sign in again)"
    renewed = profile.registry.account(alice.id)
    assert renewed is not None and renewed.expires_at is not None
    assert shown[2].startswith(f"{alice_name}: renewed, access until ") and shown[2][-5:-3].isdigit()
    assert shown.count(f"{bob_name}: signed in") == 1 and shown.count(f"{alice_name}: signed in") == 1
    assert not any(line.startswith(("Renewed", "Needs sign-in")) for line in shown)
