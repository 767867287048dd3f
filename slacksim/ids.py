"""Identifier factories shaped like Slack's (V…, D…, F…, trigger ids, ts, hashes)."""

from __future__ import annotations

import itertools
import random
import secrets
import string
import threading
import time
import uuid

_ALNUM = string.ascii_letters + string.digits
# Not secrets: these only name blocks and hashes, and views.open fills in hundreds per call.
_random = random.Random()


def random_token(length: int) -> str:
    return "".join(_random.choices(_ALNUM, k=length))


class IdFactory:
    """Counters make ids readable in failures and stable within one run."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()
        self._last_ts = 0.0

    def next(self, prefix: str, width: int = 8) -> str:
        with self._lock:
            counter = self._counters.setdefault(prefix, itertools.count(1))
            return f"{prefix}{next(counter):0{width}X}"

    def ts(self) -> str:
        # Slack's ts doubles as the message key, so it must be unique and increasing.
        with self._lock:
            now = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def trigger_id(self) -> str:
        return f"{int(time.time())}.{self.next('', 10)}.{secrets.token_hex(16)}"

    @staticmethod
    def view_hash() -> str:
        return f"{time.time():.6f}.{random_token(8)}"

    @staticmethod
    def envelope_id() -> str:
        return str(uuid.uuid4())

    @staticmethod
    def block_id() -> str:
        return random_token(5)

    @staticmethod
    def action_id() -> str:
        return random_token(5)
