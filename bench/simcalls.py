"""Watching the simulator: when a Web API call arrived, and whether a Slack limit was broken."""

from __future__ import annotations

import time
from typing import Final

from slacksim import ApiCall, Simulator

POLL_SECONDS: Final = 0.001
"""How often to look for an API call. Only when the call is *noticed* depends on it; its time
comes from the simulator's own clock, taken when the request arrived."""


class BenchError(RuntimeError):
    """The app did not do what the benchmark drives it to do (so no figure is reported)."""


def fresh_records(sim: Simulator) -> None:
    """Fail on any Slack limit the last round broke, then forget its calls (keeps lookups short)."""
    found = sim.take_violations()
    if found:
        raise BenchError("; ".join(str(v) for v in found))
    sim.clear_records()


def wait_for_call(*, sim: Simulator, method: str, since: float, timeout: float = 5.0) -> ApiCall:
    """The first successful call to ``method`` that arrived at or after ``since``."""
    deadline = time.monotonic() + timeout
    while True:
        for call in sim.calls_to(method):
            if call.at < since:
                continue
            if not call.ok:
                raise BenchError(f"{method} failed: {call.error}")
            return call
        if time.monotonic() >= deadline:
            raise BenchError(f"no {method} call within {timeout} s")
        time.sleep(POLL_SECONDS)
