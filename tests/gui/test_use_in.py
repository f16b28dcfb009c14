"""**Use in…**: an account's connector put into and taken out of the AI tools found on this computer, from the
window; the details say which tools have it and which program runs it now (the tray counts those); removing a server
offers to take its connectors out; a bridge's step-up request opens the account's sign-in. HOME and
XDG_CONFIG_HOME point at the test's own folder (never the real home)."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest
from PySide6.QtWidgets import QCheckBox, QDialogButtonBox, QLabel, QMessageBox, QPushButton

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, Identity, Server, ServerSettings
from desktop_app.bridge.presence import LiveBridge
from desktop_app.hosts.catalog import find_host
from desktop_app.hosts.entries import Launch
from desktop_app.hosts.installer import install, state_of
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.tray import Tray
from desktop_app.ui.use_in_dialog import UseInDialog
from tests.gui.conftest import wait_until
from tests.helpers.records import store_sign_in


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    (folder / ".cursor").mkdir(parents=True)
    (folder / ".codex").mkdir()
    (folder / ".codex" / "config.toml").write_text('model = "o3"  # mine\n')
    (folder / ".gemini").mkdir()
    (folder / ".gemini" / "settings.json").write_text('{\n  "mcpServers": {\n    oops\n  }\n}\n')
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / ".config"))
    for name in ("CODEX_HOME", "CLAUDE_CONFIG_DIR", "GOOSE_PATH_ROOT", "FLATPAK_XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture
def signed_in(accounts: Accounts) -> tuple[Server, Account]:
    now = time.time()
    url = "https://files.example/mcp"
    server = accounts.registry.add_server(url=url, resource=url, name="files", settings=ServerSettings(), now=now)
    tokens = TokenSet(f"at-{uuid.uuid4().hex}", "https://as.example", "c", url, ("files",), now, expires_at=now + 3600)
    who = Identity("sub-a", "alice@work.example", "id_token", "alice@work.example")
    account = store_sign_in(accounts, server.id, tokens, now=now, key=uuid.uuid4().hex, identity=who)
    return server, accounts.set_nickname(account, "Work")


@pytest.fixture
def window(qtbot, controller: Controller, home: Path, signed_in: tuple[Server, Account]) -> MainWindow:
    made = MainWindow(controller)
    qtbot.addWidget(made)
    made.show()
    made.select_account(signed_in[1].id)
    return made


def _open_use_in(window: MainWindow) -> UseInDialog:
    window.act_use_in.trigger()
    dialogs = [d for d in window.dialogs if isinstance(d, UseInDialog)]
    assert dialogs
    return dialogs[-1]


def _boxes(dialog: UseInDialog) -> dict[str, QCheckBox]:
    return {box.objectName().removeprefix("host-"): box for box in dialog.findChildren(QCheckBox)}


async def test_put_in_and_taken_out_from_the_window(window: MainWindow, home: Path) -> None:
    assert window.act_use_in.isEnabled()
    assert "Used in: no AI tool yet" in window.details.text()
    dialog = _open_use_in(window)
    boxes = _boxes(dialog)
    assert set(boxes) == {"cursor", "codex", "gemini"}  # the tools found here, nothing else
    assert not any(box.isChecked() for box in boxes.values())
    assert not boxes["gemini"].isEnabled()
    problem = dialog.findChild(QLabel, "problem-gemini")
    assert problem is not None and "line 3" in problem.text()

    boxes["cursor"].setChecked(True)
    boxes["codex"].setChecked(True)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Apply).click()
    entry = json.loads((home / ".cursor" / "mcp.json").read_text())["mcpServers"]["files-work"]
    assert entry["args"][0] == "bridge"
    assert (home / ".codex" / "config.toml").read_text().startswith('model = "o3"  # mine\n')
    await wait_until(lambda: "Used in: Cursor, Codex CLI" in window.details.text(), what="the details")

    second = _open_use_in(window)
    again = _boxes(second)
    assert again["cursor"].isChecked() and again["codex"].isChecked()
    again["cursor"].setChecked(False)
    second.buttons.button(QDialogButtonBox.StandardButton.Apply).click()
    assert "files-work" not in json.loads((home / ".cursor" / "mcp.json").read_text())["mcpServers"]
    await wait_until(lambda: "Used in: Codex CLI" in window.details.text(), what="the details")


async def test_names_from_a_server_are_plain_text(
    qtbot, controller: Controller, home: Path, accounts: Accounts
) -> None:
    now = time.time()
    url = "https://b.example/mcp"
    server = accounts.registry.add_server(url=url, resource=url, name="<b>x</b>", settings=ServerSettings(), now=now)
    tokens = TokenSet("at-secret-1234", "https://as.example", "c", url, (), now, expires_at=now + 3600)
    who = Identity("sub-b", "<i>bob</i>", "id_token", None)
    account = store_sign_in(accounts, server.id, tokens, now=now, key=uuid.uuid4().hex, identity=who)
    dialog = UseInDialog(server, account)
    qtbot.addWidget(dialog)
    texts = [label for label in dialog.findChildren(QLabel) if "<b>x</b>" in label.text()]
    assert texts and all(label.textFormat().name == "PlainText" for label in texts)


async def test_removing_a_server_offers_to_take_its_connectors_out(
    window: MainWindow, home: Path, signed_in: tuple[Server, Account]
) -> None:
    server, account = signed_in
    run = Launch("/opt/app/bin/mcp-connectors", ("bridge", str(server.id), "--account", str(account.id)), {})
    if os.environ.get("MCP_CONNECTORS_HOME"):
        run = Launch(run.command, run.args, {"MCP_CONNECTORS_HOME": os.environ["MCP_CONNECTORS_HOME"]})
    install(
        find_host("cursor"),
        run,
        server_id=server.id,
        account_id=account.id,
        name=None,
        default_name="files-work",
        description="d",
    )
    window.removals.removed(server, (), [account.id])
    box = await wait_until(lambda: next((d for d in window.dialogs if isinstance(d, QMessageBox)), None))
    assert "Cursor" in box.text()
    button = box.findChild(QPushButton, "confirmButton")
    assert button is not None
    button.click()
    await wait_until(lambda: state_of(find_host("cursor")).connectors == (), what="the entry removed")


async def test_the_details_say_which_program_uses_the_connector_now(
    qtbot, controller: Controller, home: Path, signed_in: tuple[Server, Account]
) -> None:
    started = time.time() - 60
    running = [LiveBridge(os.getpid(), signed_in[0].id, signed_in[1].id, "claude", started)]
    made = MainWindow(controller, live=lambda: running)
    qtbot.addWidget(made)
    made.show()
    made.select_account(signed_in[1].id)
    details = made.details_tabs.details.text()
    assert f"In use now by: claude (since {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))})" in details
    running.clear()
    made.select_account(signed_in[1].id)
    made._show_details()
    assert "In use now" not in made.details_tabs.details.text()


async def test_a_step_up_asked_by_a_bridge_opens_the_accounts_sign_in_with_the_new_scopes(
    window: MainWindow, signed_in: tuple[Server, Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[tuple[object, str]] = []
    monkeypatch.setattr(window, "_sign_in_dialog", lambda start, title: opened.append((start, title)))
    started: list[dict[str, object]] = []
    monkeypatch.setattr(window.controller, "sign_in", lambda server, **options: started.append(options))
    window.step_up(signed_in[1].id, ["files", "files:admin"], "claude")
    ((start, title),) = opened
    assert title == "claude asks for more permissions on files as alice@work.example"
    start()  # type: ignore[operator]
    assert started == [{"account": signed_in[1], "extra_scopes": ("files", "files:admin")}]
    assert window.selected_account() == signed_in[1]


def test_the_tray_counts_connectors_in_use(qtbot, controller: Controller, signed_in: tuple[Server, Account]) -> None:
    server, account = signed_in
    running = [
        LiveBridge(os.getpid(), server.id, account.id, "claude", time.time()),
        LiveBridge(os.getpid(), server.id, account.id, "code", time.time()),
    ]
    tray = Tray(controller, BackgroundRefresher(controller), live=lambda: running)
    tray.rebuild_menu()
    texts = tray.menu_texts()
    assert "1 connector in use by AI tools (claude, code)" in texts
    assert any(t.startswith("    Work (alice@work.example) — ") and t.endswith(" · in use") for t in texts), texts
    running.clear()
    tray.rebuild_menu()
    assert not any("in use" in t for t in tray.menu_texts())
