"""The requester's side of a renewal that runs in the renewal worker (docs/decisions/0018): how ``Renewal`` hands it
over and reads the result from the store, how the worker is started (detached, the request on its stdin) and what
the requester makes of every way it can end. The workers here are small stand-ins (``python -c``) that answer as
the real one would, or die; the real worker against the lab is tests/integration/test_renewal_worker.py."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from desktop_app.accounts import renewer, worker_launch
from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, TokenBundle, account_secret_key
from desktop_app.accounts.renewal_wire import Outcome, RenewalAnswer, RenewalRequest, fingerprint
from desktop_app.accounts.worker_words import WORKER_FLAG
from desktop_app.errors import RenewerUnavailable, SignInRequired, TransientError
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.trace import Trace, TraceEvent
from desktop_app.storage.locks import AccountLocks
from desktop_app.storage.memory import MemorySecretStore
from desktop_app.storage.profile import open_accounts
from desktop_app.storage.registry import SqliteRegistry
from tests.helpers.metadata import as_metadata
from tests.helpers.records import signed_in_account

ISSUER = "https://as.example"
NOW = 1_800_000_000.0


def tokens(access: str, refresh: str, expires_at: float) -> TokenSet:
    return TokenSet(access, ISSUER, "client-1", "https://mcp.example/mcp", ("mcp",), NOW - 3600, expires_at, refresh)


class Elsewhere:
    """A stand-in for the worker: records what it was asked, then does what the test says (store new tokens as a
    worker would, raise, or say it cannot start)."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.calls: list[tuple[int, bool, str | None]] = []
        self.stores: TokenSet | None = tokens("at-worker", "rt-worker", NOW + 3600)
        self.raises: Exception | None = None

    async def __call__(self, account: Account, *, force: bool, seen: str | None, trace: Trace) -> Outcome:
        self.calls.append((account.id, force, seen))
        trace.add("refresh", f"{ISSUER}/token", 200)
        if self.raises is not None:
            raise self.raises
        if self.stores is not None:
            self.accounts.tokens.write(account.key, self.stores)
        return Outcome.RENEWED


class Endpoint:
    """The token endpoint, for a renewal that falls back to this process: counts what it was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.content.decode())
        body = {"access_token": "at-here", "refresh_token": "rt-here", "token_type": "Bearer", "expires_in": 300}
        return httpx.Response(200, json=body)


@pytest.fixture
def endpoint() -> Endpoint:
    return Endpoint()


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    registry = SqliteRegistry(tmp_path / "registry.sqlite3")
    yield Accounts(registry, MemorySecretStore(), AccountLocks(tmp_path / "locks"), clock=lambda: NOW)
    registry.close()


@pytest.fixture
def elsewhere(accounts: Accounts) -> Elsewhere:
    stand_in = Elsewhere(accounts)
    accounts.renewal.renew_elsewhere = stand_in
    return stand_in


def signed_in(accounts: Accounts, stored: TokenSet) -> Account:
    return signed_in_account(accounts, stored, now=NOW, metadata=as_metadata(ISSUER, token_endpoint=f"{ISSUER}/token"))


def stored(accounts: Accounts, account: Account) -> TokenSet:
    value = accounts.secrets.get(account_secret_key(account.key))
    assert value is not None
    return TokenBundle.from_secret(value).tokens


async def token(accounts: Accounts, account: Account, endpoint: Endpoint, **options: Any) -> TokenSet:
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        return await accounts.token(http, account, **options)


# -- Renewal hands the renewal over and reads the result from the store ----------------------------------------


async def test_an_expiring_token_is_renewed_elsewhere_and_read_back_from_the_store(
    accounts: Accounts, elsewhere: Elsewhere, endpoint: Endpoint
) -> None:
    old = tokens("at-old", "rt-old", NOW + 10)
    account = signed_in(accounts, old)
    trace = Trace()
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        got = await accounts.token(http, account, trace=trace)
    assert got.access_token == "at-worker"
    assert elsewhere.calls == [(account.id, False, fingerprint(old))]
    assert endpoint.sent == []  # nothing was sent from this process
    assert [e.step for e in trace.events] == ["refresh"]


async def test_force_hands_over_what_was_read_so_a_renewal_made_meanwhile_is_not_repeated(
    accounts: Accounts, elsewhere: Elsewhere, endpoint: Endpoint
) -> None:
    fresh = tokens("at-fresh", "rt-fresh", NOW + 3600)
    account = signed_in(accounts, fresh)
    assert (await token(accounts, account, endpoint, force=True)).access_token == "at-worker"
    assert elsewhere.calls == [(account.id, True, fingerprint(fresh))]


async def test_a_fresh_token_is_used_without_asking_the_worker(
    accounts: Accounts, elsewhere: Elsewhere, endpoint: Endpoint
) -> None:
    account = signed_in(accounts, tokens("at-fresh", "rt-fresh", NOW + 3600))
    assert (await token(accounts, account, endpoint)).access_token == "at-fresh"
    assert elsewhere.calls == []


async def test_the_workers_error_is_raised_and_nothing_is_renewed_here(
    accounts: Accounts, elsewhere: Elsewhere, endpoint: Endpoint
) -> None:
    account = signed_in(accounts, tokens("at-old", "rt-old", NOW - 10))
    elsewhere.raises = SignInRequired("sign_in_required", "alice must sign in again", account_id=account.id)
    with pytest.raises(SignInRequired, match="alice must sign in again"):
        await token(accounts, account, endpoint)
    assert endpoint.sent == []


async def test_a_worker_that_cannot_start_leaves_the_renewal_to_this_process(
    accounts: Accounts, elsewhere: Elsewhere, endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    account = signed_in(accounts, tokens("at-old", "rt-old", NOW - 10))
    elsewhere.raises = RenewerUnavailable("The process that renews accounts could not be started (test)")
    assert (await token(accounts, account, endpoint)).access_token == "at-here"
    assert len(endpoint.sent) == 1 and "refresh_token=rt-old" in endpoint.sent[0]
    assert stored(accounts, account).refresh_token == "rt-here"
    assert "renewing" in caplog.text and "in this process instead" in caplog.text


async def test_stores_of_one_process_renew_in_it(accounts: Accounts, endpoint: Endpoint) -> None:
    assert accounts.renewal.renew_elsewhere is None  # Accounts made directly, as connect and these tests do
    account = signed_in(accounts, tokens("at-old", "rt-old", NOW - 10))
    assert (await token(accounts, account, endpoint)).access_token == "at-here"


def test_a_profile_on_disk_renews_in_the_worker(tmp_path: Path) -> None:
    profile = open_accounts(directory=tmp_path / "p", secret_store="file")
    try:
        assert profile.renewal.renew_elsewhere is not None
    finally:
        profile.registry.close()


# -- starting the worker and reading its answer --------------------------------------------------------------

#: A stand-in worker: reads the request, then does what ``sys.argv[1]`` says.
STAND_IN = """
import json, os, signal, sys
request = json.loads(sys.stdin.buffer.readline())
what = sys.argv[1]
if what == "answer":
    note = f"{request['account_key']} {request['force']} {request['seen']} {os.getsid(0)} {os.getpgrp()}"
    print(json.dumps({"outcome": "renewed", "trace": [["refresh", "https://as.example/token", 200, note]]}))
elif what == "error":
    error = {"classes": ["SignInRequired", "UserActionRequired", "ConnectorError"], "code": "sign_in_required",
             "message": "alice must sign in again", "hint": None, "url": None, "data": {"account_id": 4}}
    print(json.dumps({"error": error, "trace": []}))
elif what == "crash":
    sys.exit("Traceback (most recent call last): a bug in the worker")
elif what == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
elif what == "garbage":
    print("hello")
elif what == "after-file":
    import time
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.01)
    open(sys.argv[3], "w").close()
    print(json.dumps({"outcome": "fresh", "trace": []}))
"""


def stand_in(what: str, *more: str) -> list[str]:
    return [sys.executable, "-c", STAND_IN, what, *more, WORKER_FLAG]


@pytest.fixture
def account(accounts: Accounts) -> Account:
    return signed_in(accounts, tokens("at-old", "rt-old", NOW - 10))


def test_the_worker_gets_the_request_on_stdin_and_runs_in_a_session_of_its_own(account: Account) -> None:
    request = RenewalRequest("/profile", account.key, True, "f" * 32)
    answer = renewer.run_worker(request, account, command=stand_in("answer"))
    assert answer.outcome is Outcome.RENEWED and answer.error is None
    key, force, seen, session, group = answer.trace[0].note.split()
    assert (key, force, seen) == (account.key, "True", "f" * 32)
    assert int(session) != os.getsid(0) and int(group) != os.getpgrp()
    assert int(session) == int(group)  # it leads a session of its own: no signal to ours reaches it


def test_the_workers_error_comes_back_as_its_class(account: Account) -> None:
    answer = renewer.run_worker(RenewalRequest("/p", account.key, False, None), account, command=stand_in("error"))
    with pytest.raises(SignInRequired, match="alice must sign in again") as raised:
        renewer.outcome_of(answer, Trace())
    assert raised.value.account_id == 4


@pytest.mark.parametrize("what", ["crash", "killed", "garbage"])
def test_a_worker_that_ends_without_an_answer_is_a_renewal_interrupted(
    what: str, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with pytest.raises(TransientError, match="stopped before it said how it went") as raised:
        renewer.run_worker(RenewalRequest("/p", account.key, False, None), account, command=stand_in(what))
    assert raised.value.code == "renewal_interrupted"
    assert account.display_name in raised.value.message
    if what == "crash":
        assert "a bug in the worker" in caplog.text  # what it said on stderr is logged


@pytest.mark.parametrize("command", [[""], [], ["/nonexistent/python-for-renewals"]])
def test_a_worker_that_cannot_be_started_says_so(command: list[str], account: Account) -> None:
    with pytest.raises(RenewerUnavailable):
        renewer.run_worker(RenewalRequest("/p", account.key, False, None), account, command=command)


def test_the_worker_is_this_python_running_the_package_or_the_frozen_app_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert worker_launch.worker_command() == [sys.executable, "-m", "desktop_app", WORKER_FLAG]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert worker_launch.worker_command() == [sys.executable, WORKER_FLAG]


def test_a_first_stage_that_cannot_start_the_worker_answers_so_in_its_place(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    monkeypatch.setattr(worker_launch, "worker_command", lambda: [""])
    assert worker_launch.hand_over() == 1
    answer = RenewalAnswer.from_line(capsysbinary.readouterr().out)
    assert isinstance(answer.error, RenewerUnavailable)


def test_the_outcome_adds_the_workers_steps_to_the_callers_trace() -> None:
    step = TraceEvent("refresh", "https://as.example/token", 200, "")
    trace = Trace()
    assert renewer.outcome_of(RenewalAnswer(Outcome.KEPT, None, (step,)), trace) is Outcome.KEPT
    assert trace.lines() == ["refresh: https://as.example/token → 200"]


async def test_a_requester_that_stops_waiting_leaves_the_worker_to_finish(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    go, done = tmp_path / "go", tmp_path / "done"
    monkeypatch.setattr(renewer, "worker_command", lambda: stand_in("after-file", str(go), str(done)))
    waiting = asyncio.create_task(renewer.renew_detached(tmp_path, account, force=True))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    go.touch()  # only now may the worker finish: it was not stopped with the requester
    while not done.exists():
        await asyncio.sleep(0.01)


async def test_renew_detached_waits_for_the_answer_without_blocking_the_loop(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    go, done = tmp_path / "go", tmp_path / "done"
    monkeypatch.setattr(renewer, "worker_command", lambda: stand_in("after-file", str(go), str(done)))
    waiting = asyncio.create_task(renewer.renew_detached(tmp_path, account, force=False))
    while not any(t.name.startswith("renewal of account") for t in threading.enumerate()):
        await asyncio.sleep(0.01)
    go.touch()  # the loop runs while the worker waits: this line is reached
    assert await waiting is Outcome.FRESH
