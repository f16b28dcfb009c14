"""The command line as a person runs it: ``python -m desktop_app`` in a process of its own, with no terminal, on this
test's profile (``MCP_CONNECTORS_HOME``) and keyring, and the lab's scripted user agent as its ``BROWSER``."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The checkout: what the child processes import ``desktop_app`` and ``tests`` from.
ROOT = Path(__file__).resolve().parents[2]
#: The lab's scripted user agent as a ``BROWSER`` command (the lab user comes from ``LAB_USER``).
SCRIPTED_BROWSER = f"{shlex.quote(sys.executable)} -m tests.integration.scripted_browser_cmd %s"


def python_env(**extra: str) -> dict[str, str]:
    """This process's environment for a child Python that imports this checkout (``extra`` added)."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def cli_env(*, browser: str = SCRIPTED_BROWSER, user: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a command-line process: ``browser`` as ``BROWSER``, and ``user`` as the lab user the
    scripted browser signs in (``None``: the lab's own choice, never one this process happened to inherit)."""
    environment = python_env(BROWSER=browser, **extra)
    environment.pop("LAB_USER", None)
    if user is not None:
        environment["LAB_USER"] = user
    return environment


def run_cli(
    *args: str,
    browser: str = SCRIPTED_BROWSER,
    user: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    script: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``mcp-connectors ARGS`` in a process of its own, what it printed captured (``env``: more variables).

    ``script``: Python text to run instead of ``-m desktop_app``, ``ARGS`` as its ``sys.argv[1:]``; for a command
    line with something of the test's patched in."""
    program = ["-m", "desktop_app"] if script is None else ["-c", script]
    return subprocess.run(
        [sys.executable, *program, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(browser=browser, user=user, **(env or {})),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


def listed_account(account_id: int) -> dict[str, Any]:
    """What ``mcp-connectors list --json`` says of one account."""
    result = run_cli("list", "--json")
    assert result.returncode == 0, result.stderr
    for server in json.loads(result.stdout)["servers"]:
        for account in server["accounts"]:
            if account["id"] == account_id:
                return dict(account)
    raise AssertionError(f"account {account_id} not listed: {result.stdout}")
