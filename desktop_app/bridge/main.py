"""``mcp-connectors bridge SERVER [--account A]``: what an AI host launches to reach a server as one account.

Wiring only: the profile's stores, the account, an HTTP client for the server, the token source, the translator and
the relay (see the modules beside this one). Standard output carries nothing but MCP messages
(:func:`desktop_app.bridge.stdio.protect_stdout`); logs go to stderr, redacted, warnings only unless ``-v``.

When the bridge cannot serve at all (no such server or account, the keyring cannot be opened) it still speaks MCP:
every request gets an error that says what is wrong and what to do, so the host shows that instead of "server
disconnected", and it exits when the host closes stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any, BinaryIO

import httpx

from desktop_app.accounts.lookup import find_account, find_server
from desktop_app.accounts.models import Account, Server
from desktop_app.bridge import presence, words
from desktop_app.bridge.app_link import AppLink
from desktop_app.bridge.app_link import ask_step_up as ask_app_step_up
from desktop_app.bridge.era import Era, Translator
from desktop_app.bridge.identity_check import BridgeIdentity
from desktop_app.bridge.launcher import USED_SETTING, start_starter_soon
from desktop_app.bridge.relay import Activity, Relay
from desktop_app.bridge.stdio import HostLink, protect_stdout
from desktop_app.bridge.tokens import BridgeTokens
from desktop_app.bridge.tool_gate import HostToolGate
from desktop_app.bridge.upstream import Upstream, request_id_of
from desktop_app.cli.parser import parse
from desktop_app.errors import AccountRemoved, ConnectorError, SignInRequired, TokenRejected
from desktop_app.oauth.auth import BearerAuth
from desktop_app.oauth.h1transport import lean_client
from desktop_app.oauth.netpolicy import prepare_first_connection
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.storage.profile_stores import open_stores
from desktop_app.storage.registry import SqliteRegistry
from desktop_app.storage.tool_store import SqliteToolStore
from desktop_app.tools.gate import ToolGate
from desktop_app.tools.model import Connector

log = logging.getLogger(__name__)

#: Waits on the server: connecting, and between two pieces of an answer (a tool may work quietly for a while).
TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=30.0)
#: The registry setting that remembers a server's MCP era, so the next bridge's first request is the right one.
ERA_SETTING = "bridge_era:{server}"
EXIT_OK = 0
EXIT_CANNOT_SERVE = 1


def main(argv: Sequence[str], *, launched_by: str | None = None, start_warm: bool = True) -> int:
    """``launched_by``: what launched the bridge when a warm starter forked it (else its parent process);
    ``start_warm``: start a warm starter once the host's ``initialize`` is answered (docs/decisions/0034)."""
    args = parse(argv)
    if args is None:
        return EXIT_OK
    try:
        return asyncio.run(
            serve_stdio(args.server, args.account, args.secret_store, launched_by=launched_by, start_warm=start_warm)
        )
    except KeyboardInterrupt:
        return 130


async def serve_stdio(
    server_text: str,
    account_text: str | None,
    secret_store: str | None,
    *,
    launched_by: str | None = None,
    start_warm: bool = False,
) -> int:
    """Serve on this process's stdin and stdout (from now on, nothing else may write to stdout)."""
    stdin, stdout = protect_stdout()
    return await serve(
        server_text, account_text, secret_store, stdin, stdout, launched_by=launched_by, start_warm=start_warm
    )


async def serve(
    server_text: str,
    account_text: str | None,
    secret_store: str | None,
    stdin: BinaryIO,
    stdout: BinaryIO,
    *,
    launched_by: str | None = None,
    start_warm: bool = False,
) -> int:
    host = await HostLink.open(stdin, stdout)
    try:
        registry, secrets, home = open_stores(secret_store=secret_store)
    except ConnectorError as exc:
        await refuse(host, exc, None, None)
        return EXIT_CANNOT_SERVE
    try:
        try:
            server = find_server(registry, server_text)
            account = find_account(registry, server, account_text)
        except ConnectorError as exc:
            await refuse(host, exc, None, None)
            return EXIT_CANNOT_SERVE
        # An https server's CA bundle loads in a thread (OpenSSL parses it without the GIL) while the token is read
        # over D-Bus: the slowest steps before the first answer, side by side.
        tls_ready = (
            asyncio.get_running_loop().run_in_executor(
                None,
                prepare_first_connection,
                True,  # the context lean_client's transport asks for
            )
            if server.url.startswith("https:")
            else None
        )

        async def renew(account: Account, force: bool, rejected: TokenSet | None) -> None:
            # In the renewal worker: a host that kills this bridge mid-renewal cannot lose the login. Imported here,
            # at the first renewal: most bridges never renew, and the launcher's subprocess module and the wire
            # format would add ~20 ms to every start-up (docs/decisions/0019, "Start-up").
            from desktop_app.accounts.renewal_wire import fingerprint
            from desktop_app.accounts.renewer import renew_detached

            seen = fingerprint(rejected) if rejected is not None else None
            await renew_detached(home, account, force=force, seen=seen)

        launcher_name = launched_by if launched_by is not None else presence.parent_name()

        def ask_step_up(scopes: tuple[str, ...]) -> bool:
            return ask_app_step_up(home, account_id=account.id, scopes=scopes, host=launcher_name)

        tokens = BridgeTokens(registry, secrets, server, account, renew=renew, ask_step_up=ask_step_up)
        with contextlib.suppress(ConnectorError):  # read now, beside the CA bundle; a failure is the first request's
            await tokens.token()
        if tls_ready is not None:
            await tls_ready
        async with lean_client(server.url, timeout=TIMEOUT) as http:
            auth = BearerAuth(tokens, per_request=True)
            upstream = Upstream(http, server.url, auth=auth, hide=lambda: tuple(auth.sent))
            era_setting = ERA_SETTING.format(server=server.id)
            hint = registry.get_setting(era_setting)
            translator = Translator(
                server_hint=hint if hint in ("modern", "legacy") else None,  # type: ignore[arg-type]
                acts_as=words.acts_as(server, account),
            )

            def remember_era(era: Era) -> None:  # once, just after the server's first answer went to the host
                if era != hint:
                    registry.set_setting(era_setting, era)
                if registry.get_setting(USED_SETTING) is None:  # the app starts warm starters from now on
                    registry.set_setting(USED_SETTING, "1")
                if start_warm:  # the next bridge starts warm; this one's answer is not kept waiting for it
                    start_starter_soon()

            app = AppLink(home, registry)

            def error_for(exc: ConnectorError) -> dict[str, Any]:
                if isinstance(exc, TokenRejected):  # refused even after a renewal: shown where the account is
                    with contextlib.suppress(ConnectorError):
                        registry.record_refresh_failure(
                            account.id,
                            code="rejected",
                            message="the server refused the renewed access token",
                            needs_sign_in=True,
                            now=time.time(),
                        )
                if isinstance(exc, SignInRequired) and not isinstance(exc, AccountRemoved):  # nothing to sign in to
                    app.sign_in_ended()
                return words.host_error(exc, server=server, account=tokens.account)

            connector = Connector(server.id, account.id, server.name, account.display_name)
            identity = BridgeIdentity(server.id, server.resource, registry)
            tools = HostToolGate(
                ToolGate(SqliteToolStore(registry), connector),
                refusal=words.tool_refused,
                failure=lambda exc: words.host_error(exc, server=server, account=tokens.account),
                identity=identity.verdict,
            )
            relay = Relay(
                host,
                upstream,
                translator,
                error_for=error_for,
                on_era=remember_era,
                tools=tools,
                identity=identity,
            )
            _stop_on_signals(relay)
            log.info("Serving %s as %s", server.name, account.display_name)
            here = presence.announce(
                home, server_id=server.id, account_id=account.id, started_at=time.time(), launched_by=launcher_name
            )
            try:
                await relay.run()
            finally:
                presence.withdraw(here)
            _record_activity(registry, account, relay.activity, tokens.renewals, launcher_name)
    finally:
        registry.close()
    return EXIT_OK


def _record_activity(
    registry: SqliteRegistry, account: Account, activity: Activity, renewals: int, launched_by: str
) -> None:
    """One event in the account's activity: how much this bridge passed on, what failed, who launched it."""
    refused = f", {activity.refused} tool call(s) refused" if activity.refused else ""
    detail = (
        f"{activity.requests} request(s), {activity.errors} failed{refused}, {renewals} renewal(s); "
        f"launched by {launched_by}"
    )
    log.info("Done: %s", detail)
    try:
        registry.add_event(server_id=None, account_id=account.id, kind="bridge_used", detail=detail, now=time.time())
    except ConnectorError as exc:  # the account was removed meanwhile, or the database is busy: only a record
        log.info("Could not record the bridge's activity: %s", exc.code)


def _stop_on_signals(relay: Relay) -> None:
    if sys.platform == "win32":
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, relay.stop)


async def refuse(host: HostLink, error: ConnectorError, server: Server | None, account: Account | None) -> None:
    """Answer every request with ``error`` until the host closes stdin."""
    log.error("%s", error.message)
    reply = words.host_error(error, server=server, account=account)
    async for message in host.messages():
        request_id = request_id_of(message)
        if request_id is not None:
            await host.send({"jsonrpc": "2.0", "id": request_id, "error": reply})
