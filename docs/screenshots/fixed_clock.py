"""A fixed wall clock for the gallery, so that the times a picture shows are the same on every run.

The window shows wall-clock times (when a pairing was approved, when a tool was pinned, "Last renewed", "Access
expires in …"), all read from ``time.time()``. :func:`freeze` makes ``time.time()`` answer one fixed instant in
UTC for the whole run, before the app's modules are imported (their ``clock=time.time`` defaults are bound at
import). Only the wall clock stops: ``time.monotonic()``, which asyncio, Qt's timers and every timeout count, runs
on, so nothing waits on it. One check needs the real time: an id_token's ``iat`` and ``exp`` are compared with the
clock, and the lab signs them with its own (real) time, so the id_token check is given the real time.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

#: The instant every picture shows. Earlier than any run: the lab's servers and the scripted browser's cookies
#: carry real expiry dates, which a clock in the past sees as valid (a clock in the future would see them expired).
#: No renewal timer runs (the run never starts the refresher, whose timer is armed on the real clock).
FIXED = datetime(2026, 3, 14, 9, 30, tzinfo=UTC).timestamp()


def freeze() -> None:
    """From now on ``time.time()`` is :data:`FIXED` and local time is UTC. Call before importing ``desktop_app``."""
    real = time.time
    os.environ["TZ"] = "UTC"
    time.tzset()
    time.time = lambda: FIXED
    time.time_ns = lambda: int(FIXED * 1_000_000_000)

    from desktop_app.accounts import identity

    check = getattr(identity, "verify_id_token")  # noqa: B009 -- imported there, not exported

    async def with_real_time(*args: Any, **kwargs: Any) -> Any:
        kwargs["now"] = real()
        return await check(*args, **kwargs)

    setattr(identity, "verify_id_token", with_real_time)  # noqa: B010 -- as above
