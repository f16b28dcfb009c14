"""The main window's parts on their own, without the lab: its commands and what the selection enables, the details
and activity tabs, the empty state."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QPalette
from PySide6.QtWidgets import QMainWindow, QPushButton, QWidget

from desktop_app.accounts.models import Account, AccountState, Event, Server, ServerSettings
from desktop_app.ui import text
from desktop_app.ui.colours import contrast
from desktop_app.ui.details_panel import DetailsPanel
from desktop_app.ui.empty_state import EmptyState
from desktop_app.ui.window_actions import WindowActions

NOW = 1_800_000_000.0

SERVER = Server(
    id=1,
    url="https://mcp.example/mcp",
    resource="https://mcp.example/mcp",
    name="Example",
    resource_name="Example files",
    settings=ServerSettings(),
    added_at=NOW - 86_400,
)
ACCOUNT = Account(
    id=7,
    key="k",
    server_id=1,
    issuer="https://as.example",
    client_id="client",
    subject="sub-alice",
    label="alice@example.test",
    identity_source="id_token",
    login_hint="alice@example.test",
    nickname=None,
    state=AccountState.SIGNED_IN,
    scopes=("files:read",),
    expires_at=NOW + 3600,
    has_refresh_token=True,
    created_at=NOW - 3600,
    signed_in_at=NOW - 3600,
    last_refresh=None,
)


class Recorder:
    """The window's commands, each recording that it ran."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def __getattr__(self, name: str) -> object:
        return lambda: self.ran.append(name)


def actions(qtbot) -> tuple[WindowActions, Recorder, QMainWindow]:
    window = QMainWindow()
    qtbot.addWidget(window)
    commands = Recorder()
    made = WindowActions.create(window, commands)  # type: ignore[arg-type]
    made.install(window)
    return made, commands, window


def test_each_action_runs_its_command(qtbot) -> None:
    made, commands, _window = actions(qtbot)
    for field in dataclasses.fields(made):
        getattr(made, field.name).trigger()
    assert commands.ran == [
        "add_server",
        "sign_in",
        "add_account",
        "sign_out",
        "remove_account",
        "remove_server",
        "test_connection",
        "open_settings",
        "rename_account",
        "rename_server",
        "use_in",
        "copy_diagnostics",
        "open_preferences",
        "filter_list",
        "export_servers",
        "import_servers",
        "close",
        "quit",
        "about",
    ]


def test_the_menu_bar_and_the_toolbar(qtbot) -> None:
    made, _commands, window = actions(qtbot)
    menus = {a.text(): [b.objectName() for b in a.menu().actions()] for a in window.menuBar().actions()}
    assert menus == {
        "&File": ["addServer", "importServers", "exportServers", "", "preferences", "", "closeWindow", "quit"],
        "&Server": ["signIn", "addAccount", "testConnection", "serverSettings", "renameServer", "removeServer"],
        "A&ccount": ["signIn", "signOut", "renameAccount", "useIn", "testConnection", "", "removeAccount"],
        "&Help": ["copyDiagnostics", "about"],
    }
    toolbar = window.findChild(QWidget, "mainToolbar")
    assert toolbar is not None
    assert [a.objectName() for a in toolbar.actions()] == ["addServer", "signIn", "testConnection", "serverSettings"]
    assert made.sign_in.shortcut().toString() == "Ctrl+L"


def test_the_context_menu_fits_where_the_click_landed(qtbot) -> None:
    made, _commands, window = actions(qtbot)

    def names(on: str) -> list[str]:
        menu = made.context_menu(window, on)  # type: ignore[arg-type]
        return [a.objectName() for a in menu.actions()]

    assert names("nothing") == ["addServer"]
    assert names("account") == [
        "signIn",
        "testConnection",
        "renameAccount",
        "useIn",
        "signOut",
        "",
        "copyDiagnostics",
        "removeAccount",
    ]
    assert names("server") == [
        "signIn",
        "addAccount",
        "testConnection",
        "serverSettings",
        "renameServer",
        "",
        "copyDiagnostics",
        "removeServer",
    ]


def test_what_the_selection_enables(qtbot) -> None:
    made, _commands, _window = actions(qtbot)
    made.follow_selection(None, None, busy=False, live=False, testable=False)
    assert not any(a.isEnabled() for a in (made.sign_in, made.add_account, made.remove, made.diagnostics))
    assert made.add_server.isEnabled() and made.quit.isEnabled()

    made.follow_selection(SERVER, None, busy=False, live=True, testable=True)
    assert made.sign_in.text() == "&Sign in…"
    assert not made.sign_in.isEnabled()  # a live account: "Add another account" or the account's own sign-in
    assert made.add_account.isEnabled() and made.test.isEnabled() and made.remove.isEnabled()
    assert not made.sign_out.isEnabled() and not made.rename.isEnabled() and not made.use_in.isEnabled()

    made.follow_selection(SERVER, ACCOUNT, busy=False, live=True, testable=True)
    assert made.sign_in.text() == "&Sign in again…" and made.sign_in.isEnabled()
    assert made.sign_out.isEnabled() and made.rename.isEnabled() and made.use_in.isEnabled() and made.test.isEnabled()

    made.follow_selection(SERVER, ACCOUNT, busy=True, live=True, testable=True)
    assert not made.sign_in.isEnabled() and not made.sign_out.isEnabled() and not made.test.isEnabled()
    assert not made.remove_account.isEnabled()
    assert made.rename.isEnabled()

    signed_out = dataclasses.replace(ACCOUNT, state=AccountState.SIGNED_OUT)
    made.follow_selection(SERVER, signed_out, busy=False, live=False, testable=False)
    assert made.sign_in.isEnabled() and not made.sign_out.isEnabled() and not made.test.isEnabled()


def test_the_delete_key_belongs_to_what_is_selected(qtbot) -> None:
    made, _commands, _window = actions(qtbot)
    delete = QKeySequence(QKeySequence.StandardKey.Delete)
    assert made.remove.shortcut() == delete and made.remove_account.shortcut().isEmpty()
    made.follow_selection(SERVER, ACCOUNT, busy=False, live=True, testable=True)
    assert made.remove_account.isEnabled() and made.remove.isEnabled()  # the Server menu still removes the server
    assert made.remove_account.shortcut() == delete and made.remove.shortcut().isEmpty()
    made.follow_selection(SERVER, None, busy=False, live=True, testable=True)
    assert not made.remove_account.isEnabled()
    assert made.remove.shortcut() == delete and made.remove_account.shortcut().isEmpty()


def test_details_of_an_account_and_its_events(qtbot) -> None:
    panel = DetailsPanel()
    qtbot.addWidget(panel)
    events = [
        Event(1, 1, 7, NOW - 60, "signed_in", "as alice@example.test"),
        Event(2, 1, 7, NOW - 30, "refreshed", "line one\nline two <b>"),
    ]
    panel.show_account(ACCOUNT, now=NOW, busy=None, events=events)
    shown = panel.details.text().splitlines()
    assert shown[0] == "alice@example.test"
    assert shown[1] == "" and shown[2].startswith("State: ")
    # The same evidence as the sign-in's done page: the refresh token and the ID token's identity count, in words.
    assert "Permissions: files:read; Know who you are (name, email) · openid; Stay signed in · offline_access" in shown
    assert "Who: alice@example.test (as the sign-in reported it)" in shown
    assert panel.details.textFormat() == Qt.TextFormat.PlainText
    model = panel.activity_model
    assert model.rowCount() == 2
    assert model.item(1, 2).text() == "line one line two <b>"
    assert not model.item(0, 0).isEditable()

    panel.show_account(ACCOUNT, now=NOW, busy="Renewing", events=[])
    assert panel.details.text().splitlines()[2] == "State: Renewing…"
    assert panel.activity_model.rowCount() == 0


def test_details_of_a_server(qtbot) -> None:
    panel = DetailsPanel()
    qtbot.addWidget(panel)
    panel.show_server(SERVER, accounts=[ACCOUNT], events=[Event(1, 1, None, NOW, "server_added", "")])
    shown = panel.details.text().splitlines()
    assert shown[:5] == [  # the address once: the resource is the same URL
        "Example",
        "",
        "Address: https://mcp.example/mcp",
        "Calls itself: Example files",
        "Accounts: 1 account signed in",
    ]
    assert panel.activity_model.rowCount() == 1
    panel.show_nothing()
    assert panel.details.text() == ""
    assert panel.activity_model.rowCount() == 0
    assert [panel.tabText(i) for i in range(panel.count())] == ["Details", "Activity"]


def test_the_empty_state_asks_for_a_server(qtbot) -> None:
    empty = EmptyState()
    qtbot.addWidget(empty)
    button = empty.findChild(QPushButton, "emptyAddServer")
    assert button is not None
    with qtbot.waitSignal(empty.sig_add_server_requested, timeout=1000):
        button.click()


def test_the_empty_state_s_add_server_is_the_one_prominent_button(qtbot) -> None:
    """Item 12: the primary action stands out (the highlight's colours, bold, taller) among the page's buttons, and
    Enter presses it."""
    empty = EmptyState()
    qtbot.addWidget(empty)
    empty.show_keyring_missing("No keyring is running.")  # the page's other buttons are shown too
    add = empty.findChild(QPushButton, "emptyAddServer")
    others = [b for b in empty.findChildren(QPushButton) if b is not add]
    assert add is not None and others
    highlight = add.palette().color(QPalette.ColorRole.Highlight)
    assert add.palette().color(QPalette.ColorRole.Button) == highlight
    assert contrast(add.palette().color(QPalette.ColorRole.ButtonText), highlight) >= 4.5
    assert add.font().bold() and add.isDefault()
    for other in others:
        assert other.palette().color(QPalette.ColorRole.Button) != highlight and not other.isDefault()
        assert add.sizeHint().height() > other.sizeHint().height()


def test_a_signed_out_account_s_details_do_not_say_it_is_signed_in(qtbot) -> None:
    panel = DetailsPanel()
    qtbot.addWidget(panel)
    out = dataclasses.replace(ACCOUNT, state=AccountState.SIGNED_OUT, signed_in_at=NOW - 3600)
    panel.show_account(out, now=NOW, busy=None, events=[])
    shown = panel.details.text().splitlines()
    assert "State: Signed out" in shown
    assert not [line for line in shown if line.startswith(("Signed in", "Access expires", "Renewal", "Last renewed"))]
    assert "Last signed in: " + text.when(NOW - 3600) in shown
    panel.show_account(ACCOUNT, now=NOW, busy=None, events=[])
    assert "Signed in: " + text.when(ACCOUNT.signed_in_at) in panel.details.text().splitlines()


def test_a_server_with_another_resource_says_both(qtbot) -> None:
    panel = DetailsPanel()
    qtbot.addWidget(panel)
    other = dataclasses.replace(SERVER, url="mcp.example/mcp/", resource="https://mcp.example/api")
    panel.show_server(other, accounts=[], events=[])
    assert "Resource: https://mcp.example/api" in panel.details.text().splitlines()
