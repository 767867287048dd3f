"""Grant and revoke latency and failures, measured around each integration without touching it.

:class:`TimedIntegration` implements :class:`~app.integrations.base.Integration` by delegating
every call; only ``grant`` and ``revoke`` are timed and their exceptions counted (and re-raised
unchanged, so provisioning and ending behave exactly as before).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime

from app.integrations.base import AccessDetails, GrantItem, Integration, Resource, RevokeOutcome
from app.operations.metrics import Metrics


class TimedIntegration:
    def __init__(self, *, inner: Integration, metrics: Metrics) -> None:
        self.inner = inner
        name = inner.name
        self._grant_seconds = metrics.grant_seconds.labels(integration=name)
        self._revoke_seconds = metrics.revoke_seconds.labels(integration=name)
        self._grant_failures = metrics.grant_failures.labels(integration=name)
        self._revoke_failures = metrics.revoke_failures.labels(integration=name)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def type_name(self) -> str:
        return self.inner.type_name

    def permissions(self) -> Sequence[str]:
        return self.inner.permissions()

    def discover(self) -> list[Resource]:
        return self.inner.discover()

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        started = time.perf_counter()
        try:
            return self.inner.grant(account=account, items=items, until=until)
        except BaseException:
            self._grant_failures.inc()
            raise
        finally:
            self._grant_seconds.observe(time.perf_counter() - started)

    def revoke(self, *, account: str) -> None:
        started = time.perf_counter()
        try:
            self.inner.revoke(account=account)
        except BaseException:
            self._revoke_failures.inc()
            raise
        finally:
            self._revoke_seconds.observe(time.perf_counter() - started)

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        """Each account's revoke took the batch's time (it was confirmed when the batch was)."""
        started = time.perf_counter()
        try:
            outcome = self.inner.revoke_many(accounts=accounts)
        except BaseException:
            for _ in accounts:
                self._revoke_failures.inc()
            raise
        finally:
            elapsed = time.perf_counter() - started
            for _ in accounts:
                self._revoke_seconds.observe(elapsed)
        for error in outcome.values():
            if error is not None:
                self._revoke_failures.inc()
        return outcome

    def extend(self, *, account: str, until: datetime) -> None:
        self.inner.extend(account=account, until=until)

    def accounts(self) -> list[str] | None:
        return self.inner.accounts()

    def preflight(self) -> list[str]:
        return self.inner.preflight()

    def safeguard_problem(self) -> str | None:
        return self.inner.safeguard_problem()

    def check(self) -> None:
        self.inner.check()


def timed(integrations: Mapping[str, Integration], *, metrics: Metrics) -> dict[str, Integration]:
    """Every integration wrapped; the labels exist from the start, so a rate is defined at 0."""
    return {
        name: TimedIntegration(inner=integration, metrics=metrics)
        for name, integration in integrations.items()
    }
