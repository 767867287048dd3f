"""A relay tidies the outbox after every ``TIDY_EVERY`` messages it sent, and a tidying that
fails never stops it sending (app/slack/relay.py, ``Store.tidy_outbox``)."""

from __future__ import annotations

from typing import Any, cast

from slack_sdk import WebClient

from app.core.sealing import Sealer
from app.slack.relay import TIDY_EVERY, OutboxRelay
from store.repositories.outbox import NewMessage
from store.unit_of_work import Store
from tests.unit.features.world import World

CHANNELS = 20


class Slack:
    """``chat.postMessage`` answered in Slack's shape."""

    def __init__(self) -> None:
        self.posted = 0

    def chat_postMessage(self, *, channel: str, **_payload: Any) -> dict[str, Any]:  # noqa: N802
        self.posted += 1
        return {"ok": True, "channel": channel, "ts": f"{self.posted}.000"}


class CountingStore(Store):
    def __init__(self, store: Store, *, fails: bool = False) -> None:
        super().__init__(engine=store.engine, audit_keys=store.audit_keys)
        self.tidied = 0
        self._fails = fails

    def tidy_outbox(self) -> None:
        self.tidied += 1
        if self._fails:
            raise RuntimeError("VACUUM refused")
        super().tidy_outbox()


def sent_through_a_relay(world: World, store: Store, count: int) -> Slack:
    with store.write() as uow:
        uow.outbox.add_many(
            at=world.clock.now(),
            messages=[
                NewMessage(
                    ordering_key=f"k{i}", channel=f"C{i % CHANNELS}", kind="post", payload={}
                )
                for i in range(count)
            ],
        )
    slack = Slack()
    relay = OutboxRelay(
        store=store,
        client=cast(WebClient, slack),
        sealer=Sealer.derived_from(secret="xapp-unit"),
        clock=world.clock,
        per_channel_rate=1_000_000.0,
    )
    relay.start()
    try:
        assert relay.drain(timeout=30)
    finally:
        relay.stop()
    return slack


def test_a_relay_tidies_the_outbox_once_per_so_many_messages_sent(world: World) -> None:
    store = CountingStore(world.store)

    slack = sent_through_a_relay(world, store, 2 * TIDY_EVERY + TIDY_EVERY // 2)

    assert slack.posted == 2 * TIDY_EVERY + TIDY_EVERY // 2
    # After the 500th and the 1,000th; the last 250 wait for the next 500.
    assert store.tidied == 2


def test_a_relay_whose_tidying_fails_still_sends_every_message(world: World) -> None:
    store = CountingStore(world.store, fails=True)

    slack = sent_through_a_relay(world, store, TIDY_EVERY + 10)

    assert slack.posted == TIDY_EVERY + 10
    assert store.tidied == 1
    with store.read() as uow:
        assert uow.outbox.pending_count() == 0
