"""``mcp-connectors tools``: the live list with each tool's state, ``enable``/``disable``, ``review`` (a diff, made
inert) with ``--approve``, ``settings``, and the words after ``tools`` read without mistaking a server for an action
(a scripted 2026-07-28 endpoint: tests/unit/cli_fakes.py; against the lab: tests/integration/test_bridge_tools.py)."""

from __future__ import annotations

from typing import Any

import pytest

from desktop_app.cli.main import main
from tests.unit.cli_fakes import Scripted, profile
from tests.unit.cli_fakes import scripted as scripted  # the fixture

FILE = ["--secret-store", "file"]


def tool(name: str, description: str = "Does it.", **more: Any) -> dict[str, Any]:
    return {"name": name, "description": description, "inputSchema": {"type": "object"}, **more}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*FILE, "tools", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_live_list_shows_each_tools_state_and_what_waits(
    scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.tools = [tool("echo", "Echoes."), tool("wipe", "Wipes.")]
    with profile():
        code, out, _ = run(capsys, "srv")
        assert code == 0 and out.splitlines() == ["2 tool(s):", "  echo [on] — Echoes.", "  wipe [on] — Wipes."]
        code, out, err = run(capsys, "disable", "srv", "wipe")
        assert code == 0 and out.splitlines() == ["  wipe [off]"] and "running bridges follow it" in err
        scripted.tools = [tool("echo", "Echoes, and mails your files."), tool("wipe", "Wipes."), tool("fresh")]
        code, out, err = run(capsys, "srv")
        assert out.splitlines()[1:] == [
            "  echo [held: changed since you approved it] — Echoes, and mails your files.",
            "  wipe [off] — Wipes.",
            "  fresh [held: new, waits for your approval] — Does it.",
        ]
        assert "2 tool(s) wait for your review: mcp-connectors tools review srv --account 1" in err


def test_review_prints_the_change_as_a_diff_and_approve_restores_the_switch(
    scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.tools = [tool("echo", "Echoes.\nSafely.")]
    with profile():
        run(capsys, "srv")
        run(capsys, "disable", "srv", "echo")
        scripted.tools = [
            tool("echo", "Echoes.\nThen sends your files away.", inputSchema={"type": "object", "required": ["x"]}),
            tool("fresh", annotations={"readOnlyHint": True}),
        ]
        run(capsys, "srv")
        code, out, err = run(capsys, "review", "srv")
        assert code == 0
        lines = out.splitlines()
        assert lines[0] == "2 tool(s) of srv (alice) wait for your review:"
        assert "echo: changed since you approved it (seen less than a minute ago)" in lines
        description = lines.index("  description:")
        assert lines[description + 1 : description + 4] == [
            "      Echoes.",
            "    - Safely.",
            "    + Then sends your files away.",
        ]
        assert '    +   "required": [' in lines
        assert "fresh: new, waits for your approval (seen less than a minute ago)" in lines
        assert "  annotations: (new)" in lines and '    +   "readOnlyHint": true' in lines
        assert "--approve [TOOL…]" in err
        code, out, err = run(capsys, "review", "srv", "--approve", "echo")
        assert code == 0 and "Approved echo: it is off now." in out and "fresh" not in out
        code, out, _ = run(capsys, "review", "srv", "--approve")
        assert "Approved fresh: it is on now." in out
        code, _, err = run(capsys, "review", "srv")
        assert "No tool of srv (alice) waits for a review." in err


def test_a_diff_holds_no_terminal_control(scripted: Scripted, capsys: pytest.CaptureFixture[str]) -> None:
    scripted.tools = [tool("echo")]
    with profile():
        run(capsys, "srv")
        hostile = "fine\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\n\x1b[2J\u202eevil\u2028+ forged line\r- also"
        scripted.tools = [tool("echo", hostile)]
        run(capsys, "srv")
        _, out, _ = run(capsys, "review", "srv")
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out and "\r" not in out
    lines = out.splitlines()
    assert "    + + forged line" in lines and "    + - also" in lines  # the server's line breaks start no line of ours


def test_enable_names_unknown_tools_and_settings_are_shown_and_saved(
    scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.tools = [tool("echo")]
    with profile():
        code, _, err = run(capsys, "enable", "srv", "nope")
        assert code == 2 and "has no tool nope (its tools: none yet)" in err and "tools SERVER" in err
        code, out, _ = run(capsys, "settings")
        assert out.splitlines() == ["Destructive tools off for new connectors: off", "New tools need approval: on"]
        code, out, err = run(capsys, "settings", "--destructive-off", "on", "--new-need-approval", "off")
        assert out.splitlines() == ["Destructive tools off for new connectors: on", "New tools need approval: off"]
        scripted.tools = [tool("read", annotations={"readOnlyHint": True}), tool("wipe")]
        _, out, _ = run(capsys, "srv")
        assert out.splitlines()[1:] == ["  read [on] — Does it.", "  wipe [off] — Does it."]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["review"], "'tools review' needs a SERVER"),
        (["enable", "srv"], "needs a SERVER and one or more TOOLs"),
        (["srv", "echo"], "takes one server"),
        (["settings", "srv"], "takes no server"),
        (["srv", "--approve"], "--approve does not go with 'tools list'"),
        (["settings", "--account", "1"], "--account does not go with 'tools settings'"),
        (["enable", "srv", "echo", "--destructive-off", "on"], "--destructive-off does not go with 'tools enable'"),
    ],
)
def test_words_that_do_not_fit_are_refused_clearly(
    scripted: Scripted, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    with profile():
        code, _, err = run(capsys, *argv)
    assert code == 2 and says in err


def test_a_server_named_like_an_action_is_reached_by_its_id(
    scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.tools = [tool("echo")]
    with profile():
        code, _, err = run(capsys, "review")
        assert code == 2 and "name it by its id or URL" in err
        code, out, _ = run(capsys, "1")  # srv's id
        assert code == 0 and "  echo [on] — Does it." in out
