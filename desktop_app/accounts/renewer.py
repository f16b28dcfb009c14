"""Renewals that a killed requester cannot interrupt: the requester's side.

A process that needs an account renewed (the command line, the window, the tray, a bridge an AI host launched)
starts the renewal worker (:mod:`desktop_app.storage.renewal_worker`) out of its own reach
(:mod:`desktop_app.accounts.worker_launch`), hands it the request on its stdin, and waits for its one-line answer.
The worker takes the account's lock, renews and stores; if the requester is killed meanwhile (hosts stop their stdio
servers abruptly), the worker still finishes and stores the rotated refresh token, so no login is lost to the kill
(docs/decisions/0018). The requester then reads the token from the store: the worker never prints one.

Light on purpose: the bridge calls this from a process that must start fast (no HTTP client, no OAuth engine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import threading
from pathlib import Path

from desktop_app.accounts.models import Account
from desktop_app.accounts.renewal_wire import Outcome, RenewalAnswer, RenewalRequest
from desktop_app.accounts.worker_launch import start_detached, worker_command
from desktop_app.errors import TransientError, one_line
from desktop_app.oauth.trace import Trace

log = logging.getLogger(__name__)

#: The most lines of what the worker wrote on stderr that are logged when it ended without an answer.
STDERR_LINES = 20


def run_worker(request: RenewalRequest, account: Account, *, command: list[str] | None = None) -> RenewalAnswer:
    """Start the worker for ``request``, wait for it to finish, and return its answer (blocking).

    The worker ends on its own; nothing here stops it. :class:`~desktop_app.errors.RenewerUnavailable` when it
    cannot be started (from here, or by its first stage: then its answer says so),
    :class:`TransientError` (``renewal_interrupted``) when it ended without an answer (killed, or crashed: its
    complaints are logged).
    """
    pipe = subprocess.PIPE
    command = command if command is not None else worker_command()
    process = start_detached(command, stdin=pipe, stdout=pipe, stderr=pipe)
    # Until the worker proper ends and closes the pipes it was handed (the first stage ends at once).
    out, err = process.communicate(request.to_line())
    first = out.split(b"\n", 1)[0] + b"\n"
    try:
        return RenewalAnswer.from_line(first)
    except ValueError as exc:
        for line in err.decode(errors="replace").splitlines()[-STDERR_LINES:]:
            log.warning("renewal worker: %s", one_line(line, 300))
        log.warning("The renewal worker ended without an answer (%s)", exc)
        raise TransientError(
            "renewal_interrupted",
            f"The renewal of {account.display_name} stopped before it said how it went.",
            hint="Try again in a moment.",
        ) from None


def outcome_of(answer: RenewalAnswer, trace: Trace | None) -> Outcome:
    """The answer's outcome, after its steps were added to ``trace``; its error raised, as the class it was."""
    if trace is not None:
        for event in answer.trace:
            trace.add(event.step, event.url, event.status, event.note)
    if answer.error is not None:
        raise answer.error
    assert answer.outcome is not None
    return answer.outcome


async def renew_detached(
    home: Path, account: Account, *, force: bool, seen: str | None = None, trace: Trace | None = None
) -> Outcome:
    """Renew ``account`` of the profile in ``home`` in the worker and wait for it: how it ended, or the error the
    renewal raised, as its class (:class:`~desktop_app.errors.SignInRequired` when the authorization server ended
    the grant, a :class:`TransientError` when it is out of reach and the token expired, a
    :class:`~desktop_app.errors.SecretStoreError` ...; :class:`~desktop_app.errors.RenewerUnavailable` when the
    worker cannot be
    started). Then read the token from the store. The worker's steps are added to ``trace``.

    ``force``: renew even if the stored token looks fresh. ``seen``: :func:`~desktop_app.accounts.renewal_wire.
    fingerprint` of the tokens the caller read (the ones a server refused, say): if the stored ones differ, another
    process renewed meanwhile and that renewal is used instead of another one.

    The wait happens on a thread of its own, so the event loop runs on. Cancelled, this stops waiting and the worker
    carries on: the renewal it started is finished and stored all the same."""
    request = RenewalRequest(str(home), account.key, force, seen)
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[RenewalAnswer] = loop.create_future()

    def wait() -> None:
        try:
            result = run_worker(request, account)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting coroutine, whatever it is
            _settle_soon(loop, answer, None, exc)
        else:
            _settle_soon(loop, answer, result, None)

    # A daemon thread: a requester that is cancelled or exits never waits for the worker to end.
    threading.Thread(target=wait, name=f"renewal of account {account.id}", daemon=True).start()
    return outcome_of(await answer, trace)


def _settle_soon(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[RenewalAnswer],
    result: RenewalAnswer | None,
    error: BaseException | None,
) -> None:
    def settle() -> None:
        if future.done():
            return  # the requester stopped waiting
        if error is not None:
            future.set_exception(error)
        else:
            assert result is not None
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(settle)
