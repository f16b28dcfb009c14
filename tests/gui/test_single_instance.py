"""The single-instance socket hears only this user, and what is not this user's socket is replaced, not obeyed
(issue 12 item 7). Where the socket lives is tested in tests/unit/test_profile_trust.py.

Every socket here is a Unix socket in the test's own folder; the peer's user id comes from the kernel
(``SO_PEERCRED``), or from the ``check`` seam where a test plays another user. Tests that need a socket of another
user chown one, which only root may do.
"""

from __future__ import annotations

import os
import socket as pysocket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtNetwork import QLocalSocket

from desktop_app.bridge.app_link import ask_step_up
from desktop_app.storage.paths import instance_socket
from desktop_app.ui.single_instance import SingleInstance, ask_running_instance_to_show, peer_uid

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_PEERCRED and socket files: Linux")

OTHER_UID = 65534
as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can chown")


@pytest.fixture
def name(tmp_path: Path) -> str:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    return str(folder / "instance")


@pytest.fixture
def listeners() -> Iterator[list[SingleInstance]]:
    made: list[SingleInstance] = []
    yield made
    for instance in made:
        instance.server.close()
        instance.deleteLater()  # with its server and their sockets, now rather than whenever the collector runs
    QCoreApplication.processEvents()


def listening(name: str, listeners: list[SingleInstance], **options: Any) -> SingleInstance:
    instance = SingleInstance(name, **options)
    listeners.append(instance)
    assert instance.listen()
    return instance


def foreign_listener(path: str) -> pysocket.socket:
    """A listening Unix socket at ``path`` (answering, as another program would)."""
    server = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    server.setblocking(False)
    return server


def test_a_launch_of_this_user_is_heard_and_the_check_says_who_it_was(
    qtbot: Any, name: str, listeners: list[SingleInstance]
) -> None:
    heard: list[int | None] = []

    def recording(socket: QLocalSocket) -> int | None:
        uid = peer_uid(socket)
        heard.append(uid)
        return uid

    instance = listening(name, listeners, check=recording)
    assert instance.server.fullServerName() == name  # the full path: not a name Qt would put in /tmp
    info = os.lstat(name)
    assert stat.S_ISSOCK(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077
    asked: list[int | None] = []

    def client_check(socket: QLocalSocket) -> int | None:
        asked.append(peer_uid(socket))
        return asked[-1]

    with qtbot.waitSignal(instance.sig_show_requested, timeout=5000):
        assert ask_running_instance_to_show(name, check=client_check)
    assert heard == [os.geteuid()]  # the launching process, as the kernel says
    assert asked == [os.geteuid()]  # and the running one, seen from the launch


def test_a_process_of_another_user_is_not_heard(qtbot: Any, name: str, listeners: list[SingleInstance]) -> None:
    checked: list[int] = []

    def another_user(_socket: QLocalSocket) -> int:
        checked.append(os.geteuid() + 1)
        return checked[-1]

    instance = listening(name, listeners, check=another_user)
    assert ask_running_instance_to_show(name)  # the launch itself trusts the running instance: it wrote "show"
    qtbot.waitUntil(lambda: bool(checked), timeout=5000)
    with qtbot.assertNotEmitted(instance.sig_show_requested, wait=300):
        pass


def test_a_peer_that_cannot_be_identified_is_not_heard(qtbot: Any, name: str, listeners: list[SingleInstance]) -> None:
    asked: list[bool] = []

    def unknown(_socket: QLocalSocket) -> int:
        asked.append(True)
        raise OSError("no credentials")

    instance = listening(name, listeners, check=unknown)
    assert ask_running_instance_to_show(name)
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    with qtbot.assertNotEmitted(instance.sig_show_requested, wait=300):
        pass


def test_a_launch_does_not_obey_a_listener_of_another_user(
    qtbot: Any, name: str, listeners: list[SingleInstance]
) -> None:
    instance = listening(name, listeners)
    with qtbot.assertNotEmitted(instance.sig_show_requested, wait=300):
        assert not ask_running_instance_to_show(name, check=lambda _socket: os.geteuid() + 1)


def test_a_stale_socket_is_replaced(qtbot: Any, name: str, listeners: list[SingleInstance]) -> None:
    crashed = foreign_listener(name)
    crashed.close()  # the file stays, nobody answers on it
    assert os.path.exists(name)
    assert not ask_running_instance_to_show(name)
    instance = listening(name, listeners)
    with qtbot.waitSignal(instance.sig_show_requested, timeout=5000):
        assert ask_running_instance_to_show(name)


def test_a_file_that_is_not_a_socket_is_replaced(qtbot: Any, name: str, listeners: list[SingleInstance]) -> None:
    Path(name).write_text("not a socket")
    assert not ask_running_instance_to_show(name)
    instance = listening(name, listeners)
    assert stat.S_ISSOCK(os.lstat(name).st_mode)
    with qtbot.waitSignal(instance.sig_show_requested, timeout=5000):
        assert ask_running_instance_to_show(name)


@as_root
def test_an_answering_socket_of_another_user_is_replaced_not_obeyed(
    qtbot: Any, name: str, listeners: list[SingleInstance]
) -> None:
    squatter = foreign_listener(name)
    try:
        os.chown(name, OTHER_UID, OTHER_UID)
        assert not ask_running_instance_to_show(name)
        with pytest.raises(BlockingIOError):
            squatter.accept()  # it was never even connected to
        instance = listening(name, listeners)
        info = os.lstat(name)
        assert stat.S_ISSOCK(info.st_mode) and info.st_uid == os.geteuid()
        with qtbot.waitSignal(instance.sig_show_requested, timeout=5000):
            assert ask_running_instance_to_show(name)
        with pytest.raises(BlockingIOError):
            squatter.accept()  # the launch reached the app, not the squatter
    finally:
        squatter.close()


def test_a_bridge_asking_for_a_step_up_is_heard_with_what_it_asks(
    qtbot: Any, tmp_path: Path, listeners: list[SingleInstance], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    home = tmp_path / "profile"
    home.mkdir(mode=0o700)
    instance = listening(str(instance_socket(home)), listeners)
    with qtbot.waitSignal(instance.sig_step_up_requested, timeout=5000) as heard:
        assert ask_step_up(home, account_id=7, scopes=("mcp:tools", "mcp:admin"), host="claude")
    assert heard.args == [7, ["mcp:tools", "mcp:admin"], "claude"]


@pytest.mark.parametrize(
    "line",
    [
        b'step-up {"account": "7", "scopes": ["a"], "host": "h"}\n',
        b'step-up {"account": 7, "scopes": ["a b"], "host": "h"}\n',
        b'step-up {"account": 7, "scopes": [], "host": "h"}\n',
        b"step-up not json\n",
    ],
)
def test_a_malformed_step_up_request_is_dropped(
    qtbot: Any, name: str, listeners: list[SingleInstance], line: bytes
) -> None:
    instance = listening(name, listeners)
    heard: list[object] = []
    instance.sig_step_up_requested.connect(lambda *args: heard.append(args))
    with pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_STREAM) as client:
        client.connect(name)
        client.sendall(line + b"show\n")
        with qtbot.waitSignal(instance.sig_show_requested, timeout=5000):
            pass
    assert heard == []


def test_a_launch_in_the_tray_finds_the_running_app_without_bringing_it_forward(
    qtbot: Any, name: str, listeners: list[SingleInstance]
) -> None:
    instance = listening(name, listeners)
    shown: list[bool] = []
    instance.sig_show_requested.connect(lambda: shown.append(True))
    assert ask_running_instance_to_show(name, show=False)
    qtbot.wait(200)
    assert shown == []
