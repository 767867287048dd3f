"""Keeping a claim alive while working on it.

Leases are short so that a dead instance's work is picked up quickly; a live instance renews
its lease while an integration call runs long, so nobody else starts the same work meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from domain.clock import Clock
from domain.ids import RequestId
from store.repositories.grants import GrantRepository
from store.unit_of_work import Store

_log = logging.getLogger(__name__)


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
    """Renew the leases of ``request_id`` (or all of ``request_ids``) while the block runs."""
    ids = [request_id] if request_id is not None else list(request_ids)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease.total_seconds() / 3):
            with store.write() as uow:
                for held in ids:
                    uow.grants.renew(request_id=held, owner=owner, now=clock.now(), lease=lease)

    keeper = threading.Thread(target=renew, name="lease-keeper", daemon=True)
    keeper.start()
    try:
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
    lease to lapse, so it is retried later (here or by another instance)."""
    done = 0
    while True:
        with store.write() as uow:
            claimed = claim(uow.grants, owner, clock.now(), lease)
        if not claimed:
            return done
        for request_id in claimed:
            try:
                with kept(
                    store=store, clock=clock, request_id=request_id, owner=owner, lease=lease
                ):
                    if work(request_id):
                        done += 1
            except Exception:
                _log.exception("background work failed", extra={"request": request_id})
