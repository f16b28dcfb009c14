"""The running app sees what the command line does to the same profile: an account signed in by
``mcp-connectors login`` appears in the window and in the renewal plan, one signed out by ``logout`` leaves both,
without any action in the window and without polling. The app's own changes are not taken for someone else's."""

from __future__ import annotations

import asyncio
import sys

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import AccountState
from desktop_app.storage.paths import data_dir
from desktop_app.storage.registry import default_registry_path
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.profile_watch import ProfileWatcher
from desktop_app.ui.refresher import BackgroundRefresher
from tests.gui.conftest import wait_until
from tests.helpers.cli import ROOT, cli_env

pytestmark = pytest.mark.lab


async def cli(*args: str, user: str | None = None) -> tuple[int, str]:
    """``python -m desktop_app ARGS`` in a process of its own (same profile and keyring), the loop running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "desktop_app",
        *args,
        env=cli_env(user=user),
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, output.decode()


def listed(window: MainWindow) -> dict[str | None, AccountState]:
    """What the window's tree shows: each account's e-mail and state."""
    model = window.model
    shown: dict[str | None, AccountState] = {}
    for row in range(model.rowCount()):
        server = model.index(row, 0)
        for child in range(model.rowCount(server)):
            account = model.account_at(model.index(child, 0, server))
            if account is not None:
                shown[account.label] = account.state
    return shown


async def test_sign_in_and_sign_out_on_the_command_line_reach_the_window_and_the_plan(
    qapp: QApplication, accounts: Accounts, controller: Controller, lab_mcp
) -> None:
    window = MainWindow(controller)
    refresher = BackgroundRefresher(controller)
    watch = ProfileWatcher(accounts.registry.path, accounts.registry.changed_elsewhere)
    watch.sig_changed_elsewhere.connect(controller.changed_elsewhere)
    told: list[None] = []
    watch.sig_changed_elsewhere.connect(lambda: told.append(None))
    try:
        refresher.start()
        watch.start()
        assert str(default_registry_path(data_dir())) in watch.watched()
        assert listed(window) == {}

        for argv, user in (
            (("add", lab_mcp.url, "--name", "lab"), None),
            (("login", "lab", "--yes"), "alice"),
            (("login", "lab", "--new-account", "--yes"), "bob"),
        ):
            code, output = await cli(*argv, user=user)
            assert code == 0, output
        saved = {a.label: a for a in accounts.registry.accounts()}
        alice, bob = saved["alice@lab.test"], saved["bob@lab.test"]
        await wait_until(
            lambda: refresher.plan.entry(alice.id) and refresher.plan.entry(bob.id), what="both in the renewal plan"
        )
        await wait_until(
            lambda: (
                listed(window) == {"alice@lab.test": AccountState.SIGNED_IN, "bob@lab.test": AccountState.SIGNED_IN}
            ),
            what="both in the window",
        )

        code, output = await cli("logout", "lab", "--account", "alice@lab.test")
        assert code == 0, output
        await wait_until(lambda: refresher.plan.entry(alice.id) is None, what="alice out of the renewal plan")
        await wait_until(
            lambda: listed(window).get("alice@lab.test", AccountState.SIGNED_OUT) is AccountState.SIGNED_OUT,
            what="alice signed out in the window",
        )
        assert told, "the change was not reported as one made elsewhere"

        # The app's own change is written to the same files but is not someone else's.
        told.clear()
        looks = watch.looks
        controller.set_nickname(bob, "Bob at work")
        await wait_until(lambda: watch.looks > looks, what="the watcher looking after the app's own write")
        await asyncio.sleep(0.5)
        assert told == []
    finally:
        watch.stop()
        refresher.stop()
        window.close()
        window.deleteLater()
