"""Watching the simulator: when a Web API call arrived, and whether a Slack limit was broken."""

from __future__ import annotations

from slacksim import ApiCall, Simulator


class BenchError(RuntimeError):
    """The app did not do what the benchmark drives it to do (so no figure is reported)."""


def fresh_records(sim: Simulator) -> None:
    """Fail on any Slack limit the last round broke, then forget its calls (keeps lookups short)."""
    found = sim.take_violations()
    if found:
        raise BenchError("; ".join(str(v) for v in found))
    sim.clear_records()


def wait_for_call(*, sim: Simulator, method: str, since: float, timeout: float = 5.0) -> ApiCall:
    """The first successful call to ``method`` that arrived at or after ``since``.

    Waits on the simulator's records (it wakes on each new call), so the driver spends no CPU
    polling; the call's time is the simulator's own clock, taken when the request arrived."""
    try:
        call = sim.wait_for_call(method, since=since, timeout=timeout)
    except TimeoutError:
        raise BenchError(f"no {method} call within {timeout} s") from None
    if not call.ok:
        raise BenchError(f"{method} failed: {call.error}")
    return call
