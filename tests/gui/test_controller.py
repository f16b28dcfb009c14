"""The controller against the lab: sign-ins with questions answered through signals, sign-out, removal."""

from __future__ import annotations

import asyncio

import pytest

from desktop_app.accounts.models import AccountState
from desktop_app.errors import ConfigurationError, ConsentRefused
from desktop_app.ui.controller import Controller
from desktop_app.ui.jobs import Job
from tests.gui.conftest import SystemBrowser, wait_signal

pytestmark = pytest.mark.lab


async def test_sign_in_asks_the_pairing_then_signs_in(controller: Controller, lab_mcp, system_browser: SystemBrowser):
    server = controller.add_server(lab_mcp.url)
    job = controller.sign_in(server, remove_server_if_abandoned=True)
    steps: list[str] = []
    job.sig_step.connect(lambda step, words: steps.append(step))
    (check,) = await wait_signal(job.sig_pairing_requested)
    assert check.first_time and check.pairing.issuer.rstrip("/") == lab_mcp.issuer.rstrip("/")
    assert system_browser.opened == []  # nothing opens before the person approves
    job.answer_pairing(True)
    result = await job.wait()
    assert result.account.label == "alice@lab.test"
    assert result.account.state is AccountState.SIGNED_IN
    assert steps == [
        "discovering",
        "registering",
        "awaiting_approval",
        "awaiting_browser",
        "exchanging",
        "resolving_identity",
        "saving",
    ]
    assert len(system_browser.opened) == 1 and "code_challenge=" in system_browser.opened[0]
    assert [a.label for _, accounts in controller.snapshot() for a in accounts] == ["alice@lab.test"]


async def test_declined_pairing_removes_a_server_that_was_being_added(controller: Controller, lab_mcp):
    server = controller.add_server(lab_mcp.url)
    job = controller.sign_in(server, remove_server_if_abandoned=True)
    await wait_signal(job.sig_pairing_requested)
    job.answer_pairing(False)
    with pytest.raises(ConsentRefused):
        await job.wait()
    assert controller.snapshot() == []


async def test_cancel_while_waiting_for_the_browser_closes_the_listener(
    controller: Controller, lab_mcp, system_browser: SystemBrowser
):
    import httpx

    system_browser.signs_in = False
    server = controller.add_server(lab_mcp.url)
    job = controller.sign_in(server)
    await wait_signal(job.sig_pairing_requested)
    job.answer_pairing(True)
    (url,) = await wait_signal(job.sig_waiting)
    redirect = httpx.URL(url).params["redirect_uri"]
    job.cancel()
    await wait_signal(job.sig_done)
    assert job.cancelled
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(redirect)
    assert [s.name for s, _ in controller.snapshot()] == [server.name]  # kept: it was not being added


async def test_bad_address_is_refused_naming_it(controller: Controller):
    with pytest.raises(ConfigurationError) as refused:
        controller.add_server("http://example.com/mcp")
    assert "http://example.com/mcp" in str(refused.value) or "example.com" in str(refused.value)
    assert controller.snapshot() == []


async def test_a_job_cancelled_before_its_first_step_still_ends() -> None:
    """Quitting cancels every job and awaits it: one whose task never ran (cancelled at once) ends too, cancelled.
    It once hung the quit of an app started in the tray (the keyring check had just been started)."""
    ran: list[bool] = []
    cancelled: list[bool] = []

    async def work() -> None:
        ran.append(True)

    job = Job("Nothing", None)
    job.sig_cancelled.connect(lambda: cancelled.append(True))
    job.start(work())
    job.cancel()  # before the loop ran the task's first step
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(job.wait(), 10)
    assert ran == [] and cancelled == [True] and not job.running
