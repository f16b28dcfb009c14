"""The walk through the window against the lab: every state issue 17 names that needs a server, in order.

The states (``gallery/<look>/<state>.png``), in the order taken:

- ``window-empty``: the first launch, no server; ``add-server-typing``, ``add-server-invalid`` (an address without
  ``https://``), ``add-server-valid``;
- ``pairing-first`` and ``pairing-first-details`` (Details open), ``signin-done`` (what was granted against what
  was asked, and the next steps);
- ``confirm-sign-out``; ``signin-waiting`` (with its countdown); ``list-busy-selected`` (an account signing in
  again while the browser does not answer);
- ``list-server-selected``, ``list-healthy-selected``, ``list-needs-sign-in-selected`` (with its "Sign in again"
  button), ``list-signed-out-selected`` (each row selected in turn, its details beside it: the others are the rows
  not selected), ``activity-server``;
- ``context-menu-account``; ``tray-menu`` and ``tray-menu-server`` (the tray's menu and a server's submenu, rendered
  as QMenus: Xvfb has no tray);
- ``filter-match`` and ``filter-no-match`` (the list filter, Ctrl+F: a word one server matches, then one none does);
- ``settings-automatic``, ``settings-preregistered``, ``settings-cimd`` (Server settings, each registration choice,
  on the 1280x720 screen); ``rename-server``; ``confirm-remove-account``; ``preferences``; ``about``;
- ``test-connection``; ``use-in``; ``tools-tab``; ``tool-review``; ``tool-defaults``;
- ``signin-error-unreachable`` (adding a server nobody listens on);
- ``pairing-changed`` and ``pairing-changed-details`` (Lab files moved to another authorization server).
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from scenario import (
    DELETE_FILE,
    ECHO_CHANGED,
    NEEDS_SIGN_IN_REASON,
    SERVERS,
    STEP_TIMEOUT,
    ScreenshotError,
    Shots,
    closed_loopback_port,
    popup_menu,
    settle,
    show_whole_card,
    wait_until,
)

T = TypeVar("T")


async def take(shots: Shots, urls: dict[str, str], labs: dict[str, Any], start_auth: Any) -> None:
    """Everything shown in the window, as a person would do it."""
    from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Slot
    from PySide6.QtGui import QDesktopServices
    from PySide6.QtWidgets import QMenu, QMessageBox, QPushButton

    from desktop_app.accounts.models import AccountState
    from desktop_app.app import autostart
    from desktop_app.storage.profile import open_accounts
    from desktop_app.ui.about_dialog import AboutDialog
    from desktop_app.ui.add_server_dialog import AddServerDialog
    from desktop_app.ui.connection_dialog import ConnectionDialog
    from desktop_app.ui.controller import Controller
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.preferences import PreferencesDialog
    from desktop_app.ui.refresher import BackgroundRefresher
    from desktop_app.ui.rename_dialog import RenameDialog
    from desktop_app.ui.settings_dialog import ServerSettingsDialog
    from desktop_app.ui.signin_dialog import DONE, FAILED, PAIRING, WAITING, SignInDialog
    from desktop_app.ui.tool_defaults import ToolDefaultsDialog
    from desktop_app.ui.tool_review import ReviewDialog
    from desktop_app.ui.tray import Tray
    from desktop_app.ui.use_in_dialog import UseInDialog
    from tests.lab.browser import scripted_browser

    class SystemBrowser(QObject):
        """Where the person's browser would be: signs in as ``user`` at what the app opens (unless told not to)."""

        def __init__(self) -> None:
            super().__init__()
            self.user = "alice"
            self.signs_in = True
            self.opened: list[str] = []
            self.tasks: list[asyncio.Task[None]] = []

        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            text = url.toString(QUrl.ComponentFormattingOption.FullyEncoded)
            self.opened.append(text)
            if self.signs_in:
                self.tasks.append(asyncio.ensure_future(scripted_browser(text, user=self.user, timeout=STEP_TIMEOUT)))

        def problem(self) -> str | None:
            for task in self.tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    return f"the scripted browser failed: {task.exception()}"
            return None

    browser = SystemBrowser()
    # The stubs say the method name is bytes; PySide6 only accepts str.
    QDesktopServices.setUrlHandler("http", browser, "open")  # type: ignore[arg-type]
    QDesktopServices.setUrlHandler("https", browser, "open")  # type: ignore[arg-type]
    accounts = open_accounts()
    controller = Controller(accounts)
    window = MainWindow(controller)
    tray: Tray | None = None
    try:
        window.resize(1000, 650)
        window.show()
        await wait_until(window.isVisible, "the main window to show")
        await accounts.clean_pending_secrets()

        def dialog(kind: type[T]) -> T | None:
            found = [d for d in window.dialogs if isinstance(d, kind) and d.isVisible()]
            return found[-1] if found else None

        def server_id(name: str) -> int:
            return next(s.id for s, _ in controller.snapshot() if s.name == name)

        def account_id(server_name: str, label: str) -> int:
            for server, server_accounts in controller.snapshot():
                for account in server_accounts:
                    if server.name == server_name and account.label == label:
                        return account.id
            raise ScreenshotError(f"{label} is not listed under {server_name}")

        async def shot_window(state: str) -> None:
            window.statusBar().clearMessage()
            await settle()
            shots.save(window, state)

        async def shot(widget: Any, state: str) -> None:
            await settle()
            shots.save(widget, state)

        async def add_server(url: str, name: str, pictures: bool = False) -> SignInDialog:
            window.act_add_server.trigger()
            add = await wait_until(lambda: dialog(AddServerDialog), "the add-server dialog")
            if pictures:
                add.url.setText("mcp.exa")
                await shot(add, "add-server-typing")
                add.url.setText("mcp.example.com/mcp")
                add.reveal()  # the person paused: now the problem is said
                await shot(add, "add-server-invalid")
            add.url.setText(url)
            add.name.setText(name)
            if not add.continue_button.isEnabled():
                raise ScreenshotError(f"the add-server dialog refused {url}: {add.feedback.text()}")
            if pictures:
                await shot(add, "add-server-valid")
            add.continue_button.click()
            return await wait_until(lambda: dialog(SignInDialog), f"the sign-in dialog for {name}")

        async def finish(sign_in: SignInDialog, what: str, picture: str | None = None) -> None:
            def ended() -> bool:
                problem = browser.problem()
                if problem:
                    raise ScreenshotError(f"{what}: {problem}")
                return sign_in.stack.currentIndex() in (DONE, FAILED)

            await wait_until(ended, what)
            if sign_in.stack.currentIndex() != DONE:
                raise ScreenshotError(f"{what} failed: {sign_in.error_panel.message.text()}")
            if picture:
                await shot(sign_in, picture)
            sign_in.accept()
            await wait_until(lambda: sign_in not in window.dialogs or not sign_in.isVisible(), f"{what}: closing")

        async def pairing(sign_in: SignInDialog, name: str, picture: str) -> None:
            await wait_until(lambda: sign_in.stack.currentIndex() in (PAIRING, FAILED), f"{name}'s pairing card")
            if sign_in.stack.currentIndex() != PAIRING:
                raise ScreenshotError(f"signing in to {name} failed: {sign_in.error_panel.message.text()}")
            await settle()
            show_whole_card(sign_in)
            await shot(sign_in, picture)
            sign_in.card.details_button.setChecked(True)
            await settle()
            show_whole_card(sign_in)
            await shot(sign_in, f"{picture}-details")

        async def first_sign_in(key: str, pictures: bool) -> None:
            name = SERVERS[key][0]
            browser.user = "alice"
            opened = len(browser.opened)
            sign_in = await add_server(urls[key], name, pictures)
            if pictures:
                await pairing(sign_in, name, "pairing-first")
            else:
                await wait_until(lambda: sign_in.stack.currentIndex() == PAIRING, f"{name}'s pairing card")
            if len(browser.opened) != opened:
                raise ScreenshotError("the browser opened before the pairing was approved")
            sign_in.continue_button.click()
            await finish(sign_in, f"alice's sign-in to {name}", "signin-done" if pictures else None)

        async def another_account(key: str, user: str) -> None:
            name = SERVERS[key][0]
            browser.user = user
            window.select_server(server_id(name))
            window.act_add_account.trigger()
            sign_in = await wait_until(lambda: dialog(SignInDialog), f"the sign-in dialog for {user}")
            await finish(sign_in, f"{user}'s sign-in to {name}")

        # The first launch, then Lab files: alice (the add-server dialog, the pairing card), then bob.
        await shot_window("window-empty")
        await first_sign_in("files", True)
        await another_account("files", "bob")

        # Lab tickets: alice, then bob; bob signs out through the window (its question pictured).
        files, tickets = SERVERS["files"][0], SERVERS["tickets"][0]
        await first_sign_in("tickets", False)
        await another_account("tickets", "bob")
        bob_id = account_id(tickets, "bob@lab.test")
        window.select_account(bob_id)
        window.act_sign_out.trigger()
        box = await wait_until(lambda: dialog(QMessageBox), "the sign-out question")
        await shot(box, "confirm-sign-out")
        confirm = box.findChild(QPushButton, "confirmButton")
        if confirm is None:
            raise ScreenshotError("the sign-out question has no confirm button")
        confirm.click()
        await wait_until(
            lambda: (a := controller.account(bob_id)) is not None and a.state is AccountState.SIGNED_OUT,
            "bob signed out of Lab tickets",
        )

        # Alice's access to Lab tickets was withdrawn: the app marks such an account (a refused renewal).
        alice_tickets = controller.account(account_id(tickets, "alice@lab.test"))
        assert alice_tickets is not None
        accounts.mark_needs_sign_in(alice_tickets, NEEDS_SIGN_IN_REASON)
        window.reload()

        # alice signs in again to Lab files, but nobody signs in in the browser: the waiting page (its countdown
        # shown at a fixed point), the account busy in the list; then Cancel.
        browser.signs_in = False
        alice_files = account_id(files, "alice@lab.test")
        window.sign_in_account(alice_files)
        waiting = await wait_until(lambda: dialog(SignInDialog), "the sign-in dialog (waiting)")
        await wait_until(lambda: waiting.stack.currentIndex() == WAITING, "the waiting page")
        waiting.countdown.stop()
        if waiting.deadline is not None:
            waiting.tick(waiting.deadline - 272)
        await shot(waiting, "signin-waiting")
        window.select_account(alice_files)
        window.details_tabs.setCurrentWidget(window.details_tabs.details_page)
        await shot_window("list-busy-selected")
        job = waiting.job
        waiting.cancel_waiting.click()
        await wait_until(lambda: job is None or not job.running, "the waiting sign-in to be cancelled")
        browser.signs_in = True
        await wait_until(lambda: waiting not in window.dialogs, "the waiting dialog to close")

        # Each kind of row selected in turn, with its details.
        window.select_server(server_id(tickets))
        await shot_window("list-server-selected")
        window.details_tabs.setCurrentWidget(window.details_tabs.activity)
        await shot_window("activity-server")
        window.details_tabs.setCurrentWidget(window.details_tabs.details_page)
        for state, server, label in (
            ("list-healthy-selected", files, "alice@lab.test"),
            ("list-signed-out-selected", tickets, "bob@lab.test"),
            ("list-needs-sign-in-selected", tickets, "alice@lab.test"),
        ):
            window.select_account(account_id(server, label))
            window.details_tabs.setCurrentWidget(window.details_tabs.details_page)
            await settle()
            if state == "list-needs-sign-in-selected" and "withdrawn" not in window.details.text():
                raise ScreenshotError(f"the details pane does not show the reason: {window.details.text()!r}")
            offered = window.details_tabs.sign_in_again.isVisible()
            if offered != (state != "list-healthy-selected"):
                raise ScreenshotError(f"{state}: the details pane's Sign in again button is wrongly {offered=}")
            await shot_window(state)

        # The context menu of that account, where a person right-clicks it.
        tree = window.tree
        rect = tree.visualRect(tree.currentIndex())
        window._context_menu(rect.center())

        def context_menu() -> QMenu | None:
            return next((m for m in window.findChildren(QMenu) if isinstance(m, QMenu) and m.isVisible()), None)

        menu = await wait_until(context_menu, "the context menu")
        await shot(menu, "context-menu-account")
        menu.hide()

        # The tray's menu (Xvfb has no tray: its QMenu is shown where a tray would put it) and a server's submenu.
        tray = Tray(controller, BackgroundRefresher(controller), live=lambda: [])
        tray.rebuild_menu()
        await popup_menu(tray.menu, QPoint(900, 30))
        await shot(tray.menu, "tray-menu")
        subs = [a.menu() for a in tray.menu.actions() if tickets in a.text()]
        sub = next((m for m in subs if isinstance(m, QMenu)), None)
        if sub is not None:  # a server's submenu, once the tray has them (issue 17 item 11)
            await popup_menu(sub, QPoint(600, 30))
            await shot(sub, "tray-menu-server")
            sub.hide()
        tray.menu.hide()

        # The list filter (Ctrl+F): a word only Lab tickets matches, then one nothing matches.
        window.filter_list()
        window.list_filter.field.setText("tickets")
        await shot_window("filter-match")
        window.list_filter.field.setText("gitlab")
        if not window.list_filter.nothing.isVisible():
            raise ScreenshotError("the filter does not say that no server matches")
        await shot_window("filter-no-match")
        window.list_filter.clear()

        # Server settings of Lab files, each registration choice, on the 1280x720 screen.
        window.select_server(server_id(files))
        window.act_settings.trigger()
        settings = await wait_until(lambda: dialog(ServerSettingsDialog), "the server settings")
        for choice, button in (
            ("automatic", settings.automatic),
            ("preregistered", settings.preregistered),
            ("cimd", settings.cimd),
        ):
            button.setChecked(True)
            await shot(settings, f"settings-{choice}")
        settings.reject()

        # Rename the server (its dialog), the question before removing an account, the About box.
        window.act_rename_server.trigger()
        rename = await wait_until(lambda: dialog(RenameDialog), "the rename dialog")
        await shot(rename, "rename-server")
        rename.reject()
        window.select_account(account_id(tickets, "bob@lab.test"))
        window.act_remove_account.trigger()
        box = await wait_until(lambda: dialog(QMessageBox), "the remove-account question")
        await shot(box, "confirm-remove-account")
        box.reject()
        await wait_until(lambda: dialog(QMessageBox) is None, "the question to close")
        # Preferences as the app opens them on a desktop with a tray (start at login, renewal, notifications).
        window.tray_mode, window.refresher = True, BackgroundRefresher(controller)
        window.autostart = autostart if autostart.supported() else None
        window.act_preferences.trigger()
        preferences = await wait_until(lambda: dialog(PreferencesDialog), "the Preferences window")
        await shot(preferences, "preferences")
        preferences.reject()
        window.tray_mode = False
        window.act_about.trigger()
        about = await wait_until(lambda: dialog(AboutDialog), "the About box")
        await shot(about, "about")
        about.reject()

        # Test the connection of alice on Lab files.
        window.select_account(alice_files)
        window.act_test.trigger()
        test = await wait_until(lambda: dialog(ConnectionDialog), "the connection test")
        await wait_until(lambda: test.job is not None and not test.job.running, "the connection test to end")
        await shot(test, "test-connection")
        test.reject()

        # Use in…: the AI tools found (in the run's own HOME), one checked as a person would before Apply.
        window.select_account(alice_files)
        window.act_use_in.trigger()
        use_in = await wait_until(lambda: dialog(UseInDialog), "the Use in… dialog")
        use_in.boxes["vscode"].setChecked(True)
        await shot(use_in, "use-in")
        use_in.reject()

        # alice's tools on Lab files: loaded through the Tools tab, one switched off, then the server changes.
        tab = window.tools_tab
        window.details_tabs.setCurrentWidget(tab)
        window.splitter.setSizes([150, 500])

        async def load_tools(what: str) -> None:
            tab.load_button.click()
            job = tab.job
            if job is None:
                raise ScreenshotError(f"{what}: the Tools tab started no job")
            await job.finished()
            if job.error is not None:
                raise ScreenshotError(f"{what} failed: {job.error}")
            await wait_until(lambda: tab.job is None, what)

        await load_tools("loading alice's tools")
        admin_row = tab.row_of("admin_report")
        if admin_row is None:
            raise ScreenshotError("the lab's admin_report tool is not listed")
        tab.model.item(admin_row, 0).setCheckState(Qt.CheckState.Unchecked)
        labs["files"].change_tool("echo", ECHO_CHANGED)
        labs["files"].add_tool("delete_file", description=DELETE_FILE, annotations={"destructiveHint": True})
        await load_tools("loading alice's tools again")
        tab.select("echo")
        states = [tab.model.item(row, 3).text() for row in range(tab.model.rowCount())]
        if not any(state.startswith("held") for state in states) or "off" not in states:
            raise ScreenshotError(f"the Tools tab does not show on, off and held rows: {states}")
        await shot_window("tools-tab")

        tab.review_button.click()
        review = await wait_until(lambda: dialog(ReviewDialog), "the review dialog")
        names = [review.tools.item(i).text() for i in range(review.tools.count())]
        review.tools.setCurrentRow(names.index("echo"))
        review.resize(820, 380)
        await shot(review, "tool-review")
        review.reject()
        tab.edit_defaults()  # the Tools tab's button (the window no longer has a menu entry for it)
        defaults = await wait_until(lambda: dialog(ToolDefaultsDialog), "the tool defaults")
        await shot(defaults, "tool-defaults")
        defaults.reject()
        window.splitter.setSizes([400, 250])

        # A server nobody listens on: the failure page with its message and what to do.
        port = closed_loopback_port()
        failing = await add_server(f"http://127.0.0.1:{port}/mcp", "")
        await wait_until(lambda: failing.stack.currentIndex() == FAILED, "the failure page")
        if f"127.0.0.1:{port}" not in failing.error_panel.message.text():
            raise ScreenshotError(f"the failure page does not name the address: {failing.error_panel.message.text()}")
        await wait_until(lambda: failing.job is not None and not failing.job.running, "the failed add to end")
        await shot(failing, "signin-error-unreachable")
        failing.reject()
        await settle()

        # Lab files moves to another authorization server: alice's next sign-in leads with the change.
        other = start_auth(accessTokenTTL=3600)
        try:
            labs["files"].move_to(other)
            window.select_account(alice_files)
            window.sign_in_account(alice_files)
            changed = await wait_until(lambda: dialog(SignInDialog), "the sign-in dialog (changed pairing)")
            await pairing(changed, files, "pairing-changed")
            changed.reject()
            await settle()
        finally:
            other.stop()
    finally:
        for task in browser.tasks:
            task.cancel()
        QDesktopServices.unsetUrlHandler("http")
        QDesktopServices.unsetUrlHandler("https")
        if tray is not None:
            tray.menu.hide()
            tray.hide()
        for open_dialog in list(window.dialogs):
            open_dialog.close()
        window.close()
        await controller.aclose()
        accounts.registry.close()
