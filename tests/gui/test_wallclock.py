"""The wall-clock timer: fires at its deadline (timerfd on Linux), can be disarmed, and re-armed."""

from __future__ import annotations

import asyncio
import time

import pytest

from desktop_app.ui.wallclock import WallClockTimer
from tests.gui.conftest import wait_signal


@pytest.mark.parametrize("use_timerfd", [True, False], ids=["timerfd", "qtimer"])
async def test_fires_at_the_deadline_and_not_when_disarmed(qapp, use_timerfd: bool) -> None:
    timer = WallClockTimer(use_timerfd=use_timerfd)
    assert timer.kind == ("timerfd" if use_timerfd else "qtimer")
    fired: list[float] = []
    timer.sig_due.connect(lambda: fired.append(time.time()))
    deadline = time.time() + 0.3
    timer.arm(deadline)
    await wait_signal(timer.sig_due, timeout=5)
    assert fired and fired[0] >= deadline - 0.005
    timer.arm(time.time() + 0.2)
    timer.arm(None)
    await asyncio.sleep(0.5)
    assert len(fired) == 1
    timer.arm(time.time() - 10)  # already overdue (e.g. after a sleep): fires at once
    await wait_signal(timer.sig_due, timeout=2)
    timer.close()


async def test_a_change_of_the_wall_clock_wakes_the_timer_to_look_again(qapp, caplog) -> None:
    """TFD_TIMER_CANCEL_ON_SET: setting the clock (here to the time it already shows, a few microseconds back) wakes
    a timer armed an hour ahead, so the plan is looked at with the new time (overdue accounts renew at once)."""
    timer = WallClockTimer()
    if timer.kind != "timerfd":
        pytest.fail("no timerfd on this Linux machine")
    try:
        timer.arm(time.time() + 3600)
        try:
            time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME))
        except PermissionError:
            pytest.skip("setting the clock needs CAP_SYS_TIME, which this machine does not give")
        with caplog.at_level("INFO", logger="desktop_app.ui.wallclock"):
            await wait_signal(timer.sig_due, timeout=3)
        assert "The wall clock changed" in caplog.text
        assert timer.deadline is None  # the owner arms it again from its plan
        timer.arm(time.time() + 0.2)  # and it still works after the cancellation
        await wait_signal(timer.sig_due, timeout=3)
    finally:
        timer.close()
