"""Counting grants and revokes across app processes: a Redis hash per kind, account → calls.

Two app instances run in processes of their own, so an in-memory counter (like
``tests.fakes.RecordingIntegration``) would see only half of the calls; both instances and the
benchmark reach the same Redis server, where ``HINCRBY`` is atomic. :class:`LedgerIntegration`
records every call there, around a real integration or none at all (then a grant hands out
made-up credentials and a revoke only counts), which is how ``expiry.mass_10k`` measures the
instances' coordination rather than a target server.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Final, cast

import redis

from app.integrations.base import AccessDetails, GrantItem, Integration, Resource, RevokeOutcome

GRANTS: Final = "grants"
REVOKES: Final = "revokes"


class Ledger:
    """Calls per account, one hash per kind under ``key``."""

    def __init__(self, *, url: str, key: str) -> None:
        self.url = url
        self.key = key
        # One client per process: its pool is thread-safe, and a connection per call would
        # cost more than the counting itself.
        self._client = redis.Redis.from_url(url)

    def count(self, kind: str, account: str) -> None:
        self._client.hincrby(f"{self.key}:{kind}", account, 1)

    def count_many(self, kind: str, accounts: Sequence[str]) -> None:
        """One round trip for a batch (a pipeline of ``HINCRBY``)."""
        pipe = self._client.pipeline(transaction=False)
        for account in accounts:
            pipe.hincrby(f"{self.key}:{kind}", account, 1)
        pipe.execute()

    def counts(self, kind: str) -> dict[str, int]:
        # redis-py types replies as sync-or-async; this client is synchronous.
        raw = cast(dict[bytes, bytes], self._client.hgetall(f"{self.key}:{kind}"))
        return {k.decode(): int(v) for k, v in raw.items()}

    def clear(self) -> None:
        self._client.delete(f"{self.key}:{GRANTS}", f"{self.key}:{REVOKES}")

    def close(self) -> None:
        self._client.close()


@contextmanager
def temporary_ledger(*, url: str) -> Iterator[Ledger]:
    """A ledger under a key unique to this run, deleted afterwards."""
    ledger = Ledger(url=url, key=f"jitbench:ledger:{secrets.token_hex(4)}")
    try:
        yield ledger
    finally:
        ledger.clear()
        ledger.close()


class LedgerIntegration:
    """Counts every grant and revoke in the ledger; does them in ``inner`` when there is one."""

    def __init__(
        self, *, name: str, type_name: str, ledger: Ledger, inner: Integration | None
    ) -> None:
        self._name = name
        self._type_name = type_name
        self._ledger = ledger
        self._inner = inner

    @property
    def name(self) -> str:
        return self._name

    @property
    def type_name(self) -> str:
        return self._type_name

    def permissions(self) -> Sequence[str]:
        if self._inner is not None:
            return self._inner.permissions()
        return ("read_only", "read_write", "admin")

    def discover(self) -> list[Resource]:
        return self._inner.discover() if self._inner is not None else []

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        if self._inner is not None:
            details = self._inner.grant(account=account, items=items, until=until)
        else:
            details = AccessDetails(
                fields={"host": f"{self._name}.internal", "user": account, "password": "counted"},
                secret_fields=frozenset({"password"}),
                valid_until=until,
            )
        # Counted once it succeeded: a failed call that is retried is not a second grant.
        self._ledger.count(GRANTS, account)
        return details

    def revoke(self, *, account: str) -> None:
        if self._inner is not None:
            self._inner.revoke(account=account)
        self._ledger.count(REVOKES, account)

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        outcome: RevokeOutcome = (
            self._inner.revoke_many(accounts=accounts)
            if self._inner is not None
            else dict.fromkeys(accounts)
        )
        # Only confirmed ones count: a failed account retried is not a second revoke.
        self._ledger.count_many(REVOKES, [a for a, error in outcome.items() if error is None])
        return outcome

    def extend(self, *, account: str, until: datetime) -> None:
        if self._inner is not None:
            self._inner.extend(account=account, until=until)

    def accounts(self) -> list[str] | None:
        # Counted-only accounts exist nowhere: nothing for the reconciler to look at.
        return self._inner.accounts() if self._inner is not None else None

    def preflight(self) -> list[str]:
        return self._inner.preflight() if self._inner is not None else []

    def safeguard_problem(self) -> str | None:
        return self._inner.safeguard_problem() if self._inner is not None else None

    def check(self) -> None:
        if self._inner is not None:
            self._inner.check()
