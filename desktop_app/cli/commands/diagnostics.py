"""``doctor``: a redacted report of what the app does with each server, from discovery to a call, safe to paste
into a bug report."""

from __future__ import annotations

import argparse
import time

import httpx

from desktop_app import mcp
from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import AccountState, Server
from desktop_app.accounts.registrations import metadata_from_json
from desktop_app.appinfo import COMMAND
from desktop_app.cli.console import Console
from desktop_app.cli.output import EXIT_OK
from desktop_app.cli.profile import profile
from desktop_app.cli.text import (
    URL_LIMIT,
    account_name,
    client_text,
    describe_state,
    scope_list,
    server_name,
    shown_url,
)
from desktop_app.errors import ConnectorError, one_line
from desktop_app.oauth import http as oauth_http
from desktop_app.oauth.flow import SignIn
from desktop_app.oauth.redact import redact
from desktop_app.oauth.trace import Trace
from desktop_app.storage.paths import data_dir

# oauth_http.new_client and mcp.McpClient are looked up on their modules at each call: tests and the lab put
# scripted stand-ins there.


async def run_doctor(args: argparse.Namespace, console: Console) -> int:
    """A redacted report safe to paste into a bug report: no token, code, secret or Authorization header."""
    lines: list[str] = [f"{COMMAND} doctor — safe to share: no tokens, codes or secrets are included."]
    async with profile(args) as accounts:
        lines.append(f"Profile: {data_dir()}")
        lines.append(f"Secrets: {accounts.secrets.description}")
        check = getattr(accounts.secrets, "check", None)
        if callable(check):
            try:
                check()
                lines.append("  keyring: usable")
            except ConnectorError as exc:
                lines.append(f"  keyring: NOT usable — {one_line(exc.message, URL_LIMIT)}")
        servers = [accounts.server(args.server)] if args.server else accounts.registry.servers()
        if not servers:
            lines.append("No servers.")
        for server in servers:
            async with oauth_http.new_client(server_url=server.url) as http:
                lines.extend(await _diagnose(accounts, http, server))
    console.result(redact("\n".join(lines)))
    return EXIT_OK


async def _diagnose(accounts: Accounts, http: httpx.AsyncClient, server: Server) -> list[str]:
    lines = ["", f"== {server_name(server)}: {shown_url(server.url)}", f"resource: {shown_url(server.resource)}"]
    s = server.settings
    lines.append(
        f"settings: registration={s.registration} send_resource={s.send_resource} "
        f"request_identity={s.request_identity} callback_port={s.callback_port or 'any'} "
        f"scopes={scope_list(s.scopes) if s.scopes is not None else '(server default)'}"
    )
    trace = Trace()
    signin = SignIn(
        http, server.url, options=accounts.sign_in_options(server), store=accounts.registrations, trace=trace
    )
    issuer = None
    try:
        discovery = await signin.discover(
            mcp.build_probe_request(server.url), mcp.build_probe_request(server.url, mcp.LEGACY_VERSIONS[0])
        )
        if discovery is None:
            lines.append("discovery: the server answers without asking for a sign-in.")
        else:
            metadata = discovery.metadata
            issuer = metadata.issuer
            lines.append("discovery:")
            lines.extend(f"  {shown_url(line)}" for line in trace.lines())
            lines.append(f"  authorization server: {shown_url(metadata.issuer)}")
            lines.append(f"  token endpoint: {shown_url(metadata.token_endpoint)}")
            lines.append(f"  revocation: {shown_url(metadata.revocation_endpoint or 'not offered')}")
            lines.append(f"  scopes the server asks for: {scope_list(signin.requested_scopes) or '(none)'}")
    except ConnectorError as exc:
        lines.append("discovery:")
        lines.extend(f"  {shown_url(line)}" for line in trace.lines())
        lines.append(f"  FAILED [{one_line(exc.code, 60)}]: {one_line(exc.message, URL_LIMIT)}")
    lines.append("registration:")
    registrations = [r for r in accounts.registry.registrations() if issuer is None or r.issuer == issuer]
    if not registrations:
        lines.append("  none stored (the next sign-in registers or uses the configured client)")
    for r in registrations:
        lines.append(
            f"  {client_text(r.method, r.client_id)} at {shown_url(r.issuer)} "
            f"(auth {one_line(r.token_endpoint_auth_method)}"
            f"{', secret in the keyring' if r.has_secret else ''}{'' if r.current else ', retired'})"
        )
        if r.redirect_uris:
            lines.append(f"    redirect URIs: {' '.join(shown_url(uri) for uri in r.redirect_uris)}")
    consent = accounts.registry.consent(server.id)
    if consent is None:
        lines.append("pairing: not approved yet")
    else:
        lines.append(f"pairing: approved {shown_url(consent.issuer)} · scopes {scope_list(consent.scopes) or '(none)'}")
        if issuer is not None and issuer != consent.issuer:
            lines.append(f"  CHANGED: the server now uses {shown_url(issuer)}")
    now = accounts.clock()
    lines.append("accounts:")
    server_accounts = accounts.registry.accounts(server.id)
    if not server_accounts:
        lines.append("  none")
    for account in server_accounts:
        lines.append(
            f"  {account.id} {account_name(account)} [{account.identity_source}]: {describe_state(account, now)}"
        )
        if account.last_error:
            lines.append(f"    last problem: {one_line(account.last_error)}")
        for event in accounts.registry.events(account_id=account.id, limit=5):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.at))
            lines.append(f"    {when} {one_line(event.kind)} {one_line(event.detail, 160)}")
        if account.state is not AccountState.SIGNED_IN:
            continue
        token_trace = Trace()
        try:
            await accounts.token(http, account, trace=token_trace)
            lines.extend(f"    {shown_url(line)}" for line in token_trace.lines())
            lines.append("    token: usable")
            session = accounts.session(http, account, server)
            client = mcp.McpClient(http, server.resource, auth=session.auth())
            try:
                info = await client.initialize()
                said = f"{one_line(info.name or '') or '?'} {one_line(info.version or '', 60)}"
                lines.append(f"    MCP: {said} (MCP {one_line(info.protocol_version, 40)}) answered")
            finally:
                await client.close()
        except ConnectorError as exc:
            lines.extend(f"    {shown_url(line)}" for line in token_trace.lines())
            lines.append(f"    FAILED [{one_line(exc.code, 60)}]: {one_line(exc.message, URL_LIMIT)}")
    if issuer is not None:
        cached = accounts.registry.metadata(issuer)
        if cached is not None:
            lines.append(f"cached metadata for {shown_url(metadata_from_json(cached).issuer)}: yes")
    return lines
