"""The program's entry: ``mcp-connectors`` and ``python -m desktop_app``.

Without a command (nothing, or ``--hidden`` with the window's other options) it opens the window; with one it runs
the command line. It imports only what choosing needs: the window (Qt) and the command line's engine (the event
loop, HTTP, OAuth) are imported once chosen, so that ``--help`` and a fresh ``token`` never load either
(:mod:`desktop_app.cli.quick`). ``--renewal-worker`` first of all is the renewal worker, which the app starts
itself in two stages (:mod:`desktop_app.accounts.worker_launch`), never a person; ``--bridge-warm`` is the bridge's
warm starter, started by the app and by a cold bridge (:mod:`desktop_app.bridge.warm`). A bridge is first offered
to a warm starter (:mod:`desktop_app.bridge.launcher`, the standard library only: not even the command line's
parser is imported first) and runs here when there is none.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from desktop_app.accounts.worker_words import HANDED_OVER, WORKER_FLAG
from desktop_app.bridge import launcher

#: What the window understands besides ``--hidden`` (desktop_app.app.main.parse_args); the command line has its own
#: ``-v``.
WINDOW_OPTIONS = frozenset({"-v", "--verbose"})


def opens_window(words: Sequence[str]) -> bool:
    """No words at all, or ``--hidden`` with nothing but the window's options (``-v --hidden``). Anything else is
    the command line's, ``-v`` alone included (it prints the help, as any options without a command do)."""
    from desktop_app.cli.parser import WINDOW_HIDDEN_FLAG  # the parser's imports: never for a warm bridge

    return not words or (
        WINDOW_HIDDEN_FLAG in words and all(word in WINDOW_OPTIONS or word == WINDOW_HIDDEN_FLAG for word in words)
    )


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words == [WORKER_FLAG]:
        from desktop_app.accounts.worker_launch import hand_over  # subprocess: only for the worker's first stage

        return hand_over()  # the first stage: start the worker proper, and end
    if words == [WORKER_FLAG, HANDED_OVER]:
        from desktop_app.storage.renewal_worker import main as renewal_worker  # a renewal, and nothing else

        return renewal_worker()
    if words == [launcher.WARM_FLAG]:
        from desktop_app.bridge.warm import main as warm_starter  # imports all a bridge needs, then forks bridges

        return warm_starter()
    if launcher.names_bridge(words):  # stdio for an AI host: a warm starter serves it, if one runs; else here
        warm = launcher.run(words)
        if warm is not None:
            return warm
        from desktop_app.bridge.main import main as bridge  # no command-line engine

        return bridge(words)
    if opens_window(words):
        try:
            from desktop_app.app.main import main as window  # Qt, only for the window
        except ImportError as exc:  # a library Qt needs is missing (a server without libGL): one message, no traceback
            from desktop_app.app.display import refuse_import

            return refuse_import(exc)
        return window(words)
    from desktop_app.cli import quick  # the commands that answer without the engine

    answered = quick.answer(words)
    if answered is not None:
        return answered
    from desktop_app.cli.main import main as command_line  # the engine, only when needed

    return command_line(words)


if __name__ == "__main__":
    sys.exit(main())
