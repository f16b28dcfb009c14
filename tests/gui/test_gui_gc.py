"""Cycles holding Qt objects are freed on the GUI thread, never in a worker thread that happened to allocate."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

from PySide6.QtCore import QObject, QTimer

from desktop_app.ui.gui_gc import GuiThreadCollector


class Holder:
    """A reference cycle that holds a Qt object with a running timer (what a closed dialog and its lambda are)."""

    def __init__(self, freed_in: list[str]) -> None:
        self.me = self
        self.obj = QObject()
        self.timer = QTimer(self.obj)
        self.timer.start(60_000)
        # Where the cycle is freed (and the Qt object with it): the thread that runs the finalizer.
        weakref.finalize(self, lambda: freed_in.append(threading.current_thread().name))


def allocate_cycles(count: int) -> None:
    for _ in range(count):
        cycle: list[Any] = []
        cycle.append(cycle)


def test_a_worker_that_allocates_frees_no_qt_object_the_gui_thread_s_event_loop_does(qtbot: Any) -> None:
    was_enabled = gc.isenabled()  # off already when the suite's own collector runs (tests/gui/conftest.py)
    collector = GuiThreadCollector()
    collector.start()
    try:
        assert not gc.isenabled()
        freed_in: list[str] = []
        Holder(freed_in)
        worker = threading.Thread(target=allocate_cycles, args=(100_000,), name="worker")
        worker.start()
        worker.join()
        assert freed_in == []  # every generation filled up in the worker: nothing was collected there
        QTimer.singleShot(0, lambda: None)  # some work for the event loop, which then is about to wait
        qtbot.waitUntil(lambda: bool(freed_in), timeout=5000)
        assert freed_in == [threading.main_thread().name]
    finally:
        collector.stop()
    assert gc.isenabled() is was_enabled  # given back as it was
