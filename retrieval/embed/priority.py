"""Thread priorities: blocking work below the event loop's thread (Linux nice values)."""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)


def lower_thread_priority(nice: int) -> bool:
    """Raise the calling thread's nice value by ``nice``; False where that is not possible.

    On Linux a thread's nice value is its own and new threads inherit it. Elsewhere
    ``setpriority`` would act on the whole process, so nothing is changed there.
    """
    if nice <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:  # e.g. a sandbox that forbids it: the work still runs, just not niced
        log.warning("Could not lower a worker thread's CPU priority (%s)", exc)
        return False
    return True
