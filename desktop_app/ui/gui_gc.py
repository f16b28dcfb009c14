"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs in whatever thread happens to allocate when a generation fills up: a keyring call on the worker
thread, a host-name lookup in the executor. If it then frees a cycle that holds a Qt object (a closed dialog and
the lambda connected to it, a socket and its handler), Qt destroys that object outside the thread it lives in:
"QObject::~QObject: Timers cannot be stopped from another thread", at worst a crash. So while the app runs the
automatic collector is off, and the same generational collection runs on the GUI thread each time its event loop
has finished a batch of events and is about to wait (``aboutToBlock``): no timer, so an idle app wakes no more than
before (benchmarks/tray_idle.py), and whatever allocated was followed by events on this thread. Reference counting
(almost all freeing) is unaffected.
"""

from __future__ import annotations

import gc
import logging

from PySide6.QtCore import QAbstractEventDispatcher, QObject

log = logging.getLogger(__name__)


def collect_due(thresholds: tuple[int, int, int] | None = None) -> int:
    """Collect the oldest generation that is over its threshold (and the younger ones with it), as the automatic
    collector would have; returns the number of unreachable objects found (0 when nothing was due)."""
    limits = thresholds or gc.get_threshold()
    counts = gc.get_count()
    for generation in (2, 1, 0):
        if limits[generation] and counts[generation] > limits[generation]:
            found = gc.collect(generation)
            if found:
                log.debug("Collected %d unreachable objects (generation %d) on the GUI thread", found, generation)
            return found
    return 0


class GuiThreadCollector(QObject):
    """``start()`` turns automatic collection off and collects on the GUI thread; ``stop()`` gives it back."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        self._dispatcher: QAbstractEventDispatcher | None = None

    def start(self) -> None:
        dispatcher = QAbstractEventDispatcher.instance(self.thread())
        if dispatcher is None:
            log.warning("No event dispatcher on this thread: the cycle collector stays automatic")
            return
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._dispatcher = dispatcher
        dispatcher.aboutToBlock.connect(self.collect)

    def stop(self) -> None:
        if self._dispatcher is None:
            return
        self._dispatcher.aboutToBlock.disconnect(self.collect)
        self._dispatcher = None
        self.collect()
        if self._was_enabled:
            gc.enable()

    def collect(self) -> int:
        return collect_due(self._thresholds)
