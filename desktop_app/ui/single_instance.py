"""One running app per user and profile: a second launch asks the first to show its window, then exits.

A ``QLocalServer``. On Linux and macOS it is a Unix socket given by its full path, in a folder only the user may
enter (:func:`desktop_app.storage.paths.instance_socket`: ``$XDG_RUNTIME_DIR``, else the profile folder), never a
bare name, which Qt would put in ``/tmp`` where anyone can bind it first. On Windows it is a named pipe
(:func:`instance_name`) restricted to the user (``UserAccessOption``).

Nothing that comes over it is obeyed before the other end is known to be this user: the peer's user id
(``SO_PEERCRED``, Linux) is checked on both sides; where the system cannot tell, the private folder and the
user-access option are the guard. A socket file nobody answers on, one of another user's, or anything else at its
path is replaced, never obeyed (docs/decisions/0016).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import socket as pysocket
import stat
import struct
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from desktop_app import appinfo

log = logging.getLogger(__name__)

SHOW = b"show\n"
#: A bridge asks for a step-up: ``step-up {"account": id, "scopes": [...], "host": "name"}`` on one line
#: (desktop_app/bridge/app_link.py writes it).
STEP_UP = b"step-up "
MAX_MESSAGE = 64 * 1024
CONNECT_TIMEOUT_MS = 500
#: ``struct ucred`` (pid, uid, gid), what ``SO_PEERCRED`` answers on Linux.
_UCRED = struct.Struct("iII")

#: Who is at the other end of a connected socket: its user id, or None where the system cannot say.
PeerUid = Callable[[QLocalSocket], int | None]


def instance_name(profile: Path) -> str:
    """The pipe name on Windows: the app and a hash of the user and the profile folder (elsewhere the socket is a
    file in a private folder: :func:`desktop_app.storage.paths.instance_socket`)."""
    digest = hashlib.sha256(f"{getpass.getuser()}\n{profile.resolve()}".encode()).hexdigest()[:16]
    return f"{appinfo.COMMAND}-{digest}"


def own_uid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def peer_uid(socket: QLocalSocket) -> int | None:
    """The user id of the process at the other end of a connected socket (Linux: ``SO_PEERCRED``, read on a
    duplicate of Qt's descriptor). None on systems where this is not asked. Raises OSError when the system
    cannot say: the caller trusts nothing then."""
    if not sys.platform.startswith("linux"):
        return None
    fd = int(socket.socketDescriptor())
    if fd < 0:
        raise OSError("the socket is not connected")
    duplicate = os.dup(fd)
    try:
        wrapped = pysocket.socket(fileno=duplicate)
    except OSError:
        os.close(duplicate)
        raise
    with wrapped:  # closing it closes the duplicate only; Qt's descriptor stays as it was
        _pid, uid, _gid = _UCRED.unpack(wrapped.getsockopt(pysocket.SOL_SOCKET, pysocket.SO_PEERCRED, _UCRED.size))
    return int(uid)


def _is_this_user(socket: QLocalSocket, check: PeerUid, what: str) -> bool:
    try:
        uid = check(socket)
    except OSError as exc:
        log.warning("Could not tell who is at the other end of %s (%s): ignored", what, exc)
        return False
    if uid is None or uid == own_uid():
        return True
    log.warning("A process of user id %s is at the other end of %s: ignored", uid, what)
    return False


def _foreign(name: str) -> str | None:
    """Why the file at ``name`` is not this user's socket (None: it is, or nothing is there). Windows: None."""
    if os.name != "posix":
        return None
    try:
        info = os.lstat(name)
    except FileNotFoundError:
        return None
    if not stat.S_ISSOCK(info.st_mode):
        return "not a socket"
    if info.st_uid != own_uid():
        return f"a socket of user id {info.st_uid}"
    return None


def ask_running_instance_to_show(name: str, *, check: PeerUid = peer_uid, show: bool = True) -> bool:
    """True when another instance of this user answered (it shows its window unless ``show`` is False; this process
    should exit). A file at ``name`` that is not this user's socket, or a listener of another user's, is not obeyed:
    False."""
    why = _foreign(name)
    if why is not None:
        log.warning("The single-instance socket %s is %s: not obeyed, it will be replaced", name, why)
        return False
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    if not _is_this_user(socket, check, f"the single-instance socket {name}"):
        socket.abort()
        return False
    if show:
        socket.write(SHOW)
        socket.flush()
        socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(CONNECT_TIMEOUT_MS)
    return True


class SingleInstance(QObject):
    """Listens for later launches of the same profile; only this user's are heard (``check``: the peer's uid)."""

    sig_show_requested = Signal()
    #: A connector needs more permissions: (account id, the scopes asked for, the program that runs the connector).
    sig_step_up_requested = Signal(int, list, str)

    def __init__(self, name: str, parent: QObject | None = None, *, check: PeerUid = peer_uid) -> None:
        super().__init__(parent)
        self.name = name
        self._check = check
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._connection)

    def listen(self) -> bool:
        """Listen at ``name``; whatever is there and did not answer (checked by the caller) is replaced."""
        self._remove_foreign()
        if self.server.listen(self.name):
            return True
        # A socket file left by a crashed instance: nobody answers on it (checked by the caller), so reclaim it.
        QLocalServer.removeServer(self.name)
        ok = self.server.listen(self.name)
        if not ok:
            log.warning(
                "Cannot listen for other launches at %s (%s): a second launch will open a second window",
                self.name,
                self.server.errorString(),
            )
        return ok

    def _remove_foreign(self) -> None:
        why = _foreign(self.name)
        if why is None:
            return
        log.warning("The single-instance socket %s was %s: replaced", self.name, why)
        try:
            os.unlink(self.name)
        except IsADirectoryError:
            try:
                os.rmdir(self.name)
            except OSError as exc:
                log.warning("Could not remove the folder %s: %s", self.name, exc.strerror)
        except OSError as exc:
            log.warning("Could not remove %s: %s", self.name, exc.strerror)

    def _connection(self) -> None:
        while (socket := self.server.nextPendingConnection()) is not None:
            if not _is_this_user(socket, self._check, f"a connection to {self.name}"):
                socket.abort()
                socket.deleteLater()
                continue
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        data = bytes(socket.readAll().data())[:MAX_MESSAGE]
        for line in data.splitlines():
            if line.startswith(STEP_UP):
                self._step_up(line[len(STEP_UP) :])
            elif line.strip() == SHOW.strip():
                self.sig_show_requested.emit()

    def _step_up(self, payload: bytes) -> None:
        """A step-up request, checked field by field; anything malformed is dropped (it came from this user, but
        it is still only data)."""
        try:
            value = json.loads(payload)
        except (ValueError, RecursionError):
            log.warning("Ignoring a malformed step-up request on the single-instance socket")
            return
        account = value.get("account") if isinstance(value, dict) else None
        scopes = value.get("scopes") if isinstance(value, dict) else None
        host = value.get("host") if isinstance(value, dict) else None
        if (
            isinstance(account, int)
            and not isinstance(account, bool)
            and isinstance(scopes, list)
            and scopes
            and all(isinstance(scope, str) and scope and " " not in scope for scope in scopes)
            and isinstance(host, str)
        ):
            self.sig_step_up_requested.emit(account, scopes, host)
        else:
            log.warning("Ignoring a step-up request with missing or malformed fields")
