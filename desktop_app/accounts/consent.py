"""Consent pairings: is this sign-in the one the person approved before, and what in it deserves a second look?

Before a browser opens, the pairing (resource ↔ issuer ↔ scopes, plus the client identity) is compared with the
:class:`~desktop_app.accounts.models.Consent` recorded for the server. Pure functions; the CLI and the window render
the :class:`PairingCheck` and record :func:`consent_from` once the person approves (withdrawing one is
``Registry.withdraw_consent``).

What asks again, and what does not:

==========================================  ===========  ==============================================
change since the approval                   ask again?   why
==========================================  ===========  ==============================================
nothing                                     no
a scope that was not approved               yes          more power than the person agreed to
only fewer scopes                           no           less power; reported in ``removed_scopes``
another issuer                              yes          someone else would hold the login
another resource (the server moved)         yes          the tokens would go somewhere else
another client kind, or another             yes          another program would act in the person's name
pre-registered / CIMD client id
another client id from dynamic              no           the app re-registers by itself (a lost or expired
registration at the same issuer                          registration); reported in ``client_changed``
==========================================  ===========  ==============================================

Warnings (:func:`pairing_warnings`) are computed every time, approved or not.

What an approval given ahead of time (``--yes``; anything not asked of the person there and then) may approve,
by :func:`unattended_refusal` (a refusal's code in brackets):

============================================  ==============================  ========================================
the pairing check                             a sign-in the person asked      on the way: a step-up met while calling
                                              for (``login``, ``connect``)    a tool; what a window or tray does alone
============================================  ==============================  ========================================
nothing to approve                            yes                             yes
more scopes, same issuer/resource/client      yes                             yes
the first pairing for the server              yes                             no (``first_pairing``)
another client that needs approval            yes                             no (``client_changed``)
a warning the approved pairing did not have   no (``new_warnings``)           no (``new_warnings``)
another resource                              no (``resource_changed``)       no (``resource_changed``)
another issuer                                no (``issuer_changed``)         no (``issuer_changed``)
============================================  ==============================  ========================================
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList

from desktop_app.accounts.models import Consent
from desktop_app.errors import one_line
from desktop_app.oauth.flow import Pairing
from desktop_app.oauth.urls import ascii_host, is_loopback_host

_CLIENT_KINDS = {
    "cimd": "client metadata document",
    "dcr": "registered client",
    "preregistered": "pre-registered client",
}


@functools.cache
def _public_suffix_list() -> PublicSuffixList:
    """The bundled Public Suffix List, parsed once on first use (about 50 ms)."""
    return PublicSuffixList()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def registrable_domain(host: str) -> str:
    """The part of ``host`` one owner controls (eTLD+1): ``login.example.co.uk`` → ``example.co.uk``.

    Private suffixes count (``alice.github.io`` stays ``alice.github.io``: github.io hands out its subdomains).
    IP addresses, ``localhost``, single labels, public suffixes themselves and malformed names have no registrable
    domain: the host itself (lower-cased) is returned. An unknown top-level domain acts as a suffix of one label
    (``mcp.corp.internal`` → ``corp.internal``), the PSL's own default rule.
    """
    host = host.strip().lower().rstrip(".")
    if not host or _is_ip(host) or host == "localhost" or host.endswith(".localhost"):
        return host
    domain = _public_suffix_list().privatesuffix(host)
    return domain if isinstance(domain, str) and domain else host


@dataclass(frozen=True, slots=True)
class PairingWarning:
    """Something about a pairing the person should look at before approving it."""

    #: ``issuer_domain_differs``, ``punycode_host`` or ``http_issuer``.
    code: str
    message: str


def _host(url: str) -> str:
    """The URL's host, lower-case, without a trailing dot, and in its ASCII (punycode) form when it can be."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    host = host.rstrip(".")
    with contextlib.suppress(UnicodeError):
        host = ascii_host(host)  # the form httpx connects to (IDNA 2008), not Python's IDNA 2003 codec
    return host


def domain_of(url: str) -> str:
    """The registrable domain of a URL's host (see :func:`registrable_domain`); empty when it has no host."""
    return registrable_domain(_host(url))


def _unicode_form(host: str) -> str:
    """``xn--bcher-kva.example`` → ``bücher.example``; a label that does not decode is kept as it is."""
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError):
                label = idna.decode(label)
        labels.append(label)
    return one_line(".".join(labels))


def _has_punycode(host: str) -> bool:
    return not host.isascii() or any(label.startswith("xn--") for label in host.split("."))


def pairing_warnings(resource: str, issuer: str) -> tuple[PairingWarning, ...]:
    """What to point out about signing in at ``issuer`` for ``resource``, in the order to show it."""
    resource_host, issuer_host = _host(resource), _host(issuer)
    warnings: list[PairingWarning] = []
    resource_domain, issuer_domain = registrable_domain(resource_host), registrable_domain(issuer_host)
    both_loopback = is_loopback_host(resource_host) and is_loopback_host(issuer_host)
    if resource_domain != issuer_domain and not both_loopback:
        warnings.append(
            PairingWarning(
                "issuer_domain_differs",
                f"The sign-in happens at {issuer_domain or one_line(issuer)}, a different domain from the server's "
                f"{resource_domain or one_line(resource)}.",
            )
        )
    for what, host in (("sign-in", issuer_host), ("server", resource_host)):
        if _has_punycode(host):
            warnings.append(
                PairingWarning(
                    "punycode_host",
                    f"The {what} address {one_line(host)} is an international name that reads as "
                    f"{_unicode_form(host)}; check that it is the site you expect, letter by letter.",
                )
            )
    if urlsplit(issuer).scheme.lower() == "http":
        warnings.append(
            PairingWarning(
                "http_issuer",
                f"The sign-in page at {one_line(issuer)} is not encrypted (plain http); "
                "this is only acceptable for a server on this computer.",
            )
        )
    return tuple(warnings)


def describe_client(kind: str, client_id: str) -> str:
    """How the app presents itself to the authorization server, e.g. ``registered client abc123``."""
    label = _CLIENT_KINDS.get(kind)
    return f"{label} {client_id}" if label else client_id


@dataclass(frozen=True, slots=True)
class PairingCheck:
    """A pairing compared with the approval on record, and whether the person must be asked."""

    pairing: Pairing
    previous: Consent | None
    needs_approval: bool
    #: Nothing approved before for this server.
    first_time: bool
    #: (approved issuer, this issuer) when they differ.
    issuer_changed: tuple[str, str] | None
    #: Scopes not in the approved set, in the pairing's order; empty the first time (nothing to compare with).
    added_scopes: tuple[str, ...]
    #: Approved scopes this pairing does not ask for, in the approval's order.
    removed_scopes: tuple[str, ...]
    #: (approved client, this client) as :func:`describe_client` words them, when they differ.
    client_changed: tuple[str, str] | None
    warnings: tuple[PairingWarning, ...]
    #: (approved resource, this resource) when the server's address changed.
    resource_changed: tuple[str, str] | None = None

    @property
    def changed(self) -> bool:
        """Whether anything differs from the approval on record (asked about or not)."""
        return any(
            (self.issuer_changed, self.added_scopes, self.removed_scopes, self.client_changed, self.resource_changed)
        )

    @property
    def scope_step_up(self) -> bool:
        """Asked again only because more scopes are wanted (the 403 ``insufficient_scope`` case)."""
        return (
            self.needs_approval
            and not self.first_time
            and bool(self.added_scopes)
            and self.issuer_changed is None
            and self.resource_changed is None
            and not (self.previous is not None and _client_needs_approval(self.previous, self.pairing))
        )


def _client_needs_approval(previous: Consent, pairing: Pairing) -> bool:
    if previous.client_kind != pairing.client_kind:
        return True
    # A dynamically registered client is the app itself, registered again; any other id is another program.
    return previous.client_id != pairing.client_id and pairing.client_kind != "dcr"


def check_pairing(pairing: Pairing, approved: Consent | None) -> PairingCheck:
    """Compare ``pairing`` with the consent on record for its server (None: never approved)."""
    warnings = pairing_warnings(pairing.resource, pairing.issuer)
    if approved is None:
        return PairingCheck(
            pairing=pairing,
            previous=None,
            needs_approval=True,
            first_time=True,
            issuer_changed=None,
            added_scopes=(),
            removed_scopes=(),
            client_changed=None,
            warnings=warnings,
        )
    approved_scopes = set(approved.scopes)
    wanted = set(pairing.scopes)
    added = tuple(dict.fromkeys(s for s in pairing.scopes if s not in approved_scopes))
    removed = tuple(dict.fromkeys(s for s in approved.scopes if s not in wanted))
    issuer_changed = (approved.issuer, pairing.issuer) if approved.issuer != pairing.issuer else None
    resource_changed = (approved.resource, pairing.resource) if approved.resource != pairing.resource else None
    client_changed = None
    if (approved.client_kind, approved.client_id) != (pairing.client_kind, pairing.client_id):
        client_changed = (
            describe_client(approved.client_kind, approved.client_id),
            describe_client(pairing.client_kind, pairing.client_id),
        )
    needs_approval = bool(added or issuer_changed or resource_changed or _client_needs_approval(approved, pairing))
    return PairingCheck(
        pairing=pairing,
        previous=approved,
        needs_approval=needs_approval,
        first_time=False,
        issuer_changed=issuer_changed,
        added_scopes=added,
        removed_scopes=removed,
        client_changed=client_changed,
        warnings=warnings,
        resource_changed=resource_changed,
    )


def unattended_refusal(check: PairingCheck, *, asked_for_sign_in: bool) -> str | None:
    """Why an approval given ahead of time (``--yes``, a job nobody watches) may not approve ``check``: a code (the
    table in this module's docstring), or None when it may.

    ``asked_for_sign_in``: the person asked for this sign-in on the command that carries the approval (``login``,
    ``connect``), so a first pairing and a changed client are what they asked for. Otherwise (a step-up met while
    calling a tool) only more scopes at the same authorization server, resource and client are (``not_a_step_up``
    for a check that needs approval for any other reason).
    """
    if not check.needs_approval:
        return None
    if check.issuer_changed is not None:
        return "issuer_changed"
    if check.resource_changed is not None:
        return "resource_changed"
    previous = check.previous
    if previous is not None:
        before = set(pairing_warnings(previous.resource, previous.issuer))
        if any(warning not in before for warning in check.warnings):
            return "new_warnings"
    if asked_for_sign_in:
        return None
    if check.first_time or previous is None:
        return "first_pairing"
    if _client_needs_approval(previous, check.pairing):
        return "client_changed"
    return None if check.scope_step_up else "not_a_step_up"


def consent_from(pairing: Pairing, *, server_id: int, now: float) -> Consent:
    """What to record once the person approved ``pairing`` for the server ``server_id``."""
    return Consent(
        server_id=server_id,
        resource=pairing.resource,
        issuer=pairing.issuer,
        scopes=tuple(dict.fromkeys(pairing.scopes)),
        client_kind=pairing.client_kind,
        client_id=pairing.client_id,
        approved_at=now,
    )
