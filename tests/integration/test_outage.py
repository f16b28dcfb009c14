"""A transient outage of the authorization server during refresh: the account is still signed in after it returns.

The lab AS keeps running (its grants live in memory) while its token endpoint answers 503, or resets every
connection, through ``/__lab/outage``. The CLI is a real process; the keyring is the private GNOME Keyring.
Rule under test (``Accounts._refresh_locked``): a transient failure is retried twice; then it is recorded on the
account (``last_error``, state unchanged) and the still-valid access token is returned if there is one, else the
error is raised (exit 3). Nothing in the keyring changes until a refresh succeeds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from desktop_app.accounts.manager import RETRY_DELAYS, Accounts
from desktop_app.accounts.models import AccountState, account_secret_key
from tests.helpers.cli import listed_account, run_cli
from tests.lab.accounts import ALICE_SUB, JWT, fingerprints, sign_in, whoami_with
from tests.lab.servers import RunningAuthServer, RunningMcpServer, secret_fingerprint

pytestmark = pytest.mark.lab

ATTEMPTS = 1 + len(RETRY_DELAYS)


@pytest.fixture
def outage(lab_as: RunningAuthServer) -> Iterator[RunningAuthServer]:
    """The shared lab AS, its outage always turned off again, whatever the test did."""
    lab_as.outage("off")
    yield lab_as
    lab_as.outage("off")


def assert_attempts_during_outage(auth_server: RunningAuthServer, mode: str, refresh_token_fp: str) -> None:
    """Every attempt was a refresh with the stored refresh token, and each one hit the outage."""
    attempts = auth_server.token_requests()
    assert len(attempts) == ATTEMPTS, attempts
    for attempt in attempts:
        assert attempt.get("outage") == mode
        assert attempt["body"]["grant_type"] == "refresh_token"
        assert attempt["body"]["refresh_token"] == refresh_token_fp
        assert attempt["status"] == (503 if mode == "503" else None)


@pytest.mark.parametrize("mode", ["503", "reset"])
def test_an_outage_with_an_expired_token_fails_for_now_and_the_login_survives(
    mode: str, profile: Accounts, outage: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    account = sign_in(profile, lab_mcp.url, "alice")
    server = profile.registry.server(account.server_id)
    assert server is not None
    key = account_secret_key(account.key)
    raw = profile.secrets.get(key)
    assert raw is not None
    raw["expires_at"] = time.time() - 30  # the access token is past its time
    profile.secrets.put(key, raw)
    stored = fingerprints(raw)  # assertion messages show secrets only as fingerprints
    token_endpoint = f"{outage.issuer}/token"

    outage.reset_requests()
    outage.outage(mode)
    started = time.monotonic()
    failed = run_cli("token", server.name, "--account", str(account.id), "--force")
    elapsed = time.monotonic() - started

    assert failed.returncode == 3, failed.stderr  # 3: a temporary problem
    assert failed.stdout == ""  # no token: the only one left has expired
    assert token_endpoint in failed.stderr
    reason = "unavailable (HTTP 503)" if mode == "503" else "Could not reach"
    assert reason in failed.stderr, failed.stderr
    assert "sign in" not in failed.stderr.lower(), "a transient failure must not ask for a sign-in"
    leaked = JWT.search(failed.stderr) is not None  # (the match would show the token)
    assert not leaked, "a token in what the CLI said"
    assert elapsed >= sum(RETRY_DELAYS), "the transient failure was retried with its delays"
    assert_attempts_during_outage(outage, mode, stored["refresh_token"])
    # Everything kept: the bundle exactly, the state; the failure is on record.
    kept = fingerprints(profile.secrets.get(key))
    assert kept == stored
    listed = listed_account(account.id)
    assert listed["state"] == AccountState.SIGNED_IN.value
    assert listed["last_error"] and token_endpoint in listed["last_error"]
    assert "last renewal failed" in run_cli("list").stdout
    current = profile.registry.account(account.id)
    assert current is not None and current.failures == 1

    outage.reset_requests()
    outage.outage("off")
    renewed = run_cli("token", server.name, "--account", str(account.id), "--force")

    assert renewed.returncode == 0, renewed.stderr
    token = renewed.stdout.strip()
    token_fp = secret_fingerprint(token)
    assert token and token_fp != stored["access_token"]
    attempts = outage.token_requests()
    assert [(a["body"]["grant_type"], a["status"]) for a in attempts] == [("refresh_token", 200)]
    assert attempts[0]["body"]["refresh_token"] == stored["refresh_token"]
    after_raw = profile.secrets.get(key)
    assert after_raw is not None
    after = fingerprints(after_raw)
    assert after["access_token"] == token_fp and after["refresh_token"] != stored["refresh_token"]
    active = outage.introspect(after_raw["refresh_token"])["active"]
    assert active is True
    listed = listed_account(account.id)
    assert listed["state"] == AccountState.SIGNED_IN.value and listed["last_error"] is None
    who = asyncio.run(whoami_with(token, lab_mcp.url))
    assert ALICE_SUB in who
    kinds = [e.kind for e in profile.registry.events(account_id=account.id)]
    assert kinds[:2] == ["refreshed", "refresh_failed"] and "needs_sign_in" not in kinds


@pytest.mark.parametrize("mode", ["503", "reset"])
def test_an_outage_with_a_still_valid_token_hands_out_that_token(
    mode: str, profile: Accounts, outage: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    account = sign_in(profile, lab_mcp.url, "bob")
    server = profile.registry.server(account.server_id)
    assert server is not None
    key = account_secret_key(account.key)
    stored = fingerprints(profile.secrets.get(key))
    assert stored["expires_at"] > time.time() + 120

    outage.reset_requests()
    outage.outage(mode)
    # Not due for renewal: the outage is not even noticed.
    quiet = run_cli("token", server.name, "--account", str(account.id))
    quiet_fp = secret_fingerprint(quiet.stdout.strip())
    assert quiet.returncode == 0 and quiet_fp == stored["access_token"]
    assert outage.token_requests() == []
    # A forced renewal fails for now, and the token that still works is printed instead.
    forced = run_cli("token", server.name, "--account", str(account.id), "--force")

    assert forced.returncode == 0, forced.stderr
    forced_fp = secret_fingerprint(forced.stdout.strip())
    assert forced_fp == stored["access_token"]
    assert_attempts_during_outage(outage, mode, stored["refresh_token"])
    kept = fingerprints(profile.secrets.get(key))
    assert kept == stored
    listed = listed_account(account.id)
    assert listed["state"] == AccountState.SIGNED_IN.value and listed["last_error"]
    who = asyncio.run(whoami_with(forced.stdout.strip(), lab_mcp.url))
    assert "lab-sub-00b0b0" in who

    outage.reset_requests()
    outage.outage("off")
    renewed = run_cli("token", server.name, "--account", str(account.id), "--force")

    assert renewed.returncode == 0, renewed.stderr
    renewed_fp = secret_fingerprint(renewed.stdout.strip())
    assert renewed_fp != stored["access_token"]
    assert [(a["body"]["grant_type"], a["status"]) for a in outage.token_requests()] == [("refresh_token", 200)]
    listed = listed_account(account.id)
    assert listed["state"] == AccountState.SIGNED_IN.value and listed["last_error"] is None
    current = profile.registry.account(account.id)
    assert current is not None and current.failures == 0
