"""Bounded retries for calls to integrations (a blip must not fail a whole request)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final, TypeVar

from app.integrations.base import IntegrationError

_log = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS: Final = 3
FIRST_DELAY: Final = 0.5


def with_retries(
    call: Callable[[], T],
    *,
    what: str,
    attempts: int = ATTEMPTS,
    delay: float = FIRST_DELAY,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call``; on :class:`IntegrationError` try again with doubling delays, then re-raise."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except IntegrationError as error:
            if attempt == attempts:
                raise
            _log.warning(
                "integration call failed; retrying",
                extra={"what": what, "attempt": attempt, "error": str(error)},
            )
            sleep(delay * 2 ** (attempt - 1))
    raise AssertionError("unreachable")
