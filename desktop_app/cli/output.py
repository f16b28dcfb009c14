"""Where the command line's words go, and what its exit status says.

Exit codes (also in the README and in ``--help``):
  0  success
  1  the person must act (sign-in declined or denied, sign in again, more permissions refused)
  2  the command line or a configured value is unusable
  3  a temporary problem (network, timeout, server unavailable): try again later
  4  a server broke the protocol (a mismatch or malformed answer): nothing was sent onwards
  5  the MCP server reported an error for the tool call
  6  this machine's storage cannot be used (the keyring is missing or locked, the database is unreadable)
  130 interrupted
"""

from __future__ import annotations

import sys
from typing import TextIO

from desktop_app.appinfo import COMMAND
from desktop_app.cli.hints import hint_for
from desktop_app.errors import (
    ConfigurationError,
    ConnectorError,
    ProtocolViolation,
    RequestFailed,
    StorageError,
    TransientError,
    UserActionRequired,
    one_line,
    terminal_text,
)
from desktop_app.oauth.redact import redact

EXIT_OK = 0
EXIT_ACTION = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 3
EXIT_PROTOCOL = 4
EXIT_TOOL_ERROR = 5
EXIT_STORAGE = 6
EXIT_INTERRUPTED = 130

#: The longest error message or hint printed (an error quotes URLs; those are shown whole).
MESSAGE_LIMIT = 8192


def exit_code_for(error: ConnectorError) -> int:
    if isinstance(error, UserActionRequired):
        return EXIT_ACTION
    if isinstance(error, ConfigurationError):
        return EXIT_USAGE
    if isinstance(error, TransientError):
        return EXIT_TRANSIENT
    if isinstance(error, ProtocolViolation):
        return EXIT_PROTOCOL
    if isinstance(error, StorageError):
        return EXIT_STORAGE
    if isinstance(error, RequestFailed):
        return EXIT_TOOL_ERROR
    return EXIT_PROTOCOL


class Output:
    """Where a command talks to the person: stderr for conversation, stdout for results."""

    def __init__(self, *, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    # Every line the app prints goes through terminal_text: text a server chose is already one line where it is
    # worded; this keeps a path someone forgot from writing escape sequences, bidi or zero-width characters. (An
    # access token a server quotes back is cut out where its answer is read: McpClient, with BearerAuth.sent.)
    def say(self, text: str) -> None:
        print(terminal_text(text), file=self.err, flush=True)

    def result(self, text: str) -> None:
        print(terminal_text(text), file=self.out, flush=True)


def report(error: ConnectorError, output: Output) -> int:
    """Say why a command failed, and return its exit status."""
    # A message (and a hint) is one line that may quote what a server sent: it is printed as one line, whatever it
    # holds.
    output.say(f"{COMMAND}: {one_line(redact(error.message), MESSAGE_LIMIT)}")
    words = hint_for(error)
    hint = one_line(redact(words), MESSAGE_LIMIT) if words else ""
    if hint:
        output.say(f"  What you can do: {hint}")
    return exit_code_for(error)


def report_interrupted(output: Output) -> int:
    """Ctrl+C: one line, and the status a shell expects of an interrupted command."""
    output.say(f"{COMMAND}: interrupted.")
    return EXIT_INTERRUPTED
