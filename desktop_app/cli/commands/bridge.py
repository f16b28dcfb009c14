"""``bridge`` when the command line's engine runs it (``desktop_app.__main__`` starts the bridge without loading the
engine; this is the same bridge, for a caller of :func:`desktop_app.cli.main.main`)."""

from __future__ import annotations

import argparse

from desktop_app.bridge.main import serve_stdio
from desktop_app.cli.console import Console


async def run_bridge(args: argparse.Namespace, console: Console) -> int:
    return await serve_stdio(args.server, args.account, args.secret_store)
