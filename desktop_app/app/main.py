"""Start the window: logging → QApplication + qasync loop → the profile → the main window → run until closed.

``mcp-connectors`` without a command (``desktop_app/__main__.py`` decides), ``mcp-connectors-window``,
``python -m desktop_app.app``. Exit codes as the command line's: 0, and 6 when the profile's storage (its folder,
database or keyring) cannot be opened or cannot be trusted (said in a message box first); 7 when the window cannot
open here: no display, or a library Qt needs is missing (said on stderr: :mod:`desktop_app.app.display`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app import appinfo
from desktop_app.app import autostart, display
from desktop_app.app.qt_start import without_abort
from desktop_app.bridge.launcher import USED_SETTING as BRIDGE_USED
from desktop_app.bridge.launcher import keep_starter_warm
from desktop_app.errors import ConnectorError
from desktop_app.oauth.redact import configure_logging
from desktop_app.storage.paths import check_own_file, data_dir, ensure_private_dir, instance_socket
from desktop_app.storage.profile import open_accounts
from desktop_app.ui import plain, tray_links
from desktop_app.ui.controller import Controller
from desktop_app.ui.errors import describe
from desktop_app.ui.gui_gc import GuiThreadCollector
from desktop_app.ui.icons import app_icon
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.profile_watch import ProfileWatcher
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.single_instance import SingleInstance, ask_running_instance_to_show, instance_name
from desktop_app.ui.tray import Click, Tray

EXIT_OK = 0
EXIT_STORAGE = 6
#: The window's size and place, in the profile folder.
WINDOW_SETTINGS = "window.ini"
#: On quit, renewals in flight get this long to store what the authorization server answered (ADR 0012).
RENEWAL_GRACE_S = 10.0
#: How often the running app makes sure a warm starter answers (its idle end is 15 minutes; docs/decisions/0034).
WARM_CHECK_MS = 5 * 60 * 1000

if TYPE_CHECKING:
    from PySide6.QtCore import QObject

log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=appinfo.COMMAND, description=f"{appinfo.APP_NAME}: the window.")
    parser.add_argument(
        "--hidden", action="store_true", help="start in the tray without showing the window (used at login)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (secrets are redacted)")
    known, _qt_args = parser.parse_known_args(list(argv))
    return known


def log_level(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``MCP_CONNECTORS_DEBUG`` (for a developer) over ``-v`` (what the command line's ``-v`` shows) over quiet."""
    if environ.get("MCP_CONNECTORS_DEBUG"):
        return logging.DEBUG
    return logging.INFO if args.verbose else logging.WARNING


def quit_on_signals(quit_requested: Callable[[], None], parent: QObject) -> Callable[[], None]:
    """SIGTERM (the session ending, ``kill``), SIGINT and SIGHUP end the app the way Quit does: renewals in flight
    finish and are stored first. Python runs a signal handler only when the interpreter next runs, and the Qt loop
    waits in C++; ``signal.set_wakeup_fd`` writes to a socket pair whose read end a QSocketNotifier watches, so the
    loop wakes and the handler runs at once. Nothing is polled. Returns what puts everything back as it was."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, parent)

    def drain() -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            reader.recv(512)

    notifier.activated.connect(drain)

    def handler(number: int, _frame: object) -> None:
        log.info("Signal %s: quitting", signal.Signals(number).name)
        quit_requested()

    numbers = [getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)]
    previous = {number: signal.signal(number, handler) for number in numbers}

    def undo() -> None:
        for number, old in previous.items():
            signal.signal(number, old)
        signal.set_wakeup_fd(previous_fd)
        notifier.setEnabled(False)
        notifier.deleteLater()
        reader.close()
        writer.close()

    return undo


def main(argv: Sequence[str] | None = None) -> int:
    os.environ["QT_API"] = "pyside6"  # qasync picks its binding from this (else it tries PyQt5 first)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(log_level(args, os.environ))

    existing = QApplication.instance()
    if not isinstance(existing, QApplication):
        no_window = display.before_qt(os.environ)
        if no_window is not None:
            return display.refuse(no_window)

    import qasync  # reads QT_API, set just above, when it is imported

    app = existing if isinstance(existing, QApplication) else without_abort(lambda: QApplication(sys.argv[:1]))
    app.setApplicationName(appinfo.COMMAND)
    app.setApplicationDisplayName(appinfo.APP_NAME)
    app.setApplicationVersion(appinfo.VERSION)
    app.setDesktopFileName(appinfo.APP_ID)
    app.setWindowIcon(app_icon())

    def cannot_open(exc: ConnectorError) -> int:
        report = describe(exc, title="Opening your connectors")
        box = QMessageBox(QMessageBox.Icon.Critical, appinfo.APP_NAME, report.message)
        box.setInformativeText(f"What you can do: {report.hint}")
        box.setDetailedText(report.details)
        plain.dialog(box)
        box.exec()  # before the event loop runs: nothing else to keep responsive
        return EXIT_STORAGE

    profile = data_dir()
    settings_path = profile / WINDOW_SETTINGS
    try:
        # Nothing in the profile is trusted before the folder is looked at (ADR 0016); the socket lives in a
        # private folder (the runtime directory, else the profile), never in /tmp.
        ensure_private_dir(profile)
        check_own_file(settings_path)
        name = str(instance_socket(profile)) if os.name == "posix" else instance_name(profile)
    except ConnectorError as exc:
        return cannot_open(exc)
    # Started in the tray (at login, or by a connector whose sign-in ended) while it runs: nothing to bring forward.
    if ask_running_instance_to_show(name, show=not args.hidden):
        done = "it stays in the tray" if args.hidden else "its window was brought forward"
        print(f"{appinfo.APP_NAME} is already running: {done}.", file=sys.stderr)
        return EXIT_OK
    instance = SingleInstance(name)
    instance.listen()

    try:
        accounts = open_accounts(directory=profile)
    except ConnectorError as exc:
        return cannot_open(exc)

    # The app ends when run() below has finished cleanly (jobs cancelled, HTTP client closed), never because Qt
    # decided the last window closed: that would stop the loop under a running coroutine.
    app.setQuitOnLastWindowClosed(False)
    # Cycles holding Qt objects are freed on this thread only, never in a worker that happened to allocate.
    collector = GuiThreadCollector(app)
    collector.start()
    loop = qasync.QEventLoop(app)
    # qasync's own default executor starts ten threads at its first use; this one starts them as work arrives.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="mcpc-work"))
    asyncio.set_event_loop(loop)
    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    controller = Controller(accounts)
    window = MainWindow(controller, settings=settings)
    refresher = BackgroundRefresher(controller, parent=app)
    window.refresher, window.autostart = refresher, (autostart if autostart.supported() else None)  # Preferences
    # Sign-ins, sign-outs and renewals by the command line show up in the window and the renewal plan at once.
    profile_watch = ProfileWatcher(accounts.registry.path, accounts.registry.changed_elsewhere, parent=app)
    profile_watch.sig_changed_elsewhere.connect(controller.changed_elsewhere)
    quit_requested = asyncio.Event()

    tray: Tray | None = None
    if Tray.available():
        tray = Tray(controller, refresher, parent=app)
        # Open, Sign in again…, Sign out…, Open in window, Review, Add server… and Preferences… (ui/tray_links.py).
        tray_links.link(tray, window)
        tray.sig_quit_requested.connect(quit_requested.set)
        window.tray_mode = True

        def told_once() -> None:
            if settings.value("tray/told") is None and tray is not None:
                tray.tell(  # clicking it opens the window, not what an earlier notification was about
                    appinfo.APP_NAME,
                    "Still running in the tray: it keeps your sign-ins renewed. Quit from its menu.",
                    Click("open"),
                )
                settings.setValue("tray/told", 1)

        window.sig_hidden_to_tray.connect(told_once)
        tray.show()
    else:
        window.statusBar().showMessage(
            "No system tray on this desktop: sign-ins are renewed while this window is open.", 30_000
        )
        app.lastWindowClosed.connect(quit_requested.set)
    window.sig_quit_requested.connect(quit_requested.set)
    restore_signals = quit_on_signals(quit_requested.set, app)
    instance.sig_show_requested.connect(window.bring_forward)
    instance.sig_step_up_requested.connect(window.step_up)
    if not args.hidden or tray is None:
        window.show()

    def keep_bridges_warm() -> None:
        if accounts.registry.get_setting(BRIDGE_USED) is not None:
            keep_starter_warm()

    warm_timer = QTimer(app)
    warm_timer.setInterval(WARM_CHECK_MS)
    warm_timer.timeout.connect(keep_bridges_warm)

    async def run() -> None:
        try:
            await accounts.clean_pending_secrets()
        except ConnectorError as exc:
            log.warning("Could not clean up secrets left by an interrupted sign-in: %s", exc.message)
        refresher.start()
        profile_watch.start()
        # Once a connector has been used by an AI host, its bridges start forked from a warm starter, kept from ending
        # idle while the app runs (docs/decisions/0034).
        keep_bridges_warm()
        warm_timer.start()
        # The first sign-in's imports and HTTP client, off the GUI thread, once the window is there to sign in
        # from: an app started in the tray stays small until a person opens it (tests/benchmarks: tray_idle).
        prepared: list[asyncio.Future[None]] = []

        def prepare() -> None:
            if not prepared:
                prepared.append(asyncio.ensure_future(controller.prepare()))

        if window.isVisible():
            prepare()
        else:
            window.sig_shown.connect(prepare)
        await quit_requested.wait()
        for future in prepared:
            future.cancel()
        refresher.stop()
        profile_watch.stop()
        if tray is not None:
            tray.hide()
        window.tray_mode = False
        window.close()
        await controller.aclose(grace=RENEWAL_GRACE_S)

    try:
        with loop:
            loop.run_until_complete(run())
    finally:
        restore_signals()
        collector.stop()
        accounts.registry.close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
