"""The renewal worker (``python -m desktop_app --renewal-worker``, docs/decisions/0018) against the real lab: it
renews as the app does in-process, tells a renewal another process made from one to make, brings an ended grant
back as the error it was, finishes and stores when nobody reads its answer, and never has a token on its command
line or in its environment."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState, TokenBundle, account_secret_key
from desktop_app.accounts.renewal_wire import Outcome, RenewalRequest, fingerprint
from desktop_app.accounts.renewer import renew_detached
from desktop_app.accounts.worker_launch import start_detached, worker_command
from desktop_app.errors import SignInRequired
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.trace import Trace
from desktop_app.storage.paths import data_dir
from tests.helpers.workers import renewal_workers, wait_for_renewal_workers
from tests.lab.accounts import sign_in
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab


@pytest.fixture
def auth(lab_as: RunningAuthServer) -> Iterator[RunningAuthServer]:
    """The lab's authorization server, its log emptied, its outage off afterwards whatever the test did."""
    lab_as.reset_requests()
    yield lab_as
    lab_as.outage("off")


def parent_of(pid: int) -> int:
    return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])


def stored(accounts: Accounts, account: Account) -> TokenSet:
    value = accounts.secrets.get(account_secret_key(account.key))
    assert value is not None
    return TokenBundle.from_secret(value).tokens


def renew(account: Account, *, force: bool, seen: str | None, trace: Trace | None = None) -> Outcome:
    return asyncio.run(renew_detached(data_dir(), account, force=force, seen=seen, trace=trace))


def test_the_worker_renews_stores_records_and_reports_its_steps(
    profile: Accounts, auth: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    account = sign_in(profile, lab_mcp.url, "alice")
    before = stored(profile, account)
    auth.reset_requests()
    trace = Trace()

    assert renew(account, force=True, seen=fingerprint(before), trace=trace) is Outcome.RENEWED

    after = stored(profile, account)
    assert after.access_token != before.access_token and after.refresh_token != before.refresh_token
    assert auth.introspect(after.refresh_token or "")["active"] is True
    assert [r["status"] for r in auth.refresh_requests()] == [200]
    assert any(line.startswith("refresh") and line.endswith("→ 200") for line in trace.lines()), trace.lines()
    latest = profile.registry.events(account_id=account.id, limit=1)
    assert [e.kind for e in latest] == ["refreshed"]


def test_a_renewal_made_meanwhile_is_used_not_repeated(
    profile: Accounts, auth: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    account = sign_in(profile, lab_mcp.url, "alice")
    seen = fingerprint(stored(profile, account))
    assert renew(account, force=True, seen=seen) is Outcome.RENEWED
    auth.reset_requests()

    # A second requester read the same tokens before the first renewal was stored.
    assert renew(account, force=True, seen=seen) is Outcome.FRESH
    assert renew(account, force=False, seen=None) is Outcome.FRESH  # fresh, not forced
    assert auth.refresh_requests() == []


def test_an_ended_grant_comes_back_as_sign_in_required_for_the_account(
    profile: Accounts, auth: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    account = sign_in(profile, lab_mcp.url, "alice")
    server = profile.registry.server(account.server_id)
    assert server is not None
    auth.revoke_grants("alice")

    with pytest.raises(SignInRequired) as raised:
        renew(account, force=True, seen=fingerprint(stored(profile, account)))

    assert (raised.value.account_id, raised.value.server) == (account.id, server.name)
    assert "invalid_grant" in raised.value.message
    current = profile.registry.account(account.id)
    assert current is not None and current.state is AccountState.NEEDS_SIGN_IN


def test_the_worker_is_nobodys_child_stores_when_nobody_reads_its_answer_and_shows_no_token(
    profile: Accounts, auth: RunningAuthServer, lab_mcp: RunningMcpServer, tmp_path: Path
) -> None:
    account = sign_in(profile, lab_mcp.url, "alice")
    before = stored(profile, account)
    home = data_dir()
    auth.outage("slow", delay_ms=300)  # the answer is on its way while the worker is looked at
    complaints = tmp_path / "stderr"
    with complaints.open("wb") as stderr:
        pipe = subprocess.PIPE
        first = start_detached(worker_command(), stdin=pipe, stdout=pipe, stderr=stderr)
    assert first.stdin is not None and first.stdout is not None
    first.stdin.write(RenewalRequest(str(home), account.key, True, fingerprint(before)).to_line())
    first.stdin.close()
    first.stdout.close()  # the requester is gone: the answer pipe is broken
    assert first.wait() == 0  # the first stage ends at once, once it has started the worker proper
    deadline = time.monotonic() + 30
    while not auth.refresh_requests():
        assert time.monotonic() < deadline, "the worker sent no refresh"
        time.sleep(0.01)

    (worker,) = renewal_workers(home)
    # Out of reach of a walk down the requester's tree or a signal to its group: a session of its own, and a
    # parent that is neither this process nor the first stage.
    assert os.getsid(worker) == worker and parent_of(worker) not in (os.getpid(), first.pid)
    seen_from_outside = [(Path("/proc") / str(worker) / part).read_bytes() for part in ("cmdline", "environ")]
    for secret in (before.access_token, before.refresh_token or ""):
        shown = any(secret.encode() in text for text in seen_from_outside)
        assert not shown, "a token on the worker's command line or in its environment"

    wait_for_renewal_workers(home)
    after = stored(profile, account)
    assert after.refresh_token != before.refresh_token
    assert auth.introspect(after.refresh_token or "")["active"] is True
    assert complaints.read_text() == ""  # the broken pipe was no reason to complain (nor to fail)


def test_a_request_cut_short_does_nothing(
    profile: Accounts, auth: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    account = sign_in(profile, lab_mcp.url, "alice")
    before = stored(profile, account)
    auth.reset_requests()
    line = RenewalRequest(str(data_dir()), account.key, True, None).to_line()

    ended = subprocess.run(worker_command(), input=line[:20], capture_output=True, timeout=60, check=False)

    assert ended.stdout == b""  # no answer: the requester says the renewal stopped
    assert b"No renewal: the request could not be read (not a renewal request" in ended.stderr
    assert auth.refresh_requests() == []
    assert stored(profile, account) == before
