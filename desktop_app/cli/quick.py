"""What the command line answers before it loads its engine: ``--help``, ``--version``, a command line argparse
refuses, ``token`` when the stored token is fresh, and ``list``.

A script asking for a token in a loop pays for SQLite and one keyring read, not for the event loop, the HTTP
stack or the OAuth engine (benchmarks/accounts_cli.py; tests/unit/test_layers.py checks what this path loads). So
this module and what it imports stay light; anything else goes on to :mod:`desktop_app.cli.main`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from desktop_app.accounts.lookup import find_account, find_server
from desktop_app.accounts.stored import fresh_token
from desktop_app.cli.listing import listing
from desktop_app.cli.output import EXIT_OK, Output, report, report_interrupted
from desktop_app.cli.parser import parse
from desktop_app.errors import ConnectorError
from desktop_app.storage.profile_stores import open_stores


def answer(argv: Sequence[str]) -> int | None:
    """The exit status when this path answered ``argv``; None when the command line's engine must."""
    args = parse(argv)
    if args is None:
        return EXIT_OK
    if args.command == "list":
        work = print_list
    elif args.command == "token" and not args.force:
        work = print_fresh_token
    else:
        return None
    output = Output()
    try:
        return work(args, output)
    except ConnectorError as error:
        return report(error, output)
    except KeyboardInterrupt:
        return report_interrupted(output)


def print_fresh_token(args: argparse.Namespace, output: Output) -> int | None:
    """``token`` when the stored token needs no renewal: print it and return 0. None when it must be renewed (about
    to expire), or when a crash left something for the profile's opening to finish: then ``run_token`` does the
    rest. Errors are the same as ``run_token``'s."""
    registry, secrets, _ = open_stores(secret_store=getattr(args, "secret_store", None))
    try:
        if registry.stale_pending_secrets(older_than=time.time() + 1):
            return None  # an interrupted sign-in or sign-out to finish first, under the account locks
        server = find_server(registry, args.server)
        account = find_account(registry, server, args.account)
        tokens = fresh_token(registry, secrets, account)
        if tokens is None:
            return None
        output.result(tokens.access_token)
    finally:
        registry.close()
    return EXIT_OK


def print_list(args: argparse.Namespace, output: Output) -> int | None:
    """``list``, read from the registry: None when a crash left something for the profile's opening to finish."""
    registry, secrets, _ = open_stores(secret_store=getattr(args, "secret_store", None))
    try:
        now = time.time()
        if registry.stale_pending_secrets(older_than=now + 1):
            return None
        output.result(listing(registry, secrets, now=now, as_json=args.json))
    finally:
        registry.close()
    return EXIT_OK
