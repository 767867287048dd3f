"""Socket Mode on loopback: hello, envelopes round-robin over connections, acks matched back."""

from __future__ import annotations

import logging
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from . import jsonio
from .models import Ack, AckTimeoutError, NoConnectionError

JSON = dict[str, Any]

_log = logging.getLogger("slacksim.socket")


@dataclass(slots=True)
class _Connection:
    id: str
    ws: ServerConnection
    send_lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, text: str) -> None:
        with self.send_lock:
            self.ws.send(text)


@dataclass(slots=True)
class _Pending:
    event: threading.Event = field(default_factory=threading.Event)
    payload: JSON | None = None
    received_at: float = 0.0
    connection_id: str = ""


@dataclass(frozen=True, slots=True)
class StrayAck:
    """An ack nobody waits for: late (after a timeout), duplicated, or for an unknown envelope."""

    message: JSON
    received_at: float
    connection_id: str


class SocketModeServer:
    def __init__(self, *, app_id: str) -> None:
        self._app_id = app_id
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._connections: dict[str, _Connection] = {}
        self._round_robin = 0
        self._next_id = 0
        self._tickets: set[str] = set()
        self._pending: dict[str, _Pending] = {}
        self.stray_acks: list[StrayAck] = []
        self.connections_opened = 0
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            compression=None,  # the SDK's builtin client speaks no extensions
            ping_interval=None,  # the SDK pings us; Slack's own keepalive adds nothing here
            close_timeout=1,
            max_size=None,
            logger=_log,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="slacksim-socket", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.drop_connections(notify=False)
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.socket.getsockname()[1])

    def issue_url(self) -> str:
        """A fresh single-use URL, as apps.connections.open hands out."""
        ticket = secrets.token_hex(16)
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self._app_id}"

    # --- connections ------------------------------------------------------------------------

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._lock:
            valid = url.path.rstrip("/") == "/link" and ticket in self._tickets
            self._tickets.discard(ticket)
        if valid:
            return None
        return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")

    def _handle(self, ws: ServerConnection) -> None:
        # Envelopes are small writes that must not wait for Nagle's algorithm.
        ws.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._next_id += 1
            connection = _Connection(f"c{self._next_id}", ws)
            self._connections[connection.id] = connection
            self.connections_opened += 1
            count = len(self._connections)
        try:
            connection.send(jsonio.dumps(self._hello(count)))
            with self._lock:
                self._changed.notify_all()
            for raw in ws:
                self._on_message(connection, raw)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connections.pop(connection.id, None)
                self._changed.notify_all()

    def _hello(self, count: int) -> JSON:
        return {
            "type": "hello",
            "num_connections": count,
            "debug_info": {
                "host": "applink-slacksim",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self._app_id},
        }

    def _on_message(self, connection: _Connection, raw: str | bytes) -> None:
        received_at = time.perf_counter()
        try:
            message = jsonio.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        envelope_id = message.get("envelope_id")
        with self._lock:
            pending = self._pending.pop(envelope_id, None) if isinstance(envelope_id, str) else None
            if pending is None:
                self.stray_acks.append(StrayAck(message, received_at, connection.id))
                return
        payload = message.get("payload")
        pending.payload = payload if isinstance(payload, dict) else None
        pending.received_at = received_at
        pending.connection_id = connection.id
        pending.event.set()

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._connections)

    def connection_ids(self) -> list[str]:
        with self._lock:
            return list(self._connections)

    def wait_for_connections(self, *, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._connections) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NoConnectionError(
                        f"{len(self._connections)} of {n} Socket Mode connections after {timeout}s"
                    )
                self._changed.wait(left)

    def drop_connections(self, *, notify: bool = True) -> int:
        """Close every socket. With notify, first send Slack's `disconnect` message.

        The SDK's builtin client reconnects at once on `disconnect`; on a bare close it only
        notices at its next ping-interval check (Bolt's default: 10 s).
        """
        with self._lock:
            dropped = list(self._connections.values())
            self._connections.clear()
            self._changed.notify_all()
        closers = []
        for connection in dropped:
            closers.append(
                threading.Thread(target=self._close, args=(connection, notify), daemon=True)
            )
            closers[-1].start()
        for closer in closers:
            closer.join(timeout=3)
        return len(dropped)

    @staticmethod
    def _close(connection: _Connection, notify: bool) -> None:
        try:
            if notify:
                disconnect = {
                    "type": "disconnect",
                    "reason": "refresh_requested",
                    "debug_info": {"host": "applink-slacksim"},
                }
                connection.send(jsonio.dumps(disconnect))
            connection.ws.close(code=1001, reason="slacksim dropped the connection")
        except Exception:  # noqa: S110 - the socket may already be gone; closing is best effort
            pass

    # --- envelopes --------------------------------------------------------------------------

    def _pick(self, deadline: float) -> _Connection:
        with self._lock:
            while not self._connections:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NoConnectionError("no Socket Mode connection is open")
                self._changed.wait(left)
            ids = list(self._connections)
            self._round_robin += 1
            return self._connections[ids[self._round_robin % len(ids)]]

    def send(self, envelope: JSON, *, timeout: float) -> Ack:
        """Deliver to one connection (round-robin, like Slack) and wait for the ack."""
        deadline = time.monotonic() + timeout
        envelope_id = str(envelope["envelope_id"])
        text = jsonio.dumps(envelope)
        pending = _Pending()
        with self._lock:
            self._pending[envelope_id] = pending
        try:
            while True:
                connection = self._pick(deadline)
                sent_at = time.perf_counter()
                try:
                    connection.send(text)
                    break
                except ConnectionClosed:
                    # Slack retries delivery on another connection when one goes away.
                    with self._lock:
                        if self._connections.get(connection.id) is connection:
                            del self._connections[connection.id]
            if not pending.event.wait(max(0.0, deadline - time.monotonic())):
                raise AckTimeoutError(
                    f"no ack for {envelope.get('type')} envelope {envelope_id} within {timeout}s"
                )
        finally:
            with self._lock:
                self._pending.pop(envelope_id, None)
        return Ack(
            envelope_id=envelope_id,
            payload=pending.payload,
            latency=pending.received_at - sent_at,
            sent_at=sent_at,
            connection_id=connection.id,
            envelope=envelope,
        )

    def send_raw(self, message: JSON) -> int:
        """Send a non-envelope message (e.g. `disconnect`) to every connection."""
        with self._lock:
            connections = list(self._connections.values())
        text = jsonio.dumps(message)
        for connection in connections:
            connection.send(text)
        return len(connections)
