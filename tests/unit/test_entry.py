"""The program's entry (``mcp-connectors``, ``python -m desktop_app``): the window without a command, the command line
with one; the window's own options parsed by the window."""

from __future__ import annotations

import logging
import tomllib
from importlib import import_module
from pathlib import Path

import pytest

import desktop_app.app.main as app_main
from desktop_app.__main__ import main, opens_window


@pytest.fixture
def window(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The window's ``main``, recording the words it was given instead of opening anything."""
    started: list[list[str]] = []
    monkeypatch.setattr(app_main, "main", lambda argv: started.append(list(argv)) or 0)
    return started


def test_no_command_opens_the_window(window: list[list[str]]) -> None:
    """`mcp-connectors` alone (or with --hidden) runs the app; `--help` and commands stay the command line."""
    assert main([]) == 0
    assert main(["--hidden"]) == 0
    assert window == [[], ["--hidden"]]


@pytest.mark.parametrize("argv", [["-v", "--hidden"], ["--hidden", "--verbose"], ["--hidden", "-v", "--hidden"]])
def test_the_window_s_options_with_hidden_open_the_window_with_them(window: list[list[str]], argv: list[str]) -> None:
    assert main(argv) == 0
    assert window == [argv]
    args = app_main.parse_args(argv)
    assert args.hidden and args.verbose
    assert app_main.log_level(args, {}) == logging.INFO
    assert app_main.log_level(args, {"MCP_CONNECTORS_DEBUG": "1"}) == logging.DEBUG
    assert app_main.log_level(app_main.parse_args(["--hidden"]), {}) == logging.WARNING


def test_options_without_hidden_stay_the_command_line_s(
    window: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-v"]) == 0  # the help, as any options without a command
    assert "connect" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        main(["--hidden", "list"])
    assert stopped.value.code == 2
    assert "unrecognized arguments: --hidden" in capsys.readouterr().err
    assert window == []


@pytest.mark.parametrize(
    ("argv", "window"),
    [
        ([], True),
        (["--hidden"], True),
        (["-v", "--hidden"], True),
        (["-v"], False),
        (["--help", "--hidden"], False),
        (["--secret-store", "file", "--hidden"], False),
        (["--hidden", "token", "srv"], False),
        (["list"], False),
    ],
)
def test_what_opens_the_window(argv: list[str], window: bool) -> None:
    assert opens_window(argv) is window


def test_the_installed_commands_run_the_entry_and_the_window() -> None:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"mcp-connectors": "desktop_app.__main__:main"}
    assert project["gui-scripts"] == {"mcp-connectors-window": "desktop_app.app.main:main"}
    for target in (*project["scripts"].values(), *project["gui-scripts"].values()):
        module, name = target.split(":")
        assert callable(getattr(import_module(module), name))
