"""Processes killed (SIGKILL) in the middle of signing in, renewing and signing out never lose or half-write a login.

Two kinds of test, both against the real lab (oidc-provider rotating refresh tokens and revoking a grant whose
rotated refresh token is reused), the private GNOME Keyring and the SQLite registry, through the CLI's own entry
point (``desktop_app.cli.main:main``) in separate processes:

- at chosen points: a process kills itself right after one step (the token endpoint answered, the keyring was
  written, the tokens were revoked, the account was marked signed out), then the next command must find a
  consistent profile. A renewal's steps happen in the renewal worker (docs/decisions/0018), so there it is the
  worker that dies;
- at random points: three loops (renew; sign in again; sign out and in) on three accounts, killed at random moments
  (a seeded RNG: ``CRASH_SEED=<n>`` replays a run), then the same checks.

The checks (:func:`check_profile`): ``PRAGMA integrity_check`` is "ok"; every account is signed in with a readable
keyring bundle whose issuer and client id are the row's, or needs a sign-in only because the authorization server
said ``invalid_grant``, or (only an account that was being signed out) is signed out with nothing of it left in the
keyring; no note of an unfinished deletion remains.

The one inherent loss: the renewal worker killed after the token endpoint answered a refresh but before the keyring
write, the rotated refresh token is gone with it, and the next refresh reuses the old one: ``invalid_grant``, needs
sign-in. Killing the command that asked no longer does that (tests/integration/test_kill_renewal.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from desktop_app.accounts.manager import PENDING_SECRET_AGE, Accounts
from desktop_app.accounts.models import Account, AccountState, TokenBundle, account_secret_key
from desktop_app.storage.keyring_vault import FORMAT_GENERATION
from desktop_app.storage.paths import data_dir
from desktop_app.storage.profile import open_accounts
from desktop_app.storage.registry import default_registry_path
from tests.helpers.cli import ROOT, cli_env
from tests.helpers.cli import run_cli as run_cli_process
from tests.helpers.workers import wait_for_renewal_workers
from tests.lab.accounts import JWT, fingerprints, sign_in
from tests.lab.secret_service import PrivateSecretService, start_secret_service
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab

#: How long the loops run before the last kill, and how long a loop process lives before it is killed.
CHAOS_SECONDS = 25.0
LIFETIME = (0.4, 2.5)

#: Imports, and the lab's scripted browser as the "system browser" of the CLI (in the process: it dies with it).
PRELUDE = """
import asyncio, contextlib, io, os, signal, sys, time
import keyring
import desktop_app.oauth.authorize as authorize
import desktop_app.cli.commands, desktop_app.oauth.http, desktop_app.storage.profile
from desktop_app.cli.main import main
from tests.lab.browser import scripted_browser

async def browser(url):
    await scripted_browser(url, user=os.environ.get("LAB_USER") or None)

authorize.system_browser = browser
keyring.get_keyring()
"""

#: ``LOOP kind server account results``: run one loop of CLI commands forever, one line per finished command.
LOOP = (
    PRELUDE
    + """
kind, server, account, results = sys.argv[1:5]

def cli(*args):
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        code = main(list(args))
    stamp = f"{time.time():.3f}"
    sys.stderr.write(f"--- {args[0]} {code} {stamp}\\n{said.getvalue()}")
    sys.stderr.flush()
    with open(results, "a") as out:
        out.write(f"{kind} {args[0]} {code} {stamp}\\n")
    return code

login = ("login", server, "--account", account, "--yes", "--timeout", "20")
while True:
    if kind == "refresh":
        if cli("token", server, "--account", account, "--force") == 1:
            cli(*login)  # needs a sign-in (the inherent window was hit): sign in again and go on
    elif kind == "login":
        cli(*login)
    else:
        cli("logout", server, "--account", account)
        cli(*login)
"""
)

#: ``die_after(point)``: the process kills itself (SIGKILL) right after that step.
CRASH_POINTS = """
import os, signal, sys

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def die_after(point):
    if point == "token-response":
        import desktop_app.accounts.renewal as renewal
        real_refresh = renewal.refresh_tokens
        async def refresh_then_die(*args, **kwargs):
            await real_refresh(*args, **kwargs)
            die()
        renewal.refresh_tokens = refresh_then_die
    elif point == "keyring-write":
        from desktop_app.storage.keyring_vault import KeyringVault
        real_put = KeyringVault.put
        def put_then_die(self, key, value):
            real_put(self, key, value)
            if key.startswith("account/"):
                die()
        KeyringVault.put = put_then_die
    elif point == "revoked":
        from desktop_app.accounts.signout import SignOut
        real_revoke = SignOut.revoke
        async def revoke_then_die(self, *args, **kwargs):
            await real_revoke(self, *args, **kwargs)
            die()
        SignOut.revoke = revoke_then_die
    elif point == "marked-signed-out":
        from desktop_app.storage.registry import SqliteRegistry
        real_set_state = SqliteRegistry.set_state
        def set_state_then_die(self, *args, **kwargs):
            real_set_state(self, *args, **kwargs)
            die()
        SqliteRegistry.set_state = set_state_then_die
    else:
        sys.exit(f"unknown crash point {point}")
"""

#: The renewal worker (docs/decisions/0018), killing itself right after the crash point ``sys.argv[1]``.
CRASHING_WORKER = (
    CRASH_POINTS
    + """
from desktop_app.storage.renewal_worker import main as worker
die_after(sys.argv[1])
sys.exit(worker())
"""
)

#: ``CRASH point ARGS...``: run one CLI command that kills itself right after ``point``; a renewal it asks for runs
#: in a worker that dies there instead (the command itself never refreshes nor stores a renewal).
CRASH = (
    PRELUDE
    + CRASH_POINTS
    + f"CRASHING_WORKER = {CRASHING_WORKER!r}\n"
    + """
import desktop_app.accounts.renewer as renewer
from desktop_app.accounts.worker_words import WORKER_FLAG
point, argv = sys.argv[1], sys.argv[2:]
die_after(point)
renewer.worker_command = lambda: [sys.executable, "-c", CRASHING_WORKER, point, WORKER_FLAG]
sys.exit(main(argv))
"""
)


def run_cli(*args: str, user: str = "alice") -> subprocess.CompletedProcess[str]:
    """A CLI command whose "system browser" is the lab's scripted one, in the process (it dies with it)."""
    return run_cli_process(*args, script=PRELUDE + "sys.exit(main(sys.argv[1:]))", user=user)


def crash_cli(point: str, *args: str, user: str = "alice") -> subprocess.CompletedProcess[str]:
    result = run_cli_process(point, *args, script=CRASH, user=user)
    assert result.returncode == -signal.SIGKILL, f"the crash point {point} was not reached: {result.stderr}"
    return result


def crash_renewal(point: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A CLI command whose renewal worker kills itself right after ``point``: the command lives on and says that
    the renewal stopped (exit 3, a temporary problem)."""
    result = run_cli_process(point, *args, script=CRASH, user="alice")
    assert result.returncode == 3, f"the crash point {point} was not reached in the worker: {result.stderr}"
    assert "stopped before it said how it went" in result.stderr, result.stderr
    return result


@pytest.fixture
def secret_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateSecretService]:
    """This module's own keyring (overrides the session's): gnome-keyring-daemon can abort when a client dies in the
    middle of a call (its known bug, see :class:`KeyringSupervisor`), and that must not take the session's down."""
    service = start_secret_service()
    try:
        for key, value in service.environment.items():
            monkeypatch.setenv(key, value)
        yield service
    finally:
        service.stop()


# -- the checks ------------------------------------------------------------------------------------------------


def keyring_entries(accounts: Accounts, service: PrivateSecretService, account: Account) -> list[str]:
    """Names of every keyring entry of the account's bundle (head and parts), without their secrets."""
    prefix = f"{FORMAT_GENERATION}/{accounts.registry.profile_id()}/{account_secret_key(account.key)}"
    return sorted(name for name in service.items(prefix=prefix) if name == prefix or name.startswith(prefix + "#"))


def check_profile(
    accounts: Accounts,
    service: PrivateSecretService,
    *,
    may_sign_out: frozenset[int] = frozenset(),
    supervisor: KeyringSupervisor | None = None,
) -> dict[int, Account]:
    """The invariants of a profile after crashes; returns the accounts by id. Run a CLI command first (clean-up).
    ``supervisor``: the keyring daemon was restarted during the run (see :func:`allowed_reason`)."""
    path = default_registry_path(data_dir())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    accounts_by_id = {a.id: a for a in accounts.registry.accounts()}
    for account in accounts_by_id.values():
        stored = accounts.secrets.get(account_secret_key(account.key))  # raises if half-written
        name = f"account {account.id} ({account.label})"
        if account.state is AccountState.SIGNED_IN:
            assert stored is not None, f"{name} is signed in without tokens"
            tokens = TokenBundle.from_secret(stored).tokens
            assert (tokens.issuer, tokens.client_id) == (account.issuer, account.client_id), f"{name}: mixed up"
        elif account.state is AccountState.NEEDS_SIGN_IN:
            events = needs_sign_in_events(accounts, account)
            assert events, f"{name} needs a sign-in, and no event says why"
            detail, at = events[0]
            assert allowed_reason(detail, at, supervisor), f"{name} needs a sign-in: {detail}"
        else:
            assert account.id in may_sign_out, f"{name} was signed out by a crash"
            has_tokens = stored is not None  # (never the tokens themselves in a message)
            entries = len(keyring_entries(accounts, service, account))
            problem = f"{name} is signed out but {entries} keyring entries of its secret are left" + (
                " (its whole token bundle)" if has_tokens else " (parts of a bundle that was being written)"
            )
            assert not entries, problem
    notes = accounts.registry.stale_pending_secrets(older_than=time.time() + 10)
    assert notes == [], f"notes of unfinished deletions left: {notes}"
    return accounts_by_id


def needs_sign_in_events(accounts: Accounts, account: Account) -> list[tuple[str, float]]:
    """(detail, time) of every time the account was marked as needing a sign-in, newest first."""
    events = accounts.registry.events(account_id=account.id, limit=1000)
    return [(e.detail, e.at) for e in events if e.kind == "needs_sign_in"]


def allowed_reason(detail: str, at: float, supervisor: KeyringSupervisor | None) -> bool:
    """The inherent window (the server refuses a rotated refresh token that a killed process never saved), or the
    renewed tokens could not be saved because the keyring daemon had just died (see :class:`KeyringSupervisor`)."""
    if detail.startswith("invalid_grant"):
        return True
    unsaved = detail.startswith("keyring_") and "could not be saved" in detail
    return unsaved and supervisor is not None and supervisor.near_outage(at)


def listed_states() -> dict[int, str]:
    """``list --json`` (also runs the clean-up of interrupted sign-outs every command starts with)."""
    result = run_cli("list", "--json")
    assert result.returncode == 0, result.stderr
    return {a["id"]: a["state"] for s in json.loads(result.stdout)["servers"] for a in s["accounts"]}


# -- at chosen points ----------------------------------------------------------------------------------------------


def test_killed_after_the_token_endpoint_answered_the_rotated_token_is_lost_and_the_account_needs_sign_in(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, secret_service: PrivateSecretService
) -> None:
    """The window that remains, pinned down: the renewal worker itself killed between the token endpoint's answer
    and the keyring write (no AI host stopping a bridge does that: the worker is not its child; docs/decisions/0018).
    The only way a crash ends a login."""
    account = sign_in(profile, lab_mcp.url, "alice")
    key = account_secret_key(account.key)
    raw = profile.secrets.get(key)
    before = fingerprints(raw)
    lab_as.reset_requests()

    crash_renewal("token-response", "token", str(account.server_id), "--account", str(account.id), "--force")

    assert listed_states()[account.id] == "signed_in"
    kept = fingerprints(profile.secrets.get(key))
    assert kept == before  # the answer died with the process
    assert raw is not None
    active = lab_as.introspect(raw["refresh_token"])["active"]
    assert active is False  # rotated at the server
    again = run_cli("token", str(account.server_id), "--account", str(account.id), "--force")
    assert again.returncode == 1, again.stderr
    assert "sign in again" in again.stderr.lower()
    # Both refreshes sent the same refresh token: the first was answered (and rotated), the second refused.
    old = before["refresh_token"]
    assert [(r["body"]["refresh_token"], r["status"]) for r in lab_as.refresh_requests()] == [(old, 200), (old, 400)]
    checked = check_profile(profile, secret_service)
    assert checked[account.id].state is AccountState.NEEDS_SIGN_IN


def test_killed_after_the_renewed_tokens_were_stored_the_next_use_works(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, secret_service: PrivateSecretService
) -> None:
    account = sign_in(profile, lab_mcp.url, "alice")
    key = account_secret_key(account.key)
    before = fingerprints(profile.secrets.get(key))

    crash_renewal("keyring-write", "token", str(account.server_id), "--account", str(account.id), "--force")

    assert listed_states()[account.id] == "signed_in"
    stored = fingerprints(profile.secrets.get(key))
    assert stored["refresh_token"] != before["refresh_token"]
    check_profile(profile, secret_service)
    renewed = run_cli("token", str(account.server_id), "--account", str(account.id), "--force")
    assert renewed.returncode == 0, renewed.stderr
    assert check_profile(profile, secret_service)[account.id].state is AccountState.SIGNED_IN


def test_killed_while_signing_in_again_keeps_a_working_login(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, secret_service: PrivateSecretService
) -> None:
    account = sign_in(profile, lab_mcp.url, "alice")
    before = fingerprints(profile.secrets.get(account_secret_key(account.key)))

    crash_cli("keyring-write", "login", str(account.server_id), "--account", str(account.id), "--yes")

    assert listed_states()[account.id] == "signed_in"
    stored = fingerprints(profile.secrets.get(account_secret_key(account.key)))
    assert stored["refresh_token"] != before["refresh_token"]
    check_profile(profile, secret_service)
    renewed = run_cli("token", str(account.server_id), "--account", str(account.id), "--force")
    assert renewed.returncode == 0, renewed.stderr


def test_killed_while_signing_a_signed_out_account_in_again_leaves_no_tokens_of_a_signed_out_account(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, secret_service: PrivateSecretService
) -> None:
    account = sign_in(profile, lab_mcp.url, "alice")
    out = run_cli("logout", str(account.server_id), "--account", str(account.id))
    assert out.returncode == 0, out.stderr

    crash_cli("keyring-write", "login", str(account.server_id), "--account", str(account.id), "--yes")

    # The key was noted before the write: the next command's clean-up deletes what the crash left.
    assert listed_states()[account.id] == "signed_out"
    check_profile(profile, secret_service, may_sign_out=frozenset({account.id}))


def test_killed_while_adding_an_account_leaves_a_note_that_removes_its_tokens_later(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, secret_service: PrivateSecretService
) -> None:
    alice = sign_in(profile, lab_mcp.url, "alice")

    crash_cli("keyring-write", "login", str(alice.server_id), "--new-account", "--yes", user="bob")

    assert list(listed_states()) == [alice.id]  # bob's account never made it into the database
    (note,) = profile.registry.stale_pending_secrets(older_than=time.time() + 10)
    assert profile.secrets.get(note) is not None  # too recent to be sure it is abandoned: kept for now
    later = open_accounts(clock=lambda: time.time() + PENDING_SECRET_AGE + 60)
    try:
        assert asyncio.run(later.clean_pending_secrets()) == 1
    finally:
        later.registry.close()
    left = profile.secrets.get(note) is not None
    assert not left
    check_profile(profile, secret_service)


def test_killed_after_revoking_during_sign_out_the_account_is_still_signed_in_but_its_grant_is_gone(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, secret_service: PrivateSecretService
) -> None:
    """Sign-out revokes first: a crash right after leaves a signed-in account whose refresh token is dead; the next
    renewal says so (needs sign-in, invalid_grant), and signing out again finishes the job."""
    account = sign_in(profile, lab_mcp.url, "alice")
    raw = profile.secrets.get(account_secret_key(account.key))
    assert raw is not None

    crash_cli("revoked", "logout", str(account.server_id), "--account", str(account.id))

    assert listed_states()[account.id] == "signed_in"
    active = lab_as.introspect(raw["refresh_token"])["active"]
    assert active is False
    check_profile(profile, secret_service)
    renewal = run_cli("token", str(account.server_id), "--account", str(account.id), "--force")
    assert renewal.returncode == 1, renewal.stderr
    check_profile(profile, secret_service)
    out = run_cli("logout", str(account.server_id), "--account", str(account.id))
    assert out.returncode == 0, out.stderr
    check_profile(profile, secret_service, may_sign_out=frozenset({account.id}))


def test_killed_after_marking_signed_out_the_next_command_deletes_the_tokens(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, secret_service: PrivateSecretService
) -> None:
    account = sign_in(profile, lab_mcp.url, "alice")

    crash_cli("marked-signed-out", "logout", str(account.server_id), "--account", str(account.id))

    assert profile.registry.stale_pending_secrets(older_than=time.time() + 10) == [account_secret_key(account.key)]
    assert profile.secrets.get(account_secret_key(account.key)) is not None
    assert listed_states()[account.id] == "signed_out"  # the command's clean-up deleted the tokens
    checked = check_profile(profile, secret_service, may_sign_out=frozenset({account.id}))
    assert checked[account.id].state is AccountState.SIGNED_OUT


# -- at random points ----------------------------------------------------------------------------------------------


@dataclass
class KeyringSupervisor:
    """Restarts gnome-keyring-daemon when it dies, on the same keyring files, as systemd or D-Bus activation would.

    gnome-keyring aborts now and then when a client vanishes while the daemon still handles its property request
    (``gkd_secret_service_get_pkcs11_session: assertion 'client' failed``, then ``invoke_get_property_in_idle_cb:
    assertion failed``): a gnome-keyring bug that short-lived clients trip in the field too. Killing clients at
    random trips it in some runs; the app then meets a keyring that disappears and comes back.
    """

    service: PrivateSecretService
    #: (died at, back at) in time.time(), one per restart.
    outages: list[tuple[float, float]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def watch(self) -> None:
        while not self.stop.wait(0.02):
            daemon = self.service._processes[-1]
            if daemon.poll() is not None:
                self.restart(daemon)

    def restart(self, dead: subprocess.Popen[bytes]) -> None:
        died = time.time()
        log = self.service.root / "daemons.log"
        if dead.returncode == -signal.SIGKILL:
            self.reasons.append("killed by the test")
        else:
            lines = log.read_text(errors="replace").splitlines()
            self.reasons.append(f"exit {dead.returncode}: " + " | ".join(x for x in lines if "ERROR" in x)[-300:])
        self.service.revive()  # on the same keyring files, with the environment it started with
        self.outages.append((died, time.time()))

    @property
    def aborted(self) -> str | None:
        """Why gnome-keyring-daemon aborted by itself during the test (its known bug), or None."""
        return next((reason for reason in self.reasons if reason.startswith(f"exit {-signal.SIGABRT}")), None)

    def near_outage(self, at: float, *, before: float = 2.0, after: float = 5.0) -> bool:
        return any(died - before <= at <= back + after for died, back in self.outages)


@dataclass
class Loop:
    kind: str
    account: Account
    user: str
    kills: int = 0


def said(stderr: str, entry: tuple[str, str, str, float]) -> str:
    """What one finished command of a loop wrote to stderr (the loop marks each with ``--- command code time``)."""
    _, command, code, at = entry
    return stderr.split(f"--- {command} {code} {at:.3f}\n", 1)[-1].split("\n--- ", 1)[0]


def run_loop(loop: Loop, rng: random.Random, until: float, workdir: Path) -> None:
    results = workdir / "results.txt"
    with (workdir / f"{loop.kind}.stderr").open("ab") as stderr:
        while time.monotonic() < until:
            process = subprocess.Popen(
                [sys.executable, "-c", LOOP, loop.kind, str(loop.account.server_id), str(loop.account.id), results],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=cli_env(user=loop.user),
                cwd=ROOT,
                start_new_session=True,
            )
            try:
                time.sleep(rng.uniform(*LIFETIME))
            finally:
                process.kill()
                process.wait()
            loop.kills += 1


def test_random_kills_in_sign_in_renew_and_sign_out_loops_never_lose_a_login(
    profile: Accounts,
    lab_as: RunningAuthServer,
    lab_mcp: RunningMcpServer,
    lab_mcp_factory: Any,
    secret_service: PrivateSecretService,
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\ncrash test seed: CRASH_SEED={seed}")
    second = lab_mcp_factory(lab_as, prm_mode="header")
    loops = [
        Loop("refresh", sign_in(profile, lab_mcp.url, "alice"), "alice"),
        Loop("login", sign_in(profile, lab_mcp.url, "bob"), "bob"),
        Loop("logout", sign_in(profile, second.url, "alice"), "alice"),
    ]
    refresher_id, relogger_id, outer_id = (loop.account.id for loop in loops)
    master = random.Random(seed)
    supervisor = KeyringSupervisor(secret_service)
    watcher = threading.Thread(target=supervisor.watch, daemon=True)
    watcher.start()
    lab_as.reset_requests()
    until = time.monotonic() + CHAOS_SECONDS
    threads = [
        threading.Thread(target=run_loop, args=(loop, random.Random(master.random()), until, tmp_path), daemon=True)
        for loop in loops
    ]
    try:
        for thread in threads:
            thread.start()
        # The keyring daemon itself dies once too, at a random moment (and comes back, as the supervisor sees to).
        time.sleep(master.uniform(0.3, 0.7) * CHAOS_SECONDS)
        secret_service._processes[-1].kill()
        for thread in threads:
            thread.join(timeout=CHAOS_SECONDS + 20)
            assert not thread.is_alive()
        wait_for_renewal_workers(data_dir())  # renewals whose requesters were killed finish on their own
        states = listed_states()  # one CLI command: its start finishes what the kills interrupted
    finally:
        supervisor.stop.set()
        watcher.join()

    finished: list[tuple[str, str, str, float]] = []
    for line in (tmp_path / "results.txt").read_text().splitlines():
        fields = line.split()
        if len(fields) == 4:  # (a line cut short by a kill is dropped)
            finished.append((fields[0], fields[1], fields[2], float(fields[3])))
    counts = Counter(entry[:3] for entry in finished)
    errors = {
        kind: (tmp_path / f"{kind}.stderr").read_text(errors="replace") for kind in ("refresh", "login", "logout")
    }
    summary = (
        f"seed {seed}; kills {[(loop.kind, loop.kills) for loop in loops]}; finished {dict(counts)}; "
        f"keyring daemon restarts {len(supervisor.outages)} {supervisor.reasons}"
    )
    print(summary)
    for text in errors.values():
        leaked = JWT.search(text) is not None  # (the match would show the token)
        assert not leaked, "a token in what the CLI said"

    checked = check_profile(profile, secret_service, may_sign_out=frozenset({outer_id}), supervisor=supervisor)
    refresher, relogger, outer = checked[refresher_id], checked[relogger_id], checked[outer_id]
    assert states[relogger.id] == "signed_in" and states[refresher.id] != "signed_out", summary
    for account in (refresher, relogger):
        kinds = {e.kind for e in profile.registry.events(account_id=account.id, limit=1000)}
        assert "signed_out" not in kinds, f"account {account.id} was signed out: {summary}"
    # Over the whole run only the refresh loop needed a sign-in: because the server said invalid_grant, or because
    # the renewed tokens could not be saved while the keyring daemon was gone.
    reasons = needs_sign_in_events(profile, refresher)
    assert all(allowed_reason(detail, at, supervisor) for detail, at in reasons), (summary, reasons)
    assert needs_sign_in_events(profile, relogger) == [] and needs_sign_in_events(profile, outer) == []
    hits = [detail for detail, _ in reasons if "invalid_grant" in detail]
    print(f"inherent window (invalid_grant after a kill) hit {len(hits)} time(s); final states {states}")
    # Each refusal at the server was a refresh token used a second time after the server had rotated it (its answer
    # died with a killed process), never a second refresh by a live one: at most one per kill of the refresh loop.
    accepted: set[str] = set()
    refused: list[tuple[str, bool]] = []  # (fingerprint, accepted before)
    for request in lab_as.refresh_requests():
        fingerprint = request["body"]["refresh_token"]
        if request["status"] in (200, None):
            # None: the client was killed while the answer was on its way (the AS never finished sending it), so
            # the AS may well have rotated that token: a later use of it is a reuse.
            accepted.add(fingerprint)
        else:
            refused.append((fingerprint, fingerprint in accepted))
    # A process killed after the server refused a token but before it recorded that leaves the token stored: the
    # next one sends it again and is refused again. So: one "needs sign-in" per refused token, not per refusal.
    distinct = list(dict.fromkeys(fingerprint for fingerprint, _ in refused))
    assert len(distinct) == len(hits) <= loops[0].kills, (summary, refused)
    assert all(reused for _, reused in refused), f"a refresh token was refused on its first use: {refused}"
    # The loops really ran: renewals, sign-ins and sign-outs finished between the kills.
    assert counts[("refresh", "token", "0")] >= 3, summary
    assert counts[("login", "login", "0")] >= 3, summary
    assert counts[("logout", "logout", "0")] >= 2 and counts[("logout", "login", "0")] >= 2, summary
    # Commands that finished failed only for a reason above: needs a sign-in (1), or the keyring gone (6).
    # A keyring that refuses a call away from an outage ("is not available", a keyring-side hiccup) is reported
    # correctly and changes nothing: allowed, counted; anything else (a "damaged" secret...) is not.
    unavailable = [e for e in finished if e[2] == "6" and "is not available (" in said(errors[e[0]], e)]
    print(f"keyring unavailable away from an outage: {len(unavailable)} command(s)")
    unexpected = [
        entry
        for entry in finished
        if entry[2] != "0"
        and entry[:3] != ("refresh", "token", "1")
        and not (entry[2] == "6" and (supervisor.near_outage(entry[3]) or entry in unavailable))
    ]
    for entry in unexpected:  # what the command said (no secrets: checked above)
        print(f"UNEXPECTED {entry}: {said(errors[entry[0]], entry)}")
    assert not unexpected, (summary, f"outages {supervisor.outages}", unexpected[:5])
    # What is signed in still works; the sign-in loop's account always does.
    relogged = run_cli("token", str(relogger.server_id), "--account", str(relogger.id), "--force", user="bob")
    assert relogged.returncode == 0, relogged.stderr
    if refresher.state is AccountState.SIGNED_IN:
        renewal = run_cli("token", str(refresher.server_id), "--account", str(refresher.id), "--force")
        assert renewal.returncode in (0, 1), renewal.stderr
    check_profile(profile, secret_service, may_sign_out=frozenset({outer.id}), supervisor=supervisor)
