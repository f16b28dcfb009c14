"""The layers hold: the Qt-free core never imports Qt or the app, the command line never imports the window, OAuth
never imports accounts or storage, accounts never import storage. Checked twice: statically (every import statement
of every module, those inside functions included) and by importing in a fresh interpreter. A fresh token (and
``--help``) is printed without loading what only a renewal needs."""

import ast
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "desktop_app"
QT = ("PySide6", "shiboken6", "qasync")
WINDOW = ("desktop_app.ui", "desktop_app.app")
CORE = ("errors.py", "oauth", "mcp", "accounts", "storage", "hosts", "tools")

#: (where, what it never imports): a module of ``where`` naming any of ``what`` (or a module inside one) breaks a rule.
RULES = [
    *(pytest.param(part, QT + WINDOW, id=f"{part.removesuffix('.py')} never imports Qt or the app") for part in CORE),
    pytest.param("cli", QT + WINDOW, id="cli never imports Qt or the app"),
    pytest.param("oauth", ("desktop_app.accounts", "desktop_app.storage"), id="oauth never imports accounts, storage"),
    # Storage implements the Protocols of accounts/ports.py: imports go one way.
    pytest.param("accounts", ("desktop_app.storage",), id="accounts never imports storage"),
    # Tool control declares its store (tools/ports.py); storage implements it.
    pytest.param(
        "tools", ("desktop_app.storage", "desktop_app.bridge", "desktop_app.cli"), id="tools never imports storage"
    ),
]

QT_FREE = [
    "desktop_app.errors",
    "desktop_app.oauth.flow",
    "desktop_app.oauth.redact",
    "desktop_app.accounts.session",
    "desktop_app.accounts.manager",
    "desktop_app.accounts.consent",
    "desktop_app.accounts.identity",
    "desktop_app.storage.profile",
    "desktop_app.hosts.installer",
    "desktop_app.mcp",
    "desktop_app.tools.control",
    "desktop_app.tools.gate",
    *sorted(
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for path in (PACKAGE / "cli").rglob("*.py")
    ),
]


def _modules_of(part: str) -> list[Path]:
    path = PACKAGE / part
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


def imported_by(path: Path) -> set[str]:
    """Every module an import statement of ``path`` names, wherever the statement is (``from a import b``: ``a`` and
    ``a.b``, since ``b`` may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.relative_to(PACKAGE.parent).parts[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package this module is in, or a parent of it
                anchor = package[: len(package) - node.level + 1]
                base = ".".join((*anchor, node.module) if node.module else anchor)
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _breaks(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)


@pytest.mark.parametrize(("part", "forbidden"), RULES)
def test_no_module_imports_across_a_layer(part: str, forbidden: tuple[str, ...]) -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}: {name}"
        for path in _modules_of(part)
        for name in sorted(imported_by(path))
        if _breaks(name, forbidden)
    ]
    assert offenders == []


def test_the_static_check_sees_imports_inside_functions_and_from_packages() -> None:
    """The app's window imports Qt and the ui inside ``main``, and the entry imports the window there: seen."""
    assert _breaks("desktop_app.ui.tray", WINDOW)
    window = imported_by(PACKAGE / "app" / "main.py")
    assert {"PySide6.QtWidgets", "desktop_app.ui.tray"} <= window
    assert "desktop_app.app.main" in imported_by(PACKAGE / "__main__.py")
    assert "desktop_app.oauth.http" in imported_by(PACKAGE / "cli" / "commands" / "tools.py")  # from x import y


def test_engine_never_imports_pyside6() -> None:
    code = (
        "import sys, importlib\n"
        f"for name in {QT_FREE!r}: importlib.import_module(name)\n"
        "from desktop_app.cli.parser import build_parser; build_parser()\n"
        f"loaded = sorted(m for m in sys.modules if any(m == x or m.startswith(x + '.') for x in {QT + WINDOW!r}))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == ""


def test_pyside6_is_importable_for_the_ui_layer() -> None:
    # The check above is only meaningful if PySide6 is installed (it is a runtime dependency).
    result = subprocess.run(
        [sys.executable, "-c", "import PySide6; print(PySide6.__version__)"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


#: Runs the CLI in a fresh interpreter, then says on stderr which of the modules only a renewal needs were loaded.
TOKEN_RUN = """
import sys
from desktop_app.__main__ import main
code = main(sys.argv[1:])
renewal_only = ("httpx", "httpcore", "anyio", "asyncio", "keyring", "joserfc")
loaded = [m for m in sys.modules if m.split(".")[0] in renewal_only or m.startswith("desktop_app.oauth.flow")]
print("LOADED " + ",".join(sorted(loaded)), file=sys.stderr)
sys.exit(code)
"""


def _one_account(expires_in: float) -> str:
    """This test's profile (MCP_CONNECTORS_HOME) with a server ``srv`` and one signed-in account whose access token,
    stored in the keyring (the suite's private Secret Service), expires in ``expires_in`` s. Returns the token."""
    from desktop_app.accounts.models import Identity, ServerSettings
    from desktop_app.oauth.tokens import TokenSet
    from desktop_app.storage.profile import open_accounts
    from tests.helpers.records import store_sign_in

    accounts = open_accounts()
    try:
        now = time.time()
        url = "https://mcp.example/mcp"
        server = accounts.registry.add_server(url=url, resource=url, name="srv", settings=ServerSettings(), now=now)
        key, token = uuid.uuid4().hex, f"at-{uuid.uuid4().hex}"
        tokens = TokenSet(token, "https://as.example", "client", url, ("mcp",), now, expires_at=now + expires_in)
        alice = Identity("sub-alice", "alice@example.com", "id_token", "alice@example.com")
        store_sign_in(
            accounts, server.id, tokens, now=now, key=key, identity=alice, event_detail="as alice@example.com"
        )
    finally:
        accounts.registry.close()
    return token


def _token_command() -> tuple[subprocess.CompletedProcess[str], list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", TOKEN_RUN, "token", "srv"], capture_output=True, text=True, timeout=60, check=False
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("LOADED ")]
    assert len(lines) == 1, result.stderr
    return result, [name for name in lines[0].removeprefix("LOADED ").split(",") if name]


#: Runs the entry in a fresh interpreter, then says on stderr which modules of the engine or the window it loaded.
HELP_RUN = """
import sys
from desktop_app.__main__ import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("httpx", "httpcore", "asyncio", "joserfc", "PySide6", "qasync", "desktop_app.oauth.flow",
         "desktop_app.cli.commands", "desktop_app.app", "desktop_app.ui")
loaded = [m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy)]
print("LOADED " + ",".join(sorted(loaded)), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["token", "--help"], ["login", "--help"], ["tokn"], ["token", "srv", "--acount", "a"]],
)
def test_help_and_a_refused_command_line_load_neither_the_engine_nor_the_window(argv: list[str]) -> None:
    result = subprocess.run([sys.executable, "-c", HELP_RUN, *argv], capture_output=True, text=True, timeout=60)
    lines = [line for line in result.stderr.splitlines() if line.startswith("LOADED ")]
    assert lines == ["LOADED "], result.stderr


def test_a_fresh_token_is_printed_without_httpx_asyncio_or_the_oauth_engine() -> None:
    """`mcp-connectors token` in a script's loop: SQLite and one keyring read, nothing a renewal needs (the keyring
    library included: the vault reaches the Secret Service itself)."""
    token = _one_account(expires_in=3600)
    result, loaded = _token_command()
    assert result.returncode == 0, result.stderr
    assert result.stdout == token + "\n"
    assert loaded == []


def test_a_token_to_renew_takes_the_full_path() -> None:
    """The same run with an expired token (and nothing to renew it with) goes on to the renewal, which loads the
    event loop and the HTTP stack: the check above sees what it looks for."""
    _one_account(expires_in=-30)
    result, loaded = _token_command()
    assert result.returncode == 1, result.stderr
    assert "expired" in result.stderr
    assert "asyncio" in loaded and "httpx" in loaded


def test_the_clis_client_auth_choices_are_the_engines() -> None:
    from desktop_app.cli.parser import CLIENT_AUTH_METHODS
    from desktop_app.oauth.registration import SUPPORTED_AUTH_METHODS

    assert CLIENT_AUTH_METHODS == SUPPORTED_AUTH_METHODS


PARSED_LIKE_THE_WHOLE = [
    ["token", "srv"],
    ["token", "srv", "--account", "alice", "--force"],
    ["-v", "--secret-store", "file", "token", "srv"],
    ["--secret-store=keyring", "list", "--json"],
    ["login", "https://mcp.example/mcp", "--scope", "a b", "--client-id", "id", "--yes"],
    ["call", "srv", "echo", "--args", '{"text": "hi"}', "-y"],
    ["doctor"],
]


@pytest.mark.parametrize("argv", PARSED_LIKE_THE_WHOLE)
def test_the_parser_main_builds_parses_like_the_whole_one(argv: list[str]) -> None:
    """``main`` builds only the subcommand it is given (the whole parser is ~5 ms of a fresh token's time)."""
    from desktop_app.cli.parser import build_parser, command_in

    assert command_in(argv) == next(word for word in argv if word in ("token", "list", "login", "call", "doctor"))
    assert vars(build_parser(command_in(argv)).parse_args(argv)) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["token"],  # missing SERVER
        ["token", "srv", "--bogus"],
        ["--secret-store", "token", "token", "srv"],  # 'token' is not a store
        ["tokn", "srv"],
        ["token", "--help"],
        ["--help"],
    ],
)
def test_the_parser_main_builds_refuses_and_helps_like_the_whole_one(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop_app.cli.parser import build_parser, command_in

    said = []
    for parser in (build_parser(command_in(argv)), build_parser()):
        with pytest.raises(SystemExit) as stopped:
            parser.parse_args(argv)
        captured = capsys.readouterr()
        said.append((stopped.value.code, captured.out, captured.err))
    assert said[0] == said[1]


@pytest.mark.parametrize("columns", [None, "100", "0", "abc"])
def test_the_help_is_laid_out_as_argparse_would_without_shutil(
    columns: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI measures the terminal itself (argparse would import shutil, with bz2 and lzma, for every parser)."""
    import argparse
    import shutil

    from desktop_app.cli import parser as cli

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert cli._terminal_columns() == shutil.get_terminal_size().columns

    def helps() -> list[str]:
        said = []
        for argv in (["--help"], ["login", "--help"], ["token", "--help"]):
            with pytest.raises(SystemExit):
                cli.build_parser(cli.command_in(argv)).parse_args(argv)
            said.append(capsys.readouterr().out)
        return said

    ours = helps()
    monkeypatch.setattr(cli, "_HelpFormatter", argparse.HelpFormatter)
    assert ours == helps()


#: Imports the bridge as ``mcp-connectors bridge`` does, then names what it loaded of what only sign-ins, the
#: command line's engine, the window, the MCP client, a renewal (the worker's launcher and wire format), a
#: signature check (``cryptography``, loaded with the keyring's client when the profile opens), httpx's own transport
#: or the server identity check need.
BRIDGE_IMPORTS = """
import sys
import desktop_app.__main__
import desktop_app.bridge.main
needless = ("joserfc", "PySide6", "qasync", "keyring", "desktop_app.mcp.client", "desktop_app.oauth.tokens",
            "desktop_app.oauth.flow", "desktop_app.accounts.signin", "desktop_app.accounts.manager",
            "desktop_app.cli.main", "desktop_app.cli.commands", "desktop_app.cli.quick", "desktop_app.app",
            "desktop_app.ui", "desktop_app.accounts.renewer", "desktop_app.accounts.renewal_wire",
            "desktop_app.accounts.worker_launch", "cryptography",
            # httpx's own transport: the bridge's is h1transport (docs/decisions/0019, "A leaner HTTP path").
            "httpcore", "anyio",
            # the server identity's modules load at the first list or call, not before initialize is answered.
            "desktop_app.tools.identity")
loaded = [m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in needless)]
print(",".join(sorted(loaded)))
"""


def test_the_bridge_starts_without_the_sign_in_engine_the_mcp_client_or_the_window() -> None:
    """A host starts a bridge per connector, often several at once: it loads what relaying needs, nothing else."""
    result = subprocess.run([sys.executable, "-c", BRIDGE_IMPORTS], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
