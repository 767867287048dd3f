"""README's "Verifying webhook calls": its example receiver runs against the bot's real calls
(the webhook integration and the audit webhook), takes them, and refuses their replays; and no
webhook of the bot follows a redirect."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.audit.forwarding import Webhook, WebhookFailed
from app.integrations.base import GrantItem, IntegrationError
from app.integrations.signing import ALLOWED_SKEW_SECONDS
from app.integrations.webhook import WebhookIntegration
from app.webhooks.delivery import DeliveryFailed, Endpoint, post
from domain.connections import RESOLVED, WebhookConnection

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text()
SECRET = "receiver-secret-9f2c"
UNTIL = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass
class Captured:
    headers: dict[str, str]
    body: bytes


@dataclass
class Example:
    """The README's receiver, served on loopback; every call it gets is captured raw."""

    namespace: dict[str, Any]
    url: str = ""
    calls: list[Captured] = field(default_factory=list)
    inner: Callable[[dict[str, str], bytes], tuple[int, bytes]] | None = None
    """What answers each captured call: the example's ``handle``."""

    @property
    def accounts(self) -> dict[str, Any]:
        accounts: dict[str, Any] = self.namespace["accounts"]
        return accounts

    def resend(self, call: Captured, **changed: str) -> tuple[int, bytes]:
        """POSTs a captured call again, byte for byte (headers as ``changed`` says)."""
        headers = {**call.headers, **changed}
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.url, data=call.body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
                return int(answer.status), answer.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, b""


def readme_example() -> dict[str, Any]:
    match = re.search(r"<!-- webhook-receiver-example -->\n```python\n(.*?)```", README, re.S)
    assert match is not None, "README lost its webhook receiver example"
    namespace: dict[str, Any] = {"__name__": "readme_receiver"}
    exec(compile(match.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our README
    namespace["SECRET"] = SECRET.encode()
    return namespace


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def example() -> Iterator[Example]:
    state = Example(namespace=readme_example())
    state.inner = state.namespace["handle"]

    def capturing(headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        state.calls.append(Captured(headers=dict(headers), body=body))
        assert state.inner is not None
        return state.inner(headers, body)

    state.namespace["handle"] = capturing  # Hook.do_POST looks it up in the example's globals
    server, base = serve(state.namespace["Hook"])
    state.url = f"{base}/jit"
    yield state
    server.shutdown()
    server.server_close()


def integration(url: str, *, retries: int = 0) -> WebhookIntegration:
    connection = WebhookConnection.model_validate(
        {"url": url, "secret": SECRET, "retries": retries, "timeout_seconds": 5},
        context={RESOLVED: True},
    )
    return WebhookIntegration(
        name="billing", connection=connection, permissions=["viewer"], sleep=lambda _: None
    )


def test_the_readme_receiver_takes_the_bots_grant_check_and_revoke(example: Example) -> None:
    hook = integration(example.url)

    hook.check()
    details = hook.grant(account="jit_ab12cd", items=[GrantItem("invoices", "viewer")], until=UNTIL)
    assert example.accounts == {"jit_ab12cd": [{"resource": "invoices", "permission": "viewer"}]}
    hook.revoke(account="jit_ab12cd")

    assert details.fields == {"console": "https://billing"}
    assert example.accounts == {}
    assert [json.loads(c.body)["action"] for c in example.calls] == ["check", "grant", "revoke"]


def test_a_grant_replayed_after_its_revoke_gives_no_access_back(example: Example) -> None:
    hook = integration(example.url)
    hook.grant(account="jit_ab12cd", items=[GrantItem("invoices", "viewer")], until=UNTIL)
    hook.revoke(account="jit_ab12cd")
    grant = example.calls[0]

    status, answer = example.resend(grant)

    # Within the skew the ID is known: answered as the first time, and not done again.
    assert (status, json.loads(answer)) == (200, {"access_details": {"console": "https://billing"}})
    assert example.accounts == {}


def test_a_replay_outside_the_allowed_skew_is_refused_even_with_a_new_id(
    example: Example,
) -> None:
    hook = integration(example.url)
    hook.grant(account="jit_ab12cd", items=[GrantItem("invoices", "viewer")], until=UNTIL)
    hook.revoke(account="jit_ab12cd")
    grant = example.calls[0]
    later = time.time() + ALLOWED_SKEW_SECONDS + 5
    example.namespace["time"] = SimpleNamespace(time=lambda: later)  # the receiver's clock
    example.namespace["done"].clear()  # even a receiver that forgot every ID

    status, _ = example.resend(grant, **{"X-JIT-Event-Id": "another-id"})

    assert status == 401
    assert example.accounts == {}


def test_a_call_whose_timestamp_is_changed_fails_its_signature(example: Example) -> None:
    hook = integration(example.url)
    hook.grant(account="jit_ab12cd", items=[GrantItem("invoices", "viewer")], until=UNTIL)
    hook.revoke(account="jit_ab12cd")
    example.namespace["done"].clear()

    grant = example.calls[0]
    fresher = str(int(grant.headers["x-jit-timestamp"]) + 1)  # still within the skew

    status, _ = example.resend(grant, **{"X-JIT-Timestamp": fresher})

    assert status == 401
    assert example.accounts == {}


def test_a_retry_with_the_same_id_is_answered_without_granting_twice(example: Example) -> None:
    hook = integration(example.url)
    hook.grant(account="jit_ab12cd", items=[GrantItem("invoices", "viewer")], until=UNTIL)
    example.accounts["jit_ab12cd"] = "changed by someone since"

    status, _ = example.resend(example.calls[0])

    assert status == 200
    assert example.accounts["jit_ab12cd"] == "changed by someone since"


def test_the_audit_webhooks_calls_verify_with_the_readme_receiver(example: Example) -> None:
    verified: Callable[[dict[str, str], bytes], Any] = example.namespace["verified"]
    example.inner = lambda headers, body: (200 if verified(headers, body) else 401, b"")
    event = {"id": 7, "hash": "ab" * 32, "kind": "request.created", "data": {}}
    Webhook(url=example.url, secret=SECRET).post(event)
    Webhook(url=example.url, secret=SECRET).post(event)  # a forwarder that died in between

    first, second = example.calls
    assert verified(first.headers, first.body) == event
    assert first.headers["x-jit-event-id"] == second.headers["x-jit-event-id"] == "ab" * 32
    assert verified({**first.headers, "x-jit-signature": "v1=00"}, first.body) is None


@dataclass
class Redirecting:
    """Answers every POST with a 302 to ``target``."""

    url: str
    target: Bystander


@dataclass
class Bystander:
    """Another loopback server: records whether anything reached it."""

    url: str
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def bystander() -> Iterator[Bystander]:
    state = Bystander(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.hits.append(self.command)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self.do_POST()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server, base = serve(Handler)
    state.url = f"{base}/stolen"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def redirecting(bystander: Bystander) -> Iterator[Redirecting]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(302)
            self.send_header("Location", bystander.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server, base = serve(Handler)
    yield Redirecting(url=f"{base}/hook?token=s3cr3t-token", target=bystander)
    server.shutdown()
    server.server_close()


def test_the_webhook_integration_does_not_follow_a_redirect(redirecting: Redirecting) -> None:
    hook = integration(redirecting.url, retries=2)

    with pytest.raises(IntegrationError) as refused:
        hook.grant(account="jit_ab12cd", items=[GrantItem("invoices", "viewer")], until=UNTIL)

    assert "HTTP 302 (redirects are not followed)" in str(refused.value)
    assert "s3cr3t-token" not in str(refused.value)
    assert redirecting.target.hits == []


def test_the_audit_webhook_does_not_follow_a_redirect(redirecting: Redirecting) -> None:
    with pytest.raises(WebhookFailed) as refused:
        Webhook(url=redirecting.url, secret=SECRET).post({"id": 1, "hash": "00"})

    assert "answered 302 (redirects are not followed)" in str(refused.value.reason)
    assert "s3cr3t-token" not in str(refused.value)
    assert "/hook" not in str(refused.value)
    assert redirecting.target.hits == []


def test_a_request_webhook_does_not_follow_a_redirect(redirecting: Redirecting) -> None:
    endpoint = Endpoint(url=redirecting.url, secret=SECRET, timeout=5)

    with pytest.raises(DeliveryFailed, match="redirects are not followed"):
        post(endpoint, event_id="e-1", event_type="request.created", body=b"{}")

    assert redirecting.target.hits == []


def test_a_redirect_is_followed_by_plain_urllib_so_the_bystander_would_see_it(
    redirecting: Redirecting,
) -> None:
    # The control: without the bot's opener the same answer does reach the other server.
    request = urllib.request.Request(redirecting.url, data=b"{}", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback
        pass

    assert redirecting.target.hits == ["GET"]
