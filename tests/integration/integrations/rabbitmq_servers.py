"""Helpers for the RabbitMQ tests: the machine's broker, vhosts unique to this run, logging in
over AMQP (pika) with delivered credentials, and a few loopback fakes of the management API."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from app.integrations.base import AccessDetails
from app.integrations.rabbitmq import RabbitMQIntegration
from domain.connections import RESOLVED, RabbitMQConnection
from tests.integration.integrations.integration_servers import RUN

MANAGEMENT_URL = "http://127.0.0.1:15672"
ADMIN_USER, ADMIN_PASSWORD = "guest", "guest"
AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672
ACCESS_REFUSED = 403
NOT_ALLOWED = 530


@dataclass(frozen=True)
class Vhosts:
    main: str
    other: str


def vhosts_for_run() -> Vhosts:
    return Vhosts(main=f"jit-test-rabbit-{RUN}", other=f"jit-test-rabbit-{RUN}-other")


def admin_api(user: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> httpx.Client:
    return httpx.Client(base_url=f"{MANAGEMENT_URL}/api/", auth=(user, password), timeout=10)


def q(segment: str) -> str:
    return quote(segment, safe="")


def create_vhosts(vhosts: Vhosts) -> None:
    """Both vhosts, with the admin login allowed everything in them (as documented)."""
    with admin_api() as api:
        for vhost in (vhosts.main, vhosts.other):
            api.put(f"vhosts/{q(vhost)}").raise_for_status()
            api.put(
                f"permissions/{q(vhost)}/{ADMIN_USER}",
                json={"configure": ".*", "write": ".*", "read": ".*"},
            ).raise_for_status()


def delete_vhosts(vhosts: Vhosts) -> None:
    """Deleting a vhost deletes its queues, exchanges and permissions."""
    with admin_api() as api:
        for vhost in (vhosts.main, vhosts.other):
            api.delete(f"vhosts/{q(vhost)}")


@contextmanager
def scene() -> Iterator[Vhosts]:
    """This run's two vhosts; in the main one, what an application would have declared:
    ``orders.events`` and ``billing.events`` routing ``new`` to ``orders.inbox`` and
    ``billing.inbox``. Everything goes with the vhosts at the end."""
    made = vhosts_for_run()
    create_vhosts(made)
    try:
        with admin_channel(made.main) as channel:
            for prefix in ("orders", "billing"):
                channel.exchange_declare(f"{prefix}.events", "direct", durable=True)
                channel.queue_declare(f"{prefix}.inbox", durable=True)
                channel.queue_bind(f"{prefix}.inbox", f"{prefix}.events", routing_key="new")
        with admin_channel(made.other) as channel:
            channel.queue_declare("orders.inbox", durable=True)
        yield made
    finally:
        delete_vhosts(made)


def delete_user(name: str) -> None:
    """Through the API, not revoke(): a broken revoke must not leave users behind."""
    with admin_api() as api:
        api.delete(f"users/{q(name)}")


def user_exists(name: str) -> bool:
    with admin_api() as api:
        return api.get(f"users/{q(name)}").status_code == 200


def connections_of(name: str) -> list[dict[str, Any]]:
    with admin_api() as api:
        answer = api.get(f"connections/username/{q(name)}")
        answer.raise_for_status()
        listed: list[dict[str, Any]] = answer.json()
        return listed


def integration(
    vhosts: Vhosts,
    *,
    user: str = ADMIN_USER,
    password: str = ADMIN_PASSWORD,
    url: str = MANAGEMENT_URL,
    name: str = "test-rabbitmq",
    timeout_seconds: float = 10,
) -> RabbitMQIntegration:
    connection = RabbitMQConnection.model_validate(
        {
            "management_url": url,
            "user": user,
            "password": password,
            "amqp_host": AMQP_HOST,
            "amqp_port": AMQP_PORT,
            "vhosts": [vhosts.main, vhosts.other],
            "timeout_seconds": timeout_seconds,
        },
        context={RESOLVED: True},
    )
    return RabbitMQIntegration(name=name, connection=connection)


def amqp_login(
    details: AccessDetails, *, vhost: str | None = None, password: str | None = None
) -> BlockingConnection:
    """Log in with the delivered credentials, as the requester would."""
    fields = details.fields
    parameters = pika.ConnectionParameters(
        host=fields["host"],
        port=int(fields["port"]),
        virtual_host=vhost or fields["vhost"].split(", ")[0],
        credentials=pika.PlainCredentials(
            fields["user"], fields["password"] if password is None else password
        ),
        connection_attempts=1,
        socket_timeout=5,
        blocked_connection_timeout=5,
    )
    return pika.BlockingConnection(parameters)


@contextmanager
def admin_channel(vhost: str) -> Iterator[BlockingChannel]:
    """A channel of the admin login, to set the scene the way an application would."""
    connection = pika.BlockingConnection(
        pika.ConnectionParameters(
            host=AMQP_HOST,
            port=AMQP_PORT,
            virtual_host=vhost,
            credentials=pika.PlainCredentials(ADMIN_USER, ADMIN_PASSWORD),
        )
    )
    try:
        yield connection.channel()
    finally:
        connection.close()


def refusal(action: Callable[[], object]) -> int | None:
    """The AMQP reply code the broker closed the channel (or connection) with, ``None`` if the
    action went through."""
    try:
        action()
    except pika.exceptions.ChannelClosedByBroker as closed:
        return int(closed.reply_code)
    except pika.exceptions.ConnectionClosedByBroker as closed:
        return int(closed.reply_code)
    return None


class Answering:
    """Keeps a connection answering the broker from a thread of its own, as a consuming client
    does; records what ended it (pika connections belong to one thread: hand it over idle)."""

    def __init__(self, connection: BlockingConnection) -> None:
        self.connection = connection
        self.ended_by: BaseException | None = None
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            while self.connection.is_open:
                self.connection.process_data_events(time_limit=0.05)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.StreamLostError) as exc:
            self.ended_by = exc

    def wait(self, *, seconds: float = 5.0) -> BaseException | None:
        self._thread.join(timeout=seconds)
        return self.ended_by


# --- Loopback fakes of the management API ------------------------------------------------------


class _FakeHandler(http.server.BaseHTTPRequestHandler):
    """GETs answer like a broker without the user; writes get whatever ``server.on_write`` does."""

    server: _FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _answer(self, status: int, body: object) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.seen.append(f"GET {self.path}")
        if self.path.startswith("/api/vhosts/"):
            self._answer(200, {"name": "x"})
        else:
            self._answer(404, {"error": "Object Not Found", "reason": "Not Found"})

    def _write(self) -> None:
        self.server.seen.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.on_write(self)

    def do_PUT(self) -> None:
        self._write()

    def do_DELETE(self) -> None:
        self._write()


class _FakeServer(http.server.ThreadingHTTPServer):
    def __init__(self, on_write: Callable[[_FakeHandler], None]) -> None:
        super().__init__(("127.0.0.1", 0), _FakeHandler)
        self.on_write = on_write
        self.seen: list[str] = []
        self.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def fake_management_api(on_write: Callable[[_FakeHandler], None]) -> Iterator[_FakeServer]:
    server = _FakeServer(on_write)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def answer_500(handler: _FakeHandler) -> None:
    handler._answer(500, {"error": "internal"})


def answer_403(handler: _FakeHandler) -> None:
    handler._answer(403, {"error": "not_authorised", "reason": "Not administrator user"})


def never_answer(handler: _FakeHandler) -> None:
    time.sleep(3)  # past the integration's timeout: the request was sent, no answer came
