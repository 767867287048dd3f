"""SIGTERM while a grant or a revoke is in flight: the bot exits 0 within SHUTDOWN_SECONDS and
hands its claim back, the next instance finishes the request at once (without waiting for the
lease to lapse) with every Slack message sent once; a second SIGTERM exits at once. Every log
line of the work names its request, and none holds a secret (issue 17)."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final, cast

import pytest

from app.bootstrap import Application
from app.cli import EXIT_FORCED
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim import Simulator
from slacksim.pytest_plugin import SimulatorFactory
from store.engine import make_engine
from store.models import RequestRow
from store.unit_of_work import Store
from tests.e2e.conftest import StartBot
from tests.e2e.credentials import credential_dms
from tests.e2e.harness import AUDIT, OSCAR, Bot, workspace
from tests.e2e.messages import history, outbox_empty, status_messages, text_of
from tests.e2e.modal_steps import request_bundle
from tests.e2e.subprocess_app import AppProcess, start_app_process, write_policy

pytestmark = pytest.mark.e2e

SHUTDOWN_SECONDS = 6.0
LEASE_SECONDS = 120.0
"""Far longer than any wait below: only a claim handed back lets the next instance start."""
HOOK_SECRET = "shutdown-hook-secret-value"


class Hook:
    """A webhook receiver keeping the accounts it was told to create, for two integrations;
    it can hold the second one's grant or revoke calls until the test lets them go."""

    HELD: Final = "zz-hook"

    def __init__(self) -> None:
        self.hold: set[str] = set()
        self.release = threading.Event()
        self.calls: list[tuple[str, str]] = []
        self.accounts: dict[str, set[str]] = {"aa-hook": set(), "zz-hook": set()}
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                action, integration = body["action"], body["integration"]
                hook.calls.append((action, integration))
                held = integration == Hook.HELD and action in hook.hold
                if action == "grant":  # applied even when held: the caller cannot know
                    hook.accounts[integration].add(body["account"])
                if held:
                    hook.release.wait(60)
                    return  # the caller is gone by now: nobody reads an answer
                if action == "revoke":
                    hook.accounts[integration].discard(body["account"])
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

    def held(self, action: str) -> bool:
        return (action, Hook.HELD) in self.calls

    def has(self, account: str) -> set[str]:
        """The integrations where ``account`` exists."""
        return {name for name, accounts in self.accounts.items() if account in accounts}

    def let_go(self) -> None:
        self.hold.clear()
        self.release.set()


@pytest.fixture
def hook() -> Iterator[Hook]:
    target = Hook()
    yield target
    target.release.set()
    target.server.shutdown()


def shutdown_policy(hook: Hook) -> Policy:
    def webhook(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "webhook",
            "permissions": ["use"],
            "connection": {
                "url": hook.url,
                "secret": "${SHUTDOWN_HOOK_SECRET}",
                "retries": 0,
                "timeout_seconds": 60,
            },
        }

    return Policy.model_validate(
        {
            "integrations": [webhook("aa-hook"), webhook("zz-hook")],
            "bundles": [
                {
                    "name": "stop",
                    "objects": [
                        {"integration": "aa-hook", "resource": "queue", "permission": "use"},
                        {"integration": "zz-hook", "resource": "queue", "permission": "use"},
                    ],
                }
            ],
            "access_flows": [
                {
                    "name": "on-call",
                    "grantees": {"groups": ["@oncall"]},
                    "bundles": ["stop"],
                    "approvers": "automatic",
                    "duration": {"default": "1h", "max": "1h"},
                }
            ],
        }
    )


@dataclass
class Bots:
    """Instances of the bot, one process and one log file each, over one database."""

    sim: Simulator
    tmp_path: Path
    policy_file: Path
    database_url: str
    store: Store
    processes: list[AppProcess]

    def launch(self, **env: str) -> AppProcess:
        process = start_app_process(
            self.sim,
            policy_file=self.policy_file,
            database_url=self.database_url,
            log=self.tmp_path / f"app-{len(self.processes) + 1}.log",
            env={
                "SHUTDOWN_HOOK_SECRET": HOOK_SECRET,
                "WORK_LEASE_SECONDS": str(LEASE_SECONDS),
                "SHUTDOWN_SECONDS": str(SHUTDOWN_SECONDS),
                **env,
            },
        )
        self.processes.append(process)
        self.sim.wait_for(lambda: self.sim.connection_count == 1, timeout=30)
        return process

    def status(self, request_id: str) -> Status:
        with self.store.read() as uow:
            request = uow.requests.get(RequestId(request_id))
        assert request is not None
        return request.status

    def lease_owner(self, request_id: str) -> str | None:
        with self.store.read() as uow:
            row = uow.session.get(RequestRow, request_id)
            assert row is not None
            return row.lease_owner

    def outbox_empty(self) -> bool:
        with self.store.read() as uow:
            return uow.outbox.pending_count() == 0


@pytest.fixture
def bots(slack_sim_factory: SimulatorFactory, tmp_path: Path, hook: Hook) -> Iterator[Bots]:
    database_url = f"sqlite:///{tmp_path / 'bot.db'}"
    group = Bots(
        sim=slack_sim_factory(workspace=workspace()),
        tmp_path=tmp_path,
        policy_file=write_policy(shutdown_policy(hook), tmp_path / "policy.yml"),
        database_url=database_url,
        store=Store(engine=make_engine(database_url)),
        processes=[],
    )
    yield group
    for process in group.processes:
        process.stop()
    group.store.dispose()


def terminate(process: AppProcess) -> tuple[int, float]:
    """SIGTERM; the exit status and the seconds it took to exit."""
    sent = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    status = process.process.wait(SHUTDOWN_SECONDS + 10)
    return status, time.monotonic() - sent


def account_of(request_id: str) -> str:
    return "jit_" + request_id.removeprefix("AR-").lower()


def log_lines(process: AppProcess) -> list[str]:
    return process.log.read_text().splitlines()


def assert_every_message_once(bots: Bots, request_id: str, changes: int) -> None:
    """``changes`` status changes, granting among them: the audit channel has a message for
    each, the requester one fewer (granting rewrites the approval's DM in place)."""
    driver = Bot(sim=bots.sim, app=cast(Application, None))
    bots.sim.wait_for(bots.outbox_empty, timeout=30)
    assert len(status_messages(driver, AUDIT, request_id)) == changes
    assert len(status_messages(driver, OSCAR, request_id)) == changes - 1
    assert sorted(credential_dms(bots.sim.messages(OSCAR), request_id)) == ["aa-hook", "zz-hook"]
    delivered = [
        m
        for m in bots.sim.messages(OSCAR)
        if "Access details for" in text_of(m) and f"({request_id})" in text_of(m)
    ]
    assert len(delivered) == 2  # once per integration, whichever instance granted


def assert_no_secret_in(lines: list[str], *secrets: str) -> None:
    for secret in secrets:
        assert not [line for line in lines if secret in line], secret


def test_a_sigterm_in_the_middle_of_a_grant_exits_0_and_the_next_instance_grants_once(
    bots: Bots, hook: Hook
) -> None:
    hook.hold.add("grant")
    first = bots.launch(LOG_FORMAT="text")
    driver = Bot(sim=bots.sim, app=cast(Application, None))
    request_id = request_bundle(driver, OSCAR, "stop")
    bots.sim.wait_for(lambda: hook.held("grant"), timeout=30)
    assert hook.has(account_of(request_id)) == {"aa-hook", "zz-hook"}  # no answer from zz yet

    status, took = terminate(first)

    assert status == 0
    assert took < SHUTDOWN_SECONDS
    assert bots.status(request_id) is Status.GRANTING
    assert bots.lease_owner(request_id) is None  # handed back, not left to lapse
    lines = log_lines(first)
    handed_back = [line for line in lines if "claim handed back" in line]
    assert handed_back
    assert all(f"[{request_id}]" in line for line in handed_back)
    assert [line for line in lines if "working on a claimed request" in line and request_id in line]

    hook.let_go()
    second = bots.launch()  # JSON logs, the default
    bots.sim.wait_for(lambda: bots.status(request_id) is Status.ACTIVE, timeout=20)
    assert hook.has(account_of(request_id)) == {"aa-hook", "zz-hook"}
    assert_every_message_once(bots, request_id, changes=4)
    records = [json.loads(line) for line in log_lines(second) if line.startswith("{")]
    about = [r for r in records if r.get("request_id") == request_id]
    assert {"working on a claimed request", "claimed request done"} <= {r["message"] for r in about}
    assert_no_secret_in(
        log_lines(first) + log_lines(second), HOOK_SECRET, bots.sim.bot_token, bots.sim.app_token
    )


def test_a_sigterm_in_the_middle_of_a_revoke_exits_0_and_the_next_instance_revokes(
    bots: Bots, hook: Hook
) -> None:
    first = bots.launch()
    driver = Bot(sim=bots.sim, app=cast(Application, None))
    request_id = request_bundle(driver, OSCAR, "stop")
    bots.sim.wait_for(lambda: bots.status(request_id) is Status.ACTIVE, timeout=30)
    bots.sim.wait_for(lambda: len(credential_dms(bots.sim.messages(OSCAR), request_id)) == 2)
    hook.hold.add("revoke")
    bots.sim.slash_command(OSCAR, text=f"revoke {request_id}")
    bots.sim.wait_for(lambda: hook.held("revoke"), timeout=30)

    status, took = terminate(first)

    assert status == 0
    assert took < SHUTDOWN_SECONDS
    assert bots.status(request_id) is Status.ACTIVE  # not ended before every revoke is confirmed
    assert bots.lease_owner(request_id) is None
    assert "zz-hook" in hook.has(account_of(request_id))

    hook.let_go()
    bots.launch()
    bots.sim.wait_for(lambda: bots.status(request_id) is Status.REVOKED, timeout=20)
    assert hook.has(account_of(request_id)) == set()
    assert_every_message_once(bots, request_id, changes=5)


def test_a_second_sigterm_exits_at_once_and_the_lapsed_claim_is_finished_later(
    bots: Bots, hook: Hook
) -> None:
    hook.hold.add("grant")
    first = bots.launch(SHUTDOWN_SECONDS="60", WORK_LEASE_SECONDS="3")
    driver = Bot(sim=bots.sim, app=cast(Application, None))
    request_id = request_bundle(driver, OSCAR, "stop")
    bots.sim.wait_for(lambda: hook.held("grant"), timeout=30)
    # A forced exit may cut a round of Slack calls short, which are then sent again (at least
    # once); with nothing in flight there, every message must arrive exactly once.
    bots.sim.wait_for(bots.outbox_empty, timeout=30)
    first.process.send_signal(signal.SIGTERM)
    bots.sim.wait_for(lambda: any("stopping" in line for line in log_lines(first)), timeout=10)

    status, took = terminate(first)

    assert status == EXIT_FORCED
    assert took < 2
    assert bots.status(request_id) is Status.GRANTING

    hook.let_go()
    bots.launch(WORK_LEASE_SECONDS="3")
    bots.sim.wait_for(lambda: bots.status(request_id) is Status.ACTIVE, timeout=30)
    assert_every_message_once(bots, request_id, changes=4)


def test_a_graceful_stop_sends_what_the_outbox_holds_before_it_returns(start: StartBot) -> None:
    bot = start()
    bot.sim.inject_delay("chat.postMessage", 0.5)  # Slack is slow: messages queue up
    request_id = request_bundle(bot, OSCAR, "prod-incident")
    assert not outbox_empty(bot)

    bot.app.stop(within=10)

    assert outbox_empty(bot)
    changes = len(history(bot, request_id))
    assert len(status_messages(bot, AUDIT, request_id)) == changes
