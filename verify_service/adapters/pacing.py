"""How background work (retention sweeps, the audit archive) yields to checks: a lower CPU priority for its thread,
and a pause after each batch as long as the batch took, so a catch-up sweep of millions of rows takes at most
about half of one core's time and of the database's, and checks keep their tail (bench/RESULTS.md, retention).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

log = logging.getLogger(__name__)

BACKGROUND_NICE = 10  # below the web workers (0): the scheduler gives a check's thread about 10x the share
PACE = 1.0  # after each batch, sleep this many times as long as it took: half the time working at most


def background_priority() -> None:
    """Lower the calling thread's CPU priority (Linux: per thread; elsewhere nothing). Best effort: logged."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), BACKGROUND_NICE))
    except OSError as error:
        log.info("background work keeps its CPU priority (%s)", error)


class Paced:
    """`with pace():` around one batch, then it sleeps PACE times as long as the batch took."""

    def __init__(self, ratio: float = PACE):
        self._ratio = ratio

    def __call__(self) -> _Batch:
        return _Batch(self._ratio)


class _Batch:
    def __init__(self, ratio: float):
        self._ratio, self._started = ratio, 0.0

    def __enter__(self) -> None:
        self._started = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        if self._ratio and exc[0] is None:
            time.sleep((time.monotonic() - self._started) * self._ratio)
