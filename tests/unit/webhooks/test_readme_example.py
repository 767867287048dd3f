"""README's "Request webhooks": the worked example runs against the bot's own deliveries, and
every setting it names is documented."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from app.webhooks.delivery import DeliveryFailed, Endpoint, post
from app.webhooks.sending import RequestWebhooks, subscriptions_from
from domain.lifecycle import Status
from domain.policy import RequestWebhook
from tests.unit.webhooks.conftest import World

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text()
SECRET = "readme-secret"


def example() -> dict[str, Any]:
    match = re.search(r"<!-- request-webhooks-example -->\n```python\n(.*?)```", README, re.S)
    assert match is not None, "README lost its request webhooks example"
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(match.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our README
    namespace["SECRET"] = SECRET.encode()
    return namespace


@pytest.fixture
def ticketing() -> Iterator[tuple[str, dict[str, Any]]]:
    namespace = example()
    server = ThreadingHTTPServer(("127.0.0.1", 0), namespace["Hook"])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/jit", namespace
    server.shutdown()
    server.server_close()


def test_the_readme_example_turns_a_requests_events_into_one_ticket_closed_at_the_end(
    world: World, ticketing: tuple[str, dict[str, Any]]
) -> None:
    url, namespace = ticketing
    webhooks = RequestWebhooks(
        store=world.store,
        subscriptions=subscriptions_from(
            [RequestWebhook(name="ticketing", url=url, secret="${TICKETS_WEBHOOK_SECRET}")],
            env={"TICKETS_WEBHOOK_SECRET": SECRET},
            allow_http=True,
            timeout=5,
        ),
        clock=world.clock,
        lease=timedelta(seconds=60),
        max_backoff=timedelta(seconds=30),
    )
    webhooks.prepare()
    request_id = world.submit()
    world.through(request_id, Status.APPROVED, Status.GRANTING, Status.ACTIVE, Status.REVOKED)

    assert webhooks.run() == 5

    ticket = namespace["tickets"][request_id]
    assert ticket["title"] == f"{request_id}: incident for Alice Doe"
    assert ticket["state"] == "closed"
    assert [line.split(" ")[1] for line in ticket["log"]] == [
        "pending",
        "approved",
        "granting",
        "active",
        "revoked",
    ]


def test_the_readme_example_ignores_a_retry_and_refuses_a_forged_call(
    ticketing: tuple[str, dict[str, Any]],
) -> None:
    url, namespace = ticketing
    body = b'{"id": "e1", "type": "request.denied", "request": {"id": "AR-000000"}}'
    namespace["seen"].add("e1")

    post(Endpoint(url=url, secret=SECRET), event_id="e1", event_type="request.denied", body=body)
    with pytest.raises(DeliveryFailed, match="answered 401"):
        post(Endpoint(url=url, secret="guess"), event_id="e1", event_type="x", body=body)
    with pytest.raises(DeliveryFailed, match="answered 401"):
        post(
            Endpoint(url=url, secret=SECRET),
            event_id="e1",
            event_type="request.denied",
            body=body,
            wall_clock=lambda: 1_000_000_000.0,  # replayed long after it was signed
        )

    assert namespace["tickets"] == {}


def test_every_request_webhook_setting_is_in_the_readme_and_env_example() -> None:
    env_example = (ROOT / ".env.example").read_text()
    names = [n.upper() for n in Settings.model_fields if n.startswith("request_webhook")]

    assert len(names) == 3
    for name in names:
        assert f"| `{name}` |" in README
        assert f"{name}=" in env_example
