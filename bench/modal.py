"""Request modal benchmarks (issue 3): ack to the view call, against an empty Bolt listener.

Targets on the 2-core reference machine: every p99 under 100 ms, every p50 within 3× its floor.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from bench.context import Context
from bench.figures import Distribution, ms
from bench.modal_steps import (
    last_payload,
    open_modal,
    pick_bundle,
    prepare_submission,
    submit,
    suggest,
    suggestion_payload,
    top_view,
)
from bench.modal_world import (
    ELIGIBLE_BUNDLES,
    PICK_A,
    PICK_B,
    REQUESTER,
    SEARCH,
    SUBMIT,
    ModalWorld,
    modal_world,
)
from bench.registry import benchmark
from bench.sampling import Sample, frozen_heap, interleaved
from bench.simcalls import BenchError
from domain.ids import UserId
from slacksim import texts_of

QUERIES: Final[dict[str, bool]] = {
    # query -> whether it matches anything in the 100,000-object bundle
    "obj004242": True,  # one object per integration
    "shop obj029999": True,  # exactly one
    "obj0042": True,  # more than a page: the answer stops at 100
    "read_write obj00": True,  # only the Redis share
    "zzz": False,
    "obj999999": False,
}
OUTBOX_TIMEOUT: Final = 10.0


@contextmanager
def _checked_world() -> Iterator[ModalWorld]:
    with modal_world() as world:
        sim = world.subject.sim
        open_modal(sim)
        offered = f"{ELIGIBLE_BUNDLES} bundles offered to you"
        if not any(offered in text for text in texts_of(top_view(sim).blocks)):
            raise BenchError(f"the modal does not say {offered!r}")
        yield world


def _world(ctx: Context) -> ModalWorld:
    return ctx.shared(key="modal.world", factory=_checked_world)


def _sample(
    ctx: Context, *, subject: Sample, floor: Sample, full: int, warmup: int
) -> Distribution:
    with frozen_heap():  # the app and the floor run in processes of their own
        return interleaved(
            subject=subject,
            floor=floor,
            n=ctx.samples(full=full, quick=max(full // 10, 10)),
            warmup=ctx.samples(full=warmup, quick=max(warmup // 4, 2)),
        )


@benchmark(name="modal.open", unit="ms")
def modal_open(ctx: Context) -> Distribution:
    """/apono → views.open, for a requester offered 200 bundles by 50 flows."""
    world = _world(ctx)
    sim = world.subject.sim
    return _sample(
        ctx,
        subject=lambda: ms(open_modal(sim)),
        floor=lambda: ms(world.floor.open_latency(user=REQUESTER)),
        full=300,
        warmup=20,
    )


@benchmark(name="modal.bundle_pick_10k", unit="ms")
def modal_bundle_pick_10k(ctx: Context) -> Distribution:
    """Bundle picked in Bundle Mode → views.update, alternating two 10,000-object bundles."""
    world = _world(ctx)
    sim = world.subject.sim
    open_modal(sim)
    pick_bundle(sim=sim, bundle=PICK_A)
    shown = " ".join(texts_of(top_view(sim).blocks))
    if "10,000 objects" not in shown:
        raise BenchError(f"the picked bundle is not summarised: {shown[:300]}")
    payload = last_payload(sim)
    # Each pick changes the bundle, as a person comparing two bundles would.
    bundles = itertools.cycle([PICK_B, PICK_A])
    return _sample(
        ctx,
        subject=lambda: ms(pick_bundle(sim=sim, bundle=next(bundles))),
        floor=lambda: ms(world.floor.update_latency(payload=payload)),
        full=300,
        warmup=20,
    )


@benchmark(name="modal.typeahead_100k", unit="ms")
def modal_typeahead_100k(ctx: Context) -> Distribution:
    """Object search in a 100,000-object bundle → ack with options (some queries match none)."""
    world = _world(ctx)
    sim = world.subject.sim
    open_modal(sim)
    pick_bundle(sim=sim, bundle=SEARCH)
    recorded = []
    for query, matches in QUERIES.items():
        payload, found = suggestion_payload(sim=sim, query=query)
        if (found > 0) != matches:
            raise BenchError(f"{query!r} found {found} objects")
        recorded.append((payload, found))
    subjects = itertools.cycle(recorded)
    floors = itertools.cycle(recorded)

    def subject() -> float:
        payload, found = next(subjects)
        return ms(suggest(sim=sim, payload=payload, expected=found))

    return _sample(
        ctx,
        subject=subject,
        floor=lambda: ms(world.floor.ack_latency(payload=next(floors)[0])),
        full=300,
        warmup=len(QUERIES) * 3,
    )


@benchmark(name="modal.submit_1000", unit="ms")
def modal_submit_1000(ctx: Context) -> Distribution:
    """Submit of 1,000 selected objects → ack confirming the stored request."""
    world = _world(ctx)
    sim = world.subject.sim
    store = world.subject.store
    submit(sim=sim, view=prepare_submission(sim=sim, bundle=SUBMIT))
    payload = last_payload(sim)
    with store.read() as uow:
        [latest] = uow.requests.recent_for(UserId(REQUESTER), limit=1)
        stored = len(uow.requests.objects(latest))
    if stored != 1000:
        raise BenchError(f"the request holds {stored} objects, not 1,000")

    def subject() -> float:
        view = prepare_submission(sim=sim, bundle=SUBMIT)
        latency = submit(sim=sim, view=view).latency
        _drain_outbox(world)
        return ms(latency)

    return _sample(
        ctx,
        subject=subject,
        floor=lambda: ms(world.floor.ack_latency(payload=payload)),
        full=100,
        warmup=5,
    )


def _drain_outbox(world: ModalWorld) -> None:
    """Let the relay post the approval messages of the last submission before the next one, so
    one sample's fan-out does not land inside the next sample's timing."""
    deadline = time.monotonic() + OUTBOX_TIMEOUT
    while True:
        with world.subject.store.read() as uow:
            if uow.outbox.pending_count() == 0:
                return
        if time.monotonic() >= deadline:
            raise BenchError(f"the outbox did not drain within {OUTBOX_TIMEOUT} s")
        time.sleep(0.005)
