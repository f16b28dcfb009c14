"""The sign-in dialog: discovery's steps, the pairing card, the wait for the browser, and the outcome.

It shows one :class:`SignInJob` at a time (``start`` makes one; "Try again" makes the next). Closing the dialog or
pressing Cancel cancels the job for real: requests stop and the loopback listener closes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QMetaMethod, QSize, Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.accounts.consent import PairingCheck
from desktop_app.accounts.manager import LoginResult
from desktop_app.errors import one_line
from desktop_app.ui import plain
from desktop_app.ui.errors import ErrorPanel, describe
from desktop_app.ui.icons import tone_icon
from desktop_app.ui.jobs import SIGN_IN_TIMEOUT, SignInJob
from desktop_app.ui.pairing_card import PairingCard
from desktop_app.ui.scope_words import compare, evident_grant, granted_sentence
from desktop_app.ui.text import clock

PROGRESS, PAIRING, WAITING, DONE, FAILED = range(5)

#: Qt's "no maximum" for a widget's size (QWIDGETSIZE_MAX).
QWIDGETSIZE_MAX = (1 << 24) - 1


def _title_label(text: str) -> QLabel:
    label = plain.label(text, wrap=True)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.2)
    font.setBold(True)
    label.setFont(font)
    return label


class PageStack(QStackedWidget):
    """A stack of pages as large as the page shown, not as its largest page: a short page (Done, a failure) does
    not keep the pairing card's height, leaving an empty band above its buttons. (QStackedLayout's size hint and
    height-for-width are the largest over all its pages.)"""

    def _page(self) -> QWidget | None:
        return self.currentWidget()

    def sizeHint(self) -> QSize:
        page = self._page()
        return page.sizeHint() if page is not None else super().sizeHint()

    def minimumSizeHint(self) -> QSize:
        page = self._page()
        return page.minimumSizeHint() if page is not None else super().minimumSizeHint()

    def hasHeightForWidth(self) -> bool:
        page = self._page()
        return page.hasHeightForWidth() if page is not None else False

    def heightForWidth(self, width: int) -> int:
        page = self._page()
        return page.heightForWidth(width) if page is not None else -1


#: The failure page's heading unless the dialog is told what was being done.
SIGN_IN_FAILED = "Signing in did not work"


class SignInDialog(QDialog):
    #: The sign-in succeeded (the account is saved): its LoginResult.
    sig_signed_in = Signal(object)
    #: After a sign-in, the person asked to test the connection / to use it in an AI tool: the Account. The buttons
    #: show only when something is connected to them (the window opens its Test connection / Use in… dialogs).
    sig_test_requested = Signal(object)
    sig_use_in_requested = Signal(object)

    def __init__(
        self,
        start: Callable[[], SignInJob],
        *,
        title: str,
        failed: str = SIGN_IN_FAILED,
        parent: QWidget | None = None,
    ) -> None:
        """``title`` names what is being done (the window's title); ``failed`` heads the failure page (adding a server
        says it was the adding that did not work, issue 17 item 5)."""
        super().__init__(parent)
        self._failed_words = failed
        self.setObjectName("signInDialog")
        self.setWindowTitle(title)
        self.setMinimumWidth(560)
        #: When the wait for the browser ends (time.monotonic()), for the countdown; None when not waiting.
        self.deadline: float | None = None
        self.countdown = QTimer(self)
        self.countdown.setInterval(1000)
        self.countdown.timeout.connect(self.tick)
        self.login: LoginResult | None = None
        self._start = start
        self.job: SignInJob | None = None
        self.stack = PageStack(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        self._build_progress()
        self._build_pairing()
        self._build_waiting()
        self._build_done()
        self._build_failed()

    # -- pages ---------------------------------------------------------------------------------------------
    def _buttons(self, *buttons: QPushButton) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addStretch(1)
        for button in buttons:
            row.addWidget(button)
        return row

    def _build_progress(self) -> None:
        page = QWidget()
        self.progress_title = _title_label("Finding out how to sign in…")
        self.steps = QListWidget()
        self.steps.setObjectName("steps")
        self.steps.setAccessibleName("Steps")
        self.steps.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_progress = QPushButton("Cancel")
        self.cancel_progress.clicked.connect(self.reject)
        layout = QVBoxLayout(page)
        layout.addWidget(self.progress_title)
        layout.addWidget(self.steps, 1)
        layout.addLayout(self._buttons(self.cancel_progress))
        self.stack.addWidget(page)

    def _build_pairing(self) -> None:
        page = QWidget()
        self.card_area = QScrollArea()
        self.card_area.setWidgetResizable(True)
        self.card_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.explain = plain.label(
            "Continue opens your web browser at the authorization server above. Sign in there; the browser then "
            "comes back to this app.",
            wrap=True,
        )
        self.continue_button = QPushButton("Continue in browser")
        self.continue_button.setObjectName("continueButton")
        self.continue_button.clicked.connect(lambda: self._answer(True))
        self.decline_button = QPushButton("Cancel")
        self.decline_button.setObjectName("declineButton")
        self.decline_button.clicked.connect(lambda: self._answer(False))
        layout = QVBoxLayout(page)
        layout.addWidget(self.card_area, 1)
        layout.addWidget(self.explain)
        layout.addLayout(self._buttons(self.decline_button, self.continue_button))
        self.stack.addWidget(page)

    def _build_waiting(self) -> None:
        page = QWidget()
        title = _title_label("Waiting for you to sign in with your browser…")
        self.waiting_detail = plain.label(wrap=True)
        self.browser_problem = plain.label(wrap=True)
        self.browser_problem.setObjectName("browserProblem")
        self.browser_problem.setVisible(False)
        self.copy_link = QPushButton("Copy sign-in link")
        self.copy_link.setObjectName("copyLink")
        self.copy_link.setToolTip("Copy the sign-in page's address, to open it in the browser of your choice")
        self.copy_link.clicked.connect(self._copy_link)
        self.open_again = QPushButton("Open browser again")
        self.open_again.setObjectName("openAgain")
        self.open_again.clicked.connect(self._open_again)
        self.cancel_waiting = QPushButton("Cancel")
        self.cancel_waiting.setObjectName("cancelWaiting")
        self.cancel_waiting.clicked.connect(self.reject)
        self.busy = QProgressBar()
        self.busy.setObjectName("waitingBusy")
        self.busy.setRange(0, 0)  # busy: the browser's progress cannot be known
        self.busy.setTextVisible(False)
        self.busy.setAccessibleName("Waiting for the browser")
        self.time_left = plain.label()
        self.time_left.setObjectName("timeLeft")
        layout = QVBoxLayout(page)
        layout.addWidget(title)
        layout.addWidget(self.busy)
        layout.addWidget(self.time_left)
        layout.addWidget(self.browser_problem)
        layout.addWidget(self.waiting_detail)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.copy_link)
        row.addWidget(self.open_again)
        row.addStretch(1)
        row.addWidget(self.cancel_waiting)
        layout.addLayout(row)
        self.stack.addWidget(page)

    def _build_done(self) -> None:
        page = QWidget()
        self.done_title = _title_label("")
        self.done_title.setObjectName("doneTitle")
        self.done_detail = plain.label(wrap=True, selectable=True)
        self.done_detail.setObjectName("doneDetail")
        self.granted = plain.label(wrap=True, selectable=True)
        self.granted.setObjectName("grantedLabel")
        self.test_button = QPushButton("&Test the connection")
        self.test_button.setObjectName("testButton")
        self.test_button.setToolTip("Ask the server for its tools with this account, to see that it works")
        self.test_button.clicked.connect(lambda: self._next(self.sig_test_requested))
        self.use_in_button = QPushButton("&Use in an AI tool…")
        self.use_in_button.setObjectName("useInButton")
        self.use_in_button.setToolTip("Choose the AI tools on this computer that may use this account")
        self.use_in_button.clicked.connect(lambda: self._next(self.sig_use_in_requested))
        self.done_button = QPushButton("Done")
        self.done_button.setObjectName("doneButton")
        self.done_button.setDefault(True)
        self.done_button.clicked.connect(self.accept)
        layout = QVBoxLayout(page)
        layout.addWidget(self.done_title)
        layout.addWidget(self.granted)
        layout.addWidget(self.done_detail)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.use_in_button)
        row.addStretch(1)
        row.addWidget(self.done_button)
        layout.addLayout(row)
        self.stack.addWidget(page)

    def _build_failed(self) -> None:
        page = QWidget()
        self.failed_title = _title_label(self._failed_words)
        self.error_panel = ErrorPanel()
        self.retry = QPushButton("Try again")
        self.retry.setObjectName("retryButton")
        self.retry.clicked.connect(self.start)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        layout = QVBoxLayout(page)
        layout.addWidget(self.failed_title)
        layout.addWidget(self.error_panel, 1)
        layout.addLayout(self._buttons(self.retry, close))
        self.stack.addWidget(page)

    def _show_page(self, index: int) -> None:
        """Switch pages and fit the dialog to the page shown (not to the tallest page)."""
        for i in range(self.stack.count()):
            policy = QSizePolicy.Policy.Preferred if i == index else QSizePolicy.Policy.Ignored
            page = self.stack.widget(i)
            if page is not None:
                page.setSizePolicy(policy, policy)
        self.stack.setCurrentIndex(index)
        self._fit()

    def _fit(self, *_: object) -> None:
        """Size the dialog for the page shown: wide enough for its words at the person's font (wrapped text then
        takes few lines), tall enough for the wrapped text, never beyond the screen."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        free = screen.availableGeometry().size() - QSize(32, 64) if screen is not None else QSize(1248, 656)
        width = min(max(self.minimumWidth(), self.fontMetrics().averageCharWidth() * 80), free.width())
        layout = self.layout()
        card = self.card_area.widget()
        if self.stack.currentIndex() == PAIRING and card is not None and layout is not None:
            margins = layout.contentsMargins()
            inner = width - 2 * (margins.left() + margins.right()) - 24  # the dialog's and the page's, a scroll bar
            wanted = card.heightForWidth(inner) if card.hasHeightForWidth() else card.sizeHint().height()
            shown = min(wanted + 8, int(free.height() * 0.6))
            self.card_area.setMinimumHeight(shown)
            # A card that fits whole takes its own height, no empty band under it; a longer one scrolls.
            self.card_area.setMaximumHeight(shown if shown == wanted + 8 else QWIDGETSIZE_MAX)
        # The page's own height, not the layout's: QStackedLayout answers its tallest page's height for a width.
        height = -1
        if layout is not None and self.stack.hasHeightForWidth():
            margins = layout.contentsMargins()
            inner = self.stack.heightForWidth(width - margins.left() - margins.right())
            height = inner + margins.top() + margins.bottom() if inner >= 0 else -1
        if height < 0:
            height = self.sizeHint().height()
        self.resize(QSize(width, height).boundedTo(free))

    # -- the job -------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start a sign-in (the first, or "Try again")."""
        self.steps.clear()
        self.browser_problem.setVisible(False)
        self._show_page(PROGRESS)
        job = self._start()
        self.job = job
        job.sig_step.connect(self._on_step)
        job.sig_pairing_requested.connect(self._on_pairing)
        job.sig_waiting.connect(self._on_waiting)
        job.sig_browser_failed.connect(self._on_browser_failed)
        job.sig_nickname_requested.connect(self._on_nickname)
        job.sig_finished.connect(self._on_finished)
        job.sig_failed.connect(self._on_failed)
        self.progress_title.setText(f"Connecting to {one_line(job.server.name)}…")

    def _on_step(self, step: str, words: str) -> None:
        last = self.steps.item(self.steps.count() - 1) if self.steps.count() else None
        if last is not None and last.text() == words:
            return
        if last is not None:
            last.setIcon(tone_icon("good"))
        item = QListWidgetItem(tone_icon("working"), words)
        self.steps.addItem(item)

    def _on_pairing(self, check: PairingCheck) -> None:
        self.card = PairingCard(check, name=self.job.server.name if self.job is not None else None)
        self.card_area.setWidget(self.card)
        self.card.details_button.toggled.connect(self._fit)  # the opened details get their room
        # The whole card shows when the screen allows (``_fit``); it scrolls beyond that.
        self.continue_button.setText("Continue in browser")
        # With a warning on the card, Enter must not approve it by accident.
        warned = bool(self.card.warnings) or check.issuer_changed is not None
        self.continue_button.setDefault(not warned)
        self.continue_button.setAutoDefault(not warned)
        self._show_page(PAIRING)
        (self.decline_button if warned else self.continue_button).setFocus()

    def _answer(self, approved: bool) -> None:
        if self.job is not None:
            self.job.answer_pairing(approved)
        if approved:
            self._show_page(PROGRESS)
        else:
            self.reject()  # declining is not a failure to explain: the dialog just closes

    def _on_waiting(self, url: str) -> None:
        timeout = self.job.timeout if self.job is not None else SIGN_IN_TIMEOUT
        self.waiting_detail.setText(
            "Your browser opened the sign-in page. When you have signed in there, this window continues by itself. "
            "If you don't see the page, open it again or copy its link.\n\n"
            "If the browser shows an error from the authorization server instead of its sign-in page, cancel here: "
            "the server's settings (client id, callback port, permissions) change what the app asks for."
        )
        self.deadline = time.monotonic() + timeout
        self.tick()
        self.countdown.start()
        self._show_page(WAITING)

    def tick(self, now: float | None = None) -> None:
        """The countdown to the wait's end (each second while waiting)."""
        if self.deadline is None:
            return
        left = self.deadline - (time.monotonic() if now is None else now)
        self.time_left.setText(f"Time left: {clock(left)}" if left > 0 else "Time is up…")

    def _on_browser_failed(self, message: str) -> None:
        self.browser_problem.setText(f"{message} Copy the sign-in link and open it in your browser.")
        self.browser_problem.setVisible(True)

    def _copy_link(self) -> None:
        if self.job is not None and self.job.url:
            QGuiApplication.clipboard().setText(self.job.url)
            self.copy_link.setText("Link copied")

    def _open_again(self) -> None:
        if self.job is not None:
            self.job.open_browser_again()

    def _on_nickname(self) -> None:
        ask = QInputDialog(self)
        ask.setWindowTitle("Name this account")
        ask.setLabelText(
            "The server did not say who signed in. Give this account a name you will recognise (for example "
            "'work' or your email address):"
        )
        plain.dialog(ask)
        ask.setInputMode(QInputDialog.InputMode.TextInput)
        ask.textValueSelected.connect(lambda text: self.job.answer_nickname(text) if self.job else None)
        ask.rejected.connect(lambda: self.job.answer_nickname(None) if self.job else None)
        ask.open()

    def _on_finished(self, result: LoginResult) -> None:
        account = result.account
        verb = "Signed in" if result.created else "Signed in again"
        self.login = result
        self._stop_countdown()
        self.done_title.setText(f"{verb} as {one_line(account.display_name)}")
        pairing = result.check.pairing
        granted = evident_grant(
            pairing.scopes,
            account.scopes,
            refresh_token=account.has_refresh_token,
            identity_source=account.identity_source,
        )
        self.granted.setText(granted_sentence(compare(pairing.scopes, granted, pairing.scope_descriptions)))
        renewal = (
            "the app renews its access by itself."
            if account.has_refresh_token
            else "the server gave no way to renew it: sign in again when its access ends."
        )
        self.done_detail.setText(
            f"The account is saved in your keyring; {renewal}"
            + (" You can now test it or let an AI tool use it." if self._offers_next_steps() else "")
        )
        self.test_button.setVisible(self._connected(self.sig_test_requested))
        self.use_in_button.setVisible(self._connected(self.sig_use_in_requested))
        self._show_page(DONE)
        self.done_button.setFocus()
        self.sig_signed_in.emit(result)

    def _connected(self, signal: SignalInstance) -> bool:
        return self.isSignalConnected(QMetaMethod.fromSignal(signal))

    def _offers_next_steps(self) -> bool:
        return self._connected(self.sig_test_requested) or self._connected(self.sig_use_in_requested)

    def _next(self, signal: SignalInstance) -> None:
        """A next step after the sign-in: the window opens it; this dialog closes."""
        if self.login is not None:
            signal.emit(self.login.account)
        self.accept()

    def _stop_countdown(self) -> None:
        self.countdown.stop()
        self.deadline = None

    def _on_failed(self, exc: BaseException) -> None:
        self._stop_countdown()
        context = "\n".join(self.job.trace.lines()) if self.job is not None else ""
        self.error_panel.show_report(describe(exc, title=self.windowTitle(), context=context))
        self._show_page(FAILED)
        helps = self.error_panel.report is not None and self.error_panel.report.retry_helps
        self.retry.setDefault(helps)  # "Try again" is the default only where retrying can help (issue 17, item 5)
        if helps:
            self.retry.setFocus()

    # -- closing -------------------------------------------------------------------------------------------
    def reject(self) -> None:
        """Cancel, Escape or the window's close button: a running sign-in stops for real."""
        self._stop_countdown()
        if self.job is not None and self.job.running:
            self.job.cancel()
        super().reject()
