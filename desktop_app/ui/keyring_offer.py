"""A missing keyring, said at start and dealt with where it is offered (issue 17 item 6, ADR 0031).

At start the window asks whether the profile's keyring is there (:func:`~desktop_app.ui.file_store.missing_keyring`:
never asks to unlock it, reads nothing), off the GUI thread as every keyring call. A keyring that is missing (not
one that is locked, or that refuses a call) is said on the empty page, with what installing one takes and "Use an
unencrypted file instead…". That action, wherever an error offers it (``use_file_store`` in ui/errors.py), asks
first with :data:`~desktop_app.ui.errors.FILE_STORE_WARNING`, then switches the profile to the file store exactly as
the command line's ``--secret-store file`` does (it refuses while accounts are kept in the keyring) and reopens the
window's stores (:func:`~desktop_app.ui.file_store.file_store_accounts`), so that what failed can be tried again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QDialog, QMainWindow

from desktop_app.ui.controller import Controller
from desktop_app.ui.empty_state import EmptyState
from desktop_app.ui.errors import USE_FILE_STORE, ErrorAction, confirm_action, describe, show_error
from desktop_app.ui.jobs import Job

#: What the empty page says about a missing keyring.
KEYRING_MISSING = (
    "No keyring is running on this computer, so the app has no safe place to keep your sign-ins. To keep them "
    "encrypted, install and start a keyring (GNOME Keyring: the gnome-keyring package; or KeePassXC with its Secret "
    "Service integration turned on), then choose Check again. Or keep them in a file that is not encrypted."
)


class KeyringOffer(QObject):
    """The window's part: the check at start (shown on ``empty``) and the file store action, wherever offered."""

    def __init__(self, controller: Controller, empty: EmptyState, window: QMainWindow) -> None:
        super().__init__(window)
        self.controller = controller
        self.empty = empty
        self.window = window
        self.check_job: Job | None = None
        self.switch_job: Job | None = None
        empty.sig_use_file_store.connect(self.use_file_store)
        empty.sig_check_keyring.connect(self.check)
        QTimer.singleShot(0, self._at_start)  # once the window's loop runs: its first paint never waits for D-Bus

    def _at_start(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop runs the window's jobs (a test that drives the widgets alone)
            return
        self.check()

    def check(self) -> Job:
        """Ask whether the keyring is there (a job: the window paints meanwhile); the empty page says what it found."""
        job = self.check_job = self.controller.check_keyring()
        job.sig_finished.connect(lambda found: self.empty.show_keyring_missing(KEYRING_MISSING if found else None))
        return job

    def use_file_store(self) -> None:
        """The empty page's button: ask with the warning, then :meth:`switch`."""
        confirm_action(self.window, USE_FILE_STORE, self._switch_now)

    def _switch_now(self) -> None:
        self.switch()

    def switch(self) -> Job:
        """Switch now (an error's button asked already: ui/errors.py confirms an action that has a warning)."""
        job = self.switch_job = self.controller.use_file_store()
        job.sig_finished.connect(lambda _accounts: self._switched())
        job.sig_failed.connect(lambda exc: show_error(self.window, describe(exc, title=job.title)))
        return job

    def _switched(self) -> None:
        self.empty.show_keyring_missing(None)
        self.window.statusBar().showMessage("Sign-ins are now kept in a file that is not encrypted.", 10_000)


def closing(dialog: QDialog) -> Callable[[ErrorAction], None]:
    """What a dialog's error action does to the dialog: it closes, except after "Use an unencrypted file instead…",
    where it stays so that its "Try again" runs on the file store."""

    def done(action: ErrorAction) -> None:
        if action.kind != USE_FILE_STORE.kind:
            dialog.reject()

    return done
