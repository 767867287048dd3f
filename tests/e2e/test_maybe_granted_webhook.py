"""A webhook receiver that applied a grant but answered after the bot's timeout: the bot takes
the access back from the receiver instead of abandoning it (the unchanged app, the real
webhook integration, a loopback receiver that keeps the state a real one would)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.integrations.base import Integration
from app.integrations.registry import build_integration
from domain.audit import AuditKind
from domain.connections import RESOLVED, WebhookConnection
from domain.ids import RequestId, account_name
from domain.lifecycle import Status
from store.repositories.grants import GrantStatus
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, BOB, fake_integrations, standard_policy
from tests.e2e.messages import approval_requests, wait_status
from tests.e2e.modal_steps import request_bundle

pytestmark = pytest.mark.e2e

CLIENT_TIMEOUT = 0.3
LATE = 1.0
"""How long the receiver takes to answer a grant: well past the bot's timeout."""


@dataclass
class Receiver:
    """Grants and revokes as a real receiver keeps them; grants are answered late."""

    url: str = ""
    holds: set[str] = field(default_factory=set)
    revokes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    never: threading.Event = field(default_factory=threading.Event)

    def handle(self, body: dict[str, object]) -> None:
        account = str(body.get("account"))
        with self.lock:
            if body.get("action") == "grant":
                self.holds.add(account)
            elif body.get("action") == "revoke":
                self.holds.discard(account)
                self.revokes.append(account)
        if body.get("action") == "grant":
            self.never.wait(LATE)  # applied at once, answered late: the bot has given up


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.handle(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            try:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except OSError:
                pass  # the bot hung up after its timeout

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jit"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_a_grant_the_receiver_applied_after_the_timeout_is_taken_back(
    start: StartBot, receiver: Receiver
) -> None:
    policy = standard_policy()
    integrations: dict[str, Integration] = dict(fake_integrations(policy))
    connection = WebhookConnection.model_validate(
        {"url": receiver.url, "secret": "s3cret", "timeout_seconds": CLIENT_TIMEOUT, "retries": 1},
        context={RESOLVED: True},
    )
    integrations["prod-redis"] = build_integration(
        name="prod-redis",
        type_name="webhook",
        connection=connection,
        permissions=["read_only", "read_write", "admin"],
    )
    bot = start(policy=policy, integrations=integrations, work_lease_seconds=1)

    request_id = RequestId(request_bundle(bot, ALICE, "prod-incident"))
    bot.sim.wait_for(lambda: approval_requests(bot, BOB, request_id))
    [ask] = approval_requests(bot, BOB, request_id)
    bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    wait_status(bot, request_id, Status.FAILED, timeout=20)

    account = account_name(request_id)
    bot.sim.wait_for(lambda: account in receiver.revokes, timeout=10)
    assert account not in receiver.holds
    with bot.app.store.read() as uow:
        grants = {g.integration: g.status for g in uow.grants.for_request(request_id)}
        kinds = [e.kind for e in uow.audit.for_request(request_id)]
    assert grants["prod-redis"] is GrantStatus.REVOKED
    assert AuditKind.GRANT_UNCERTAIN in kinds
