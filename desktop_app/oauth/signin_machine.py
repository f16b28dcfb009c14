"""The steps of a sign-in as a pure state machine: an event in, the next action out.

No I/O and no clock here. :func:`desktop_app.accounts.signin.sign_in` carries out each action (fetch
metadata, register, ask the person, open the browser, exchange the code, resolve who signed in, save) and reports
what came of it as the next event; the window shows the current :class:`Step`. Every transition is one entry of
:data:`TRANSITIONS`, keyed on (step, event type); an event the table does not list for the current step is a bug
and raises :class:`IllegalEvent`.

::

    NEW ─Start→ DISCOVERING ─MetadataFound→ REGISTERING ─Registered→ AWAITING_APPROVAL ─Approved→ AWAITING_BROWSER
        ─CallbackReceived→ EXCHANGING ─TokensReceived→ RESOLVING_IDENTITY ─IdentityResolved→ SAVING ─Saved→ DONE

    DISCOVERING ─NoSignInNeeded→ DONE                  the server answered without asking for a token
    REGISTERING ─Registered(approval not needed)→ AWAITING_BROWSER, and so does every registration after the first
    AWAITING_APPROVAL ─Declined→ FAILED
    AWAITING_BROWSER ─RequestRefused(curable)→ REGISTERING    once: a new dynamic registration may cure it
    AWAITING_BROWSER, EXCHANGING ─ClientUnknown(curable)→ REGISTERING    once: the server forgot the client
    RESOLVING_IDENTITY ─IdentityRefused→ FAILED        the tokens are discarded first (:class:`Discard`)
    any step but DONE ─Failed→ FAILED, ─Cancelled→ CANCELLED

A refusal the machine will not cure again (a second one, or one no new registration can cure) ends in FAILED with
the error the event carried.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class Step(enum.Enum):
    NEW = "new"
    DISCOVERING = "discovering"
    REGISTERING = "registering"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_BROWSER = "awaiting_browser"
    EXCHANGING = "exchanging"
    RESOLVING_IDENTITY = "resolving_identity"
    SAVING = "saving"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: Steps after which nothing happens any more.
FINAL = frozenset({Step.DONE, Step.FAILED, Step.CANCELLED})


# -- events: what came of the last action ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Start:
    pass


@dataclass(frozen=True, slots=True)
class MetadataFound:
    """The server asked for a token, and its authorization server's metadata was found and checked."""


@dataclass(frozen=True, slots=True)
class NoSignInNeeded:
    """The server answered the first request without asking for a token."""


@dataclass(frozen=True, slots=True)
class Registered:
    """A client identity is in hand; ``needs_approval``: the pairing differs from what the person approved."""

    needs_approval: bool


@dataclass(frozen=True, slots=True)
class Approved:
    pass


@dataclass(frozen=True, slots=True)
class Declined:
    error: Exception


@dataclass(frozen=True, slots=True)
class CallbackReceived:
    """The browser came back with this sign-in's code."""


@dataclass(frozen=True, slots=True)
class RequestRefused:
    """The authorization server refused the request itself; ``curable``: a new dynamic registration may cure it."""

    error: Exception
    curable: bool


@dataclass(frozen=True, slots=True)
class ClientUnknown:
    """The authorization server does not know the client (``invalid_client``); ``curable``: it is a dynamic
    registration that can be made again."""

    error: Exception
    curable: bool


@dataclass(frozen=True, slots=True)
class TokensReceived:
    pass


@dataclass(frozen=True, slots=True)
class IdentityResolved:
    pass


@dataclass(frozen=True, slots=True)
class IdentityRefused:
    """The tokens are not kept: an id_token that fails validation, or someone else than the account signed in."""

    error: Exception


@dataclass(frozen=True, slots=True)
class Saved:
    pass


@dataclass(frozen=True, slots=True)
class Failed:
    error: Exception


@dataclass(frozen=True, slots=True)
class Cancelled:
    pass


Event = (
    Start
    | MetadataFound
    | NoSignInNeeded
    | Registered
    | Approved
    | Declined
    | CallbackReceived
    | RequestRefused
    | ClientUnknown
    | TokensReceived
    | IdentityResolved
    | IdentityRefused
    | Saved
    | Failed
    | Cancelled
)


# -- actions: what to do next ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Discover:
    pass


@dataclass(frozen=True, slots=True)
class Register:
    """Get a client identity. ``again``: the last one was refused, register anew; ``forget``: the authorization
    server does not know it any more, so it is forgotten first."""

    again: bool = False
    forget: bool = False


@dataclass(frozen=True, slots=True)
class AskApproval:
    pass


@dataclass(frozen=True, slots=True)
class OpenBrowser:
    """Send the person to the authorization server and wait for the callback. ``look_first``: the request was
    refused once already, so the app looks at it before a browser opens (docs/decisions/0014)."""

    look_first: bool = False


@dataclass(frozen=True, slots=True)
class ExchangeCode:
    pass


@dataclass(frozen=True, slots=True)
class ResolveIdentity:
    pass


@dataclass(frozen=True, slots=True)
class Save:
    pass


@dataclass(frozen=True, slots=True)
class Finish:
    """The end. ``signed_in`` False: the server needed no sign-in."""

    signed_in: bool


@dataclass(frozen=True, slots=True)
class Discard:
    """Revoke the tokens just received (best effort), then end with ``error``."""

    error: Exception


@dataclass(frozen=True, slots=True)
class Fail:
    error: Exception


@dataclass(frozen=True, slots=True)
class Stop:
    """Cancelled: nothing more to do."""


Action = (
    Discover
    | Register
    | AskApproval
    | OpenBrowser
    | ExchangeCode
    | ResolveIdentity
    | Save
    | Finish
    | Discard
    | Fail
    | Stop
)


class IllegalEvent(RuntimeError):
    """An event the current step does not expect: a bug in whoever drives the machine."""


class SignInMachine:
    """Where one sign-in is, and what it does next. Pure: the same events give the same actions."""

    def __init__(self) -> None:
        self.step = Step.NEW
        #: The person approved this sign-in's pairing (a registration made again later is not asked about again).
        self.approved = False
        #: A cure already used: a refused request is registered again once, and so is a forgotten client; a client
        #: forgotten after that gets one more try for its request.
        self._request_cured = False
        self._client_cured = False

    def send(self, event: Event) -> Action:
        """Take ``event``; return the next action and move to its step."""
        handler = TRANSITIONS.get((self.step, type(event)))
        if handler is None:
            raise IllegalEvent(f"{type(event).__name__} in step {self.step.value}")
        step, action = handler(self, event)
        self.step = step
        return action

    # -- transitions with a choice ----------------------------------------------------------------------------
    def _registered(self, event: Event) -> tuple[Step, Action]:
        assert isinstance(event, Registered)
        if event.needs_approval and not self.approved:
            return Step.AWAITING_APPROVAL, AskApproval()
        return Step.AWAITING_BROWSER, OpenBrowser(look_first=self._request_cured)

    def _approved(self, event: Event) -> tuple[Step, Action]:
        self.approved = True
        return Step.AWAITING_BROWSER, OpenBrowser(look_first=self._request_cured)

    def _refused(self, event: Event) -> tuple[Step, Action]:
        assert isinstance(event, RequestRefused)
        if event.curable and not self._request_cured:
            self._request_cured = True
            return Step.REGISTERING, Register(again=True)
        return Step.FAILED, Fail(event.error)

    def _client_unknown(self, event: Event) -> tuple[Step, Action]:
        assert isinstance(event, ClientUnknown)
        if event.curable and not self._client_cured:
            self._client_cured = True
            self._request_cured = False
            return Step.REGISTERING, Register(again=True, forget=True)
        return Step.FAILED, Fail(event.error)


def _to(step: Step, make: Callable[[Event], Action]) -> Callable[[SignInMachine, Event], tuple[Step, Action]]:
    return lambda machine, event: (step, make(event))


def _error(event: Event) -> Exception:
    assert isinstance(event, (Declined, Failed, IdentityRefused))
    return event.error


Handler = Callable[[SignInMachine, Event], tuple[Step, Action]]

#: (step, event type) → what happens: the whole sign-in in one table.
TRANSITIONS: dict[tuple[Step, type], Handler] = {
    (Step.NEW, Start): _to(Step.DISCOVERING, lambda _: Discover()),
    (Step.DISCOVERING, MetadataFound): _to(Step.REGISTERING, lambda _: Register()),
    (Step.DISCOVERING, NoSignInNeeded): _to(Step.DONE, lambda _: Finish(signed_in=False)),
    (Step.REGISTERING, Registered): SignInMachine._registered,
    (Step.AWAITING_APPROVAL, Approved): SignInMachine._approved,
    (Step.AWAITING_APPROVAL, Declined): _to(Step.FAILED, lambda e: Fail(_error(e))),
    (Step.AWAITING_BROWSER, CallbackReceived): _to(Step.EXCHANGING, lambda _: ExchangeCode()),
    (Step.AWAITING_BROWSER, RequestRefused): SignInMachine._refused,
    (Step.AWAITING_BROWSER, ClientUnknown): SignInMachine._client_unknown,
    (Step.EXCHANGING, ClientUnknown): SignInMachine._client_unknown,
    (Step.EXCHANGING, TokensReceived): _to(Step.RESOLVING_IDENTITY, lambda _: ResolveIdentity()),
    (Step.RESOLVING_IDENTITY, IdentityResolved): _to(Step.SAVING, lambda _: Save()),
    (Step.RESOLVING_IDENTITY, IdentityRefused): _to(Step.FAILED, lambda e: Discard(_error(e))),
    (Step.SAVING, Saved): _to(Step.DONE, lambda _: Finish(signed_in=True)),
    # Whatever goes wrong, or a person who cancels, ends any step that is not already the end.
    **{(step, Failed): _to(Step.FAILED, lambda e: Fail(_error(e))) for step in Step if step not in FINAL},
    **{(step, Cancelled): _to(Step.CANCELLED, lambda _: Stop()) for step in Step if step not in FINAL},
}
