"""Window tests: offscreen Qt, the engine's coroutines on a qasync loop, the real lab behind them.

- Every async test here runs on a ``qasync.QEventLoop`` (the app's own loop): coroutines and Qt events interleave as
  in the app. Inside such a test, wait with :func:`wait_signal` / :func:`wait_until` (they await), never with
  ``qtbot.wait*`` (a nested Qt loop re-enters asyncio and hangs teardown; INTEROP-NOTES).
- ``system_browser`` reroutes ``QDesktopServices.openUrl`` for http(s) (what the app calls to open the system
  browser) to the lab's scripted browser, signing in as ``system_browser.user``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QT_API"] = "pyside6"

import pytest
import qasync
from PySide6.QtCore import QObject, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QWidget

from desktop_app.accounts.manager import Accounts
from desktop_app.ui.controller import Controller
from desktop_app.ui.gui_gc import GuiThreadCollector
from tests.lab.browser import scripted_browser


@pytest.fixture(scope="session", autouse=True)
def gui_thread_collector() -> Iterator[None]:
    """As in the app: Python's cycle collector runs on the GUI thread only (desktop_app/ui/gui_gc.py), for the rest of
    the session (the QApplication outlives these tests, and so may the cycles they leave)."""
    app = QApplication.instance() or QApplication([])
    collector = GuiThreadCollector(app)
    collector.start()
    yield
    collector.stop()


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    def factory() -> asyncio.AbstractEventLoop:
        app = QApplication.instance() or QApplication([])
        # As in the app: closing the last visible window must not quit (and so stop the loop under a test).
        assert isinstance(app, QApplication)
        app.setQuitOnLastWindowClosed(False)
        return qasync.QEventLoop(app, already_running=False)

    return {"qasync": factory}


async def wait_signal(signal: Any, timeout: float = 20.0) -> tuple[Any, ...]:
    """Await the next emission of ``signal`` (its arguments)."""
    future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def fire(*args: Any) -> None:
        if not future.done():
            future.set_result(args)

    signal.connect(fire)
    try:
        return await asyncio.wait_for(future, timeout)
    finally:
        signal.disconnect(fire)


async def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll ``predicate`` on the loop (letting Qt and asyncio run) until it is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


class SystemBrowser(QObject):
    """Stands where the person's browser would: receives what ``QDesktopServices.openUrl`` opens."""

    sig_opened = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.user: str | None = "alice"
        self.opened: list[str] = []
        #: False: pages are received but nobody signs in (the person walked away).
        self.signs_in = True
        self.tasks: list[asyncio.Task[None]] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        text = url.toString(QUrl.ComponentFormattingOption.FullyEncoded)
        self.opened.append(text)
        self.sig_opened.emit(text)
        if self.signs_in:
            self.tasks.append(asyncio.ensure_future(scripted_browser(text, user=self.user)))


@pytest.fixture
def system_browser(qapp: QApplication) -> Iterator[SystemBrowser]:
    browser = SystemBrowser()
    QDesktopServices.setUrlHandler("http", browser, "open")
    QDesktopServices.setUrlHandler("https", browser, "open")
    yield browser
    QDesktopServices.unsetUrlHandler("http")
    QDesktopServices.unsetUrlHandler("https")
    for task in browser.tasks:
        task.cancel()


@pytest.fixture
def dialog_parent(qtbot: Any) -> QWidget:
    """Stands for the main window when a test opens a dialog alone: dialogs are the window's children in the app
    (placement, modality, and they go with it)."""
    made = QWidget()
    qtbot.addWidget(made)
    made.show()
    return made


@pytest.fixture
def accounts(profile: Accounts) -> Accounts:
    """The test's own profile (tests/conftest.py), with the private gnome-keyring."""
    return profile


@pytest.fixture
async def controller(
    qapp: QApplication, accounts: Accounts, system_browser: SystemBrowser
) -> AsyncIterator[Controller]:
    made = Controller(accounts, sign_in_timeout=30)
    yield made
    await made.aclose()
