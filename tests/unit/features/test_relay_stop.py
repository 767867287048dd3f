"""A relay that stops holding claimed messages hands them back at once (app/slack/relay.py)."""

from __future__ import annotations

from typing import cast

from slack_sdk import WebClient
from sqlalchemy import select

from app.core.sealing import Sealer
from app.slack.relay import LEASE, OutboxRelay
from store.models import OutboxRow
from store.repositories.outbox import PENDING
from tests.unit.features.world import World


class NoSlack:
    """Never called: the relay stops before it sends."""


def test_messages_a_stopped_relay_claimed_but_never_sent_are_free_for_the_next_relay_at_once(
    world: World,
) -> None:
    with world.store.write() as uow:
        uow.outbox.add(at=world.clock.now(), ordering_key="k", channel="C0X", kind="post")
    relay = OutboxRelay(
        store=world.store,
        client=cast(WebClient, NoSlack()),
        sealer=Sealer.derived_from(secret="xapp-unit"),
        clock=world.clock,
    )
    relay.stop()  # its sending pool takes no more work

    assert relay.relay_once() == 1  # a round that claimed just as the relay stopped

    with world.store.read() as uow:
        [row] = uow.session.execute(
            select(OutboxRow.status, OutboxRow.lease_until, OutboxRow.last_error)
        ).all()
    # Not left leased for a minute: the next relay may claim it now.
    assert tuple(row) == (PENDING, None, "deferred")
    with world.store.write() as uow:
        again = uow.outbox.claim(owner="next", now=world.clock.now(), lease=LEASE, limit=10)
    assert [m.channel for m in again] == ["C0X"]
