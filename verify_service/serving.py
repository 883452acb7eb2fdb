"""The gunicorn worker: on SIGTERM it keeps serving for a drain period while /readyz answers 503.

gunicorn's master closes its copies of the listening sockets on SIGTERM, but each worker holds its
own (inherited at fork), so a worker that keeps accepting still gets new connections: load
balancers see /readyz fail and stop sending traffic before the instance goes away.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Iterable, Mapping
from types import FrameType
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]  # gunicorn ships no type hints
from gunicorn.workers.sync import SyncWorker  # type: ignore[import-untyped]

from verify_service.logs import RedactPaths

DRAINING_KEY = "verify.draining"  # WSGI environ key: True while this worker drains before exiting
DEFAULT_DRAIN_SECONDS = 5

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def drain_seconds(environ: Mapping[str, str] = os.environ) -> int:
    """GUNICORN_DRAIN_SECONDS: how long to keep serving after SIGTERM (0 exits at once)."""
    text = environ.get("GUNICORN_DRAIN_SECONDS", str(DEFAULT_DRAIN_SECONDS))
    if not re.fullmatch(r"[0-9]+", text.strip()):
        raise ValueError(f"GUNICORN_DRAIN_SECONDS must be a whole number of seconds (0 or more), not {text!r}")
    return int(text)


class RedactingLogger(Logger):  # type: ignore[misc]  # an untyped base class
    """gunicorn's logger, with entry link tokens redacted from its access log (`%(r)s`, `%(U)s`, `{raw_uri}e`...)
    and its error log ("Error handling request /entry/...", "Invalid request ... line"), whatever their format,
    handlers or file: the filter sits on the loggers, so an access log turned on by an operator is covered too."""

    def setup(self, cfg: Any) -> None:
        """gunicorn's setup, then the filter on both loggers (once: setup runs again on a reload)."""
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            if not any(isinstance(existing, RedactPaths) for existing in logger.filters):
                logger.addFilter(RedactPaths())


class DrainingSyncWorker(SyncWorker):  # type: ignore[misc]  # an untyped base class
    """A sync worker that drains for GUNICORN_DRAIN_SECONDS on SIGTERM, then exits gracefully."""

    wsgi: WsgiApp
    draining = False
    drain_period = DEFAULT_DRAIN_SECONDS

    def init_process(self) -> None:
        """Read the drain period, then run as gunicorn's sync worker does."""
        self.drain_period = drain_seconds()
        super().init_process()

    def load_wsgi(self) -> None:
        """Load the app, wrapped so each request's environ says whether this worker drains."""
        super().load_wsgi()
        app: WsgiApp = self.wsgi

        def marked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            environ[DRAINING_KEY] = self.draining
            return app(environ, start_response)

        self.wsgi = marked

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM: start draining (an alarm ends it); with no drain period, stop as gunicorn does."""
        # A repeated SIGTERM (systemd may send its own besides the master's) does not cut the drain
        # short; SIGQUIT or SIGINT still stops at once.
        if self.drain_period <= 0:
            super().handle_exit(sig, frame)
        elif not self.draining:
            self.draining = True
            signal.signal(signal.SIGALRM, self.handle_drained)
            signal.setitimer(signal.ITIMER_REAL, self.drain_period)

    def handle_drained(self, sig: int, frame: FrameType | None) -> None:
        """The drain period is over: close this worker's listeners, finish the request in hand, exit."""
        self.alive = False
        # The master closed its copies on SIGTERM; once each worker closes its own, the port is closed and
        # new connections are refused at once, instead of waiting in a backlog that no worker will accept
        # from while a slow request in hand finishes. Closing our copy never touches another process's.
        for listener in self.sockets:
            listener.close()

    def run(self) -> None:
        """gunicorn's accept loop; after the drain, the listeners closed above may end it with an error."""
        try:
            super().run()
        except (OSError, ValueError, AttributeError):
            if self.alive:
                raise
