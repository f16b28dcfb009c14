"""Start the window: logging → QApplication + qasync loop → the profile → the main window → run until closed.

``mcp-connectors`` without a command, ``python -m desktop_app.app``. Exit codes as the command line's: 0, and 6
when the profile's storage (database or keyring) cannot be opened (said in a message box first).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from desktop_app import appinfo
from desktop_app.errors import ConnectorError
from desktop_app.oauth.redact import configure_logging

EXIT_OK = 0
EXIT_STORAGE = 6

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ["QT_API"] = "pyside6"  # qasync picks its binding from this (else it tries PyQt5 first)
    configure_logging(logging.DEBUG if os.environ.get("MCP_CONNECTORS_DEBUG") else logging.WARNING)

    import qasync
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QMessageBox

    from desktop_app.storage.paths import data_dir
    from desktop_app.storage.profile import open_accounts
    from desktop_app.ui.controller import Controller
    from desktop_app.ui.errors import describe
    from desktop_app.ui.icons import app_icon
    from desktop_app.ui.main_window import MainWindow

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv or sys.argv[:1]))
    app.setApplicationName(appinfo.COMMAND)
    app.setApplicationDisplayName(appinfo.APP_NAME)
    app.setApplicationVersion(appinfo.VERSION)
    app.setDesktopFileName(appinfo.APP_ID)
    app.setWindowIcon(app_icon())

    try:
        accounts = open_accounts()
    except ConnectorError as exc:
        report = describe(exc, title="Opening your connectors")
        box = QMessageBox(QMessageBox.Icon.Critical, appinfo.APP_NAME, report.message)
        box.setInformativeText(f"What you can do: {report.hint}")
        box.setDetailedText(report.details)
        box.exec()  # before the event loop runs: nothing else to keep responsive
        return EXIT_STORAGE

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    settings = QSettings(str(data_dir() / "window.ini"), QSettings.Format.IniFormat)
    controller = Controller(accounts)
    window = MainWindow(controller, settings=settings)
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    window.show()

    async def run() -> None:
        try:
            await accounts.clean_pending_secrets()
        except ConnectorError as exc:
            log.warning("Could not clean up secrets left by an interrupted sign-in: %s", exc.message)
        await closed.wait()
        await controller.aclose()

    try:
        with loop:
            loop.run_until_complete(run())
    finally:
        accounts.registry.close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
