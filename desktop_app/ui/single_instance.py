"""One running app per user and profile: a second launch asks the first to show its window, then exits.

A ``QLocalServer`` (a Unix socket in the runtime directory on Linux and macOS, a named pipe on Windows) named after
the app and a hash of the profile folder: two profiles (``MCP_CONNECTORS_HOME``) may run side by side.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from desktop_app import appinfo

log = logging.getLogger(__name__)

SHOW = b"show\n"
CONNECT_TIMEOUT_MS = 500


def instance_name(profile: Path) -> str:
    digest = hashlib.sha256(f"{getpass.getuser()}\n{profile.resolve()}".encode()).hexdigest()[:16]
    return f"{appinfo.COMMAND}-{digest}"


def ask_running_instance_to_show(name: str) -> bool:
    """True when another instance answered (it shows its window; this process should exit)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write(SHOW)
    socket.flush()
    socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
    socket.disconnectFromServer()
    return True


class SingleInstance(QObject):
    """Listens for later launches of the same profile."""

    sig_show_requested = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._connection)

    def listen(self) -> bool:
        if self.server.listen(self.name):
            return True
        # A socket file left by a crashed instance: nobody answers on it (checked by the caller), so reclaim it.
        QLocalServer.removeServer(self.name)
        ok = self.server.listen(self.name)
        if not ok:
            log.warning(
                "Cannot listen for other launches (%s): a second launch will open a second window",
                self.server.errorString(),
            )
        return ok

    def _connection(self) -> None:
        while (socket := self.server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        data = bytes(socket.readAll().data())
        if SHOW.strip() in data:
            self.sig_show_requested.emit()
