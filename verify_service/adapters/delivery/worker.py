"""Runs the outbox: a thread inside each web process, or `flask --app wsgi outbox run` on its own."""

from __future__ import annotations

import logging
import os
import threading

from verify_service.domain.delivery import OutboxService
from verify_service.errors import DependencyUnavailable

log = logging.getLogger(__name__)


class OutboxWorker:
    """Dispatches due messages promptly after a commit (kick) and at least every `interval` seconds."""

    def __init__(self, service: OutboxService, *, interval: float = 1.0):
        self._service, self._interval = service, interval
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        """Start the thread in this process if it is not running (cheap when it is)."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                # After a fork (gunicorn workers) the parent's thread does not exist here.
                self._pid, self._stop = os.getpid(), threading.Event()
                self._thread = threading.Thread(target=self.run, name="outbox", daemon=True)
                self._thread.start()

    def kick(self) -> None:
        """Wake the worker now (a message was just committed)."""
        self.ensure_running()
        self._wake.set()

    def run(self) -> None:
        """Loop until stopped: dispatch everything due, then wait for a kick or the interval."""
        while not self._stop.is_set():
            try:
                if self._service.dispatch_due():
                    continue
            except DependencyUnavailable:
                log.warning("outbox: database unavailable; retrying")
            except Exception:  # a worker must survive any one bad message or bug
                log.exception("outbox: dispatch failed")
            self._wake.wait(self._interval)
            self._wake.clear()

    def stop(self) -> None:
        """Ask the loop to end and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
