"""A sign-in ended under a bridge: the app is started in the tray when none runs, once, unless turned off."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from desktop_app.bridge.app_link import HIDDEN_FLAG, START_APP_SETTING, AppLink, app_is_running
from desktop_app.storage.paths import instance_socket
from desktop_app.storage.registry import SqliteRegistry


@pytest.fixture
def registry() -> SqliteRegistry:
    return SqliteRegistry.in_memory()


def test_the_app_is_started_once_when_none_runs(tmp_path: Path, registry: SqliteRegistry) -> None:
    launched: list[list[str]] = []
    link = AppLink(tmp_path, registry, launch=launched.append, running=lambda home: False)
    link.sign_in_ended()
    link.sign_in_ended()
    assert len(launched) == 1 and launched[0][-1] == HIDDEN_FLAG


def test_nothing_is_started_when_the_app_runs_or_the_person_said_no(tmp_path: Path, registry: SqliteRegistry) -> None:
    launched: list[list[str]] = []
    AppLink(tmp_path, registry, launch=launched.append, running=lambda home: True).sign_in_ended()
    registry.set_setting(START_APP_SETTING, "off")
    AppLink(tmp_path, registry, launch=launched.append, running=lambda home: False).sign_in_ended()
    assert launched == []


@pytest.mark.skipif(os.name != "posix", reason="the single-instance socket is a Unix socket here")
def test_an_app_listening_on_the_profiles_socket_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    home = tmp_path / "profile"
    home.mkdir(mode=0o700)
    assert not app_is_running(home)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(instance_socket(home)))
        listener.listen(1)
        assert app_is_running(home)
    assert not app_is_running(home)  # a socket file nobody answers on
