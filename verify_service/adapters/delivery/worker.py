"""Runs the outbox: a thread inside each web process, or `flask --app wsgi outbox run` on its own."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from verify_service.adapters.pacing import background_priority
from verify_service.domain.audit import AuditAnchoring
from verify_service.domain.delivery import OutboxService
from verify_service.errors import DependencyUnavailable

log = logging.getLogger(__name__)


class BackgroundChore:
    """A worker chore that runs `job` on a thread of its own when `due()` says so, one run at a time: a long
    retention sweep never holds up the delivery of codes."""

    def __init__(self, due: Callable[[], bool], job: Callable[[], object], name: str):
        self._due, self._job, self._name = due, job, name
        self._thread: threading.Thread | None = None

    def __call__(self) -> None:
        """Start the job if it is due and not already running here."""
        if self._thread is not None and self._thread.is_alive():
            return
        if self._due():
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """The job, at a lower CPU priority than the web workers' threads, its failure logged (the next turn
        tries again)."""
        background_priority()
        try:
            self._job()
        except Exception:
            log.exception("%s failed", self._name)

    def join(self, timeout: float | None = None) -> None:
        """Wait for a running job (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)


class OutboxWorker:
    """Dispatches due messages promptly after a commit (kick) and at least every `interval` seconds; writes
    the scheduled audit anchor when it is this process's turn; runs the process's `chores` every turn."""

    def __init__(self, service: OutboxService, *, interval: float = 1.0, anchors: AuditAnchoring | None = None,
                 chores: list[Callable[[], None]] | None = None):
        self._service, self._interval, self._anchors = service, interval, anchors
        self.chores = chores if chores is not None else []
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
            self._anchor()
            self._chores()
            try:
                if self._service.dispatch_due():
                    continue
            except DependencyUnavailable:
                log.warning("outbox: database unavailable; retrying")
            except Exception:  # a worker must survive any one bad message or bug
                log.exception("outbox: dispatch failed")
            self._wake.wait(self._interval)
            self._wake.clear()

    def _anchor(self) -> None:
        """Write the scheduled anchor if it is due (before dispatching, so a webhook anchor leaves promptly)."""
        if self._anchors is None:
            return
        try:
            self._anchors.run_if_due()
        except DependencyUnavailable as error:
            log.warning("audit anchor: %s; retrying", error.message)
        except Exception:  # the schedule must survive a bug; the next turn tries again
            log.exception("audit anchor failed")

    def _chores(self) -> None:
        """Run each chore (settling counts answered 503, ...); one that fails is tried again next turn."""
        for chore in self.chores:
            try:
                chore()
            except Exception:  # the loop must survive a bug in any one chore
                log.exception("worker chore failed")

    def stop(self) -> None:
        """Ask the loop to end and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
