"""Long work in the window: a :class:`Job` is one task on the asyncio loop that qasync runs inside Qt's, reporting
through signals that land on the GUI thread; a :class:`SignInJob` also asks its questions (approve this pairing? a
nickname?) as signals, and waits for the answers without blocking anything. The :class:`~desktop_app.ui.controller.
Controller` starts them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from desktop_app.accounts.consent import PairingCheck
from desktop_app.accounts.models import Server
from desktop_app.errors import ConnectorError
from desktop_app.oauth.signin_machine import Step
from desktop_app.oauth.trace import Trace

log = logging.getLogger(__name__)

#: How long the window waits for the browser to come back before saying so (seconds).
SIGN_IN_TIMEOUT = 600.0

#: What the window says while a sign-in is in each step (the final steps have their own pages).
STEP_WORDS = {
    Step.DISCOVERING: "Asking the server how to sign in",
    Step.REGISTERING: "Registering this app with the authorization server",
    Step.AWAITING_APPROVAL: "Waiting for your approval",
    Step.AWAITING_BROWSER: "Waiting for the browser",
    Step.EXCHANGING: "The browser came back; exchanging the code for tokens",
    Step.RESOLVING_IDENTITY: "Checking who signed in",
    Step.SAVING: "Saving the sign-in",
}

#: Opens a URL in the system browser; False when no browser could be started.
OpenUrl = Callable[[str], bool]


def open_in_system_browser(url: str) -> bool:
    return bool(QDesktopServices.openUrl(QUrl(url, QUrl.ParsingMode.StrictMode)))


class Job(QObject):
    """One piece of long work. Exactly one of finished / failed / cancelled is emitted, then done."""

    sig_finished = Signal(object)
    sig_failed = Signal(object)
    sig_cancelled = Signal()
    sig_done = Signal()

    def __init__(self, title: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.trace = Trace()
        self._task: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()

    def start(self, work: Coroutine[Any, Any, Any]) -> Job:
        self._task = asyncio.ensure_future(self._run(work))
        self._task.add_done_callback(lambda _task: self._ended(work))
        return self

    def _ended(self, work: Coroutine[Any, Any, Any]) -> None:
        """A task cancelled before its first step never enters :meth:`_run` (its ``finally`` never runs): the job
        still ends, cancelled, so that nothing waits for it forever (the app's quit awaits every job)."""
        if self._finished.is_set():
            return
        work.close()  # never started: closed, so that it is not reported as never awaited
        self.cancelled = True
        log.info("%s: cancelled before it started", self.title)
        self.sig_cancelled.emit()
        self._finished.set()
        self.sig_done.emit()

    @property
    def running(self) -> bool:
        return not self._finished.is_set()

    def cancel(self) -> None:
        """Stop the work for real: the task is cancelled (a loopback listener closes, requests stop)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def finished(self) -> None:
        """Until the job has ended, however it ended (never raises)."""
        await self._finished.wait()

    async def wait(self) -> Any:
        """The result (for code that awaits a job: tests, the controller's own sequences)."""
        await self._finished.wait()
        if self.error is not None:
            raise self.error
        if self.cancelled:
            raise asyncio.CancelledError
        return self.result

    async def _run(self, work: Coroutine[Any, Any, Any]) -> None:
        try:
            self.result = await work
        except asyncio.CancelledError:
            self.cancelled = True
            log.info("%s: cancelled", self.title)
            self.sig_cancelled.emit()
        except ConnectorError as exc:
            self.error = exc
            log.info("%s failed: %s (%s)", self.title, exc.code, exc.message)
            self.sig_failed.emit(exc)
        except Exception as exc:  # a bug: shown with details instead of vanishing in the loop
            self.error = exc
            log.exception("%s failed unexpectedly", self.title)
            self.sig_failed.emit(exc)
        else:
            self.sig_finished.emit(self.result)
        finally:
            self._finished.set()
            self.sig_done.emit()


J = TypeVar("J", bound=Job)


class SignInJob(Job):
    """A sign-in: discovery steps, the pairing question, the browser wait, the result (a ``LoginResult``)."""

    #: (step, words) as the sign-in goes from step to step (desktop_app.oauth.signin_machine.Step values).
    sig_step = Signal(str, str)
    #: The pairing must be approved: answer with :meth:`answer_pairing`.
    sig_pairing_requested = Signal(object)
    #: The browser was sent to this sign-in page (the waiting page shows "Copy sign-in link").
    sig_waiting = Signal(str)
    #: The system browser could not be opened: the person can copy the link instead.
    sig_browser_failed = Signal(str)
    #: No identity could be learned: answer with :meth:`answer_nickname`.
    sig_nickname_requested = Signal()

    def __init__(
        self, title: str, server: Server, open_url: OpenUrl, *, timeout: float, parent: QObject | None = None
    ) -> None:
        super().__init__(title, parent)
        self.server = server
        #: How long the browser may take (seconds).
        self.timeout = timeout
        self.url: str | None = None
        self._open_url = open_url
        self._pairing: asyncio.Future[bool] | None = None
        self._nickname: asyncio.Future[str | None] | None = None

    def on_step(self, step: Step) -> None:
        words = STEP_WORDS.get(step)
        if words:
            self.sig_step.emit(step.value, words)

    async def approve(self, check: PairingCheck) -> bool:
        self._pairing = asyncio.get_running_loop().create_future()
        self.sig_pairing_requested.emit(check)
        try:
            return await self._pairing
        finally:
            self._pairing = None

    def answer_pairing(self, approved: bool) -> None:
        if self._pairing is not None and not self._pairing.done():
            self._pairing.set_result(approved)

    async def ask_nickname(self) -> str | None:
        self._nickname = asyncio.get_running_loop().create_future()
        self.sig_nickname_requested.emit()
        try:
            return await self._nickname
        finally:
            self._nickname = None

    def answer_nickname(self, nickname: str | None) -> None:
        if self._nickname is not None and not self._nickname.done():
            self._nickname.set_result(nickname)

    def remember_url(self, url: str) -> None:
        self.url = url

    async def browser(self, url: str) -> None:
        self.url = url
        self.sig_waiting.emit(url)
        self.open_browser_again()

    def open_browser_again(self) -> bool:
        if self.url is None:
            return False
        if self._open_url(self.url):
            return True
        self.sig_browser_failed.emit("No web browser could be opened on this computer.")
        return False
