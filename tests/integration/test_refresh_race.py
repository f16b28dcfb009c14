"""Many processes, one account, one expired token: one refresh reaches the server and nobody loses the login.

Against the real lab: oidc-provider rotates every refresh token and revokes the whole grant when a rotated one is
used again, so a second refresh with the same refresh token would end the login. The processes are the CLI's own
entry point (``desktop_app.cli.main:main``, what ``mcp-connectors`` runs) in separate Python processes that import
everything first and then wait at a barrier, so they really ask for the token at the same moment.
"""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState, account_secret_key
from tests.helpers.cli import ROOT, listed_account, python_env, run_cli
from tests.integration.test_crash_safety import KeyringSupervisor
from tests.lab.accounts import ALICE_SUB, JWT, fingerprints, sign_in, whoami_with
from tests.lab.secret_service import PrivateSecretService, start_secret_service
from tests.lab.servers import RunningAuthServer, RunningMcpServer, secret_fingerprint

pytestmark = pytest.mark.lab

PROCESSES = 8
ROUNDS = 3

#: A CLI process that imports (and finds the keyring backend) first, says it is ready on one pipe, waits for the
#: other pipe to close, then runs ``mcp-connectors ARGS`` REPEAT times (stopping at the first failure).
CHILD = """
import os, sys
import keyring
from desktop_app.cli.main import main
import desktop_app.cli.commands, desktop_app.oauth.http, desktop_app.storage.profile  # imported lazily by main
keyring.get_keyring()
ready, go, repeat = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
os.write(ready, b"r")
os.close(ready)
os.read(go, 1)
for _ in range(repeat):
    code = main(sys.argv[4:])
    sys.stdout.flush()
    if code:
        sys.exit(code)
"""


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def run_together(commands: list[list[str]], *, repeat: int | list[int] = 1, timeout: float = 90) -> list[Outcome]:
    """Start one process per command (``repeat`` times each: one count, or one per command), wait until each has
    imported everything, release them all at once, and collect what they printed."""
    repeats = repeat if isinstance(repeat, list) else [repeat] * len(commands)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    processes: list[subprocess.Popen[str]] = []
    try:
        for argv, count in zip(commands, repeats, strict=True):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", CHILD, str(ready_w), str(go_r), str(count), *argv],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=python_env(),
                    cwd=ROOT,
                    pass_fds=(ready_w, go_r),
                )
            )
        os.close(ready_w)
        ready_w = -1
        os.close(go_r)
        go_r = -1
        deadline = time.monotonic() + 60
        seen = 0
        while seen < len(commands):
            readable, _, _ = select.select([ready_r], [], [], max(0.0, deadline - time.monotonic()))
            assert readable, f"only {seen} of {len(commands)} processes got ready"
            chunk = os.read(ready_r, 64)
            assert chunk, f"a process died before the barrier ({seen} ready)"
            seen += len(chunk)
        os.close(go_w)  # the barrier: every child's read returns at once
        go_w = -1
        outcomes = []
        for process in processes:
            stdout, stderr = process.communicate(timeout=timeout)
            outcomes.append(Outcome(process.returncode, stdout, stderr))
        return outcomes
    finally:
        for fd in (ready_r, ready_w, go_r, go_w):
            if fd >= 0:
                os.close(fd)
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()


def expire_access_token(accounts: Accounts, account: Account) -> dict[str, Any]:
    """Make the stored access token look expired (the JWT itself stays valid at the server); return the bundle."""
    key = account_secret_key(account.key)
    bundle = accounts.secrets.get(key)
    assert bundle is not None
    bundle["expires_at"] = time.time() - 30
    accounts.secrets.put(key, bundle)
    return bundle


def xfail_if_keyring_aborted(outcomes: list[Outcome], supervisor: KeyringSupervisor) -> None:
    """gnome-keyring-daemon sometimes aborts under many short-lived clients (``invoke_get_property_in_idle_cb:
    assertion failed``, a gnome-keyring bug, see KeyringSupervisor): a command that failed then says nothing about
    this app's renewals. Recorded as an expected failure naming the abort; any other failure fails the test."""
    if supervisor.aborted and any(outcome.returncode != 0 for outcome in outcomes):
        pytest.xfail(f"gnome-keyring-daemon aborted during the run (its known bug): {supervisor.aborted}")


@pytest.fixture
def keyring_watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyringSupervisor]:
    """A keyring of this test's own, watched: gnome-keyring-daemon can abort under many short-lived clients (see
    KeyringSupervisor); that must not take the session's keyring down, and the test says when it happened."""
    service = start_secret_service()
    supervisor = KeyringSupervisor(service)
    watcher = threading.Thread(target=supervisor.watch, daemon=True)
    try:
        for key, value in service.environment.items():
            monkeypatch.setenv(key, value)
        watcher.start()
        yield supervisor
    finally:
        supervisor.stop.set()
        if watcher.is_alive():
            watcher.join()
        service.stop()


@pytest.fixture
def secret_service(keyring_watch: KeyringSupervisor) -> PrivateSecretService:
    """This module's keyring in place of the session's: the profile and the CLI processes open on it."""
    return keyring_watch.service


def test_eight_processes_on_an_expired_token_share_one_refresh_and_stay_signed_in(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, keyring_watch: KeyringSupervisor
) -> None:
    account = sign_in(profile, lab_mcp.url, "alice")
    server = profile.registry.server(account.server_id)
    assert server is not None
    key = account_secret_key(account.key)
    command = ["token", server.name, "--account", str(account.id)]
    for round_number in range(1, ROUNDS + 1):
        stale = expire_access_token(profile, account)
        lab_as.reset_requests()

        outcomes = run_together([command] * PROCESSES)
        xfail_if_keyring_aborted(outcomes, keyring_watch)

        for outcome in outcomes:
            leaked = JWT.search(outcome.stderr) is not None  # (the match would show the token)
            assert not leaked, "a token in what the CLI said"
            assert outcome.returncode == 0, f"round {round_number}: {outcome.stderr}; keyring: {keyring_watch.reasons}"
        # Assertion messages show secrets only as fingerprints.
        printed = {secret_fingerprint(outcome.stdout.strip()) for outcome in outcomes}
        assert len(printed) == 1, f"round {round_number}: {len(printed)} different tokens were printed"
        token = outcomes[0].stdout.strip()
        token_fp, stale_view = secret_fingerprint(token), fingerprints(stale)
        assert token and token_fp != stale_view["access_token"], "the expired token was handed out"
        # Exactly one refresh reached the authorization server, and it succeeded.
        refreshes = lab_as.refresh_requests()
        assert len(refreshes) == 1, f"round {round_number}: {len(refreshes)} refreshes: {refreshes}"
        assert refreshes[0]["status"] == 200
        assert refreshes[0]["body"]["refresh_token"] == stale_view["refresh_token"]
        # What was printed is what is stored, with a new refresh token, and the server accepts both.
        raw = profile.secrets.get(key)
        assert raw is not None
        stored = fingerprints(raw)
        assert stored["access_token"] == token_fp
        assert stored["refresh_token"] != stale_view["refresh_token"]
        active = lab_as.introspect(raw["refresh_token"])["active"]
        assert active is True
        who = asyncio.run(whoami_with(token, lab_mcp.url))
        assert ALICE_SUB in who
        listed = listed_account(account.id)
        assert listed["state"] == AccountState.SIGNED_IN.value and listed["last_error"] is None

    # The grant was never revoked: a renewal after the races still works, at the server and for the MCP server.
    lab_as.reset_requests()
    before = fingerprints(profile.secrets.get(key))
    forced = run_cli("token", server.name, "--account", str(account.id), "--force")
    assert forced.returncode == 0, forced.stderr
    forced_fp = secret_fingerprint(forced.stdout.strip())
    assert forced_fp != before["access_token"]
    assert [r["status"] for r in lab_as.refresh_requests()] == [200]
    who = asyncio.run(whoami_with(forced.stdout.strip(), lab_mcp.url))
    assert ALICE_SUB in who
    events = [e.kind for e in profile.registry.events(account_id=account.id)]
    assert events.count("refreshed") == ROUNDS + 1
    assert "refresh_failed" not in events and "needs_sign_in" not in events


def test_readers_never_fail_while_other_processes_renew(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, keyring_watch: KeyringSupervisor
) -> None:
    """``token`` (no renewal needed: a lock-free read of the keyring) from three processes in a loop, while two
    others force renewals in a loop: every read gets a whole bundle, no refresh token is ever sent twice."""
    account = sign_in(profile, lab_mcp.url, "bob")
    server = profile.registry.server(account.server_id)
    assert server is not None
    base = ["token", server.name, "--account", str(account.id)]
    lab_as.reset_requests()
    writers, readers, writes, reads = 2, 3, 10, 25

    outcomes = run_together(
        [[*base, "--force"]] * writers + [base] * readers, repeat=[writes] * writers + [reads] * readers
    )
    xfail_if_keyring_aborted(outcomes, keyring_watch)

    for outcome in outcomes:
        leaked = JWT.search(outcome.stderr) is not None  # (the match would show the token)
        assert not leaked, "a token in what the CLI said"
    # A read that meets a value being replaced reads again (a part gone between the head and its read is not
    # damage, nor is an item gone between the keyring library's search and its read).
    failures = [o.stderr.strip() for o in outcomes if o.returncode != 0]
    assert not failures, (failures, f"keyring daemon restarts: {keyring_watch.reasons}")
    assert [len(o.stdout.split()) for o in outcomes] == [writes] * writers + [reads] * readers
    refreshes = lab_as.refresh_requests()
    # A forced renewal that finds the other writer's fresh tokens after the lock uses them instead of renewing.
    assert writes <= len(refreshes) <= writers * writes
    assert all(r["status"] == 200 for r in refreshes), refreshes
    sent = [r["body"]["refresh_token"] for r in refreshes]
    assert len(set(sent)) == len(sent), "a refresh token was sent twice"
    listed = listed_account(account.id)
    assert listed["state"] == AccountState.SIGNED_IN.value and listed["last_error"] is None
