"""URL rules: canonical resource URIs (RFC 8707), well-known locations (RFC 8414, RFC 9728, OIDC), what is safe.

Pure functions; no I/O.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import SplitResult, urlsplit, urlunsplit

import idna

from desktop_app.errors import AddressWithoutScheme, ConfigurationError, ProtocolViolation

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_NAMES = {"localhost"}
#: ``word:`` at the start of an address, not followed by a port number: a scheme of its own (``ftp:``, ``mailto:``,
#: ``http:/``), where ``localhost:8080`` is a host and its port.
_SCHEME_OF_ITS_OWN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(?![0-9])")


def is_loopback_host(host: str | None) -> bool:
    """``127.0.0.0/8``, ``::1`` or ``localhost`` (RFC 8252 §8.3 loopback)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _invisible(c: str) -> bool:
    """A control character (C0, DEL, C1) or an invisible format character (bidi controls, zero-width marks)."""
    return unicodedata.category(c) in ("Cc", "Cf")


def ascii_host(host: str) -> str:
    """A host name as it goes on the wire: lower case, an international name in its IDNA (punycode) form, the way
    httpx encodes it; raises ``idna.IDNAError`` (a ``UnicodeError``) for a name that has no such form."""
    host = host.lower()
    return host if host.isascii() else idna.encode(host).decode("ascii")


def with_ascii_host(url: str) -> str:
    """``url`` with an international host written in its IDNA form (everything else as it was); a URL without a host,
    or whose host has no such form, is returned unchanged (comparisons with it then fail on their own)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host.isascii():
            return url
        netloc = parts.netloc.replace(parts.netloc.rsplit("@", 1)[-1].split(":", 1)[0], ascii_host(host), 1)
    except (ValueError, UnicodeError):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _split(url: str, *, what: str, error: type[ConfigurationError | ProtocolViolation]) -> SplitResult:
    text = url.strip()
    if any(_invisible(c) for c in url.strip(" \t\r\n") if c not in "\t\r\n"):
        # An escape sequence or a bidi override in an address is never part of a real one; shown, it could rewrite
        # the line it is printed on.
        raise error(
            "malformed_url",
            f"The {what} {url!r} contains control or invisible characters.",
            url=url,
            hint="Copy the address again from a trusted place.",
        )
    if any(c.isspace() for c in text):
        # urlsplit keeps a space in a path and silently drops tabs and newlines: neither is a usable address.
        raise error(
            "malformed_url",
            f"The {what} {url!r} contains white space.",
            url=url,
            hint="Copy the address again; spaces inside it must be written as %20.",
        )
    if error is ConfigurationError and "://" not in text:
        suggestion = address_with_scheme(text)
        if suggestion is not None:
            raise AddressWithoutScheme(
                f"The {what} {url!r} does not start with https://.", url=url, suggestion=suggestion
            )
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise error("malformed_url", f"The {what} {url!r} is not a valid URL.", url=url) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise error(
            "malformed_url",
            f"The {what} {url!r} is not an http(s) URL with a host.",
            url=url,
            hint="Use the full https:// address the server's documentation gives.",
        )
    if parts.username is not None or parts.password is not None:
        raise error("malformed_url", f"The {what} {url!r} must not contain a user name or password.", url=url)
    try:
        ascii_host(parts.hostname)
    except UnicodeError:
        raise error("malformed_url", f"The {what} {url!r} has a host name that is not valid.", url=url) from None
    return parts


def canonical_resource(url: str) -> str:
    """The canonical MCP server URI (MCP "Canonical Server URI", RFC 8707 §2).

    Lowercase scheme and host, an international host in its IDNA form (what goes on the wire, so the tokens'
    resource and the requests' URLs compare equal), default port dropped, no fragment, no trailing slash added (nor
    removed: the path is the server's own). A query is kept as is.
    """
    parts = _split(url, what="server address", error=ConfigurationError)
    scheme = parts.scheme.lower()
    host = ascii_host(parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def address_with_scheme(text: str) -> str | None:
    """The address a person most likely meant by ``text`` written without its scheme (``mcp.example.com/mcp``,
    ``localhost:8080/mcp``): ``https://`` and ``text``, when that is a usable address. None when ``text`` has a
    scheme (``https://``, ``ftp:``, ``mailto:``), names a user (``me@host``), or is no address even so.

    The window says it under the address as it is typed; the engine refuses such an address with it
    (:class:`~desktop_app.errors.AddressWithoutScheme`), which the command line words."""
    text = text.strip()
    if not text or "://" in text or _SCHEME_OF_ITS_OWN.match(text):
        return None
    guess = f"https://{text}"
    try:
        if urlsplit(guess).username is not None:
            return None
        canonical_resource(guess)
    except (ValueError, ConfigurationError):
        return None
    return guess


def require_secure(url: str, *, what: str, configuration: bool = False) -> str:
    """Refuse anything but ``https``, or ``http`` to a loopback host.

    ``configuration`` says the URL came from the person (a ConfigurationError) rather than from a server
    (a ProtocolViolation).
    """
    error: type[ConfigurationError | ProtocolViolation] = ConfigurationError if configuration else ProtocolViolation
    parts = _split(url, what=what, error=error)
    if parts.fragment:
        raise error("malformed_url", f"The {what} {url!r} must not have a fragment.", url=url)
    if parts.scheme.lower() == "http" and not is_loopback_host(parts.hostname):
        raise error(
            "insecure_url",
            f"The {what} {url!r} uses http to a host that is not this computer; https is required.",
            url=url,
            hint="Plain http is allowed only for servers on this computer (127.0.0.1, ::1, localhost).",
        )
    return url


def origin(url: str) -> str:
    """``scheme://host[:port]`` with the default port dropped and the host in its IDNA form; ``""`` for a URL that
    cannot be parsed."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = ascii_host(parts.hostname or "")
    except (ValueError, UnicodeError):
        return ""
    scheme = parts.scheme.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{scheme}://{host}:{port}"


def same_origin(a: str, b: str) -> bool:
    return origin(a) == origin(b) != ""


def _insert_well_known(url: str, suffix: str) -> str:
    """``https://h/p`` → ``https://h/.well-known/<suffix>/p`` (RFC 8414 §3.1, RFC 9728 §3.1)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, f"/.well-known/{suffix}{path}", "", ""))


def protected_resource_metadata_urls(resource: str) -> list[str]:
    """Where to look for RFC 9728 metadata when the challenge names none: path-inserted first, then root."""
    path_form = _insert_well_known(resource, "oauth-protected-resource")
    root_form = f"{origin(resource)}/.well-known/oauth-protected-resource"
    return [path_form] if path_form == root_form else [path_form, root_form]


def authorization_server_metadata_urls(issuer: str) -> list[str]:
    """The MCP order (2025-11-25 and later) for an issuer's metadata.

    With a path: RFC 8414 path-inserted, OIDC path-inserted, OIDC path-appended.
    Without: RFC 8414, then OIDC.
    """
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    base = origin(issuer)
    if not path:
        return [f"{base}/.well-known/oauth-authorization-server", f"{base}/.well-known/openid-configuration"]
    return [
        f"{base}/.well-known/oauth-authorization-server{path}",
        f"{base}/.well-known/openid-configuration{path}",
        f"{base}{path}/.well-known/openid-configuration",
    ]


def validate_browser_url(url: str) -> str:
    """An authorization URL may be opened only if it is ``https`` (or ``http`` to loopback).

    Everything else (``javascript:``, ``data:``, ``file:``, ``vbscript:``, a URL with control characters or
    spaces that a launcher might split) is refused before any browser is involved.
    """
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url) or any(c in url for c in '"<>\\^`{|}'):
        raise ProtocolViolation(
            "unsafe_authorization_url",
            f"The authorization URL {url[:120]!r} contains characters a browser launcher could misread.",
            url=url,
        )
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https"):
        raise ProtocolViolation(
            "unsafe_authorization_url",
            f"The authorization server's sign-in address uses {scheme or 'no'} scheme ({url[:80]!r}); "
            "only https is opened.",
            url=url,
        )
    return require_secure(url, what="authorization URL")
