"""The app killed with SIGKILL while granting and while expiring, then restarted: a consistent
final state, nothing left granted past its expiry, no request stuck (issue 5)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest

from app.bootstrap import Application
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim import Simulator
from slacksim.pytest_plugin import SimulatorFactory
from store.engine import make_engine
from store.unit_of_work import Store
from tests.e2e.credentials import credential_dms
from tests.e2e.harness import AUDIT, OSCAR, Bot, workspace
from tests.e2e.messages import status_messages
from tests.e2e.modal_steps import request_bundle
from tests.e2e.subprocess_app import AppProcess, start_app_process, write_policy
from tests.integration.integrations.integration_servers import (
    RUN,
    MySQLDatabases,
    PgCluster,
    create_mysql_databases,
    drop_mysql_databases,
    mysql_user_exists,
    pg_role_exists,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


class Hook:
    """A webhook target that can hold calls until told to let them through."""

    def __init__(self) -> None:
        self.hold_grants = threading.Event()
        self.hold_revokes = threading.Event()
        self.release = threading.Event()
        self.calls: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.calls.append(body["action"])
                held = {"grant": hook.hold_grants, "revoke": hook.hold_revokes}.get(body["action"])
                if held is not None and held.is_set():
                    hook.release.wait(60)
                    return  # the app was killed meanwhile: nobody reads an answer
                answer = json.dumps({"access_details": {"ticket queue": "ops"}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jit"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    target = Hook()
    yield target
    target.release.set()
    target.server.shutdown()


@pytest.fixture(scope="module")
def crash_dbs() -> Iterator[MySQLDatabases]:
    dbs = MySQLDatabases(
        shop=f"jit_c{RUN}_shop", other=f"jit_c{RUN}_other", bulk=f"jit_c{RUN}_bulk",
        lookalike=f"jit_c{RUN}Xshop",
    )  # fmt: skip
    create_mysql_databases(dbs)
    yield dbs
    drop_mysql_databases(dbs)


def crash_policy(pg: PgCluster, dbs: MySQLDatabases, hook: Hook) -> Policy:
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
                        "password": "${CRASH_PG_PASSWORD}",
                    },
                },
                {
                    "name": "shop-mysql",
                    "type": "mysql",
                    "connection": {"host": "127.0.0.1", "user": "root"},
                },
                {
                    "name": "zz-hook",
                    "type": "webhook",
                    "permissions": ["use"],
                    "connection": {
                        "url": hook.url,
                        "secret": "${CRASH_HOOK_SECRET}",
                        "retries": 0,
                        "timeout_seconds": 60,
                    },
                },
            ],
            "bundles": [
                {
                    "name": "crash",
                    "objects": [
                        {
                            "integration": "prod-postgres",
                            "resource": "sales.orders",
                            "permission": "read_only",
                        },
                        {
                            "integration": "shop-mysql",
                            "resource": f"{dbs.shop}.orders",
                            "permission": "read_only",
                        },
                        {"integration": "zz-hook", "resource": "queue", "permission": "use"},
                    ],
                }
            ],
            "access_flows": [
                {
                    "name": "on-call",
                    "grantees": {"groups": ["@oncall"]},
                    "bundles": ["crash"],
                    "approvers": "automatic",
                    "duration": {"default": "20s", "max": "20s"},
                }
            ],
        }
    )


def status_in(store: Store, request_id: str) -> Status:
    with store.read() as uow:
        request = uow.requests.get(RequestId(request_id))
    assert request is not None
    return request.status


def test_killed_while_granting_and_while_expiring_the_app_recovers_to_a_clean_end(
    slack_sim_factory: SimulatorFactory,
    tmp_path: Path,
    scram_pg: PgCluster,
    crash_dbs: MySQLDatabases,
    hook: Hook,
) -> None:
    sim: Simulator = slack_sim_factory(workspace=workspace())
    policy_file = write_policy(crash_policy(scram_pg, crash_dbs, hook), tmp_path / "policy.yml")
    database_url = f"sqlite:///{tmp_path / 'crash.db'}"
    env = {
        "CRASH_PG_PASSWORD": scram_pg.password,
        "CRASH_HOOK_SECRET": "hook-secret",
        "WORK_LEASE_SECONDS": "2",
    }
    processes: list[AppProcess] = []

    def launch() -> AppProcess:
        process = start_app_process(
            sim,
            policy_file=policy_file,
            database_url=database_url,
            log=tmp_path / "app.log",
            env=env,
        )
        processes.append(process)
        sim.wait_for(lambda: sim.connection_count == 1, timeout=30)
        return process

    store = Store(engine=make_engine(database_url))
    try:
        # 1. Killed while granting: PostgreSQL and MariaDB are granted, the webhook hangs.
        hook.hold_grants.set()
        first = launch()
        driver = Bot(sim=sim, app=cast(Application, None))
        request_id = request_bundle(driver, OSCAR, "crash")
        account = "jit_" + request_id.removeprefix("AR-").lower()
        sim.wait_for(lambda: "grant" in hook.calls, timeout=30)
        assert pg_role_exists(scram_pg, account)
        assert mysql_user_exists(account)
        first.kill()
        sim.wait_for(lambda: sim.connection_count == 0, timeout=30)
        assert status_in(store, request_id) is Status.GRANTING

        # Restarted: the lapsed claim is taken over and the grant finishes, credentials once.
        hook.hold_grants.clear()
        hook.release.set()
        second = launch()
        sim.wait_for(lambda: status_in(store, request_id) is Status.ACTIVE, timeout=30)
        sim.wait_for(lambda: len(credential_dms(sim.messages(OSCAR), request_id)) == 3, timeout=30)

        # 2. Killed while expiring: the databases are revoked, the webhook revoke hangs.
        hook.release.clear()
        hook.hold_revokes.set()
        sim.wait_for(lambda: "revoke" in hook.calls, timeout=60)
        second.kill()
        assert status_in(store, request_id) is Status.ACTIVE

        hook.hold_revokes.clear()
        hook.release.set()
        launch()
        sim.wait_for(lambda: status_in(store, request_id) is Status.EXPIRED, timeout=30)
        assert not pg_role_exists(scram_pg, account)
        assert not mysql_user_exists(account)
        with store.read() as uow:
            changes = [c.to_status for c in uow.requests.history(RequestId(request_id))]
        assert changes == [
            Status.PENDING,
            Status.APPROVED,
            Status.GRANTING,
            Status.ACTIVE,
            Status.EXPIRED,
        ]
        sim.wait_for(lambda: len(status_messages(driver, AUDIT, request_id)) == 5, timeout=30)
        assert len(credential_dms(sim.messages(OSCAR), request_id)) == 3
    finally:
        for process in processes:
            process.stop()
        store.dispose()
