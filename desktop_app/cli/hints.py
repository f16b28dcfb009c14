"""What the person can do about an error, in the command line's words: commands and options to type.

The engine's errors carry data (the server, the account, the scopes); the words that name a command are here, the
window's are in ``desktop_app.ui.errors``. Where the engine already said what helps in words that fit anywhere
(``error.hint``), those are kept.
"""

from __future__ import annotations

import shlex

from desktop_app.appinfo import COMMAND
from desktop_app.cli.text import shell_word
from desktop_app.desktop.errors import (
    DesktopFilesUnwritable,
    DesktopUnsupported,
    ForeignDesktopFile,
    IconsUnavailable,
    InvalidCommand,
    ProgramNotFound,
)
from desktop_app.desktop.libraries import apt_install
from desktop_app.errors import (
    AddressWithoutScheme,
    AmbiguousAccount,
    AmbiguousServer,
    Candidate,
    ChooseAccount,
    ConnectorError,
    MorePermissionsNeeded,
    NoAccount,
    NoRegistrationPath,
    SecretStoreInUse,
    ServerExists,
    SignInRequired,
    UnknownAccount,
    UnknownServer,
    WrongAccount,
    one_line,
)
from desktop_app.hosts.errors import (
    BridgeNotFound,
    EntryNameTaken,
    HostConfigUnreadable,
    HostConfigUnwritable,
    InvalidEntryName,
    NotAConnector,
    UnknownHost,
)
from desktop_app.tools.identity_errors import KeyPinMoved, NothingToAccept


def hint_for(error: ConnectorError) -> str | None:
    """The line after "What you can do:", or None."""
    if error.hint:
        return error.hint
    if isinstance(error, NoAccount):
        return f"Sign in with '{COMMAND} login {error.server}'."
    if isinstance(error, SignInRequired) and error.account_id is not None:
        server = shlex.quote(error.server) if error.server else "SERVER"
        return f"Sign in again: {COMMAND} login {server} --account {error.account_id}"
    if isinstance(error, MorePermissionsNeeded):
        scopes = " ".join(error.scopes)
        return (
            f"Sign in again with more scopes: {COMMAND} login {error.server} --account {error.account_id} "
            f"--scope '{scopes}'."
        )
    if isinstance(error, WrongAccount):
        if error.found is None:
            return f"Sign in as {error.expected}."
        return f"Sign in as {error.expected}, or add {error.found} with 'login --new-account'."
    naming = _naming_hint(error)
    if naming is not None:
        return naming
    if isinstance(error, ChooseAccount):
        return "Choose one with --account."
    if isinstance(error, ServerExists):
        return f"Use the name {error.name!r} to sign in or list its tools."
    if isinstance(error, NoRegistrationPath):
        return "Ask its administrator for a client id and enter it with --client-id (or in the server's settings)."
    if isinstance(error, UnknownHost):
        return f"Use a host's id from '{COMMAND} hosts'."
    if isinstance(error, HostConfigUnreadable):
        return "Fix the file there (the host cannot read it either), then try again."
    if isinstance(error, HostConfigUnwritable):
        return "Check that you may write the file and its folder, then try again."
    if isinstance(error, InvalidEntryName):
        return "Choose another name with --name."
    if isinstance(error, EntryNameTaken):
        return "Choose another name with --name, or remove that entry from the host first."
    if isinstance(error, NotAConnector):
        return "Only this app's connectors are removed; edit the host's file to remove other servers."
    if isinstance(error, BridgeNotFound | ProgramNotFound):
        return f"Install the app again so that the '{COMMAND}' program exists, then try again."
    if isinstance(error, NothingToAccept):
        return f"See the server's identity with '{COMMAND} identity {shlex.quote(error.server)}'."
    if isinstance(error, KeyPinMoved):
        return f"Look at the keys again with '{COMMAND} identity {shlex.quote(error.server)}', then decide."
    desktop = _desktop_hint(error)
    if desktop is not None:
        return desktop
    if isinstance(error, SecretStoreInUse):
        return f"Sign them out first ({COMMAND} logout SERVER --account A), or keep the {error.current} store."
    return None


def _desktop_hint(error: ConnectorError) -> str | None:
    """``desktop install|remove``."""
    if isinstance(error, ForeignDesktopFile):
        if error.removing:
            return "It is left as it is: delete it yourself if you want it gone."
        return f"Move it away (or delete it if you do not need it), then run '{COMMAND} desktop install' again."
    if isinstance(error, DesktopFilesUnwritable):
        written = f" ('{COMMAND} desktop remove' takes out the {len(error.done)} written)" if error.done else ""
        return f"Check that you may write that folder, then try again{written}."
    if isinstance(error, IconsUnavailable):
        command = apt_install(error.missing)
        if command is None:
            return "Reinstall the app, then try again."
        return f"Install what Qt needs ({command}), then try again."
    if isinstance(error, InvalidCommand):
        return "Install the app in a folder whose path has no line breaks or control characters, then try again."
    if isinstance(error, DesktopUnsupported):
        return f"Start the app with '{COMMAND}'; on macOS and Windows its installer adds it to the menu."
    return None


def _account_choice(candidate: Candidate) -> str:
    name = one_line(candidate.name)
    if candidate.nickname and candidate.nickname != candidate.name:
        name = f"{one_line(candidate.nickname)} ({name})"
    return f"--account {candidate.id} for {name}"


def _naming_hint(error: ConnectorError) -> str | None:
    """A server or an account named by what nobody, or several, are called; an address without https://."""
    if isinstance(error, AmbiguousServer):
        names = " or ".join(shell_word(c.name) for c in error.candidates)
        return f"Type more of the name ({names}), or use its id from '{COMMAND} list'."
    if isinstance(error, AmbiguousAccount):
        return f"Choose one by its id: {', '.join(map(_account_choice, error.candidates))}."
    if isinstance(error, UnknownServer):
        if error.abbreviates:
            names = " or ".join(shell_word(c.name) for c in error.abbreviates)
            return f"With --yes, name the server in full: did you mean {names}?"
        if error.address is not None:
            return f"Add it with '{COMMAND} add {shell_word(error.address)}', or use a name from '{COMMAND} list'."
        return f"Add it with '{COMMAND} add URL', or use a name from '{COMMAND} list'."
    if isinstance(error, UnknownAccount):
        if error.abbreviates:
            return f"With --yes, name the account in full: {', '.join(map(_account_choice, error.abbreviates))}."
        return f"Use a label, nickname or id from '{COMMAND} list'."
    if isinstance(error, AddressWithoutScheme):
        return f"Did you mean {shell_word(error.suggestion)}? Give the address with its https:// in front."
    return None
