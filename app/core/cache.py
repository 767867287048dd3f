"""A small thread-safe cache with expiry, and stale-while-revalidate for slow sources.

With ``refresh_in_background``, an expired entry is still answered at once while one background
thread reloads it: a listener racing Slack's 3 s deadline never waits for the Web API because a
minute has passed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

_log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(
        self,
        *,
        ttl: float,
        refresh_in_background: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._background = refresh_in_background
        self._monotonic = monotonic
        self._entries: dict[K, tuple[float, V]] = {}
        self._refreshing: set[K] = set()
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        now = self._monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
            stale = hit is not None and self._background
            if stale and key not in self._refreshing:
                self._refreshing.add(key)
                threading.Thread(target=self._refresh, args=(key, load), daemon=True).start()
        if stale:
            assert hit is not None
            return hit[1]
        value = load()
        with self._lock:
            self._entries[key] = (self._monotonic() + self._ttl, value)
        return value

    def _refresh(self, key: K, load: Callable[[], V]) -> None:
        try:
            value = load()
            with self._lock:
                self._entries[key] = (self._monotonic() + self._ttl, value)
        except Exception:
            _log.warning("background refresh failed; the stale value stays", exc_info=True)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
