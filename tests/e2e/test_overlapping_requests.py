"""Two overlapping requests of one person for the same objects never cut each other off: each
has its own temporary account (``jit_<id>``), so the first one's expiry leaves the second's
delivered credentials working on PostgreSQL, MariaDB, Redis, RabbitMQ and a webhook, until the
second ends too and nothing of either is left (README, "On behalf of a teammate", last
paragraph; docs/architecture.md, "No standing access").

Real servers, reached through the simulator. The sweeps are driven by hand (``sweeps=False``):
besides moving a manual clock, that keeps this bot's reconciler away from the temporary
accounts other tests hold on the same shared servers."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pika
import pika.exceptions
import psycopg
import pymysql
import pytest
import redis as redis_lib

from app.bootstrap import integrations_from
from app.integrations.base import AccessDetails, Integration
from app.integrations.rabbitmq import RabbitMQIntegration
from domain.clock import ManualClock
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.policy import Policy
from tests.e2e.conftest import StartBot
from tests.e2e.credentials import credential_dms
from tests.e2e.harness import ALICE, Bot
from tests.e2e.messages import wait_status
from tests.e2e.modal_steps import request_bundle
from tests.integration.integrations.integration_servers import (
    RUN,
    PgCluster,
    eventually,
    mysql_login,
    mysql_root_query,
    pg_login,
    redis_admin,
    redis_login,
)
from tests.integration.integrations.rabbitmq_servers import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    AMQP_HOST,
    AMQP_PORT,
    MANAGEMENT_URL,
    admin_api,
    admin_channel,
    amqp_login,
    q,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SHOP = f"jit_b{RUN}_shop"
GUARD = f"jit_b{RUN}_guard"
KEYS = f"behalf{RUN}"
VHOST = f"jit-behalf-{RUN}"
INTEGRATIONS = ("prod-postgres", "shop-mysql", "prod-redis", "events-rabbitmq", "zz-ticketing")


@pytest.fixture(scope="module")
def mariadb() -> Iterator[None]:
    """A shop database of this test's own, and one for MariaDB's safeguard events."""
    for name in (SHOP, GUARD):
        mysql_root_query(f"CREATE DATABASE `{name}`")
    mysql_root_query(f"CREATE TABLE `{SHOP}`.orders (id int AUTO_INCREMENT PRIMARY KEY, item text)")
    mysql_root_query(f"INSERT INTO `{SHOP}`.orders (item) VALUES ('apples')")
    yield
    for name in (SHOP, GUARD):
        mysql_root_query(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    """A vhost of this test's own, where ``orders.events`` routes ``new`` to ``orders.inbox``."""
    with admin_api() as api:
        api.put(f"vhosts/{q(VHOST)}").raise_for_status()
        api.put(
            f"permissions/{q(VHOST)}/{ADMIN_USER}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        ).raise_for_status()
    with admin_channel(VHOST) as channel:
        channel.exchange_declare("orders.events", "direct", durable=True)
        channel.queue_declare("orders.inbox", durable=True)
        channel.queue_bind("orders.inbox", "orders.events", routing_key="new")
    yield VHOST
    with admin_api() as api:
        api.delete(f"vhosts/{q(VHOST)}")


@dataclass
class Ticketing:
    """A loopback system behind the webhook integration: it holds an account per grant, with a
    token it hands out, until that account is revoked."""

    url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, document: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if document["action"] == "grant":
                token = self.tokens.setdefault(document["account"], secrets.token_hex(8))
                return {"access_details": {"token": token}, "secret_fields": ["token"]}
            if document["action"] == "revoke":
                self.tokens.pop(document["account"], None)
            return {}

    def works(self, details: AccessDetails) -> bool:
        """Whether a delivered token still lets its holder in."""
        with self._lock:
            return details.fields.get("token") in self.tokens.values()


@pytest.fixture
def ticketing() -> Iterator[Ticketing]:
    system = Ticketing()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            reply = json.dumps(system.answer(json.loads(body))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    system.url = f"http://127.0.0.1:{server.server_address[1]}/jit"
    yield system
    server.shutdown()


def overlap_policy(pg: PgCluster, ticketing: Ticketing) -> Policy:
    objects = [
        {"integration": "prod-postgres", "resource": "sales.orders", "permission": "read_only"},
        {"integration": "shop-mysql", "resource": f"{SHOP}.orders", "permission": "read_write"},
        {"integration": "prod-redis", "resource": f"{KEYS}:*", "permission": "read_only"},
        {
            "integration": "events-rabbitmq",
            "resource": f"{VHOST}:orders.*",
            "permission": "read_write",
        },
        {"integration": "zz-ticketing", "resource": "queue", "permission": "write"},
    ]
    return Policy.model_validate(
        {
            "integrations": [
                {
                    "name": "prod-postgres",
                    "type": "postgresql",
                    "connection": {
                        "host": "127.0.0.1",
                        "port": pg.port,
                        "database": "shop",
                        "user": "postgres",
                        "password": "${OVERLAP_PG_PASSWORD}",
                    },
                },
                {
                    "name": "shop-mysql",
                    "type": "mysql",
                    "connection": {
                        "host": "127.0.0.1",
                        "user": "root",
                        # Each grant also gets its own end-of-access event here.
                        "safeguard_database": GUARD,
                    },
                },
                {
                    "name": "prod-redis",
                    "type": "redis",
                    "connection": {"url": "redis://127.0.0.1:6379/0"},
                },
                {
                    "name": "events-rabbitmq",
                    "type": "rabbitmq",
                    "connection": {
                        "management_url": MANAGEMENT_URL,
                        "user": ADMIN_USER,
                        "password": "${OVERLAP_RABBIT_PASSWORD}",
                        "amqp_host": AMQP_HOST,
                        "amqp_port": AMQP_PORT,
                        "vhosts": [VHOST],
                    },
                },
                {
                    "name": "zz-ticketing",
                    "type": "webhook",
                    "permissions": ["write"],
                    "connection": {
                        "url": ticketing.url,
                        "secret": "${OVERLAP_HOOK_SECRET}",
                        "retries": 1,
                    },
                },
            ],
            "bundles": [{"name": "overlap", "objects": objects}],
            "access_flows": [
                {
                    "name": "self-serve",
                    "grantees": {"users": [ALICE]},
                    "bundles": ["overlap"],
                    "approvers": "automatic",
                    "duration": {"default": "1h", "max": "1h"},
                }
            ],
        }
    )


@dataclass
class Story:
    bot: Bot
    clock: ManualClock
    integrations: dict[str, Integration]
    ticketing: Ticketing
    pg: PgCluster

    def active_request(self) -> tuple[str, dict[str, AccessDetails]]:
        """One more request of Alice for the whole bundle, active, and its credentials."""
        request_id = request_bundle(self.bot, ALICE, "overlap")
        wait_status(self.bot, request_id, Status.ACTIVE, timeout=60)
        self.bot.sim.wait_for(
            lambda: len(credential_dms(self.bot.sim.messages(ALICE), request_id)) == 5,
            timeout=30,
        )
        return request_id, credential_dms(self.bot.sim.messages(ALICE), request_id)

    def expire(self, request_id: str) -> None:
        with self.bot.app.store.read() as uow:
            request = uow.requests.get(RequestId(request_id))
        assert request is not None
        assert request.expires_at is not None
        self.clock.set(request.expires_at + timedelta(seconds=1))
        self.bot.app.run_now("end")
        wait_status(self.bot, request_id, Status.EXPIRED, timeout=60)

    def accounts_left(self, *accounts: str) -> dict[str, list[str]]:
        """Per integration that can list its accounts, which of ``accounts`` it still holds."""
        found: dict[str, list[str]] = {}
        for name, integration in self.integrations.items():
            listed = integration.accounts()
            if listed is not None:
                found[name] = sorted(set(listed) & set(accounts))
        found["zz-ticketing"] = sorted(set(self.ticketing.tokens) & set(accounts))
        return found

    def works_everywhere(self, creds: dict[str, AccessDetails]) -> None:
        """Every credential logs in and does what was granted."""
        with pg_login(creds["prod-postgres"], self.pg) as session:
            assert session.execute("SELECT count(*) FROM sales.orders").fetchone() == (2,)
        my = mysql_login(creds["shop-mysql"])
        try:
            with my.cursor() as cursor:
                cursor.execute(f"INSERT INTO `{SHOP}`.orders (item) VALUES ('pears')")
                cursor.execute(f"SELECT count(*) FROM `{SHOP}`.orders")
                (count,) = cursor.fetchone() or (0,)
                assert int(count) >= 2
        finally:
            my.close()
        cache = redis_login(creds["prod-redis"])
        try:
            assert cache.get(f"{KEYS}:1") == "apples"
        finally:
            cache.close()
        rabbit = amqp_login(creds["events-rabbitmq"])
        try:
            channel = rabbit.channel()
            channel.confirm_delivery()
            channel.basic_publish("orders.events", "new", b"order 7")
            _, _, body = channel.basic_get("orders.inbox", auto_ack=True)
            assert body == b"order 7"
        finally:
            rabbit.close()
        assert self.ticketing.works(creds["zz-ticketing"])

    def works_nowhere(self, creds: dict[str, AccessDetails]) -> None:
        with pytest.raises(psycopg.OperationalError):
            pg_login(creds["prod-postgres"], self.pg).close()
        with pytest.raises(pymysql.err.OperationalError):
            mysql_login(creds["shop-mysql"]).close()
        with pytest.raises(redis_lib.exceptions.RedisError):
            redis_login(creds["prod-redis"]).ping()
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            amqp_login(creds["events-rabbitmq"]).close()
        assert not self.ticketing.works(creds["zz-ticketing"])


def safeguard_events() -> set[str]:
    rows = mysql_root_query(
        "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s", (GUARD,)
    )
    return {str(name) for (name,) in rows}


@pytest.fixture
def story(
    start: StartBot, scram_pg: PgCluster, mariadb: None, vhost: str, ticketing: Ticketing
) -> Iterator[Story]:
    policy = overlap_policy(scram_pg, ticketing)
    env = {
        "OVERLAP_PG_PASSWORD": scram_pg.password,
        "OVERLAP_RABBIT_PASSWORD": ADMIN_PASSWORD,
        "OVERLAP_HOOK_SECRET": "hook-secret",
    }
    integrations = integrations_from(policy, env=env)
    assert isinstance(integrations["events-rabbitmq"], RabbitMQIntegration)
    # Real time as the start: PostgreSQL checks VALID UNTIL against its own clock.
    clock = ManualClock(start=datetime.now(UTC))
    bot = start(policy=policy, integrations=integrations, clock=clock, sweeps=False)
    redis_admin().set(f"{KEYS}:1", "apples")
    yield Story(bot, clock, dict(integrations), ticketing, scram_pg)
    redis_admin().delete(f"{KEYS}:1")


def test_the_first_of_two_overlapping_requests_expiring_leaves_the_second_working_everywhere(
    story: Story,
) -> None:
    first, first_creds = story.active_request()
    story.clock.advance(timedelta(minutes=10))
    second, second_creds = story.active_request()
    one, two = (f"jit_{r.removeprefix('AR-').lower()}" for r in (first, second))
    assert {c.fields.get("user") for c in first_creds.values()} - {None} == {one}
    assert {c.fields.get("user") for c in second_creds.values()} - {None} == {two}
    story.works_everywhere(first_creds)
    story.works_everywhere(second_creds)
    assert safeguard_events() == {f"expire_{one}", f"expire_{two}"}

    story.expire(first)

    wait_status(story.bot, second, Status.ACTIVE)
    story.works_nowhere(first_creds)
    story.works_everywhere(second_creds)
    assert eventually(lambda: safeguard_events() == {f"expire_{two}"})
    assert story.accounts_left(one, two) == {name: [two] for name in INTEGRATIONS}

    story.expire(second)

    story.works_nowhere(second_creds)
    assert story.accounts_left(one, two) == {name: [] for name in INTEGRATIONS}
    assert safeguard_events() == set()
