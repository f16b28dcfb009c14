"""The conversation of a command with the person at the terminal: the pairing to approve, the questions, the link
to sign in with. ``--yes`` answers the pairing within what it may approve; without a terminal nothing is asked."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from desktop_app.accounts.consent import PairingCheck, unattended_refusal
from desktop_app.cli.output import Output
from desktop_app.cli.pairing_text import YES_REFUSALS, format_pairing_check
from desktop_app.errors import ConfigurationError, UserActionRequired, one_line, terminal_text


class Console(Output):
    """The command's :class:`Output`, and its questions, read from ``stdin`` when it is a terminal."""

    def __init__(
        self, *, assume_yes: bool, stdin: TextIO | None = None, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        super().__init__(out=out, err=err)
        self.assume_yes = assume_yes
        self.stdin = stdin or sys.stdin

    @property
    def has_terminal(self) -> bool:
        return self.stdin.isatty()

    async def approve(self, check: PairingCheck, *, asked_for_sign_in: bool) -> bool:
        """Show the pairing check and get it approved: by ``--yes`` within what it may approve (``asked_for_sign_in``:
        the command is a sign-in the person asked for; see ``unattended_refusal``), else by asking in the terminal."""
        self.say(format_pairing_check(check))
        if not check.needs_approval:
            return True
        if self.assume_yes:
            refusal = unattended_refusal(check, asked_for_sign_in=asked_for_sign_in)
            if refusal is not None:
                # Someone else would hold the login, the tokens would go elsewhere, or more than permissions changed:
                # a person decides that, never --yes.
                raise UserActionRequired(
                    "approval_needed",
                    YES_REFUSALS.get(refusal, YES_REFUSALS["not_a_step_up"]),
                    hint="Run the same command in a terminal without --yes, and check the pairing shown above.",
                )
            self.say("Approved (--yes).")
            return True
        if not self.has_terminal:
            raise ConfigurationError(
                "confirmation_needed",
                "The pairing needs your approval, but there is no terminal to ask in.",
                hint="Run the command in a terminal, or add --yes to approve it.",
            )
        answer = await self.answer("Open the browser to sign in? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    async def ask_nickname(self) -> str | None:
        """A sign-in's ``ask_nickname``: a name for an account the server did not identify (None: a default)."""
        self.say("The server did not say who signed in.")
        if not self.has_terminal:
            return None
        answer = await self.answer("A name for this account (Enter for a default): ")
        return answer.strip() or None

    def show_sign_in_url(self, url: str) -> None:
        """What the person reads while the browser is open (``connect``, ``login``, a step-up)."""
        self.say("Opening your browser to sign in. If it does not open, visit this link:")
        self.say(f"  {one_line(url, 16384)}")
        self.say(
            "If the browser shows an error page from the authorization server instead of a sign-in page, press "
            "Ctrl+C; the server's settings (its client id, callback port or scopes) change what the app asks for."
        )
        self.say("Waiting for the sign-in to finish (Ctrl+C cancels)…")

    async def answer(self, prompt: str) -> str:
        """The person's answer to ``prompt``, read off the event loop (reading a terminal blocks)."""
        return await asyncio.to_thread(self.ask, prompt)

    def ask(self, prompt: str) -> str:
        self.err.write(terminal_text(prompt))
        self.err.flush()
        return self.stdin.readline()


def approver(console: Console, *, asked_for_sign_in: bool) -> Callable[[PairingCheck], Awaitable[bool]]:
    """The ``approve`` of a sign-in: :meth:`Console.approve`, where ``--yes`` approves only what
    ``unattended_refusal`` allows (``asked_for_sign_in``: ``login``; not a step-up met by ``tools`` or ``call``)."""
    return functools.partial(console.approve, asked_for_sign_in=asked_for_sign_in)
