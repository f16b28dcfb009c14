"""``mcp-connectors COMMAND``: the command line, once the program's entry (:mod:`desktop_app.__main__`) has chosen
it over the window and the fresh-token path (:mod:`desktop_app.cli.quick`) has stepped aside.

Parses, runs the command on an event loop, and turns what went wrong into one or two lines on stderr and an exit
status (:mod:`desktop_app.cli.output`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from desktop_app.cli import commands
from desktop_app.cli.console import Console
from desktop_app.cli.output import EXIT_OK, report, report_interrupted
from desktop_app.cli.parser import parse
from desktop_app.errors import ConnectorError


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args is None:
        return EXIT_OK
    console = Console(assume_yes=getattr(args, "yes", False))
    try:
        return asyncio.run(commands.run(args, console))
    except ConnectorError as error:
        return report(error, console)
    except KeyboardInterrupt:
        return report_interrupted(console)
