"""Keeping a claim alive while working on it.

Leases are short so that a dead instance's work is picked up quickly; a live instance renews
its lease while an integration call runs long, so nobody else starts the same work meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from domain.clock import Clock
from domain.ids import RequestId
from store.unit_of_work import Store


@contextmanager
def kept(
    *, store: Store, clock: Clock, request_id: RequestId, owner: str, lease: timedelta
) -> Iterator[None]:
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease.total_seconds() / 3):
            with store.write() as uow:
                uow.grants.renew(request_id=request_id, owner=owner, now=clock.now(), lease=lease)

    keeper = threading.Thread(target=renew, name=f"lease-{request_id}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
