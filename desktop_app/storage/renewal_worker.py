"""The renewal worker: a process of its own that renews one account of one profile, whoever asked and whatever
becomes of them (docs/decisions/0018).

Started for :mod:`desktop_app.accounts.renewer` as ``<python> -m desktop_app --renewal-worker --handed-over`` (or
the frozen app with those flags), in a session of its own, by a first stage that ends at once: no signal to its
requester's process group and no walk down its requester's process tree reaches it
(:mod:`desktop_app.accounts.worker_launch`). It reads one request line on stdin (:class:`RenewalRequest`: the
profile's folder, the account's key, ``force``, a fingerprint of the tokens the requester saw), renews exactly as the
app does in-process (:meth:`~desktop_app.accounts.renewal.Renewal.renew_here`: the account's lock, the keyring read
again, the refresh with its retries, the atomic write, the record in the registry), and writes one answer line on
stdout.

It finishes when its requester is gone: a broken answer pipe is ignored (the renewal is stored all the same), and
the signals that stop a program politely (interrupt, hang-up, terminate) are ignored for its short life, which the
lock's wait and the network steps' deadlines bound. Only SIGKILL (or the Windows equivalent) stops it; then the
window ADR 0010 describes remains, no longer opened by an AI host stopping a bridge.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from desktop_app.accounts.ports import Stores
from desktop_app.accounts.registrations import PersistentRegistrationStore
from desktop_app.accounts.renewal import Renewal
from desktop_app.accounts.renewal_wire import MAX_LINE, RenewalAnswer, RenewalRequest
from desktop_app.accounts.stored import StoredTokens
from desktop_app.errors import AccountRemoved, ConnectorError
from desktop_app.oauth.http import new_client
from desktop_app.oauth.redact import configure_logging
from desktop_app.oauth.trace import Trace
from desktop_app.storage.locks import AccountLocks
from desktop_app.storage.profile_stores import open_stores

log = logging.getLogger(__name__)

EXIT_OK = 0
#: The request was not one (a requester that died while writing it): nothing was done.
EXIT_NO_REQUEST = 2

#: Signals that ask a program to stop, which the worker outlives (the names this platform has).
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")


def main() -> int:
    for name in STOP_SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    configure_logging(logging.WARNING)
    try:
        request = RenewalRequest.from_line(sys.stdin.buffer.readline(MAX_LINE + 1))
    except ValueError as exc:
        log.warning("No renewal: the request could not be read (%s).", exc)
        return EXIT_NO_REQUEST
    answer = asyncio.run(renew(request))
    say(answer)
    return EXIT_OK


async def renew(request: RenewalRequest) -> RenewalAnswer:
    """Renew as the request says; the answer, errors included (a bug too: the requester says it went wrong)."""
    trace = Trace()
    try:
        registry, secrets, home = open_stores(directory=Path(request.home))
    except ConnectorError as exc:
        return RenewalAnswer(None, exc)
    try:
        account = registry.account_by_key(request.account_key)
        if account is None:
            raise AccountRemoved("The account no longer exists.")
        stores = Stores(registry, secrets, AccountLocks(home / "locks"))
        renewal = Renewal(stores, StoredTokens(stores), PersistentRegistrationStore(registry, secrets, stores.clock))
        server = registry.server(account.server_id)
        async with new_client(server_url=server.url if server is not None else None) as http:
            _, outcome = await renewal.renew_here(http, account, seen=request.seen, force=request.force, trace=trace)
        return RenewalAnswer(outcome, None, tuple(trace.events))
    except ConnectorError as exc:
        return RenewalAnswer(None, exc, tuple(trace.events))
    except Exception as exc:
        log.exception("The renewal failed unexpectedly")
        failure = ConnectorError("internal_error", f"The renewal failed unexpectedly ({type(exc).__name__}).")
        return RenewalAnswer(None, failure, tuple(trace.events))
    finally:
        registry.close()


def say(answer: RenewalAnswer) -> None:
    """The answer on stdout, if anyone still listens: a requester that was killed is no reason to fail."""
    try:
        sys.stdout.buffer.write(answer.to_line())
        sys.stdout.buffer.flush()
    except OSError:
        # Nobody reads: point stdout at nothing, so that the flush at exit has nothing to complain about.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
