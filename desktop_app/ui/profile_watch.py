"""Changes another process made to the profile (the command line, a script, another app), seen without polling.

The registry is a SQLite database in WAL mode: every commit, by any process, writes its ``-wal`` file. A
``QFileSystemWatcher`` (inotify on Linux) on the database and its ``-wal`` file wakes the app only when one of them
is written; after a short quiet period the registry is asked whether another connection committed since the last
look (SQLite's ``data_version``), so the app's own writes are not mistaken for someone else's. The folder is
watched too, to pick up a ``-wal`` file that appears later (SQLite removes it when its last connection closes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from desktop_app.errors import ConnectorError

log = logging.getLogger(__name__)

#: A sign-in elsewhere is several commits in a row: look once they have settled.
QUIET_MS = 250


class ProfileWatcher(QObject):
    #: Another process changed the profile (look at the accounts again).
    sig_changed_elsewhere = Signal()

    def __init__(self, database: Path, changed_elsewhere: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.database = Path(database)
        self._changed_elsewhere = changed_elsewhere
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._written)
        self._watcher.directoryChanged.connect(lambda _path: self._watch_files())
        self._quiet = QTimer(self)
        self._quiet.setSingleShot(True)
        self._quiet.setInterval(QUIET_MS)
        self._quiet.timeout.connect(self._look)
        self.looks = 0

    def start(self) -> None:
        self._ask()  # the first answer only sets where the registry stands now
        if self.database.parent.is_dir():
            self._watcher.addPath(str(self.database.parent))
        self._watch_files()

    def stop(self) -> None:
        self._quiet.stop()
        watched = self._watcher.files() + self._watcher.directories()
        if watched:
            self._watcher.removePaths(watched)

    def watched(self) -> list[str]:
        return sorted(self._watcher.files() + self._watcher.directories())

    def _watch_files(self) -> None:
        watched = set(self._watcher.files())
        for path in (self.database, self.database.with_name(self.database.name + "-wal")):
            if str(path) not in watched and path.exists():
                self._watcher.addPath(str(path))

    def _written(self, _path: str) -> None:
        self._watch_files()  # a file that was replaced or removed drops out of the watch
        self._quiet.start()

    def _look(self) -> None:
        self.looks += 1
        if self._ask():
            log.info("The profile was changed by another program: reloading the accounts")
            self.sig_changed_elsewhere.emit()

    def _ask(self) -> bool:
        try:
            return self._changed_elsewhere()
        except ConnectorError as exc:
            log.warning("Could not tell whether the profile changed elsewhere: %s", exc.message)
            return False
