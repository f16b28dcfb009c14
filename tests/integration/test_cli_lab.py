"""``mcp-connectors connect`` as a person runs it: a real process, a real browser command, the real lab."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from tests.helpers import cli
from tests.lab.browser import chromium_available, make_chromium_browser
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab

#: The scripted browser signs in, and a sign-in through a real browser gets the time it needs.
run_cli = partial(cli.run_cli, timeout=90)


def assert_no_secrets(*outputs: str) -> None:
    for output in outputs:
        assert "eyJ" not in output  # no JWT (the lab's access and id tokens)
        for name in ("code_verifier", "refresh_token=", "access_token", "Authorization: Bearer", "client_secret="):
            assert name not in output


def authorization_requests(auth_server: RunningAuthServer) -> list[dict[str, object]]:
    return [r for r in auth_server.requests() if str(r["path"]).endswith("/auth") and r["method"] == "GET"]


def test_connect_lists_tools_and_calls_one(lab_as: RunningAuthServer, lab_mcp: RunningMcpServer) -> None:
    result = run_cli("-v", "connect", lab_mcp.url, "--yes", "--call", "echo", "--args", json.dumps({"text": "hi cli"}))
    assert result.returncode == 0, result.stderr
    assert "About to sign in:" in result.stderr
    assert f"Server:               {lab_mcp.url} (Lab MCP server)" in result.stderr
    assert f"Authorization server: {lab_as.issuer}" in result.stderr
    assert "echo" in result.stdout
    assert "admin_report" in result.stdout
    assert "Result of echo:\nhi cli" in result.stdout
    assert_no_secrets(result.stdout, result.stderr)


def test_step_up_from_the_command_line(lab_mcp: RunningMcpServer) -> None:
    result = run_cli("connect", lab_mcp.url, "--yes", "--call", "admin_report")
    assert result.returncode == 0, result.stderr
    assert "More permissions requested:" in result.stderr
    assert "mcp:admin  (new)" in result.stderr
    assert_no_secrets(result.stdout, result.stderr)


def test_without_a_terminal_it_asks_for_yes_and_opens_nothing(lab_as_factory: object, lab_mcp_factory: object) -> None:
    auth_server = lab_as_factory()  # type: ignore[operator]
    mcp = lab_mcp_factory(auth_server)  # type: ignore[operator]
    result = run_cli("connect", mcp.url)
    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert authorization_requests(auth_server) == []


def test_unreachable_server_is_a_transient_error() -> None:
    result = run_cli("connect", "http://127.0.0.1:9/mcp", "--yes")
    assert result.returncode == 3
    assert "http://127.0.0.1:9/mcp" in result.stderr
    assert result.stderr.count("\n") <= 3


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "mcp-connectors"
    assert script.exists(), "pip install -e . creates the mcp-connectors command"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("mcp-connectors ")


@pytest.mark.chromium
@pytest.mark.skipif(
    not chromium_available(), reason="Debian's chromium is not installed (tests/setup-and-run.sh installs it as root)"
)
def test_real_headless_chromium_as_the_browser(lab_mcp: RunningMcpServer, tmp_path: Path) -> None:
    chromium = make_chromium_browser(tmp_path)
    try:
        result = run_cli("connect", lab_mcp.url, "--yes", "--call", "whoami", browser=chromium.command, timeout=120)
        # The app may finish before Chromium has written the page it loaded: let it exit by itself first.
        exited = chromium.wait()
    finally:
        chromium.cleanup()
    assert result.returncode == 0, result.stderr
    assert "Result of whoami:" in result.stdout
    assert exited, "Chromium did not exit after loading the callback page"
    # Chromium really loaded the app's loopback page.
    assert "Signed in" in chromium.dom_path.read_text()
