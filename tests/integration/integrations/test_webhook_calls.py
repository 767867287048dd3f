"""The webhook integration against a small stdlib HTTP receiver that checks every signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.integrations.base import GrantItem, GrantUncertain, IntegrationError, Resource
from app.integrations.webhook import WebhookIntegration
from domain.connections import RESOLVED, WebhookConnection

pytestmark = pytest.mark.integration

SECRET = "hook-secret-abc123"
NOW = 1_700_000_000.0
UNTIL = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> dict[str, object]:
        document: dict[str, object] = json.loads(self.body)
        return document


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    after: threading.Event | None = None
    """Apply the call at once but answer only once this is set (after the client gave up)."""
    drop: bool = False
    """Apply the call, then close the connection without answering."""


class Receiver:
    """Answers with the scripted answers in order (then 200) and records every call."""

    def __init__(self) -> None:
        self.script: deque[Answer] = deque()
        self.calls: list[Call] = []
        self.url = ""
        self.granted: set[str] = set()
        """Accounts the receiver holds: a grant answered 2xx or late adds one, a revoke
        removes it."""
        self.released = threading.Event()
        """Set when the test ends: lets held answers go."""

    def will_answer(self, *answers: Answer) -> None:
        self.script.extend(answers)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """``headers`` with lower-case names: HTTP header names are case-insensitive."""
        timestamp = headers.get("x-jit-timestamp", "")
        expected = hmac.new(
            SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        signature_ok = hmac.compare_digest(headers.get("x-jit-signature", ""), f"v1={expected}")
        self.calls.append(Call(path, headers, body, signature_ok))
        answer = self.script.popleft() if self.script else Answer()
        if answer.status < 300 or answer.after is not None or answer.drop:
            document = json.loads(body)
            if document["action"] == "grant":
                self.granted.add(document["account"])
            elif document["action"] == "revoke":
                self.granted.discard(document["account"])
        return answer


def without_id(call: Call) -> dict[str, object]:
    document = call.json
    assert document.pop("id") == call.headers["x-jit-event-id"]
    return document


class Sleeps(list[float]):
    """A fake ``time.sleep`` that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            answer = state.handle(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            if answer.drop:
                return  # HTTP/1.0: the connection closes with nothing sent
            if answer.after is not None:
                answer.after.wait(10)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass  # the client gave up waiting

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jit"
    try:
        yield state
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def webhook(
    url: str, sleeps: Sleeps, *, retries: int = 3, timeout_seconds: float = 2
) -> WebhookIntegration:
    connection = WebhookConnection.model_validate(
        {
            "url": url,
            "secret": SECRET,
            "retries": retries,
            "timeout_seconds": timeout_seconds,
            "resources": ["prod-cluster", "staging-cluster"],
        },
        context={RESOLVED: True},
    )
    return WebhookIntegration(
        name="test-hook",
        connection=connection,
        permissions=["viewer", "editor"],
        sleep=sleeps,
        clock=lambda: NOW,
    )


@pytest.fixture
def hook(receiver: Receiver, sleeps: Sleeps) -> WebhookIntegration:
    return webhook(receiver.url, sleeps)


def test_a_grant_is_posted_as_signed_json(hook: WebhookIntegration, receiver: Receiver) -> None:
    hook.grant(
        account="jit_abc123",
        items=[GrantItem("prod-cluster", "viewer"), GrantItem("staging-cluster", "editor")],
        until=UNTIL,
    )

    (call,) = receiver.calls
    assert call.path == "/jit"
    assert call.signature_ok
    assert call.headers["x-jit-timestamp"] == str(int(NOW))
    assert call.headers["content-type"] == "application/json"
    assert call.headers["x-jit-event-id"] == call.json["id"]  # the ID is inside the signed body
    assert call.json == {
        "id": call.headers["x-jit-event-id"],
        "action": "grant",
        "integration": "test-hook",
        "account": "jit_abc123",
        "items": [
            {"resource": "prod-cluster", "permission": "viewer"},
            {"resource": "staging-cluster", "permission": "editor"},
        ],
        "until": "2030-05-06T07:08:09+00:00",
    }


def test_a_503_is_retried_with_back_off_until_it_succeeds(
    hook: WebhookIntegration, receiver: Receiver, sleeps: Sleeps
) -> None:
    receiver.will_answer(Answer(503), Answer(503), Answer(200))

    hook.grant(account="jit_abc123", items=[GrantItem("prod-cluster", "viewer")], until=UNTIL)

    assert len(receiver.calls) == 3
    assert all(call.signature_ok for call in receiver.calls)
    assert sleeps == [0.5, 1.0]
    # Retries of one call carry its ID, so a receiver skips one it already applied.
    assert len({call.headers["x-jit-event-id"] for call in receiver.calls}) == 1


def test_retry_after_is_honoured_on_429(
    hook: WebhookIntegration, receiver: Receiver, sleeps: Sleeps
) -> None:
    receiver.will_answer(Answer(429, headers={"Retry-After": "2"}), Answer(200))

    hook.revoke(account="jit_abc123")

    assert len(receiver.calls) == 2
    assert sleeps == [2.0]


def test_a_400_fails_at_once_without_a_retry(
    hook: WebhookIntegration, receiver: Receiver, sleeps: Sleeps
) -> None:
    receiver.will_answer(Answer(400, b'{"error": "unknown resource"}'))

    with pytest.raises(IntegrationError, match=r"^test-hook: grant failed: HTTP 400$"):
        hook.grant(account="jit_abc123", items=[GrantItem("prod-cluster", "viewer")], until=UNTIL)

    assert len(receiver.calls) == 1
    assert sleeps == []


def test_it_gives_up_after_the_configured_retries(
    hook: WebhookIntegration, receiver: Receiver, sleeps: Sleeps
) -> None:
    receiver.will_answer(*[Answer(503)] * 10)

    with pytest.raises(IntegrationError, match=r"HTTP 503 \(after 4 attempts\)"):
        hook.revoke(account="jit_abc123")

    assert len(receiver.calls) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_an_unreachable_endpoint_fails_after_retries_with_a_safe_message(
    receiver: Receiver, sleeps: Sleeps
) -> None:
    unreachable = webhook("http://127.0.0.1:9/jit", sleeps, retries=1)

    with pytest.raises(IntegrationError) as caught:
        unreachable.check()

    assert str(caught.value).startswith("test-hook: check failed: cannot reach the endpoint")
    assert "(after 2 attempts)" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(unreachable)
    assert sleeps == [0.5]


def test_a_redirect_is_not_followed(hook: WebhookIntegration, receiver: Receiver) -> None:
    receiver.will_answer(Answer(307, headers={"Location": "http://elsewhere.example/"}))

    with pytest.raises(IntegrationError, match="HTTP 307"):
        hook.revoke(account="jit_abc123")

    assert len(receiver.calls) == 1


def test_access_details_in_the_answer_become_the_grants_details(
    hook: WebhookIntegration, receiver: Receiver
) -> None:
    answer = {
        "access_details": {"console": "https://console.example", "login_url": "https://x/y?k=1",
                           "api_token": "t0k3n", "note": "read the runbook"},
        "secret_fields": ["login_url", "not-a-field"],
    }  # fmt: skip
    receiver.will_answer(Answer(200, json.dumps(answer).encode()))

    details = hook.grant(
        account="jit_abc123", items=[GrantItem("prod-cluster", "viewer")], until=UNTIL
    )

    assert list(details.fields) == ["console", "login_url", "api_token", "note"]
    assert details.fields["api_token"] == "t0k3n"
    assert details.secret_fields == {"login_url", "api_token"}  # token masked even if undeclared
    assert details.valid_until == UNTIL
    assert "t0k3n" not in repr(details)


def test_an_answer_without_details_gives_empty_details(
    hook: WebhookIntegration, receiver: Receiver
) -> None:
    receiver.will_answer(Answer(200, b"OK"))

    details = hook.grant(
        account="jit_abc123", items=[GrantItem("prod-cluster", "viewer")], until=UNTIL
    )

    assert details.fields == {}
    assert details.valid_until == UNTIL


def test_malformed_access_details_fail_the_grant(
    hook: WebhookIntegration, receiver: Receiver
) -> None:
    receiver.will_answer(Answer(200, json.dumps({"access_details": {"port": 5432}}).encode()))

    # The receiver answered 2xx, so it granted: the account must be revoked, not forgotten.
    with pytest.raises(GrantUncertain, match="access_details must map strings to strings"):
        hook.grant(account="jit_abc123", items=[GrantItem("prod-cluster", "viewer")], until=UNTIL)


def test_revoke_and_check_post_their_own_signed_actions(
    hook: WebhookIntegration, receiver: Receiver
) -> None:
    hook.revoke(account="jit_abc123")
    hook.check()

    revoke, check = receiver.calls
    assert revoke.signature_ok
    assert without_id(revoke) == {
        "action": "revoke",
        "integration": "test-hook",
        "account": "jit_abc123",
    }
    assert check.signature_ok
    assert without_id(check) == {"action": "check", "integration": "test-hook"}
    assert revoke.json["id"] != check.json["id"]  # two calls, two IDs


def test_permissions_and_resources_come_from_the_policy(hook: WebhookIntegration) -> None:
    assert hook.permissions() == ("viewer", "editor")
    assert hook.discover() == [
        Resource(name="prod-cluster", kind="resource"),
        Resource(name="staging-cluster", kind="resource"),
    ]


def test_a_permission_the_policy_does_not_list_is_refused_before_any_call(
    hook: WebhookIntegration, receiver: Receiver
) -> None:
    with pytest.raises(IntegrationError, match="unknown permission owner"):
        hook.grant(account="jit_abc123", items=[GrantItem("prod-cluster", "owner")], until=UNTIL)

    assert receiver.calls == []


# --- Grants that may have been applied, revokes that must be confirmed --------------------------


def grant_viewer(hook: WebhookIntegration) -> None:
    hook.grant(account="jit_abc123", items=[GrantItem("prod-cluster", "viewer")], until=UNTIL)


def impatient(receiver: Receiver, sleeps: Sleeps, *, retries: int = 1) -> WebhookIntegration:
    return webhook(receiver.url, sleeps, retries=retries, timeout_seconds=0.2)


def test_a_grant_applied_but_answered_after_the_timeout_is_uncertain(
    receiver: Receiver, sleeps: Sleeps
) -> None:
    receiver.will_answer(Answer(200, after=receiver.released), Answer(200, after=receiver.released))

    with pytest.raises(GrantUncertain, match="may have granted") as caught:
        grant_viewer(impatient(receiver, sleeps))

    assert str(caught.value).startswith("test-hook: grant failed: no answer after the request")
    assert receiver.granted == {"jit_abc123"}  # which is why it must not be a plain failure
    assert len(receiver.calls) == 2


def test_a_grant_whose_connection_is_dropped_after_sending_is_uncertain(
    hook: WebhookIntegration, receiver: Receiver
) -> None:
    receiver.will_answer(*[Answer(drop=True)] * 4)

    with pytest.raises(GrantUncertain, match="no answer after the request was sent"):
        grant_viewer(hook)

    assert receiver.granted == {"jit_abc123"}


def test_a_grant_that_timed_out_and_then_got_only_503_is_uncertain(
    receiver: Receiver, sleeps: Sleeps
) -> None:
    receiver.will_answer(Answer(200, after=receiver.released), Answer(503), Answer(503))

    with pytest.raises(GrantUncertain, match=r"HTTP 503 \(after 3 attempts\)"):
        grant_viewer(impatient(receiver, sleeps, retries=2))

    assert receiver.granted == {"jit_abc123"}


def test_a_grant_refused_after_an_earlier_attempt_timed_out_is_still_uncertain(
    receiver: Receiver, sleeps: Sleeps
) -> None:
    receiver.will_answer(Answer(200, after=receiver.released), Answer(409))

    with pytest.raises(GrantUncertain, match="HTTP 409"):
        grant_viewer(impatient(receiver, sleeps))


def test_a_grant_answered_only_with_server_errors_is_uncertain(
    hook: WebhookIntegration, receiver: Receiver
) -> None:
    receiver.will_answer(*[Answer(500)] * 4)

    with pytest.raises(GrantUncertain, match=r"HTTP 500 \(after 4 attempts\)"):
        grant_viewer(hook)


def test_a_grant_the_receiver_refused_with_400_is_a_plain_failure(
    hook: WebhookIntegration, receiver: Receiver
) -> None:
    receiver.will_answer(Answer(400))

    with pytest.raises(IntegrationError) as caught:
        grant_viewer(hook)

    assert not isinstance(caught.value, GrantUncertain)
    assert receiver.granted == set()


def test_a_grant_told_to_come_back_later_every_time_is_a_plain_failure(
    hook: WebhookIntegration, receiver: Receiver
) -> None:
    receiver.will_answer(*[Answer(429)] * 4)

    with pytest.raises(IntegrationError, match=r"HTTP 429 \(after 4 attempts\)") as caught:
        grant_viewer(hook)

    assert not isinstance(caught.value, GrantUncertain)


def test_a_grant_that_never_connected_is_a_plain_failure(sleeps: Sleeps) -> None:
    unreachable = webhook("http://127.0.0.1:9/jit", sleeps, retries=2)

    with pytest.raises(IntegrationError, match="cannot reach the endpoint") as caught:
        grant_viewer(unreachable)

    assert not isinstance(caught.value, GrantUncertain)
    assert sleeps == [0.5, 1.0]


def test_an_uncertain_grant_is_ended_by_the_revoke_that_follows(
    receiver: Receiver, sleeps: Sleeps
) -> None:
    hook = impatient(receiver, sleeps, retries=0)
    receiver.will_answer(Answer(200, after=receiver.released))
    with pytest.raises(GrantUncertain):
        grant_viewer(hook)

    hook.revoke(account="jit_abc123")

    assert receiver.granted == set()


@pytest.mark.parametrize("status", [404, 410])
def test_a_revoke_of_an_account_the_receiver_does_not_know_is_confirmed(
    hook: WebhookIntegration, receiver: Receiver, status: int
) -> None:
    receiver.will_answer(Answer(status))

    hook.revoke(account="jit_abc123")

    assert len(receiver.calls) == 1


def test_a_revoke_answered_500_on_every_attempt_fails(
    hook: WebhookIntegration, receiver: Receiver, sleeps: Sleeps
) -> None:
    receiver.will_answer(*[Answer(500)] * 10)

    with pytest.raises(IntegrationError, match=r"^test-hook: revoke failed: HTTP 500 \(after 4"):
        hook.revoke(account="jit_abc123")

    assert len(receiver.calls) == 4


@pytest.mark.parametrize("status", [400, 403, 409])
def test_a_revoke_the_receiver_refuses_fails_at_once(
    hook: WebhookIntegration, receiver: Receiver, status: int
) -> None:
    receiver.will_answer(Answer(status))

    with pytest.raises(IntegrationError, match=f"HTTP {status}"):
        hook.revoke(account="jit_abc123")


def test_a_revoke_never_answered_fails(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.will_answer(Answer(200, after=receiver.released), Answer(200, after=receiver.released))

    with pytest.raises(IntegrationError, match="no answer after the request was sent"):
        impatient(receiver, sleeps).revoke(account="jit_abc123")


def test_a_webhook_cannot_list_its_accounts(hook: WebhookIntegration, receiver: Receiver) -> None:
    assert hook.accounts() is None
    assert receiver.calls == []


def test_preflight_posts_the_check_action_and_finds_nothing_missing_on_2xx(
    hook: WebhookIntegration, receiver: Receiver
) -> None:
    assert hook.preflight() == []

    (call,) = receiver.calls
    assert without_id(call) == {"action": "check", "integration": "test-hook"}


@pytest.mark.parametrize("status", [401, 404])
def test_preflight_names_the_answer_when_the_check_is_refused(
    hook: WebhookIntegration, receiver: Receiver, status: int
) -> None:
    receiver.will_answer(Answer(status))

    assert hook.preflight() == [f"The receiver did not accept the check action: HTTP {status}."]


def test_preflight_raises_when_the_receiver_cannot_be_reached(sleeps: Sleeps) -> None:
    unreachable = webhook("http://127.0.0.1:9/jit", sleeps, retries=0)

    with pytest.raises(IntegrationError, match=r"^test-hook: preflight failed: cannot reach"):
        unreachable.preflight()
