"""What a request holds, per integration, kept in memory once read.

A request's objects are written once, when it is stored, and never change afterwards, so its
summary parts (three grouped queries over its objects) are computed once per process instead
of on every status change and message (docs/architecture.md, "Lifecycle"). Entries are keyed
by the request's ID *and* creation time, so a deleted request whose ID came back could never
be shown another request's objects; parts read inside a write transaction are kept only once
it has committed (:class:`~store.unit_of_work.Store`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from domain.summary import IntegrationPart

PartsKey = tuple[str, datetime]
Parts = tuple[IntegrationPart, ...]

SIZE: Final = 20_000
"""Requests remembered; the oldest read is forgotten first (a few MB at most)."""


class PartsCache:
    def __init__(self, *, size: int = SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[PartsKey, Parts] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: PartsKey) -> Parts | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put_all(self, entries: Mapping[PartsKey, Parts]) -> None:
        if not entries:
            return
        with self._lock:
            self._entries.update(entries)
            for key in entries:
                self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
