"""A one-shot timer for a wall-clock deadline that also fires after a sleep and notices clock changes.

Qt's timers count monotonic time, which on Linux stops while the machine sleeps: a renewal planned for 10:00 would
run at 10:00 + the time asleep. On Linux this timer is a ``timerfd`` on ``CLOCK_REALTIME`` armed with an absolute
deadline (it fires as soon as the machine wakes past it) and ``TFD_TIMER_CANCEL_ON_SET`` (a clock change wakes it,
so the plan is looked at again). Elsewhere it falls back to a QTimer, re-armed at every change of the plan; the
macOS and Windows wake notifications are documented in docs/decisions/0012 as future work.

Either way it emits ``sig_due`` when the deadline passed, or when the wall clock jumped (the caller re-plans and
re-arms). Nothing runs while nothing is armed: no polling.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import sys
import time

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

log = logging.getLogger(__name__)

#: Qt timers take an int of milliseconds: a deadline further away re-arms once when this much has passed.
MAX_QTIMER_MS = 2**31 - 1

_CLOCK_REALTIME = 0
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000
_TFD_TIMER_ABSTIME = 1
_TFD_TIMER_CANCEL_ON_SET = 2


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.timerfd_settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    return libc


class WallClockTimer(QObject):
    #: The deadline passed (or the wall clock changed: look at the plan again).
    sig_due = Signal()

    def __init__(self, parent: QObject | None = None, *, use_timerfd: bool = True) -> None:
        super().__init__(parent)
        self.deadline: float | None = None
        self._fd = -1
        self._notifier: QSocketNotifier | None = None
        self._qtimer: QTimer | None = None
        libc = _libc() if use_timerfd else None
        if libc is not None:
            fd = libc.timerfd_create(_CLOCK_REALTIME, _TFD_NONBLOCK | _TFD_CLOEXEC)
            if fd >= 0:
                self._libc = libc
                self._fd = fd
                self._notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
                self._notifier.activated.connect(self._on_fd)
            else:
                log.info("timerfd_create failed (errno %d): using a Qt timer", ctypes.get_errno())
        if self._fd < 0:
            self._qtimer = QTimer(self)
            self._qtimer.setSingleShot(True)
            self._qtimer.timeout.connect(self._on_qtimer)

    @property
    def kind(self) -> str:
        """``timerfd`` (wall clock, survives sleep, sees clock changes) or ``qtimer`` (monotonic)."""
        return "timerfd" if self._fd >= 0 else "qtimer"

    def arm(self, deadline: float | None) -> None:
        """Fire at ``deadline`` (wall clock, seconds since the epoch); None disarms."""
        self.deadline = deadline
        if self._fd >= 0:
            self._settime(deadline)
        elif self._qtimer is not None:
            if deadline is None:
                self._qtimer.stop()
            else:
                delay_ms = max(0, int((deadline - time.time()) * 1000) + 1)
                self._qtimer.start(min(delay_ms, MAX_QTIMER_MS))

    def _settime(self, deadline: float | None) -> None:
        spec = _Itimerspec()
        if deadline is not None:
            at = max(deadline, 1e-6)  # an all-zero value would disarm instead
            spec.it_value.tv_sec = int(at)
            spec.it_value.tv_nsec = int((at - int(at)) * 1e9)
        flags = _TFD_TIMER_ABSTIME | _TFD_TIMER_CANCEL_ON_SET
        if self._libc.timerfd_settime(self._fd, flags, ctypes.byref(spec), None) != 0:
            err = ctypes.get_errno()
            if err == errno.ECANCELED:  # the clock changed just now: re-plan
                QTimer.singleShot(0, self.sig_due.emit)
                return
            raise OSError(err, os.strerror(err))

    def _on_fd(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            return  # spurious
        except OSError as exc:
            if exc.errno != errno.ECANCELED:
                raise
            log.info("The wall clock changed: looking at the renewal plan again")
        self.deadline = None
        self.sig_due.emit()

    def _on_qtimer(self) -> None:
        if self.deadline is not None and time.time() < self.deadline:
            self.arm(self.deadline)  # a deadline beyond Qt's range: keep waiting
            return
        self.deadline = None
        self.sig_due.emit()

    def close(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
