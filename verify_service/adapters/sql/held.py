"""One psycopg connection per thread, held outside the pool for the hot path's statements (PostgreSQL).

A check sends its two statements straight to the driver; taking a pooled connection for each (checkout, reset,
SQLAlchemy's connection object) costs more than the statements themselves. Each thread keeps one connection,
made by the engine (its connect arguments and timeouts), in autocommit. It is closed when the thread ends, when
it is older than the pool's recycle age, when it broke or the server closed it (a restart), or on dispose. After
a fork the parent's connections are kept open and untouched (their socket is the parent's) and the child connects
anew.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import weakref
from collections.abc import Callable
from time import monotonic
from typing import Any

import psycopg

_SAID = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


def closed_by_server(conn: psycopg.Connection[Any]) -> bool:
    """True when an idle connection has something to read: the server has closed it, or may have.

    An idle connection (no statement running, its results read) has nothing to say. A PostgreSQL restart or
    crash ends every backend: each sends "terminating connection" and closes its socket, so the socket polls
    readable long before the server is back. Checked before a connection is used, with one poll(2) and no
    round trip, the first statement after a restart goes to a new connection instead of failing with 503;
    nothing had been sent on the old one, so nothing can run twice. (A rare unasked message, such as a
    notice, only costs a new connection.) A connection that broke without a word (the server's host gone)
    still fails its statement: that is an outage, answered 503.
    """
    try:
        poller = select.poll()
        poller.register(conn.fileno(), _SAID)
        return bool(poller.poll(0))
    except (psycopg.Error, OSError, ValueError):  # closed, or no socket: nothing to use
        return True


class _Held:
    """A thread's connection; closed by whoever drops the last reference in the process that made it."""

    __slots__ = ("conn", "pid", "until", "_said", "__weakref__")

    def __init__(self, conn: psycopg.Connection[Any], recycle: float):
        self.conn, self.pid, self.until = conn, os.getpid(), monotonic() + recycle
        # closed_by_server's poll, made once: a check then pays one poll(0) call (about 1,700 instructions).
        self._said = select.poll()
        self._said.register(conn.fileno(), _SAID)

    def usable(self) -> bool:
        """Open, not broken, not too old, and not closed by the server meanwhile (a restart: closed_by_server)."""
        return not (self.conn.closed or self.conn.broken) and monotonic() < self.until and not self._said.poll(0)

    def close(self) -> None:
        """Close it (quietly: it may be broken already); never a connection another process made."""
        if self.pid == os.getpid():
            with contextlib.suppress(Exception):
                self.conn.close()

    def __del__(self) -> None:
        self.close()  # the thread ended, or the connection was replaced


class HeldConnections:
    """This process's held connections, one per thread."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], *, recycle: float):
        self._connect, self._recycle = connect, recycle
        self._local = threading.local()
        self._all: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._inherited: list[_Held] = []  # a parent's, after a fork: kept alive so that nothing closes them
        self._lock = threading.Lock()

    def get(self) -> psycopg.Connection[Any]:
        """This thread's connection, connecting when it has none that is usable."""
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None:
            if held.pid != os.getpid():
                self._inherited.append(held)
            elif held.usable():
                return held.conn
            else:
                held.close()
        self._local.held = None
        conn = self._connect()
        conn.autocommit = True
        fresh = _Held(conn, self._recycle)
        self._local.held = fresh
        with self._lock:
            self._all.add(fresh)
        return conn

    def drop(self) -> None:
        """Close this thread's connection (it broke); the next get connects again."""
        held: _Held | None = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            held.close()

    def close_all(self) -> None:
        """Close every connection this process holds (other threads connect again on their next get)."""
        with self._lock:
            mine = list(self._all)
        for held in mine:
            held.close()
