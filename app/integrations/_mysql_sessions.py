"""Sessions to one MySQL/MariaDB server: TLS set up once per integration, a few kept open.

Why (docs/architecture.md, "MariaDB and MySQL sessions"): PyMySQL's own ``preferred`` mode loads
the system's CA bundle on every connect (21–27 ms of CPU here) only to check nothing, and a TLS
handshake per grant another millisecond. So the integration builds its TLS context once and
hands it to each :class:`Session`, and a :class:`SessionPool` keeps a few sessions open between
calls, each one reset before it goes back and checked before it is used again.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, Final

import pymysql
from pymysql.connections import Connection
from pymysql.cursors import Cursor

POOL_SIZE: Final = 4
"""Idle sessions kept per integration. More may be open at once (one per thread at work); those
beyond this are closed when their work ends."""
COM_RESET_CONNECTION: Final = 0x1F
"""The protocol command that makes a session as new (MySQL 5.7, MariaDB 10.2 and later)."""


if TYPE_CHECKING:
    _Connection = Connection[Cursor]  # generic only in the type stubs
else:
    _Connection = Connection


class Session(_Connection):
    """A PyMySQL connection whose ``preferred`` TLS context is its integration's.

    ``preferred``: the context to use when the server offers TLS and nothing else was asked
    (PyMySQL's preferred mode, which would otherwise build one per connection); ``None`` in the
    other modes, where ``ssl`` is the integration's context or TLS is off (``ssl_disabled``).
    """

    def __init__(self, *, preferred: ssl.SSLContext | None, **arguments: Any) -> None:
        self._preferred = preferred
        super().__init__(**arguments)

    def _create_ssl_ctx(self, sslp: object) -> ssl.SSLContext:
        # PyMySQL calls this from __init__ with the ssl argument (a context: kept as is), or
        # with {} in its preferred mode (where it would load the system's CAs to verify nothing).
        if isinstance(sslp, ssl.SSLContext):
            return sslp
        if sslp == {} and self._preferred is not None:
            return self._preferred
        raise ValueError("a MySQL session takes a TLS context, never TLS options")

    def reset(self) -> None:
        """Make the session as new: its ``GET_LOCK`` locks released, its temporary tables
        dropped, its variables (``time_zone``) back to the server's; then utf8mb4 and autocommit
        again, as a new connection has them."""
        self._execute_command(COM_RESET_CONNECTION, b"")  # type: ignore[attr-defined]
        self._read_ok_packet()  # type: ignore[attr-defined]
        self.set_character_set(self.charset)
        self.autocommit(True)


def quietly_closed(session: Session) -> None:
    """Closed, or already gone: a session given up on has nothing more worth saying."""
    with suppress(pymysql.Error, OSError):
        session.close()


class SessionPool:
    """At most :data:`POOL_SIZE` idle sessions; each in use by one thread only.

    A session goes back only after work that ended without an exception, and only once reset;
    an idle one is pinged before it is handed out, and replaced if it does not answer.
    """

    def __init__(self, *, size: int = POOL_SIZE) -> None:
        self._size = size
        self._idle: list[Session] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def session(self, *, connect: Callable[[], Session]) -> Iterator[Session]:
        """An idle session, else a new one from ``connect`` (not kept by the pool: an
        integration and its pool refer to each other in one direction only, so a dropped
        integration's sessions close with it)."""
        session = self._take() or connect()
        try:
            yield session
        except BaseException:
            # In an unknown state (a statement half read, a lock held): never reused.
            quietly_closed(session)
            raise
        self._give_back(session)

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        """Close the idle sessions; those in use are closed when their work ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for session in idle:
            quietly_closed(session)

    def _take(self) -> Session | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                session = self._idle.pop()  # the most recent: the least likely to have timed out
            try:
                session.ping()
            except (pymysql.Error, OSError):
                quietly_closed(session)  # ended by the server (wait_timeout, a restart)
                continue
            return session

    def _give_back(self, session: Session) -> None:
        try:
            session.reset()
        except (pymysql.Error, OSError):
            quietly_closed(session)
            return
        with self._lock:
            if not self._closed and len(self._idle) < self._size:
                self._idle.append(session)
                return
        quietly_closed(session)
