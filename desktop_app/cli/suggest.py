"""What the command line answers a word it does not know with: the command, choice or option the person meant.

Close matches by :mod:`difflib` (as Python 3.14's ``ArgumentParser(suggest_on_error=True)`` finds them for choices),
a few words people bring from other tools (``ls``, ``rm``, ``signin``), and, for an option of ``mcp-connectors``
itself given after the command (``token srv -v``), where it goes instead. :mod:`desktop_app.cli.parser` asks; this
module knows argparse's parsers only as far as it must to find the subcommand that was chosen and its options.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Iterable, Sequence

#: Words other tools use for a command, and the command they mean here.
SYNONYMS = {
    "ls": "list",
    "rm": "remove",
    "delete": "remove",
    "signin": "login",
    "sign-in": "login",
    "logon": "login",
    "signout": "logout",
    "sign-out": "logout",
    "logoff": "logout",
}


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` most likely meant, or None when none is close."""
    known = list(choices)
    meant = SYNONYMS.get(word.lower())
    if meant in known:
        return meant
    found = difflib.get_close_matches(word, known, n=1) or difflib.get_close_matches(word.lower(), known, n=1)
    return found[0] if found else None


def closest_option(word: str, options: Iterable[str]) -> str | None:
    """The long option ``word`` (``--jsn``, ``--acount=bob``, ``-json``) most likely meant, or None. Compared without
    their dashes, which would make every two options look alike."""
    long_options = {option.lstrip("-"): option for option in options if option.startswith("--")}
    found = closest(word.split("=", 1)[0].lstrip("-"), long_options)
    return long_options[found] if found is not None else None


def unknown_command(word: str, commands: Sequence[str]) -> str:
    meant = closest(word, commands)
    suggestion = f" Did you mean {meant!r}?" if meant else ""
    return f"{word!r} is not a command.{suggestion} The commands: {', '.join(commands)}."


def unknown_choice(word: str, choices: Sequence[str]) -> str:
    meant = closest(word, choices)
    suggestion = f"; did you mean {meant!r}?" if meant else ""
    return f"invalid choice: {word!r}{suggestion} (choose from {', '.join(map(repr, choices))})"


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:  # argparse keeps no public list of a parser's arguments
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub)command ``args`` chose: ``mcp-connectors token``'s for ``token srv --bogus``."""
    while (subcommands := _subcommands(parser)) is not None:
        name = getattr(args, subcommands.dest, None)
        if name not in subcommands.choices:
            break
        parser = subcommands.choices[name]
    return parser


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return list(parser._option_string_actions)


def unrecognized(root: argparse.ArgumentParser, chosen: argparse.ArgumentParser, words: Sequence[str]) -> str:
    """argparse's "unrecognized arguments: ...", with the option each unknown one most likely meant."""
    own = _options(chosen)
    program_options = [] if chosen is root else [o for o in _options(root) if o not in own]
    dashed = [word for word in words if word.startswith("-") and word != "-"]
    notes = []
    for word in dashed:
        name = word.split("=", 1)[0]
        which = f"{name}: " if len(dashed) > 1 else ""
        before = f"belongs to {root.prog} itself: put it before the command"
        if name in program_options:
            notes.append(f"{name} {before}.")
        elif (meant := closest_option(word, own)) is not None:
            notes.append(f"{which}did you mean {meant}?")
        elif (meant := closest_option(word, program_options)) is not None:
            notes.append(f"{which}did you mean {meant}? It {before}.")
    said = f" ({' '.join(notes)})" if notes else ""
    return f"unrecognized arguments: {' '.join(words)}{said}"
