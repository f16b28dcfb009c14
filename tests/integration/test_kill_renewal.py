"""A kill never loses a login: ``mcp-connectors token --force`` killed (SIGKILL, its process group and every process
under it, as AI hosts stop a stdio server) at random moments of its renewal, many times, and the account is still
signed in.

Against the real lab: oidc-provider rotates the refresh token as soon as it handles a refresh and revokes the whole
grant when a rotated one comes back. Its token endpoint is made slow (``outage("slow")``: handled at once, answered
``DELAY_MS`` later), so each kill lands while the new refresh token is on its way. Before issue 14 the requester held
that answer itself and died with it: the stored refresh token was dead, and the next renewal ended the login. Now the
renewal runs in the renewal worker (docs/decisions/0018), which is in a session of its own, finishes, and stores.

Each round: start the requester, wait until the authorization server has its refresh request, kill it after a
random part of the delay (a seeded RNG: ``KILL_SEED=<n>`` replays a run), wait until no worker of this profile is
left, then ask the authorization server whether the stored refresh token is still alive (a lost login is one whose
stored refresh token was rotated away). A lost login is counted and signed in again, so that a run on code without
the worker says how many were lost. At the end a renewal must succeed, and no refresh token was ever sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState, account_secret_key
from desktop_app.oauth.http import new_client
from desktop_app.storage.paths import data_dir
from tests.helpers.cli import ROOT, cli_env, run_cli
from tests.helpers.workers import wait_for_renewal_workers
from tests.lab.accounts import ALICE_SUB, approve_all, sign_in, whoami_with
from tests.lab.browser import scripted_browser
from tests.lab.secret_service import PrivateSecretService, start_secret_service
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab

ROUNDS = 20
#: How long the authorization server holds each refresh answer (ms): the window every kill lands in.
DELAY_MS = 500
#: Kills land this long after the refresh request arrived: inside the delay, or while the answer is being stored.
KILL_AFTER = (0.0, (DELAY_MS + 150) / 1000)
#: The most a round waits for its requester's refresh request (a guard against a hang).
PATIENCE = 30.0


@pytest.fixture
def secret_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateSecretService]:
    """This module's own keyring (as test_crash_safety's): a client killed in the middle of a call can make
    gnome-keyring-daemon abort, and that must not take the session's keyring down."""
    service = start_secret_service()
    try:
        for key, value in service.environment.items():
            monkeypatch.setenv(key, value)
        yield service
    finally:
        service.stop()


@pytest.fixture
def slow_as(lab_as: RunningAuthServer) -> Iterator[RunningAuthServer]:
    """The lab's authorization server answering refreshes ``DELAY_MS`` late; back to normal afterwards."""
    lab_as.outage("slow", delay_ms=DELAY_MS)
    yield lab_as
    lab_as.outage("off")


def wait_for_refresh(auth_server: RunningAuthServer, count: int) -> None:
    """Return once the authorization server has received ``count`` refresh requests (and so rotated the last one's
    refresh token: its answer is on its way)."""
    deadline = time.monotonic() + PATIENCE
    while len(auth_server.refresh_requests()) < count:
        assert time.monotonic() < deadline, f"no refresh request {count} after {PATIENCE:.0f} s"
        time.sleep(0.01)


def descendants(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, their children, and so on (Linux: read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL the process, its process group and every descendant, as hosts stop a stdio server: a signal to the
    group (a terminal, a supervisor) or a walk down the tree by parent id (VS Code's ``killTree``, the ``tree-kill``
    package, ``taskkill /T``)."""
    for child in descendants(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    os.killpg(pid, signal.SIGKILL)


def sign_in_again(accounts: Accounts, account: Account) -> None:
    """The person signs the account in again (what a lost login costs them)."""

    async def browser(url: str) -> None:
        await scripted_browser(url, user="alice")

    async def run() -> None:
        server = accounts.registry.server(account.server_id)
        assert server is not None
        async with new_client() as http:
            await accounts.login(http, server, browser=browser, approve=approve_all, account=account, timeout=30)

    asyncio.run(run())


def test_token_force_killed_at_random_moments_of_its_renewal_never_loses_the_login(
    profile: Accounts, slow_as: RunningAuthServer, lab_mcp: RunningMcpServer, secret_service: PrivateSecretService
) -> None:
    seed = int(os.environ.get("KILL_SEED", random.randrange(2**32)))
    print(f"KILL_SEED={seed}")
    rng = random.Random(seed)
    home = data_dir()
    account = sign_in(profile, lab_mcp.url, "alice")
    key = account_secret_key(account.key)
    command = [sys.executable, "-m", "desktop_app", "token", str(account.server_id), "--account", str(account.id)]
    slow_as.reset_requests()
    lost: list[int] = []
    finished_first = 0

    for round_number in range(ROUNDS):
        sent_before = len(slow_as.refresh_requests())
        requester = subprocess.Popen(
            [*command, "--force"],
            env=cli_env(),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, which the kill takes down whole
        )
        wait_for_refresh(slow_as, sent_before + 1)
        time.sleep(rng.uniform(*KILL_AFTER))
        if requester.poll() is None:
            kill_tree(requester.pid)
        else:
            finished_first += 1  # done before the kill: a round that proves nothing, counted to be shown
        requester.wait()
        wait_for_renewal_workers(home)

        stored = profile.secrets.get(key)
        assert stored is not None, f"round {round_number}: the account's tokens are gone"
        state = profile.registry.account(account.id)
        alive = slow_as.introspect(stored["refresh_token"])["active"]
        if not alive or state is None or state.state is not AccountState.SIGNED_IN:
            lost.append(round_number)
            sign_in_again(profile, account)

    print(f"{ROUNDS} kills, {finished_first} after the requester had finished; logins lost in rounds {lost}")
    assert lost == [], f"{len(lost)} of {ROUNDS} logins lost (KILL_SEED={seed})"
    assert finished_first <= ROUNDS // 4, "most kills must land while the requester waits, or they prove nothing"

    slow_as.outage("off")
    renewed = run_cli("token", str(account.server_id), "--account", str(account.id), "--force")
    assert renewed.returncode == 0, renewed.stderr
    assert ALICE_SUB in asyncio.run(whoami_with(renewed.stdout.strip(), lab_mcp.url))
    refreshes = slow_as.refresh_requests()
    sent = [r["body"]["refresh_token"] for r in refreshes]
    assert len(sent) == ROUNDS + 1, "one refresh per round, and the last one"
    assert len(set(sent)) == len(sent), "a refresh token was sent twice"
    assert {r["status"] for r in refreshes} == {200}
