"""Abandoned request forms and long-sent messages are forgotten; pending ones never are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.core.housekeeping import Housekeeping
from domain.clock import ManualClock
from domain.drafts import Mode
from domain.objects import AccessObject
from store.unit_of_work import Store

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def test_old_drafts_and_old_sent_messages_go_and_the_rest_stays(store: Store) -> None:
    clock = ManualClock(start=T0)
    with store.write() as uow:
        old = uow.drafts.create(user_id="U1", mode=Mode.BUNDLE, at=T0)
        uow.drafts.add(old.key, [AccessObject("pg", "sales.orders", "read_only")])
        for i in range(3):
            uow.outbox.add(at=T0, ordering_key=f"k{i}", channel="U1", kind="post", payload={})
    with store.write() as uow:
        [first, *_] = uow.outbox.claim(owner="r", now=T0, lease=timedelta(seconds=30), limit=1)
        uow.outbox.mark_sent(message_id=first.id, owner="r", at=T0)
    clock.set(T0 + timedelta(days=8))
    with store.write() as uow:
        fresh = uow.drafts.create(user_id="U2", mode=Mode.BUNDLE, at=clock.now())
    assert Housekeeping(store=store, clock=clock).run() == (1, 1)
    with store.read() as uow:
        assert uow.drafts.get(old.key) is None
        assert uow.drafts.count(old.key) == 0
        assert uow.drafts.get(fresh.key) is not None
        assert uow.outbox.pending_count() == 2
