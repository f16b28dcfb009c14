"""``QApplication`` made without Qt's abort: when no platform plugin can start, the process ends with the message of
:mod:`desktop_app.app.display` instead of "could not connect to display" and a core dump.

Qt reports the failure through its message handler as a fatal message, then aborts. A handler installed for the
time ``QApplication`` is being made sees what Qt said while it tried (the plugins it tried, the libraries or display
it missed), and on the fatal message prints the app's message and ends the process with its exit status before Qt's
``abort()`` runs. What Qt says on the way to a successful start (a Wayland attempt before xcb works) is passed on
afterwards, as Qt would have printed it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import (
    QLibraryInfo,
    QMessageLogContext,
    QtMsgType,
    qFormatLogMessage,
    qInstallMessageHandler,
)

from desktop_app.app import display

T = TypeVar("T")


def plugins_folder() -> Path:
    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))


def without_abort(make: Callable[[], T], environ: Mapping[str, str] | None = None) -> T:
    """``make()`` (which creates the ``QApplication``), or the end of the process with the no-window message and
    :data:`~desktop_app.app.display.EXIT_NO_WINDOW` when Qt cannot start a platform plugin."""
    env = os.environ if environ is None else environ
    said: list[str] = []
    #: Qt's messages as Qt would have printed them, printed once it has started.
    held: list[str] = []
    previous: Callable[[QtMsgType, QMessageLogContext, str], object] | None = None

    def handler(kind: QtMsgType, context: QMessageLogContext, text: str) -> None:
        said.append(text)
        if kind == QtMsgType.QtFatalMsg:
            problem = display.after_qt_failed(said, env, plugins_folder())
            status = display.refuse(problem, env)
            sys.stdout.flush()
            os._exit(status)  # now: Qt aborts the process as soon as this handler returns
        if previous is not None:
            previous(kind, context, text)
        else:
            held.append(qFormatLogMessage(kind, context, text))

    previous = qInstallMessageHandler(handler)
    try:
        made = make()
    finally:
        qInstallMessageHandler(previous)
    for line in held:
        print(line, file=sys.stderr)
    return made
