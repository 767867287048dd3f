"""Approval benchmarks (issue 4): the DM fan-out of a submission, and the ack of an Approve click,
in a one-step flow and in a three-step one (issue 15).

Target on the 2-core reference machine: ``approval.decide`` and ``approval.decide_3_steps`` p99
under 100 ms. The fan-out has
no target; its floor is an empty Bolt app that acks the same submission and then posts the 50
DMs one after another from its listener.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from app.core.notifier import approval_ref
from bench.approval_world import (
    APPROVERS,
    DECIDE,
    DECIDERS,
    FANOUT,
    REQUESTER,
    STEPPERS,
    THREE_STEPS,
    ApprovalWorld,
    approval_world,
)
from bench.context import Context
from bench.figures import Distribution, ms
from bench.floor_extra import wait_for_posts
from bench.outbox import drain_outbox
from bench.registry import benchmark
from bench.requesting import poll, prepare, request_bundle, submit
from bench.sampling import frozen_heap, interleaved
from bench.simcalls import BenchError, fresh_records, wait_for_call
from bench.stats import median
from blocks.ids import ActionId
from domain.ids import RequestId
from domain.lifecycle import Status
from slacksim import Ack, Simulator
from store.unit_of_work import Store

JSON = dict[str, Any]

REASON: Final = "Benchmark: incident INC-4"
FANOUT_TIMEOUT: Final = 15.0
GRANTED: Final = [Status.PENDING, Status.APPROVED, Status.GRANTING, Status.ACTIVE]


@contextmanager
def _checked_world() -> Iterator[ApprovalWorld]:
    with approval_world() as world:
        # The first submission also fills the app's directory cache (50 users.info calls),
        # which is then fresh for a minute, as in a busy workspace.
        _fanout_once(world, check=True)
        yield world


def _world(ctx: Context) -> ApprovalWorld:
    return ctx.shared(key="approval.world", factory=_checked_world)


def _fanout_once(world: ApprovalWorld, *, check: bool = False) -> tuple[float, JSON]:
    """One submission to the 50-person flow; seconds to the 50th DM, and the payload sent."""
    sim, store = world.subject.sim, world.subject.store
    view = prepare(sim, user=REQUESTER, bundle=FANOUT, reason=REASON)
    fresh_records(sim)
    ack, request_id = submit(sim, user=REQUESTER, view=view)
    last = wait_for_posts(sim=sim, to=APPROVERS, since=ack.sent_at, timeout=FANOUT_TIMEOUT)
    drain_outbox(store)
    if check:
        with store.read() as uow:
            asked = {a.id for a in uow.requests.approvers(request_id)}
        if asked != set(APPROVERS):
            raise BenchError(f"{len(asked)} approvers recorded for {request_id}, not 50")
        # Nothing arrived after the 50th either: still one DM per approver.
        wait_for_posts(sim=sim, to=APPROVERS, since=ack.sent_at, timeout=FANOUT_TIMEOUT)
    payload: JSON = ack.envelope["payload"]
    return last.at - ack.sent_at, payload


@benchmark(name="approval.fanout_50", unit="ms")
def approval_fanout_50(ctx: Context) -> Distribution:
    """Submit → the 50th approver's DM arrives (chat.postMessage), approvers: a 50-person group."""
    world = _world(ctx)
    latest: list[JSON] = [_fanout_once(world)[1]]

    def subject() -> float:
        seconds, payload = _fanout_once(world)
        latest[0] = payload
        return ms(seconds)

    with frozen_heap():  # the app and the floor run in processes of their own
        return interleaved(
            subject=subject,
            floor=lambda: ms(world.floor.fanout_latency(payload=latest[0])),
            n=ctx.samples(full=20, quick=5),
            warmup=ctx.samples(full=2, quick=1),
        )


def _approval_message(store: Store, *, request_id: RequestId, approver: str) -> tuple[str, str]:
    """Where the app posted ``approver``'s copy of the approval message (channel, ts)."""

    def posted() -> tuple[str, str] | None:
        with store.read() as uow:
            found = uow.outbox.posted(approval_ref(request_id, approver))
        return (found.channel, found.ts) if found else None

    return poll(posted, what=f"the approval DM of {request_id} to {approver}")


def _status(store: Store, request_id: RequestId) -> Status | None:
    with store.read() as uow:
        request = uow.requests.get(request_id)
    return request.status if request else None


def _approve(world: ApprovalWorld, *, request_id: RequestId, clicker: str) -> tuple[Ack, float]:
    """Click Approve; the ack, and seconds until the clicker's confirmation (an ephemeral).

    Returns once the request is active and every message it caused has gone out, so this
    click's grant and fan-out do not run inside the next sample.
    """
    sim, store = world.subject.sim, world.subject.store
    message = _approval_message(store, request_id=request_id, approver=clicker)
    fresh_records(sim)
    ack = sim.click(clicker, action_id=ActionId.APPROVE, message=message)
    reply = wait_for_call(sim=sim, method="chat.postEphemeral", since=ack.sent_at)
    poll(
        lambda: _status(store, request_id) is Status.ACTIVE,
        what=f"{request_id} becoming active",
    )
    drain_outbox(store)
    return ack, reply.at - ack.sent_at


def _pending(sim: Simulator, store: Store, count: int) -> list[RequestId]:
    """``count`` requests waiting for the two deciders, their approval DMs already posted."""
    ids = [request_bundle(sim, user=REQUESTER, bundle=DECIDE, reason=REASON) for _ in range(count)]
    drain_outbox(store)
    fresh_records(sim)
    return ids


@benchmark(name="approval.decide", unit="ms")
def approval_decide(ctx: Context) -> Distribution:
    """Approve clicked in the approver's DM → its ack (a real Redis grant follows each click)."""
    world = _world(ctx)
    sim, store = world.subject.sim, world.subject.store
    n = ctx.samples(full=150, quick=20)
    warmup = ctx.samples(full=10, quick=3)
    queue = iter(_pending(sim, store, n + warmup + 1))
    clickers = itertools.cycle(DECIDERS)

    first = next(queue)
    ack, _ = _approve(world, request_id=first, clicker=next(clickers))
    with store.read() as uow:
        history = [c.to_status for c in uow.requests.history(first)]
    if history != GRANTED:
        raise BenchError(f"{first} went through {history}, not {GRANTED}")
    replies = [e.text for e in sim.ephemerals(DECIDERS[0])]
    if not any("You approved" in r for r in replies):
        raise BenchError(f"the approver was not told: {replies}")
    payload: JSON = ack.envelope["payload"]
    confirmations: list[float] = []

    def subject() -> float:
        ack, confirmed = _approve(world, request_id=next(queue), clicker=next(clickers))
        confirmations.append(confirmed)
        return ms(ack.latency)

    with frozen_heap():
        outcome = interleaved(
            subject=subject,
            floor=lambda: ms(world.floor.ack_latency(payload=payload)),
            n=n,
            warmup=warmup,
        )
    # Not a figure of its own: what the clicker waits for after the ack, for the findings.
    ctx.log(f"[bench] approval.decide: confirmation median {ms(median(confirmations)):.1f} ms")
    return outcome


def _click(world: ApprovalWorld, *, request_id: RequestId, step: int) -> Ack:
    """Approve step ``step`` of a three-step request; returns once the next step's approver has
    their DM (or the request is active and its messages sent), so no sample overlaps another's
    work."""
    sim, store = world.subject.sim, world.subject.store
    clicker = STEPPERS[step]
    message = _approval_message(store, request_id=request_id, approver=clicker)
    fresh_records(sim)
    ack = sim.click(clicker, action_id=ActionId.APPROVE, message=message)
    wait_for_call(sim=sim, method="chat.postEphemeral", since=ack.sent_at)
    if step + 1 < len(STEPPERS):
        _approval_message(store, request_id=request_id, approver=STEPPERS[step + 1])
    else:
        poll(
            lambda: _status(store, request_id) is Status.ACTIVE,
            what=f"{request_id} becoming active",
        )
    drain_outbox(store)
    return ack


@benchmark(name="approval.decide_3_steps", unit="ms")
def approval_decide_3_steps(ctx: Context) -> Distribution:
    """Approve clicked in a three-step flow (one approver per step) → its ack; every step's
    click is a sample (the last one approves, and a real Redis grant follows)."""
    world = _world(ctx)
    sim, store = world.subject.sim, world.subject.store
    n = ctx.samples(full=150, quick=21)
    warmup = ctx.samples(full=9, quick=3)
    requests = (n + warmup) // len(STEPPERS) + 2
    ids = [
        request_bundle(sim, user=REQUESTER, bundle=THREE_STEPS, reason=REASON)
        for _ in range(requests)
    ]
    drain_outbox(store)
    fresh_records(sim)
    clicks = iter((r, step) for r in ids for step in range(len(STEPPERS)))

    request_id, step = next(clicks)
    ack = _click(world, request_id=request_id, step=step)
    for _ in range(len(STEPPERS) - 1):
        request_id, step = next(clicks)
        _click(world, request_id=request_id, step=step)
    with store.read() as uow:
        history = [c.to_status for c in uow.requests.history(request_id)]
        decided = [d.approver for d in uow.requests.decisions(request_id)]
    if history != GRANTED or decided != list(STEPPERS):
        raise BenchError(f"{request_id} went through {history}, decided by {decided}")
    payload: JSON = ack.envelope["payload"]

    def subject() -> float:
        request_id, step = next(clicks)
        return ms(_click(world, request_id=request_id, step=step).latency)

    with frozen_heap():
        return interleaved(
            subject=subject,
            floor=lambda: ms(world.floor.ack_latency(payload=payload)),
            n=n,
            warmup=warmup,
        )
