"""A click the app acked is recorded: the decision is durable before the ack, so an instance
killed right after acking an Approve click loses nothing (Slack never sends an acked click
again)."""

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
from tests.e2e.harness import ALICE, BOB, Bot, workspace
from tests.e2e.messages import approval_requests, buttons, text_of
from tests.e2e.modal_steps import request_bundle
from tests.e2e.subprocess_app import AppProcess, start_app_process, write_policy

pytestmark = pytest.mark.e2e

SLOW_SLACK = 1.0
"""Seconds Slack takes to answer users.info while the restarted app decides (its cache is cold)."""


@pytest.fixture
def webhook() -> Iterator[str]:
    """A ticketing webhook that grants at once."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            answer = json.dumps({"access_details": {"ticket queue": "ops"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jit"
    server.shutdown()


def policy(webhook_url: str) -> Policy:
    return Policy.model_validate(
        {
            "integrations": [
                {
                    "name": "tickets",
                    "type": "webhook",
                    "permissions": ["use"],
                    "connection": {"url": webhook_url, "secret": "${HOOK_SECRET}", "retries": 0},
                }
            ],
            "bundles": [
                {
                    "name": "ops-queue",
                    "objects": [{"integration": "tickets", "resource": "ops", "permission": "use"}],
                }
            ],
            "access_flows": [
                {
                    "name": "developers",
                    "grantees": {"groups": ["@developers"]},
                    "bundles": ["ops-queue"],
                    "approvers": {"manager": True},
                    "duration": {"default": "1h", "max": "1h"},
                }
            ],
            "managers": {"alice@example.com": "bob@example.com"},
        }
    )


def history(store: Store, request_id: str) -> list[tuple[Status, str | None]]:
    with store.read() as uow:
        return [(c.to_status, c.actor) for c in uow.requests.history(RequestId(request_id))]


def test_an_approve_click_acked_just_before_the_app_was_killed_is_approved_after_restart(
    slack_sim_factory: SimulatorFactory, tmp_path: Path, webhook: str
) -> None:
    sim: Simulator = slack_sim_factory(workspace=workspace())
    policy_file = write_policy(policy(webhook), tmp_path / "policy.yml")
    database_url = f"sqlite:///{tmp_path / 'bot.db'}"
    processes: list[AppProcess] = []

    def launch() -> AppProcess:
        process = start_app_process(
            sim,
            policy_file=policy_file,
            database_url=database_url,
            log=tmp_path / "app.log",
            env={"HOOK_SECRET": "hook-secret", "WORK_LEASE_SECONDS": "2"},
        )
        processes.append(process)
        sim.wait_for(lambda: sim.connection_count == 1, timeout=30)
        return process

    store = Store(engine=make_engine(database_url))
    driver = Bot(sim=sim, app=cast(Application, None))
    try:
        first = launch()
        request_id = request_bundle(driver, ALICE, "ops-queue")
        sim.wait_for(lambda: len(approval_requests(driver, BOB, request_id)) == 1, timeout=10)
        first.stop()
        sim.wait_for(lambda: sim.connection_count == 0, timeout=30)

        # A fresh instance takes the click; Slack is slow to tell it who the requester is.
        second = launch()
        sim.inject_delay("users.info", SLOW_SLACK)
        [ask] = approval_requests(driver, BOB, request_id)
        acked = sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
        second.kill()  # the moment the ack is in: no clean-up, no answer to Bob

        assert acked.latency < 3
        sim.clear_faults()
        launch()
        assert (Status.APPROVED, BOB) in history(store, request_id)
        sim.wait_for(
            lambda: "request.approve" not in buttons(approval_requests(driver, BOB, request_id)[0]),
            timeout=30,
        )
        [decided] = approval_requests(driver, BOB, request_id)
        assert f"Approved* by <@{BOB}>" in text_of(decided)
        sim.wait_for(lambda: history(store, request_id)[-1][0] is Status.ACTIVE, timeout=30)
        assert [s for s, _ in history(store, request_id)] == [
            Status.PENDING,
            Status.APPROVED,
            Status.GRANTING,
            Status.ACTIVE,
        ]
    finally:
        for process in processes:
            process.stop()
        store.dispose()
