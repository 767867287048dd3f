"""Break-glass's daily limit under racing submissions, on PostgreSQL with threads (README,
"Break-glass"): five forms of one person submitted at once against a limit of two; each round,
exactly two are let through and the other three are refused, and the refusals are audited."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.requesting.modal import FormInput
from app.requesting.submission import Field, Refused, Submitted
from domain.audit import AuditKind
from domain.break_glass import Trigger
from store.models import RequestRow
from store.unit_of_work import Store
from tests.unit.features.test_break_glass import GLASS_POLICY, GlassWorld
from tests.unit.features.world import ALICE

pytestmark = pytest.mark.integration

ROUNDS = 5
AT_ONCE = 5
LIMIT = 2  # the daily limit of oncall-db in GLASS_POLICY


def all_at_once(world: GlassWorld, forms: list[str]) -> list[Submitted | Refused]:
    """Each form submitted as break-glass by its own thread, all released together."""
    start = threading.Barrier(len(forms))
    outcomes: list[Submitted | Refused] = []
    lock = threading.Lock()

    def submit(draft_key: str) -> None:
        start.wait()
        outcome = world.submission.submit(
            draft_key=draft_key,
            user=ALICE.id,
            form=FormInput(duration="1h", justification="INC-9", break_glass=True),
        )
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=submit, args=(key,)) for key in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_racing_break_glass_submissions_never_exceed_the_daily_limit(pg_store: Store) -> None:
    world = GlassWorld(store=pg_store, policy=GLASS_POLICY)
    for day in range(ROUNDS):
        outcomes = all_at_once(world, [world.bundle_form() for _ in range(AT_ONCE)])

        let_through = [o for o in outcomes if isinstance(o, Submitted)]
        refused = [o for o in outcomes if isinstance(o, Refused)]
        assert len(let_through) == LIMIT, (day, outcomes)
        assert all(Field.BREAK_GLASS in o.errors for o in refused), refused
        with pg_store.read() as uow:
            stored = uow.session.scalar(
                select(func.count())
                .select_from(RequestRow)
                .where(RequestRow.trigger == Trigger.BREAK_GLASS.value)
            )
        assert stored == LIMIT * (day + 1)
        assert len(world.events(AuditKind.BREAK_GLASS_USED)) == LIMIT * (day + 1)
        assert len(world.events(AuditKind.BREAK_GLASS_REFUSED)) == (AT_ONCE - LIMIT) * (day + 1)
        world.clock.advance(timedelta(days=1))  # the limit starts over
