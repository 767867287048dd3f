"""Taking samples: warm-up first, then subject and baseline interleaved."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

from bench.figures import Distribution

Sample = Callable[[], float]
"""Does one round (its untimed preparation included) and returns the timed part."""

SETTLE_SECONDS: Final = 0.002
"""A pause between samples, so a listener's trailing work (closing its HTTP response, ...)
does not overlap the next sample."""


def warm_up(*, sample: Sample, times: int) -> None:
    """Run ``sample`` and throw the result away: first calls fill caches, pools and imports."""
    for _ in range(times):
        sample()


def interleaved(
    *,
    subject: Sample,
    floor: Sample | None,
    n: int,
    warmup: int,
    settle: float = SETTLE_SECONDS,
) -> Distribution:
    """``n`` samples of ``subject`` and as many of ``floor``, alternating which goes first.

    The machine is small and shared, so its speed drifts during a run; taking baseline and
    subject side by side makes both see the same drift, and alternating the order cancels any
    advantage of going first (a warm CPU cache, a quiet scheduler).
    """
    for _ in range(warmup):
        if floor is not None:
            floor()
        subject()
    samples: list[float] = []
    floors: list[float] = []
    for i in range(n):
        if floor is not None and i % 2 == 0:
            floors.append(floor())
            samples.append(subject())
        else:
            samples.append(subject())
            if floor is not None:
                floors.append(floor())
        time.sleep(settle)
    return Distribution(samples=samples, floor=floors if floor is not None else None)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the benchmark's own heap out of its garbage collector while sampling.

    Only for subjects in another process (:mod:`bench.appprocess`): the simulator keeps every
    envelope and view it sent, and a full collection of this process (SQLAlchemy, pydantic
    and slacksim loaded) pauses its threads for tens of milliseconds, which would land in
    whichever sample it hits. Freezing an in-process app this way would change what is
    measured, so do not use it with :mod:`bench.inprocess`.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
