"""The sign-in's state machine, driven directly: every transition, every illegal event, no network."""

from __future__ import annotations

import itertools

import pytest

from desktop_app.oauth import signin_machine as m
from desktop_app.oauth.signin_machine import SignInMachine, Step

BOOM = RuntimeError("boom")


def example(event_type: type) -> m.Event:
    """One event of each type (the error-carrying ones carry BOOM; the choices their usual value)."""
    if event_type in (m.Declined, m.Failed, m.IdentityRefused):
        return event_type(BOOM)  # type: ignore[no-any-return]
    if event_type in (m.RequestRefused, m.ClientUnknown):
        return event_type(BOOM, curable=True)  # type: ignore[no-any-return]
    if event_type is m.Registered:
        return m.Registered(needs_approval=True)
    return event_type()  # type: ignore[no-any-return]


EVENT_TYPES = [
    m.Start,
    m.MetadataFound,
    m.NoSignInNeeded,
    m.Registered,
    m.Approved,
    m.Declined,
    m.CallbackReceived,
    m.RequestRefused,
    m.ClientUnknown,
    m.TokensReceived,
    m.IdentityResolved,
    m.IdentityRefused,
    m.Saved,
    m.Failed,
    m.Cancelled,
]


def at(step: Step) -> SignInMachine:
    machine = SignInMachine()
    machine.step = step
    return machine


def run(*events: m.Event) -> tuple[SignInMachine, list[m.Action]]:
    machine = SignInMachine()
    return machine, [machine.send(e) for e in events]


def test_a_first_sign_in_goes_through_every_step_in_order() -> None:
    machine = SignInMachine()
    seen = []
    for event, action in [
        (m.Start(), m.Discover()),
        (m.MetadataFound(), m.Register()),
        (m.Registered(needs_approval=True), m.AskApproval()),
        (m.Approved(), m.OpenBrowser()),
        (m.CallbackReceived(), m.ExchangeCode()),
        (m.TokensReceived(), m.ResolveIdentity()),
        (m.IdentityResolved(), m.Save()),
        (m.Saved(), m.Finish(signed_in=True)),
    ]:
        assert machine.send(event) == action
        seen.append(machine.step)
    assert seen == [
        Step.DISCOVERING,
        Step.REGISTERING,
        Step.AWAITING_APPROVAL,
        Step.AWAITING_BROWSER,
        Step.EXCHANGING,
        Step.RESOLVING_IDENTITY,
        Step.SAVING,
        Step.DONE,
    ]
    assert machine.approved


def test_a_pairing_approved_before_is_not_asked_about() -> None:
    machine, actions = run(m.Start(), m.MetadataFound(), m.Registered(needs_approval=False))
    assert actions[-1] == m.OpenBrowser(look_first=False)
    assert machine.step is Step.AWAITING_BROWSER and not machine.approved


def test_a_server_that_needs_no_sign_in_ends_at_once() -> None:
    machine, actions = run(m.Start(), m.NoSignInNeeded())
    assert actions[-1] == m.Finish(signed_in=False) and machine.step is Step.DONE


def test_declining_ends_with_the_refusal() -> None:
    machine, actions = run(m.Start(), m.MetadataFound(), m.Registered(needs_approval=True), m.Declined(BOOM))
    assert actions[-1] == m.Fail(BOOM) and machine.step is Step.FAILED


def test_a_refused_request_registers_again_once_and_looks_first_the_second_time() -> None:
    machine, actions = run(
        m.Start(),
        m.MetadataFound(),
        m.Registered(needs_approval=True),
        m.Approved(),
        m.RequestRefused(BOOM, curable=True),
        m.Registered(needs_approval=True),  # the new client id: not asked about again
    )
    assert actions[-2] == m.Register(again=True)
    assert actions[-1] == m.OpenBrowser(look_first=True)
    second = ValueError("again")
    assert machine.send(m.RequestRefused(second, curable=True)) == m.Fail(second)
    assert machine.step is Step.FAILED


def test_a_refusal_no_registration_cures_fails_at_once() -> None:
    machine, actions = run(
        m.Start(), m.MetadataFound(), m.Registered(needs_approval=False), m.RequestRefused(BOOM, curable=False)
    )
    assert actions[-1] == m.Fail(BOOM) and machine.step is Step.FAILED


@pytest.mark.parametrize("where", ["browser", "token endpoint"])
def test_a_forgotten_client_is_registered_again_once(where: str) -> None:
    events: list[m.Event] = [m.Start(), m.MetadataFound(), m.Registered(needs_approval=False)]
    if where == "token endpoint":
        events.append(m.CallbackReceived())
    machine, actions = run(*events, m.ClientUnknown(BOOM, curable=True))
    assert actions[-1] == m.Register(again=True, forget=True) and machine.step is Step.REGISTERING
    assert machine.send(m.Registered(needs_approval=False)) == m.OpenBrowser(look_first=False)
    assert machine.send(m.CallbackReceived()) == m.ExchangeCode()
    assert machine.send(m.ClientUnknown(BOOM, curable=True)) == m.Fail(BOOM)


def test_after_a_forgotten_client_a_refused_request_may_be_cured_once_more() -> None:
    machine, _ = run(
        m.Start(),
        m.MetadataFound(),
        m.Registered(needs_approval=False),
        m.RequestRefused(BOOM, curable=True),
        m.Registered(needs_approval=False),
        m.CallbackReceived(),
        m.ClientUnknown(BOOM, curable=True),
        m.Registered(needs_approval=False),
    )
    assert machine.send(m.RequestRefused(BOOM, curable=True)) == m.Register(again=True)


def test_a_client_that_cannot_be_registered_again_fails() -> None:
    _, actions = run(
        m.Start(), m.MetadataFound(), m.Registered(needs_approval=False), m.ClientUnknown(BOOM, curable=False)
    )
    assert actions[-1] == m.Fail(BOOM)


def test_a_refused_identity_discards_the_tokens() -> None:
    machine, actions = run(
        m.Start(),
        m.MetadataFound(),
        m.Registered(needs_approval=False),
        m.CallbackReceived(),
        m.TokensReceived(),
        m.IdentityRefused(BOOM),
    )
    assert actions[-1] == m.Discard(BOOM) and machine.step is Step.FAILED


@pytest.mark.parametrize("step", [s for s in Step if s not in m.FINAL])
def test_failure_and_cancellation_end_every_step_that_is_not_the_end(step: Step) -> None:
    machine = at(step)
    assert machine.send(m.Failed(BOOM)) == m.Fail(BOOM) and machine.step is Step.FAILED
    machine = at(step)
    assert machine.send(m.Cancelled()) == m.Stop() and machine.step is Step.CANCELLED


LEGAL = set(m.TRANSITIONS)


@pytest.mark.parametrize(
    ("step", "event_type"),
    [(s, e) for s, e in itertools.product(Step, EVENT_TYPES) if (s, e) not in LEGAL],
    ids=lambda v: v.value if isinstance(v, Step) else v.__name__,
)
def test_every_event_the_table_does_not_list_is_illegal(step: Step, event_type: type) -> None:
    machine = at(step)
    with pytest.raises(m.IllegalEvent, match=event_type.__name__):
        machine.send(example(event_type))
    assert machine.step is step


def test_the_table_knows_every_event_and_reaches_every_step() -> None:
    assert {e for _, e in LEGAL} == set(EVENT_TYPES)
    reached = {Step.NEW}
    for (step, event_type), _handler in m.TRANSITIONS.items():
        machine = at(step)
        machine.send(example(event_type))
        reached.add(machine.step)
    assert reached == set(Step)
