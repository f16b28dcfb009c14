"""What a server can make the command line print (issue 12, item 1): nothing but its text, on the app's own lines.

Hostile strings (escape and OSC sequences, C0 and C1 controls, bidi overrides and isolates, zero-width characters,
line breaks of every kind, very long text) are put wherever a server's words reach the terminal: the pairing's
resource name, scope names and descriptions and client id; tool names and descriptions; the server's name for
itself; granted scopes; a stored error description; an account label from an id_token; an error message that quotes
a server's value. The commands run in this process (``main([...])``) against a scripted MCP endpoint
(httpx.MockTransport) and a profile in a temporary folder: no packet leaves the process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import unicodedata
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import desktop_app.accounts.session
import desktop_app.mcp
from desktop_app.accounts.consent import check_pairing
from desktop_app.accounts.manager import Accounts, LoginResult
from desktop_app.cli.console import Console, approver
from desktop_app.cli.main import main
from desktop_app.cli.pairing_text import format_pairing_check
from desktop_app.errors import ProtocolViolation, one_line, terminal_text
from desktop_app.oauth.flow import Pairing
from tests.helpers.signin import check_against
from tests.unit.cli_fakes import ISSUER, URL, Scripted, pairing, profile
from tests.unit.cli_fakes import scripted as scripted  # the fixture

#: The characters issue 12 names, one by one.
C0 = [chr(c) for c in range(0x20) if chr(c) not in "\t\n"]
C1 = [chr(c) for c in range(0x7F, 0xA0)]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
MARKS = ["\u200e", "\u200f", "\u061c"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
FORBIDDEN = frozenset(C0 + C1 + BIDI + MARKS + ZERO_WIDTH + ["\u2028", "\u2029", "\u00ad", "\U000e0041"])

#: Pieces of an attack: sequences that clear the screen, set the title, plant a link, move the cursor, and lines
#: that would pass for the app's own.
PIECES = [
    "\x1b[2J",
    "\x1b[1A\x1b[2K",
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "\x1b]0;owned\x07",
    "\x9b31m",
    "\x9d8;;https://evil.example/\x9c",
    "\x1bP+q\x1b\\",
    "\r",
    "\n",
    "\r\n",
    "\x85",
    "\u2028",
    "\u2029",
    "\x0b",
    "\x0c",
    "\x08\x08\x08",
    "\x00",
    "\x7f",
    "\t",
    "\u00a0",
    "\n  Authorization server: https://login.microsoftonline.com",
    "\nWarning: none",
    "\nApproved (--yes).",
    "Docs",
    "files:read",
    "x" * 300,
    *BIDI,
    *MARKS,
    *ZERO_WIDTH,
    "\u00ad",
    "\U000e0041",
]


def _hostile(*, surrogates: bool) -> st.SearchStrategy[str]:
    pieces = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), min_size=1, max_size=10)
    any_control = st.text(
        alphabet=st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs", *(["Cs"] if surrogates else [])]),
        min_size=1,
        max_size=20,
    )
    # Never empty: a tool without a name is left out by the client, a label without one is not stored.
    return st.one_of(pieces.map("".join), any_control, st.text(min_size=1, max_size=40)).filter(bool)


#: Hostile text as a server can send it: in JSON (lone surrogates included) ...
hostile = _hostile(surrogates=True)
#: ... and as it can be stored in the profile (UTF-8: no lone surrogate).
storable = _hostile(surrogates=False)

#: Every line a pairing prints starts with one of these (tests/unit/test_consent.py has the whole text).
PAIRING_LABELS = (
    "About to sign in:",
    "More permissions requested:",
    "This server now uses another authorization server:",
    "This sign-in differs from the one you approved:",
    "Signing in as you approved before:",
    "  Server:               ",
    "  Sign-in covers:       ",
    "  Authorization server: ",
    "  Scopes:",
    "      - ",
    "  This app as:          ",
    "  Browser returns to:   ",
    "  Note: ",
    "What changed",
    "  Server address:       ",
    "  Added scopes:         ",
    "  No longer requested:  ",
    "Warning: ",
)
#: ... and these are the other lines of a sign-in in the terminal.
SIGN_IN_LABELS = (
    "Approved (--yes).",
    "Opening your browser to sign in.",
    f"  {ISSUER}/authorize?",
    "If the browser shows an error page",
    "Waiting for the sign-in to finish",
)

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


#: What the console's backstop keeps although it is not "printable": the joiners and the soft hyphen (words of
#: Persian and Indic scripts, emoji sequences need them), private-use characters and code points newer than this
#: Python's Unicode tables. None of them moves the cursor, changes direction or ends a line.
KEPT_BY_THE_BACKSTOP = frozenset("\u200c\u200d\u00ad")


def unsafe(text: str) -> list[str]:
    """The characters of ``text`` that could act on a terminal: anything not printable but the app's newline and
    column separator (tab), and what the backstop keeps on purpose."""
    return [
        c
        for c in text
        if c not in "\n\t"
        and c not in KEPT_BY_THE_BACKSTOP
        and unicodedata.category(c) not in ("Co", "Cn")
        and (c in FORBIDDEN or not c.isprintable())
    ]


def assert_inert(*outputs: str) -> None:
    for output in outputs:
        for line in output.split("\n"):
            assert not unsafe(line), f"{unsafe(line)!r} in {line!r}"


#: The log's lines (the suite logs at DEBUG, to stderr like the app does with --verbose).
LOG_LINES = ("DEBUG ", "INFO ", "WARNING ", "ERROR ")


def app_lines(output: str) -> list[str]:
    """The lines the app printed itself: not the log's."""
    return [line for line in output.splitlines() if not line.startswith(LOG_LINES)]


def pairing_lines(err: str) -> list[str]:
    """What ``err`` holds but the lines around a sign-in and the log's lines: the pairings, then what follows."""
    return [line for line in err.splitlines() if not line.startswith((*SIGN_IN_LABELS, *LOG_LINES))]


# --- the one function, and the backstop ---------------------------------------------------------------------


@pytest.mark.parametrize("character", sorted(FORBIDDEN | {"\ud800", "\ue000"}), ids=lambda c: f"U+{ord(c):04X}")
def test_one_line_replaces_every_character_that_could_act_on_a_terminal(character: str) -> None:
    shown = one_line(f"safe{character}text{character}")
    assert character not in shown
    assert shown.isprintable()


@given(text=hostile, limit=st.integers(min_value=1, max_value=300))
def test_one_line_is_one_printable_bounded_line(text: str, limit: int) -> None:
    shown = one_line(text, limit)
    assert shown.isprintable() and len(shown) <= limit
    assert len(shown.splitlines()) <= 1


@given(text=hostile)
def test_every_line_the_console_prints_is_inert_and_keeps_the_app_s_line_breaks(text: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(assume_yes=True, out=out, err=err)
    console.say(f"first\n{text}\nlast")
    console.result(f"a\t{text}")
    assert_inert(out.getvalue(), err.getvalue())
    said = err.getvalue().split("\n")
    assert said[0] == "first" and said[-2:] == ["last", ""]
    # Every line break the text had is still one, and only those: a \r or U+2028 cannot overwrite or hide a line.
    assert len(said) - 1 == len(f"first\n{text}\nlast".splitlines())


@pytest.mark.parametrize(
    "text",
    [
        "می‌خواهم",  # Persian: a zero-width non-joiner inside the word
        "👨‍👩‍👧",  # one emoji, joined
        "नमस्ते",  # Devanagari, with a virama
        "é été 漢字 العربية 👍🏽",
        "hy­phen	column",
        "icon  and a code point newer than this Python: 🫨",
    ],
)
def test_the_backstop_keeps_real_text_whole(text: str) -> None:
    """A tool's result in any script reaches the person as the server wrote it."""
    assert terminal_text(text) == text
    out = io.StringIO()
    Console(assume_yes=True, out=out, err=io.StringIO()).result(text)
    assert out.getvalue() == text + "\n"


def test_the_backstop_makes_what_it_replaces_visible() -> None:
    assert terminal_text("ok\x1b[2Jgone\u202eevil\u200b.com") == "ok\ufffd[2Jgone\ufffdevil\ufffd.com"
    assert terminal_text("one\r\ntwo\rthree\u2028four") == "one\ntwo\nthree\nfour"
    assert terminal_text("token-abc.DEF_123\tx\n") == "token-abc.DEF_123\tx\n"  # a token and the app's own layout


# --- connect: the pairing, the sign-in, the tools ----------------------------------------------------------------


def hostile_pairing(name: str, scope: str, description: str, client_id: str, **changes: Any) -> Pairing:
    values: dict[str, Any] = {
        "resource_name": name,
        "scopes": ("files:read", scope),
        "scope_descriptions": {scope: description, "files:read": description},
        "client_id": client_id,
        "iss_supported": False,
    }
    return pairing(**{**values, **changes})


def connection(tokens: object | None) -> SimpleNamespace:
    """What ``session.connect`` returns, as far as the command reads it: no session when ``tokens`` is None (the
    server asks for no sign-in), else one whose ``token()`` gives ``tokens``."""

    async def token() -> object:
        return tokens

    session = None if tokens is None else SimpleNamespace(token=token)
    return SimpleNamespace(server=SimpleNamespace(resource=URL), session=session, auth=lambda: None)


@SETTINGS
@given(
    name=hostile,
    scope=hostile,
    description=hostile,
    client_id=hostile,
    tool_name=hostile,
    tool_description=hostile,
    server_name=hostile,
    granted=hostile,
)
def test_connect_prints_server_text_only_inside_the_app_s_own_lines(
    scripted: Scripted,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    scope: str,
    description: str,
    client_id: str,
    tool_name: str,
    tool_description: str,
    server_name: str,
    granted: str,
) -> None:
    capsys.readouterr()
    first = hostile_pairing(name, scope, description, client_id)
    # A step-up in the same run, and what the authorization server says it granted.
    more = dataclasses.replace(first, scopes=(*first.scopes, f"{scope}:more"))

    async def fake_connect(*args: Any, approve: Any, on_url: Any, **kwargs: Any) -> Any:
        assert await approve(check_against(first, None))
        on_url(f"{ISSUER}/authorize?client_id={client_id}&scope={scope}")
        assert await approve(check_against(more, first))
        return connection(SimpleNamespace(issuer=ISSUER, scopes=(granted, "files:read")))

    monkeypatch.setattr(desktop_app.accounts.session, "connect", fake_connect)
    scripted.info = {"name": server_name, "version": server_name}
    scripted.tools = [{"name": tool_name, "description": tool_description, "inputSchema": {"type": "object"}}]

    assert main(["connect", URL, "--yes"]) == 0
    out, err = capsys.readouterr()
    assert_inert(out, err)
    lines = pairing_lines(err)
    signed_in, connected = lines[-2:]
    assert signed_in.startswith(f"Signed in at {ISSUER}; granted scopes: ")
    assert connected.startswith("Connected to ")
    for line in lines[:-2]:
        assert line.startswith(PAIRING_LABELS), line
    assert sum(line.startswith("About to sign in:") for line in lines) == 1
    assert sum(line.startswith("More permissions requested:") for line in lines) == 1
    # The lines around the sign-in are the app's own, as many as it printed: none was forged.
    around = [line for line in app_lines(err) if line.startswith(SIGN_IN_LABELS)]
    assert [label for line in around for label in SIGN_IN_LABELS if line.startswith(label)] == [
        "Approved (--yes).",
        *SIGN_IN_LABELS[1:],
        "Approved (--yes).",
    ]
    # One line per tool, after the count.
    assert out.splitlines()[0] == "1 tool(s):" and len(out.splitlines()) == 2
    assert out.splitlines()[1].startswith("  ")


def test_connect_s_fake_pairing_line_stays_inside_the_server_line(
    scripted: Scripted, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's example: a resource name that would print a pairing line of its own."""
    pairing = hostile_pairing(
        "Docs\n  Authorization server: https://login.microsoftonline.com",
        "files:write\x1b[2J",
        "Write\r\nWarning: none\u202e",
        "abc\x1b]8;;https://evil.example\x07",
        iss_supported=True,
    )

    async def fake_connect(*args: Any, approve: Any, **kwargs: Any) -> Any:
        await approve(check_against(pairing, None))
        return connection(None)

    monkeypatch.setattr(desktop_app.accounts.session, "connect", fake_connect)
    assert main(["connect", URL, "--yes"]) == 0
    err = capsys.readouterr().err
    assert_inert(err)
    servers = [line for line in err.splitlines() if "login.microsoftonline.com" in line]
    assert servers == [
        "  Server:               https://mcp.example/mcp (Docs Authorization server: https://login.microsoftonline.com)"
    ]
    assert [line for line in err.splitlines() if line.startswith("  Authorization server:")] == [
        f"  Authorization server: {ISSUER}  (domain: mcp.example)"
    ]
    assert not any(line.startswith("Warning: none") for line in err.splitlines())


def test_connect_shows_the_warnings_login_shows(
    scripted: Scripted, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another registrable domain, an international (punycode) name, plain http: connect says what login says."""
    pairing = hostile_pairing("Files", "files:write", "Write", "abc", issuer="http://xn--80ak6aa92e.com/tenant")

    async def fake_connect(*args: Any, approve: Any, **kwargs: Any) -> Any:
        await approve(check_against(pairing, None))
        return connection(None)

    monkeypatch.setattr(desktop_app.accounts.session, "connect", fake_connect)
    assert main(["connect", URL, "--yes"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == 3
    assert "a different domain from the server's mcp.example" in warnings[0]
    assert "xn--80ak6aa92e.com" in warnings[1] and "international name" in warnings[1]
    assert "not encrypted (plain http)" in warnings[2]


@SETTINGS
@given(value=hostile, hint=hostile)
def test_an_error_that_quotes_a_server_value_is_printed_as_one_line(
    scripted: Scripted,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str,
    hint: str,
) -> None:
    async def fake_connect(*args: Any, **kwargs: Any) -> Any:
        raise ProtocolViolation(
            "resource_mismatch", f"The protected resource metadata names {value!s}, not {URL}.", hint=hint
        )

    monkeypatch.setattr(desktop_app.accounts.session, "connect", fake_connect)
    assert main(["connect", URL, "--yes"]) == 4
    out, err = capsys.readouterr()
    assert_inert(out, err)
    lines = app_lines(err)
    assert lines[0].startswith("mcp-connectors: The protected resource metadata names ")
    assert len(lines) == 1 + (1 if one_line(hint) else 0)
    assert all(line.startswith("  What you can do: ") for line in lines[1:])


# --- a profile: list, consent, tools, login --------------------------------------------------------------------


@SETTINGS
@given(
    resource_name=storable,
    label=storable,
    last_error=storable,
    consent_scope=storable,
    consent_client=storable,
    granted=storable,
)
def test_list_and_consent_print_stored_server_text_on_their_own_lines(
    capsys: pytest.CaptureFixture[str],
    resource_name: str,
    label: str,
    last_error: str,
    consent_scope: str,
    consent_client: str,
    granted: str,
) -> None:
    with profile(
        resource_name=resource_name,
        label=label,
        last_error=last_error,
        consent_scopes=("files:read", consent_scope),
        consent_client=consent_client,
        scopes=("files:read", granted),
    ):
        capsys.readouterr()
        assert main(["--secret-store", "file", "list"]) == 0
        listed = capsys.readouterr()
        assert main(["--secret-store", "file", "consent", "srv"]) == 0
        consent = capsys.readouterr()
    assert_inert(listed.out, listed.err, consent.out, consent.err)
    lines = listed.out.splitlines()
    assert [line[:20] for line in lines[:2]] == ["Secrets are kept in:", "  Warning: this file"]
    assert len(lines) == 4
    assert lines[2].startswith("srv")
    assert lines[3].startswith("       1  ")
    shown = consent.out.splitlines()
    assert len(shown) == 5
    labels = ("Approved on ", "  Server:  ", "  Authorization server: ", "  Scopes:  ", "  This app as:  ")
    assert all(line.startswith(label) for line, label in zip(shown, labels, strict=True))


@SETTINGS
@given(label=storable, tool_name=hostile, tool_description=hostile, server_name=hostile)
def test_tools_prints_tool_names_descriptions_and_the_account_on_the_app_s_lines(
    scripted: Scripted,
    capsys: pytest.CaptureFixture[str],
    label: str,
    tool_name: str,
    tool_description: str,
    server_name: str,
) -> None:
    scripted.info = {"name": server_name, "version": server_name}
    scripted.tools = [
        {"name": tool_name, "description": tool_description, "inputSchema": {"type": "object"}},
        {"name": "echo", "description": tool_description, "inputSchema": {"type": "object"}},
    ]
    with profile(label=label):
        capsys.readouterr()
        assert main(["--secret-store", "file", "tools", "srv"]) == 0
        out, err = capsys.readouterr()
    assert_inert(out, err)
    (connected,) = app_lines(err)
    assert connected.startswith("Connected to ")
    lines = out.splitlines()
    assert lines[0] == "2 tool(s):" and len(lines) == 3
    assert lines[2].startswith("  echo")


@SETTINGS
@given(name=storable, scope=storable, description=storable, client_id=storable, label=storable, granted=storable)
def test_login_prints_the_pairing_and_the_granted_line_on_the_app_s_lines(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    scope: str,
    description: str,
    client_id: str,
    label: str,
    granted: str,
) -> None:
    async def fake_login(self: Accounts, http: Any, server: Any, *, approve: Any, **kwargs: Any) -> LoginResult:
        pairing = hostile_pairing(name, scope, description, client_id)
        check = check_pairing(pairing, self.registry.consent(server.id))
        assert await approve(check)
        (account,) = self.registry.accounts(server.id)
        return LoginResult(dataclasses.replace(account, label=label, scopes=(granted, "x")), True, check)

    monkeypatch.setattr(Accounts, "login", fake_login)
    with profile():
        capsys.readouterr()
        # --new-account: the first pairing and a changed client, which login's --yes approves.
        assert main(["--secret-store", "file", "login", "srv", "--new-account", "--yes"]) == 0
        out, err = capsys.readouterr()
    assert_inert(out, err)
    lines = pairing_lines(err)
    assert lines[-1].startswith("Added account ") and "; granted: " in lines[-1]
    for line in lines[:-1]:
        assert line.startswith(PAIRING_LABELS), line
    (result,) = app_lines(out)
    assert result.count("\t") == 2  # id, who, state: a label cannot add a column


def test_a_label_with_a_tab_or_a_newline_cannot_add_columns_or_rows() -> None:
    out = io.StringIO()
    label = one_line("bob\tx\ny")
    Console(assume_yes=True, out=out).result(f"1\t{label}\tsigned in")
    assert out.getvalue() == "1\tbob x y\tsigned in\n"


def test_connect_and_login_show_the_same_pairing_text() -> None:
    """connect's question and login's show the same text for the same pairing (format_pairing_check)."""
    pairing = hostile_pairing("Files", "files:write", "Write", "abc")
    err = io.StringIO()
    assert asyncio.run(
        approver(Console(assume_yes=True, err=err), asked_for_sign_in=True)(check_against(pairing, None))
    )
    assert err.getvalue() == format_pairing_check(check_pairing(pairing, None)) + "\nApproved (--yes).\n"


def test_a_server_that_echoes_the_access_token_it_was_sent_never_gets_it_printed(
    scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12 item 12: the redactor's patterns know ``name=value`` and JWTs; an MCP server's prose that quotes the
    token it received (``at-fresh`` in this profile) is cut out too, wherever the command prints it."""
    scripted.info = {"name": "echo at-fresh", "version": "1"}
    scripted.tools = [{"name": "echo", "description": "you sent at-fresh, thanks", "inputSchema": {"type": "object"}}]
    with profile():
        capsys.readouterr()
        assert main(["--secret-store", "file", "tools", "srv"]) == 0
        out, err = capsys.readouterr()
    assert "at-fresh" not in out + err
    assert "you sent [redacted], thanks" in out


def test_call_takes_a_deadline_and_refuses_one_that_is_not_positive(
    scripted: Scripted, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float] = []
    real = desktop_app.mcp.McpClient

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["deadline"])
        return real(*args, **kwargs)

    monkeypatch.setattr(desktop_app.mcp, "McpClient", recording)
    with profile():
        assert main(["--secret-store", "file", "call", "srv", "echo", "--deadline", "3600"]) == 0
        assert main(["--secret-store", "file", "call", "srv", "echo"]) == 0
        assert main(["--secret-store", "file", "call", "srv", "echo", "--deadline", "0"]) == 2
    assert seen == [3600.0, 300.0]
    assert "--deadline 0.0 must be a positive number" in capsys.readouterr().err
