"""Health and metrics over HTTP (issue 17): the real app with ``HTTP_PORT`` set, scraped and
probed with a real HTTP client while people use it through the Slack simulator."""

from __future__ import annotations

import json
import os
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from blocks.payloads import RequestButton
from domain.clock import SystemClock
from domain.lifecycle import Status
from domain.policy import Policy
from store.engine import make_engine
from store.migrate import upgrade
from store.unit_of_work import Store
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT, BOB, DAVE, Bot, standard_policy
from tests.e2e.messages import approval_requests, forged_click, settled, wait_status
from tests.e2e.modal_steps import request_bundle
from tests.e2e.test_two_instances import seed_active
from tests.fakes import RecordingIntegration

pytestmark = pytest.mark.e2e

ADMIN_PG_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BUNDLE_INTEGRATIONS = ("prod-postgres", "prod-redis", "shop-mysql")
"""Every integration the ``prod-incident`` bundle grants on (tests/e2e/harness.py)."""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=15) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def probe(port: int, path: str) -> tuple[int, dict[str, Any]]:
    status, body = get(port, path)
    found: dict[str, Any] = json.loads(body)
    return status, found


def scrape(port: int) -> Samples:
    status, body = get(port, "/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def start_watched(start: StartBot, **kwargs: Any) -> tuple[Bot, int]:
    port = free_port()
    bot = start(http_port=port, **kwargs)
    return bot, port


def test_an_approval_that_ends_only_a_step_counts_as_step_approved_and_the_last_as_approved(
    start: StartBot,
) -> None:
    data = standard_policy().model_dump(mode="json")
    for flow in data["access_flows"]:
        if flow["name"] == "developers":
            flow["approvers"] = [{"manager": True}, {"users": [DAVE]}]
    bot, port = start_watched(start, policy=Policy.model_validate(data))
    before = scrape(port)
    request_id = request_bundle(bot, ALICE, "prod-incident")

    def approve_as(approver: str) -> None:
        bot.sim.wait_for(lambda: len(approval_requests(bot, approver, request_id)) == 1)
        [ask] = approval_requests(bot, approver, request_id)
        bot.sim.click(approver, action_id="request.approve", message=(ask.channel, ask.ts))

    approve_as(BOB)  # step 1 of 2: Alice's manager
    bot.sim.wait_for(lambda: len(approval_requests(bot, DAVE, request_id)) == 1)
    first = scrape(port)
    assert moved(before, first, "jit_decisions_total", outcome="step_approved") == 1
    assert moved(before, first, "jit_decisions_total", outcome="approved") == 0
    approve_as(DAVE)  # step 2 of 2
    wait_status(bot, request_id, Status.ACTIVE)
    after = scrape(port)
    assert moved(before, after, "jit_decisions_total", outcome="step_approved") == 1
    assert moved(before, after, "jit_decisions_total", outcome="approved") == 1
    assert moved(before, after, "jit_decisions_total", outcome="refused") == 0


def test_a_request_story_moves_each_counter_by_what_happened(start: StartBot) -> None:
    bot, port = start_watched(start)
    assert probe(port, "/healthz")[0] == 200
    before = scrape(port)
    bot.sim.inject(method="chat.postMessage", status=429, retry_after=1, times=1)

    request_id = request_bundle(bot, ALICE, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    pending = scrape(port)
    assert value(pending, "jit_requests", status="pending", flow="developers") == 1
    [ask] = approval_requests(bot, BOB, request_id)
    bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    wait_status(bot, request_id, Status.ACTIVE)
    active = scrape(port)

    assert moved(before, active, "jit_decisions_total", outcome="approved") == 1
    assert moved(before, active, "jit_decisions_total", outcome="denied") == 0
    for name in BUNDLE_INTEGRATIONS:
        assert moved(before, active, "jit_grant_seconds_count", integration=name) == 1, name
        assert moved(before, active, "jit_grant_failures_total", integration=name) == 0
        assert moved(before, active, "jit_revoke_seconds_count", integration=name) == 0
    assert value(active, "jit_requests", status="active", flow="developers") == 1
    assert value(active, "jit_requests", status="pending", flow="developers") == 0

    ack = bot.sim.slash_command(ALICE, text=f"revoke {request_id}")
    assert ack.payload is not None
    wait_status(bot, request_id, Status.REVOKED)
    settled(bot, request_id, channels=[ALICE, AUDIT])
    after = scrape(port)

    for name in BUNDLE_INTEGRATIONS:
        assert moved(active, after, "jit_revoke_seconds_count", integration=name) == 1, name
        assert moved(before, after, "jit_revoke_failures_total", integration=name) == 0
        assert moved(before, after, "jit_grant_seconds_count", integration=name) == 1
    assert moved(before, after, "jit_decisions_total", outcome="approved") == 1
    assert value(after, "jit_requests", status="revoked", flow="developers") == 1
    assert value(after, "jit_requests", status="active", flow="developers") == 0
    assert value(after, "jit_outbox_pending") == 0
    assert value(after, "jit_outbox_oldest_pending_age_seconds") == 0
    assert value(after, "jit_database_up") == 1
    # The one 429 the simulator answered, seen where the relay's client saw it.
    assert moved(before, after, "jit_slack_rate_limited_total", method="chat.postMessage") == 1
    assert (
        moved(
            before,
            after,
            "jit_slack_api_errors_total",
            method="chat.postMessage",
            error="ratelimited",
        )
        == 1
    )
    status, health = probe(port, "/healthz")
    assert status == 200, health
    assert health["checks"]["worker-provision"] == "ok"
    assert health["checks"]["outbox-relay"] == "ok"
    assert health["checks"]["scheduler"] == "ok"
    status, ready = probe(port, "/readyz")
    assert status == 200, ready
    assert {"database", "slack", *(f"integration:{n}" for n in BUNDLE_INTEGRATIONS)} <= set(
        ready["checks"]
    )


def test_a_click_delivered_twice_is_one_approval_and_a_strangers_click_one_refusal(
    start: StartBot,
) -> None:
    bot, port = start_watched(start)
    request_id = request_bundle(bot, ALICE, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    before = scrape(port)
    bot.sim.send_envelope(
        type_="interactive",
        payload=forged_click(
            user=DAVE,
            action_id="request.approve",
            value=RequestButton(r=request_id, f="developers").encode(),
            channel=bot.sim.dm_channel(DAVE),
        ),
    )
    [ask] = approval_requests(bot, BOB, request_id)
    first = bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    bot.sim.redeliver(first)
    wait_status(bot, request_id, Status.ACTIVE)
    # The second delivery is told who won: neither a decision nor a refusal.
    bot.sim.wait_for(lambda: len(bot.sim.ephemerals(BOB)) == 2)
    bot.sim.wait_for(lambda: len(bot.sim.ephemerals(DAVE)) == 1)
    after = scrape(port)
    assert moved(before, after, "jit_decisions_total", outcome="approved") == 1
    assert moved(before, after, "jit_decisions_total", outcome="denied") == 0
    assert moved(before, after, "jit_decisions_total", outcome="refused") == 1


def test_expiries_that_fell_due_while_down_are_measured_as_late(
    start: StartBot, tmp_path: Path
) -> None:
    redis = RecordingIntegration(name="prod-redis")
    database_url = f"sqlite:///{tmp_path}/late.db"
    engine = make_engine(database_url)
    upgrade(engine)
    ids = seed_active(
        Store(engine=engine), redis, count=3, due=SystemClock().now() - timedelta(hours=3)
    )
    engine.dispose()

    bot, port = start_watched(start, database_url=database_url, integrations={"prod-redis": redis})
    for request_id in ids:
        wait_status(bot, request_id, Status.EXPIRED)
    samples = scrape(port)
    assert value(samples, "jit_expiry_lateness_seconds_count") == 3
    assert value(samples, "jit_expiry_lateness_seconds_sum") >= 3 * 3 * 3600
    # Every one of them was more than 15 minutes late: none in a lower bucket.
    assert value(samples, "jit_expiry_lateness_seconds_bucket", le="900.0") == 0
    assert value(samples, "jit_expiry_overdue_seconds") == 0
    assert value(samples, "jit_revoke_seconds_count", integration="prod-redis") == 3
    assert value(samples, "jit_requests", status="expired", flow="developers") == 3


def test_healthz_names_a_worker_whose_thread_has_stopped(start: StartBot) -> None:
    bot, port = start_watched(start)
    assert probe(port, "/healthz")[0] == 200
    bot.app.triggers["housekeeping"].stop()
    status, health = probe(port, "/healthz")
    assert status == 503
    assert health["status"] == "unavailable"
    assert health["checks"]["worker-housekeeping"] == "thread not running"
    assert health["checks"]["worker-provision"] == "ok"


@pytest.fixture
def own_pg_database() -> Iterator[tuple[str, str]]:
    """A PostgreSQL database for one bot, and its name (so a test can shut it off)."""
    name = f"jit_metrics_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url, name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def allow_connections(name: str, *, allowed: bool) -> None:
    """``ALLOW_CONNECTIONS false`` keeps everyone out, superusers too; open sessions are ended."""
    admin = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}')
        )
        if not allowed:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
    admin.dispose()


@pytest.mark.integration
def test_readyz_is_unready_while_the_database_refuses_connections_and_ready_again_after(
    start: StartBot, own_pg_database: tuple[str, str]
) -> None:
    url, name = own_pg_database
    bot, port = start_watched(start, database_url=url)
    status, ready = probe(port, "/readyz")
    assert status == 200, ready
    assert ready["checks"]["database"] == "ok"

    allow_connections(name, allowed=False)
    try:
        bot.sim.wait_for(lambda: probe(port, "/readyz")[0] == 503, timeout=15)
        status, ready = probe(port, "/readyz")
        assert status == 503
        assert ready["checks"]["database"].startswith("failed (OperationalError")
        assert ready["checks"]["slack"] == "ok"
        # Alive all the same: restarting would not bring the database back.
        assert probe(port, "/healthz")[0] == 200
        assert value(scrape(port), "jit_database_up") == 0
    finally:
        allow_connections(name, allowed=True)

    bot.sim.wait_for(lambda: probe(port, "/readyz")[0] == 200, timeout=15)
    assert value(scrape(port), "jit_database_up") == 1


def test_readyz_is_unready_while_socket_mode_is_down_and_ready_again_after_reconnecting(
    start: StartBot,
) -> None:
    bot, port = start_watched(start)
    assert probe(port, "/readyz")[0] == 200
    before = scrape(port)
    # Slack closes the connection and, for a while, hands out no new one.
    bot.sim.inject(method="apps.connections.open", status=400, error="internal_error", times=None)
    bot.sim.drop_connections(notify=True)

    bot.sim.wait_for(lambda: probe(port, "/readyz")[0] == 503, timeout=10)
    status, ready = probe(port, "/readyz")
    assert status == 503
    assert ready["checks"]["slack"] == "Socket Mode not connected"
    assert ready["checks"]["database"] == "ok"
    assert probe(port, "/healthz")[0] == 200
    bot.sim.wait_for(
        lambda: (
            moved(
                before,
                scrape(port),
                "jit_slack_api_errors_total",
                method="apps.connections.open",
                error="internal_error",
            )
            >= 1
        )
    )

    bot.sim.clear_faults()
    # The SDK's monitor retries every ping interval (10 s in Bolt).
    bot.sim.wait_for_connections(n=1, timeout=25)
    bot.sim.wait_for(lambda: probe(port, "/readyz")[0] == 200, timeout=10)


def test_the_endpoint_is_off_unless_a_port_is_set(start: StartBot) -> None:
    bot = start(policy=standard_policy())
    assert bot.app.operations is None
