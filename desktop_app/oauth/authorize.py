"""The authorization request (RFC 6749 §4.1.1 + PKCE + RFC 8707 + RFC 9207) and its response.

Pure: :func:`build_authorization_url`, :func:`validate_callback`. The browser seam is :func:`system_browser`.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import shlex
import webbrowser
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from desktop_app.errors import ConfigurationError, ProtocolViolation, StateMismatch, oauth_error
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.pkce import Pkce, random_token
from desktop_app.oauth.registration import ClientRegistration
from desktop_app.oauth.urls import validate_browser_url

#: Opens a URL in the person's browser. Must not return before the URL was handed over (or raise).
Browser = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    """Everything that must be remembered between sending the person to the browser and the callback.

    Stored together before the browser opens (2026-07-28 "Authorization Response Validation"): the issuer the
    request went to, whether it promises ``iss``, ``state``, the PKCE verifier, and where the code may be sent.
    """

    issuer: str
    iss_supported: bool
    token_endpoint: str
    registration: ClientRegistration
    redirect_uri: str
    resource: str | None
    scopes: tuple[str, ...]
    url: str = field(repr=False)
    state: str = field(repr=False)
    pkce: Pkce = field(repr=False)
    nonce: str | None = field(default=None, repr=False)


def build_authorization_request(
    metadata: AuthorizationServerMetadata,
    registration: ClientRegistration,
    *,
    redirect_uri: str,
    resource: str | None,
    scopes: Sequence[str],
    extra: Mapping[str, str] | None = None,
    nonce: str | None = None,
) -> PendingAuthorization:
    """A fresh ``state`` and PKCE pair, and the URL that carries them."""
    if registration.issuer != metadata.issuer:
        raise ProtocolViolation(
            "registration_issuer_mismatch",
            f"A client registered at {registration.issuer} cannot sign in at {metadata.issuer}.",
        )
    pkce = Pkce.new()
    state = random_token()
    params: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", registration.client_id),
        ("redirect_uri", redirect_uri),
        ("state", state),
        ("code_challenge", pkce.challenge),
        ("code_challenge_method", "S256"),
    ]
    if scopes:
        params.append(("scope", " ".join(scopes)))
    if resource is not None:
        params.append(("resource", resource))
    if nonce is not None:
        params.append(("nonce", nonce))
    for key, value in (extra or {}).items():
        params.append((key, value))
    endpoint = urlsplit(metadata.authorization_endpoint)
    # The endpoint may carry its own query (RFC 6749 §3.1); ours is appended, never replacing it.
    existing = parse_qsl(endpoint.query, keep_blank_values=True)
    ours = {k for k, _ in params}
    query = urlencode([(k, v) for k, v in existing if k not in ours] + params)
    url = urlunsplit((endpoint.scheme, endpoint.netloc, endpoint.path, query, ""))
    validate_browser_url(url)
    return PendingAuthorization(
        issuer=metadata.issuer,
        iss_supported=metadata.authorization_response_iss_parameter_supported,
        token_endpoint=metadata.token_endpoint,
        registration=registration,
        redirect_uri=redirect_uri,
        resource=resource,
        scopes=tuple(scopes),
        url=url,
        state=state,
        pkce=pkce,
        nonce=nonce,
    )


def validate_callback(params: Sequence[tuple[str, str]], pending: PendingAuthorization) -> str:
    """Check a callback's parameters and return the authorization code.

    Order matters: ``state`` and then ``iss`` (RFC 9207 §2.4, exact string comparison) are checked before anything
    the response says is looked at, so an error from a mixed-up or forged response is never shown.
    """
    return callback_code(callback_values(params, pending), pending)


def callback_code(values: Mapping[str, str], pending: PendingAuthorization) -> str:
    """The code of an authorization response already checked by :func:`callback_values`, or the error it carries."""
    error = values.get("error")
    if error is not None:
        raise oauth_error(error, values.get("error_description"), where=f"The authorization server {pending.issuer}")
    code = values.get("code")
    if not code:
        raise ProtocolViolation("missing_code", "The sign-in response carries no authorization code.")
    return code


def callback_values(params: Sequence[tuple[str, str]], pending: PendingAuthorization) -> dict[str, str]:
    """An authorization response's parameters, once it is shown to answer ``pending``: the right ``state`` (checked
    first: a response without it is not this sign-in's, whatever else it holds), no parameter twice, and ``iss`` as
    RFC 9207 wants it. Nothing else in it has been looked at yet."""
    states = [value for key, value in params if key == "state"]
    if len(states) != 1 or not _constant_time_equal(states[0], pending.state):
        raise StateMismatch(
            "The sign-in response does not belong to this sign-in (its state does not match); refused.",
        )
    values: dict[str, str] = {}
    for key, value in params:
        if key in values:
            raise ProtocolViolation(
                "duplicate_callback_parameter", f"The sign-in response repeats the parameter {key!r}; refused."
            )
        values[key] = value
    iss = values.get("iss")
    if iss is not None and iss != pending.issuer:
        raise ProtocolViolation(
            "callback_issuer_mismatch",
            # The foreign iss is not repeated: it is attacker-controlled text, as error_description would be.
            f"The sign-in response comes from another authorization server than {pending.issuer}, where the "
            "request went; refused.",
        )
    if iss is None and pending.iss_supported:
        raise ProtocolViolation(
            "callback_issuer_missing",
            f"The sign-in response carries no 'iss', although {pending.issuer} promises one; refused.",
        )
    return values


def _constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


# --- The browser seam -------------------------------------------------------------------------------------------

_spawned: set[asyncio.subprocess.Process] = set()


def browser_commands(environ: Mapping[str, str] | None = None) -> list[list[str]]:
    """The commands named by ``BROWSER`` (``os.pathsep``-separated; ``%s`` is the URL, else it is appended)."""
    value = (environ if environ is not None else os.environ).get("BROWSER", "")
    commands = []
    for entry in value.split(os.pathsep):
        if entry.strip():
            try:
                commands.append(shlex.split(entry))
            except ValueError:
                continue
    return commands


async def _reap(process: asyncio.subprocess.Process) -> None:
    try:
        await process.wait()
    finally:
        _spawned.discard(process)


async def system_browser(url: str) -> None:
    """Open ``url`` in the person's browser: ``BROWSER`` if set, else the desktop's default.

    The URL is validated first and handed to the program as one argument; no shell is involved.
    """
    validate_browser_url(url)
    for command in browser_commands():
        argv = [part.replace("%s", url) for part in command]
        if not any("%s" in part for part in command):
            argv.append(url)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            continue
        _spawned.add(process)
        task = asyncio.get_running_loop().create_task(_reap(process))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)
        return
    opened = await asyncio.to_thread(webbrowser.open, url, 2)
    if not opened:
        raise ConfigurationError(
            "no_browser",
            "Could not open a web browser on this computer.",
            hint="Copy the sign-in link and open it in a browser yourself.",
        )
