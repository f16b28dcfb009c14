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
