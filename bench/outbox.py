"""Waiting for the app's outbox relay, so one sample's messages do not land in the next."""

from __future__ import annotations

import time
from typing import Final

from bench.simcalls import BenchError
from store.unit_of_work import Store

DRAIN_TIMEOUT: Final = 15.0
POLL_SECONDS: Final = 0.005


def drain_outbox(
    store: Store, *, timeout: float = DRAIN_TIMEOUT, interval: float = POLL_SECONDS
) -> None:
    """Return once no Slack message waits in the outbox (the relay sent them all)."""
    deadline = time.monotonic() + timeout
    while True:
        with store.read() as uow:
            if uow.outbox.pending_count() == 0:
                return
        if time.monotonic() >= deadline:
            raise BenchError(f"the outbox did not drain within {timeout:g} s")
        time.sleep(interval)
