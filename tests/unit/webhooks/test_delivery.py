"""Delivery to a loopback receiver: signed, valid against the shipped schema, in order per
request, nothing lost across an outage or a restart, duplicates only with the same ID."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from app.webhooks.sending import RequestWebhooks, subscriptions_from
from domain.audit import AuditEvent, AuditKind
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.policy import RequestWebhook
from store.repositories.request_webhooks import RequestWebhookRepository
from tests.unit.webhooks.conftest import ALICE, World
from tests.unit.webhooks.receiver import Receiver, receiving

SECRET = "hook-secret"
ENV = {"HOOK_SECRET": SECRET}
STORY = (Status.APPROVED, Status.GRANTING, Status.ACTIVE, Status.REVOKED)
STORY_TYPES = [
    "request.created",
    "request.approved",
    "request.granting",
    "request.active",
    "request.revoked",
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(SECRET) as running:
        yield running


def hooks(
    world: World,
    url: str,
    *,
    specs: Sequence[dict[str, Any]] = ({},),
    allow_http: bool = True,
    timeout: float = 5.0,
    env: dict[str, str] | None = None,
) -> RequestWebhooks:
    subscriptions = subscriptions_from(
        [
            RequestWebhook.model_validate(
                {"name": f"hook-{i}", "url": url, "secret": "${HOOK_SECRET}", **spec}
            )
            for i, spec in enumerate(specs)
        ],
        env=ENV if env is None else env,
        allow_http=allow_http,
        timeout=timeout,
    )
    webhooks = RequestWebhooks(
        store=world.store,
        subscriptions=subscriptions,
        clock=world.clock,
        lease=timedelta(seconds=60),
        max_backoff=timedelta(seconds=30),
    )
    webhooks.prepare()
    return webhooks


def catch_up(world: World, webhooks: RequestWebhooks, *, rounds: int = 50) -> None:
    """Run the worker until nothing is left, letting every back-off pass."""
    for _ in range(rounds):
        webhooks.run()
        end = end_of_log(world)
        if all(c is not None and c.position == end for c in webhooks.cursors().values()):
            return
        world.clock.advance(timedelta(seconds=31))
    raise AssertionError(f"still behind: {webhooks.cursors()}")


def end_of_log(world: World) -> int:
    with world.store.read() as uow:
        return RequestWebhookRepository(uow.session).end_of_log()


def test_every_event_of_a_request_arrives_signed_valid_and_in_order(
    world: World, receiver: Receiver
) -> None:
    webhooks = hooks(world, receiver.url)
    request_id = world.submit()
    world.through(request_id, *STORY)

    assert webhooks.run() == 5

    assert receiver.problems == []
    assert receiver.types_for(request_id) == STORY_TYPES
    assert len(set(receiver.ids())) == 5
    revoked = receiver.events[-1]
    assert revoked["request"]["status"] == "revoked"
    assert revoked["request"]["previous_status"] == "active"
    assert revoked["actor"] == "U0ALICE"
    assert revoked["request"]["objects"] == [
        {
            "integration": "prod-postgres",
            "objects": [
                {"resource": "sales.orders", "permission": "read_write"},
                {"resource": "sales.customers", "permission": "read_only"},
            ],
        },
        {
            "integration": "prod-redis",
            "objects": [{"resource": "orders:*", "permission": "read_only"}],
        },
    ]
    assert revoked["request"]["decisions"] == [
        {
            "decision": "approved",
            "by": "U0BOB",
            "at": receiver.events[1]["occurred_at"],
            "reason": None,
        }
    ]
    assert [a["id"] for a in revoked["request"]["approvers"]] == ["U0BOB"]
    times = revoked["request"]["times"]
    assert times["granted_at"] == receiver.events[3]["occurred_at"]
    assert times["ended_at"] == revoked["occurred_at"]
    assert times["expires_at"] is not None
    assert times["expires_at"] > times["granted_at"]


def test_an_event_says_what_was_known_when_it_happened_even_when_delivered_late(
    world: World, receiver: Receiver
) -> None:
    webhooks = hooks(world, receiver.url)
    request_id = world.submit()
    world.through(request_id, *STORY)

    webhooks.run()

    created = receiver.events[0]
    assert created["request"]["status"] == "pending"
    assert created["request"]["previous_status"] is None
    assert created["request"]["decisions"] == []
    assert created["request"]["times"] == {
        "created_at": created["occurred_at"],
        "approved_at": None,
        "granted_at": None,
        "expires_at": None,
        "ended_at": None,
    }


def test_a_receiver_outage_loses_nothing_and_keeps_each_requests_order(
    world: World, receiver: Receiver
) -> None:
    webhooks = hooks(world, receiver.url)
    first, second = world.submit(), world.submit()
    world.move(first, Status.APPROVED)
    webhooks.run()
    receiver.down = True
    world.move(second, Status.APPROVED)
    world.through(first, Status.GRANTING, Status.ACTIVE)
    world.move(second, Status.GRANTING)
    for _ in range(5):  # down for a while: every attempt is refused, nothing moves
        webhooks.run()
        world.clock.advance(timedelta(seconds=31))
    third = world.submit()
    world.move(first, Status.REVOKED)
    world.move(second, Status.FAILED)
    world.move(third, Status.CANCELED)

    receiver.down = False
    catch_up(world, webhooks)

    assert receiver.problems == []
    refused = [c for c in receiver.calls if c.answered == 503]
    assert len(refused) == 5
    assert receiver.types_for(first) == STORY_TYPES
    assert receiver.types_for(second) == [
        "request.created",
        "request.approved",
        "request.granting",
        "request.failed",
    ]
    assert receiver.types_for(third) == ["request.created", "request.canceled"]
    assert len(receiver.ids()) == len(set(receiver.ids())) == 11
    sequences = [e["sequence"] for e in receiver.events]
    assert sequences == sorted(sequences)


def test_an_answer_lost_after_the_event_was_taken_is_sent_again_with_the_same_id(
    world: World, receiver: Receiver
) -> None:
    webhooks = hooks(world, receiver.url, timeout=0.3)
    request_id = world.submit()
    world.through(request_id, Status.APPROVED, Status.GRANTING)
    receiver.slow = 1.0  # takes each event, answers after the bot stopped waiting

    webhooks.run()
    receiver.slow = 0.0
    catch_up(world, webhooks)

    ids = receiver.ids()
    assert len(ids) == 4
    assert ids[0] == ids[1]  # the duplicate, recognisable by its ID
    assert receiver.events[0] == receiver.events[1]
    assert receiver.types_for(request_id) == [
        "request.created",
        "request.approved",
        "request.granting",
    ]


def test_a_restarted_bot_resumes_where_the_last_one_stopped(
    world: World, receiver: Receiver
) -> None:
    first = hooks(world, receiver.url)
    request_id = world.submit()
    first.run()
    world.through(request_id, Status.APPROVED, Status.GRANTING)

    hooks(world, receiver.url).run()  # another process, the same database

    assert receiver.types_for(request_id) == [
        "request.created",
        "request.approved",
        "request.granting",
    ]
    assert len(receiver.ids()) == 3


def test_a_new_subscription_is_told_about_what_happens_from_then_on(
    world: World, receiver: Receiver
) -> None:
    old = world.submit()
    webhooks = hooks(world, receiver.url)
    world.move(old, Status.APPROVED)
    new = world.submit()

    webhooks.run()

    assert receiver.types_for(old) == ["request.approved"]
    assert receiver.types_for(new) == ["request.created"]


def test_retries_back_off_and_honour_retry_after(
    world: World, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    webhooks = hooks(world, receiver.url)
    world.submit()
    receiver.down = True
    waits = []
    for _ in range(7):
        webhooks.run()
        cursor = webhooks.cursors()["hook-0"]
        assert cursor is not None
        assert cursor.next_attempt_at is not None
        waits.append((cursor.next_attempt_at - world.clock.now()).total_seconds())
        webhooks.run()  # not due yet: the receiver is left alone
        world.clock.set(cursor.next_attempt_at)
    receiver.retry_after = 20
    webhooks.run()
    cursor = webhooks.cursors()["hook-0"]
    assert cursor is not None
    assert cursor.next_attempt_at is not None

    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert (cursor.next_attempt_at - world.clock.now()).total_seconds() == 30
    assert len(receiver.calls) == 8
    assert cursor.last_error == "answered 503"
    assert "request webhook delivery failed" in caplog.text
    assert receiver.url not in caplog.text
    assert SECRET not in caplog.text


def test_retry_after_longer_than_the_back_off_is_waited_out(
    world: World, receiver: Receiver
) -> None:
    webhooks = hooks(world, receiver.url)
    world.submit()
    receiver.down, receiver.retry_after = True, 12

    webhooks.run()

    cursor = webhooks.cursors()["hook-0"]
    assert cursor is not None
    assert cursor.next_attempt_at is not None
    assert (cursor.next_attempt_at - world.clock.now()).total_seconds() == 12


def test_a_redirect_is_not_followed_and_the_event_waits(world: World, receiver: Receiver) -> None:
    webhooks = hooks(world, receiver.url)
    world.submit()
    receiver.redirect_to = "/elsewhere"

    webhooks.run()

    assert [c.path for c in receiver.calls] == ["/events"]
    assert receiver.events == []
    cursor = webhooks.cursors()["hook-0"]
    assert cursor is not None
    assert cursor.last_error == "answered 302 (redirects are not followed)"


def test_plain_http_is_refused_unless_a_setting_allows_it(
    world: World, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    webhooks = hooks(world, receiver.url, allow_http=False)
    request_id = world.submit()

    webhooks.run()

    assert receiver.calls == []
    cursor = webhooks.cursors()["hook-0"]
    assert cursor is not None
    assert cursor.last_error == "plain http:// is refused: use https://"
    assert "request webhook cannot send" in caplog.text
    world.clock.advance(timedelta(seconds=5))
    hooks(world, receiver.url, allow_http=True).run()
    assert receiver.types_for(request_id) == ["request.created"]


def test_a_secret_missing_from_the_environment_holds_the_events_until_it_is_set(
    world: World, receiver: Receiver
) -> None:
    webhooks = hooks(world, receiver.url, env={})
    request_id = world.submit()

    webhooks.run()

    assert receiver.calls == []
    cursor = webhooks.cursors()["hook-0"]
    assert cursor is not None
    assert cursor.last_error == "environment variable HOOK_SECRET is not set"
    world.clock.advance(timedelta(seconds=5))
    hooks(world, receiver.url).run()
    assert receiver.types_for(request_id) == ["request.created"]


def test_a_wrong_secret_is_caught_by_the_receivers_check(world: World, receiver: Receiver) -> None:
    webhooks = hooks(world, receiver.url, env={"HOOK_SECRET": "not-the-secret"})
    world.submit()

    webhooks.run()

    assert receiver.problems == ["bad signature"]
    assert receiver.events == []


def test_filters_by_event_and_by_flow_are_honoured(world: World) -> None:
    with receiving(SECRET) as by_event, receiving(SECRET) as by_flow, receiving(SECRET) as both:
        webhooks = RequestWebhooks(
            store=world.store,
            subscriptions=subscriptions_from(
                [
                    spec("by-event", by_event.url, events=["active", "revoked"]),
                    spec("by-flow", by_flow.url, flows=["on-call"]),
                    spec("both", both.url, events=["created"], flows=["developers"]),
                ],
                env=ENV,
                allow_http=True,
                timeout=5,
            ),
            clock=world.clock,
            lease=timedelta(seconds=60),
            max_backoff=timedelta(seconds=30),
        )
        webhooks.prepare()
        developers = world.submit()
        on_call = world.submit(flow="on-call")
        world.through(developers, *STORY)
        world.through(on_call, Status.APPROVED)

        webhooks.run()

    def seen(receiver: Receiver) -> list[tuple[str, str]]:
        return [(e["request"]["id"], e["type"]) for e in receiver.events]

    assert seen(by_event) == [(developers, "request.active"), (developers, "request.revoked")]
    assert seen(by_flow) == [(on_call, "request.created"), (on_call, "request.approved")]
    assert seen(both) == [(developers, "request.created")]
    assert {name: c.position if c else None for name, c in webhooks.cursors().items()} == {
        name: end_of_log(world) for name in ("by-event", "by-flow", "both")
    }


def spec(name: str, url: str, **filters: Any) -> RequestWebhook:
    return RequestWebhook.model_validate(
        {"name": name, "url": url, "secret": "${HOOK_SECRET}", **filters}
    )


def test_two_instances_never_deliver_for_one_subscription_at_once(
    world: World, receiver: Receiver
) -> None:
    first = hooks(world, receiver.url)
    second = hooks(world, receiver.url)
    request_id = world.submit()
    receiver.on_event = lambda event: second.run()  # the other instance, mid-delivery

    first.run()

    assert receiver.types_for(request_id) == ["request.created"]
    assert len(receiver.ids()) == 1


def test_a_wake_up_of_the_same_instance_during_a_delivery_sends_nothing_twice(
    world: World, receiver: Receiver
) -> None:
    webhooks = hooks(world, receiver.url)
    request_id = world.submit()
    world.move(request_id, Status.APPROVED)
    receiver.on_event = lambda event: webhooks.run()  # the timer fires while a run is sending

    webhooks.run()

    assert receiver.types_for(request_id) == ["request.created", "request.approved"]
    assert len(receiver.ids()) == 2


def test_a_slow_receiver_holds_back_only_its_own_subscription(world: World) -> None:
    with receiving(SECRET) as slow, receiving(SECRET) as quick:
        webhooks = RequestWebhooks(
            store=world.store,
            subscriptions=subscriptions_from(
                [spec("slow", slow.url), spec("quick", quick.url)],
                env=ENV,
                allow_http=True,
                timeout=10,
            ),
            clock=world.clock,
            lease=timedelta(seconds=60),
            max_backoff=timedelta(seconds=30),
        )
        webhooks.prepare()
        quick_got_it = threading.Event()
        waited: list[bool] = []
        slow.on_event = lambda event: waited.append(quick_got_it.wait(5))
        quick.on_event = lambda event: quick_got_it.set()
        request_id = world.submit()

        webhooks.run()

    assert waited == [True]  # the quick one was served while the slow one was still answering
    assert slow.types_for(request_id) == quick.types_for(request_id) == ["request.created"]


def record(world: World, request_id: RequestId, kind: AuditKind, **data: Any) -> None:
    """An event the extension and break-glass features write, as they write it."""
    world.clock.advance(timedelta(seconds=1))
    with world.store.write() as uow:
        uow.audit.append(
            AuditEvent(
                kind=kind, at=world.clock.now(), actor=ALICE, request_id=request_id, data=data
            )
        )


def test_break_glass_and_extensions_are_told_with_the_status_the_request_stood_at(
    world: World, receiver: Receiver
) -> None:
    webhooks = hooks(world, receiver.url)
    broken = world.submit()
    record(world, broken, AuditKind.BREAK_GLASS_USED, reason="prod down", told=["C0AUDIT"])
    world.through(broken, Status.APPROVED, Status.GRANTING, Status.ACTIVE)
    record(world, broken, AuditKind.EXTENDED, new_end="2026-04-01T10:00:00+00:00")

    catch_up(world, webhooks)

    assert receiver.problems == []  # every body valid against the shipped schema, signed
    assert receiver.types_for(broken) == [
        "request.created",
        "request.break_glass",
        "request.approved",
        "request.granting",
        "request.active",
        "request.extended",
    ]
    by_type = {e["type"]: e for e in receiver.events}
    assert by_type["request.break_glass"]["request"]["status"] == "pending"
    assert by_type["request.break_glass"]["reason"] == "prod down"
    assert by_type["request.extended"]["request"]["status"] == "active"
    assert by_type["request.extended"]["request"]["previous_status"] == "active"


def test_a_filter_on_extended_gets_only_the_extensions(world: World, receiver: Receiver) -> None:
    webhooks = hooks(world, receiver.url, specs=[{"events": ["extended"]}])
    request_id = world.submit()
    world.through(request_id, Status.APPROVED, Status.GRANTING, Status.ACTIVE)
    record(world, request_id, AuditKind.EXTENDED)

    catch_up(world, webhooks)

    assert receiver.types_for(request_id) == ["request.extended"]
