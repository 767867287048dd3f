"""Keeping a claim alive while working on it, and handing it back when the bot stops.

Leases are short so that a dead instance's work is picked up quickly; a live instance renews
its lease while an integration call runs long, so nobody else starts the same work meanwhile.
An instance that is asked to stop (docs/architecture.md, "Durable time") takes no new claim,
and the claims its workers still hold when time runs out are released at once, so another
instance takes the work over without waiting for the lease to lapse.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from app.logs import request_context
from domain.clock import Clock
from domain.ids import RequestId
from store.repositories.grants import GrantRepository
from store.unit_of_work import Store

_log = logging.getLogger(__name__)


class HandedBack(Exception):
    """The worker was asked to stop: the claims it had just taken were released unworked."""


class Shift:
    """One worker thread's part in a shutdown: whether it was asked to stop, and which claims
    it holds right now (so they can be handed back while it is stuck in a slow call)."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._held: dict[int, tuple[Store, str, tuple[RequestId, ...]]] = {}
        self._next = 0

    @contextmanager
    def holding(self, *, store: Store, owner: str, ids: Sequence[RequestId]) -> Iterator[None]:
        with self._lock:
            self._next += 1
            key = self._next
            self._held[key] = (store, owner, tuple(ids))
        try:
            yield
        finally:
            with self._lock:
                self._held.pop(key, None)

    def hand_back(self) -> list[RequestId]:
        """Release every claim still held; returns the requests handed back. Releasing one
        that was finished meanwhile changes nothing (its lease was already cleared)."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
        returned: list[RequestId] = []
        for store, owner, ids in held:
            release(store=store, owner=owner, ids=ids)
            returned += [i for i in ids if i not in returned]  # a batch and its kept() overlap
        for request_id in returned:
            with request_context(request_id):
                _log.warning("stopping: claim handed back to the next instance")
        return returned


_shift: ContextVar[Shift | None] = ContextVar("shift", default=None)


def join_shift(shift: Shift) -> None:
    """The calling thread's work from now on belongs to ``shift`` (a worker thread's first
    call; work run elsewhere, e.g. by tests with a manual clock, belongs to none)."""
    _shift.set(shift)


def stopping() -> bool:
    """Whether the calling thread's worker was asked to stop."""
    shift = _shift.get()
    return shift is not None and shift.stopping.is_set()


def release(*, store: Store, owner: str, ids: Sequence[RequestId]) -> None:
    with store.write() as uow:
        for request_id in ids:
            uow.grants.release(request_id=request_id, owner=owner)


@contextmanager
def kept(
    *,
    store: Store,
    clock: Clock,
    request_id: RequestId | None = None,
    request_ids: Sequence[RequestId] = (),
    owner: str,
    lease: timedelta,
) -> Iterator[None]:
    """Renew the leases of ``request_id`` (or all of ``request_ids``) while the block runs.

    Raises :class:`HandedBack` instead of running the block when the worker is stopping: the
    claims were taken a moment ago and go straight back."""
    ids = [request_id] if request_id is not None else list(request_ids)
    if stopping():
        release(store=store, owner=owner, ids=ids)
        raise HandedBack(ids)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease.total_seconds() / 3):
            with store.write() as uow:
                for held in ids:
                    uow.grants.renew(request_id=held, owner=owner, now=clock.now(), lease=lease)

    keeper = threading.Thread(target=renew, name="lease-keeper", daemon=True)
    keeper.start()
    try:
        with _held_by_this_worker(store=store, owner=owner, ids=ids):
            yield
    finally:
        stop.set()
        keeper.join()


def work_through_claims(
    *,
    store: Store,
    clock: Clock,
    owner: str,
    lease: timedelta,
    claim: Callable[[GrantRepository, str, datetime, timedelta], list[RequestId]],
    work: Callable[[RequestId], bool],
) -> int:
    """Claim due requests batch by batch and ``work`` on each under a renewed lease.

    Returns how many ``work`` reported done. A failure on one request is logged and leaves its
    lease to lapse, so it is retried later (here or by another instance). A worker asked to
    stop claims nothing more and hands back the rest of its batch."""
    done = 0
    while not stopping():
        with store.write() as uow:
            claimed = claim(uow.grants, owner, clock.now(), lease)
        if not claimed:
            return done
        with _held_by_this_worker(store=store, owner=owner, ids=claimed):
            for index, request_id in enumerate(claimed):
                if stopping():
                    release(store=store, owner=owner, ids=claimed[index:])
                    raise HandedBack(claimed[index:])
                done += _work_on(
                    store=store,
                    clock=clock,
                    owner=owner,
                    lease=lease,
                    request_id=request_id,
                    work=work,
                )
    return done


def _work_on(
    *,
    store: Store,
    clock: Clock,
    owner: str,
    lease: timedelta,
    request_id: RequestId,
    work: Callable[[RequestId], bool],
) -> bool:
    with request_context(request_id):
        _log.info("working on a claimed request", extra={"worker": owner})
        try:
            with kept(store=store, clock=clock, request_id=request_id, owner=owner, lease=lease):
                finished = work(request_id)
        except HandedBack:
            raise
        except Exception:
            _log.exception("background work failed", extra={"worker": owner})
            return False
        _log.info(
            "claimed request done" if finished else "claimed request not done yet",
            extra={"worker": owner},
        )
        return finished


@contextmanager
def _held_by_this_worker(*, store: Store, owner: str, ids: Sequence[RequestId]) -> Iterator[None]:
    shift = _shift.get()
    if shift is None:
        yield
    else:
        with shift.holding(store=store, owner=owner, ids=ids):
            yield
