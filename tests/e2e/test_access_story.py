"""Real grants in PostgreSQL, MariaDB and Redis, credentials per integration, and the whole
bundle expired or revoked at once (issue 5), through the simulator and the real servers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pymysql
import pytest
import redis as redis_lib

from app.bootstrap import integrations_from
from domain.clock import ManualClock
from domain.lifecycle import Status
from domain.policy import Policy
from store.models import AuditEventRow, OutboxRow
from tests.e2e.conftest import StartBot
from tests.e2e.credentials import credential_dms
from tests.e2e.harness import ALICE, AUDIT, BOB, Bot
from tests.e2e.messages import (
    approval_requests,
    history,
    settled,
    status_messages,
    text_of,
    wait_status,
)
from tests.e2e.modal_steps import request_bundle
from tests.integration.integrations.integration_servers import (
    RUN,
    MySQLDatabases,
    PgCluster,
    create_mysql_databases,
    drop_mysql_databases,
    eventually,
    mysql_login,
    mysql_user_exists,
    pg_login,
    pg_role_exists,
    redis_admin,
    redis_login,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def mysql_dbs() -> Iterator[MySQLDatabases]:
    dbs = MySQLDatabases(
        shop=f"jit_s{RUN}_shop", other=f"jit_s{RUN}_other", bulk=f"jit_s{RUN}_bulk",
        lookalike=f"jit_s{RUN}Xshop",
    )  # fmt: skip
    create_mysql_databases(dbs)
    yield dbs
    drop_mysql_databases(dbs)


class _Failing(BaseHTTPRequestHandler):
    """Passes the admin-login check (else nothing of it would be offered), fails every grant."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200 if b'"action":"check"' in body else 500)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def failing_webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jit"
    server.shutdown()


def story_policy(pg: PgCluster, dbs: MySQLDatabases, *, webhook: str | None = None) -> Policy:
    integrations: list[dict[str, Any]] = [
        {
            "name": "prod-postgres",
            "type": "postgresql",
            "connection": {
                "host": "127.0.0.1",
                "port": pg.port,
                "database": "shop",
                "user": "postgres",
                "password": "${STORY_PG_PASSWORD}",
            },
        },
        {"name": "prod-redis", "type": "redis", "connection": {"url": "redis://127.0.0.1:6379/0"}},
        {
            "name": "shop-mysql",
            "type": "mysql",
            "connection": {"host": "127.0.0.1", "user": "root"},
        },
    ]
    objects = [
        {"integration": "prod-postgres", "resource": "sales.orders", "permission": "read_only"},
        {"integration": "prod-redis", "resource": "orders:*", "permission": "read_only"},
        {"integration": "shop-mysql", "resource": f"{dbs.shop}.orders", "permission": "read_write"},
    ]
    if webhook:
        integrations.append(
            {
                "name": "zz-ticketing",
                "type": "webhook",
                "permissions": ["write"],
                "connection": {"url": webhook, "secret": "${STORY_HOOK_SECRET}", "retries": 1},
            }
        )
        objects.append({"integration": "zz-ticketing", "resource": "queue", "permission": "write"})
    return Policy.model_validate(
        {
            "integrations": integrations,
            "bundles": [{"name": "story", "objects": objects}],
            "access_flows": [
                {
                    "name": "developers",
                    "grantees": {"groups": ["@developers"]},
                    "bundles": ["story"],
                    "approvers": {"manager": True},
                    "duration": {"default": "1h", "max": "1h"},
                }
            ],
            "managers": {"alice@example.com": "bob@example.com"},
        }
    )


def start_story(
    start: StartBot, pg: PgCluster, dbs: MySQLDatabases, *, webhook: str | None = None, **kw: Any
) -> Bot:
    policy = story_policy(pg, dbs, webhook=webhook)
    env = {"STORY_PG_PASSWORD": pg.password, "STORY_HOOK_SECRET": "hook-secret"}
    return start(policy=policy, integrations=integrations_from(policy, env=env), **kw)


def approved_and_active(bot: Bot) -> str:
    request_id = request_bundle(bot, ALICE, "story")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    [ask] = approval_requests(bot, BOB, request_id)
    bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    wait_status(bot, request_id, Status.ACTIVE, timeout=30)
    return request_id


def test_credentials_arrive_per_integration_work_as_granted_and_stop_at_expiry(
    start: StartBot,
    scram_pg: PgCluster,
    mysql_dbs: MySQLDatabases,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # Real time as the start: PostgreSQL checks VALID UNTIL against its own clock.
    clock = ManualClock(start=datetime.now(UTC))
    bot = start_story(start, scram_pg, mysql_dbs, clock=clock)
    redis_admin().set("orders:1", "apples")
    redis_admin().set("secret:1", "hidden")
    request_id = approved_and_active(bot)
    bot.sim.wait_for(lambda: len(credential_dms(bot.sim.messages(ALICE), request_id)) == 3)
    creds = credential_dms(bot.sim.messages(ALICE), request_id)
    assert set(creds) == {"prod-postgres", "prod-redis", "shop-mysql"}

    # PostgreSQL: the password is really checked, and read_only means read only.
    with pytest.raises(psycopg.OperationalError):
        pg_login(creds["prod-postgres"], scram_pg, password="wrong").close()
    pg_session = pg_login(creds["prod-postgres"], scram_pg)
    assert pg_session.execute("SELECT count(*) FROM sales.orders").fetchone() == (2,)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        pg_session.execute("INSERT INTO sales.orders (item) VALUES ('x')")
    # MariaDB: read_write on one table.
    my = mysql_login(creds["shop-mysql"])
    with my.cursor() as cursor:
        cursor.execute(f"INSERT INTO `{mysql_dbs.shop}`.orders (item) VALUES ('pears')")
        with pytest.raises(pymysql.err.OperationalError):
            cursor.execute(f"SELECT * FROM `{mysql_dbs.other}`.secrets")
    # Redis: allowed keys only.
    cache = redis_login(creds["prod-redis"])
    assert cache.get("orders:1") == "apples"
    with pytest.raises(redis_lib.exceptions.NoPermissionError):
        cache.get("secret:1")

    # Expiry: every object removed together, sessions opened during the grant are gone.
    with bot.app.store.read() as uow:
        request = uow.requests.get(request_id)  # type: ignore[arg-type]
    assert request is not None
    assert request.expires_at is not None
    clock.set(request.expires_at + timedelta(seconds=1))
    bot.app.fire("end")
    wait_status(bot, request_id, Status.EXPIRED, timeout=30)
    settled(bot, request_id, channels=[ALICE, AUDIT])
    with pytest.raises(psycopg.OperationalError):
        pg_login(creds["prod-postgres"], scram_pg).close()
    assert eventually(lambda: _pg_dead(pg_session))
    with pytest.raises(pymysql.err.OperationalError):
        mysql_login(creds["shop-mysql"]).close()
    with pytest.raises(redis_lib.exceptions.RedisError):
        redis_login(creds["prod-redis"]).ping()
    assert eventually(lambda: _redis_dead(cache))

    # One message for each status change, granting excepted (it rewrites the approval's DM in
    # place); no secret anywhere but the requester's DMs.
    assert history(bot, request_id)[-1] is Status.EXPIRED
    granting = history(bot, request_id).count(Status.GRANTING)
    assert granting == 1
    assert len(status_messages(bot, ALICE, request_id)) == len(history(bot, request_id)) - granting
    assert len(status_messages(bot, AUDIT, request_id)) == len(history(bot, request_id))
    passwords = [c.fields["password"] for c in creds.values()]
    for record in caplog.records:
        for password in passwords:
            assert password not in record.getMessage()
    for message in bot.sim.messages(AUDIT):
        for password in passwords:
            assert password not in text_of(message)
    with bot.app.store.read() as uow:
        stored = [str(r.payload) + str(r.sealed) for r in uow.session.query(OutboxRow)]
        stored += [str(r.data) for r in uow.session.query(AuditEventRow)]
    for password in passwords:
        assert not any(password in s for s in stored)


def test_the_requester_revokes_from_slack_and_everything_ends_together(
    start: StartBot, scram_pg: PgCluster, mysql_dbs: MySQLDatabases
) -> None:
    bot = start_story(start, scram_pg, mysql_dbs)
    request_id = approved_and_active(bot)
    bot.sim.wait_for(lambda: len(credential_dms(bot.sim.messages(ALICE), request_id)) == 3)
    creds = credential_dms(bot.sim.messages(ALICE), request_id)
    pg_login(creds["prod-postgres"], scram_pg).close()
    bot.sim.wait_for(
        lambda: any("is active" in text_of(m) for m in status_messages(bot, ALICE, request_id))
    )
    active = next(m for m in status_messages(bot, ALICE, request_id) if "is active" in text_of(m))
    bot.sim.click(ALICE, action_id="request.revoke", message=(active.channel, active.ts))
    wait_status(bot, request_id, Status.REVOKED, timeout=30)
    with pytest.raises(psycopg.OperationalError):
        pg_login(creds["prod-postgres"], scram_pg).close()
    with pytest.raises(pymysql.err.OperationalError):
        mysql_login(creds["shop-mysql"]).close()
    with pytest.raises(redis_lib.exceptions.RedisError):
        redis_login(creds["prod-redis"]).ping()
    settled(bot, request_id, channels=[ALICE, AUDIT])
    assert f"by <@{ALICE}>" in text_of(status_messages(bot, AUDIT, request_id)[-1])


def test_a_failure_in_the_last_integration_leaves_nothing_granted_in_the_others(
    start: StartBot, scram_pg: PgCluster, mysql_dbs: MySQLDatabases, failing_webhook: str
) -> None:
    bot = start_story(start, scram_pg, mysql_dbs, webhook=failing_webhook)
    request_id = request_bundle(bot, ALICE, "story")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    [ask] = approval_requests(bot, BOB, request_id)
    bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    wait_status(bot, request_id, Status.FAILED, timeout=60)
    account = "jit_" + request_id.removeprefix("AR-").lower()
    assert not pg_role_exists(scram_pg, account)
    assert not mysql_user_exists(account)
    assert account not in redis_admin().acl_users()
    settled(bot, request_id, channels=[ALICE, AUDIT])
    failed = text_of(status_messages(bot, ALICE, request_id)[-1])
    assert "zz-ticketing" in failed
    assert credential_dms(bot.sim.messages(ALICE), request_id) == {}


def _pg_dead(session: Any) -> bool:
    try:
        session.execute("SELECT 1")
    except psycopg.Error:
        return True
    return False


def _redis_dead(client: Any) -> bool:
    try:
        client.ping()
    except redis_lib.exceptions.RedisError:
        return True
    return False
