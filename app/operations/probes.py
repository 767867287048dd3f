"""The checks behind ``/healthz`` (is the process doing its work) and ``/readyz`` (can it serve:
database, Slack, integrations). A check returns ``None`` when fine, else one short line saying
what is wrong; the line is shown to whoever can reach the port, so it never holds a secret (an
exception is reported by its type only)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine, text

from app.integrations.health import IntegrationHealth

_log = logging.getLogger(__name__)

Check = Callable[[], str | None]
CHECK_TIMEOUT_SECONDS: Final = 3.0
"""A probe answers within this long; a check still running then counts as failed."""
SCHEDULER_LAG: Final = timedelta(minutes=2)
"""A job this far past its next run time means the scheduler's thread is not waking up."""


class Alive(Protocol):
    @property
    def alive(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    checks: dict[str, str]
    """Every check's name with ``ok`` or what is wrong."""

    def body(self) -> dict[str, object]:
        return {"status": "ok" if self.ok else "unavailable", "checks": self.checks}


class Probe:
    """Runs named checks concurrently, each bounded by :data:`CHECK_TIMEOUT_SECONDS`."""

    def __init__(
        self,
        *,
        checks: Callable[[], Mapping[str, Check]],
        timeout: float = CHECK_TIMEOUT_SECONDS,
    ) -> None:
        self._checks = checks
        self._timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="probe")

    def run(self) -> Verdict:
        checks = dict(self._checks())
        futures = {name: self._pool.submit(_safely, check) for name, check in checks.items()}
        results: dict[str, str] = {}
        for name, future in futures.items():
            try:
                problem = future.result(timeout=self._timeout)
            except FutureTimeout:
                problem = f"no answer within {self._timeout:g} s"
            results[name] = problem or "ok"
        return Verdict(ok=all(r == "ok" for r in results.values()), checks=results)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _safely(check: Check) -> str | None:
    try:
        return check()
    except Exception as error:
        _log.warning("health check failed: %s", type(error).__name__)
        return f"failed ({type(error).__name__})"


# -- liveness -------------------------------------------------------------------------------


def thread_check(thing: Alive) -> Check:
    return lambda: None if thing.alive else "thread not running"


def scheduler_check(scheduler: BaseScheduler, *, now: Callable[[], datetime]) -> Check:
    """Started schedulers only (tests that sweep by hand start none): running, and waking up."""

    def check() -> str | None:
        jobs = scheduler.get_jobs()
        if not jobs:
            return None
        if not scheduler.running:
            return "scheduler stopped"
        late = [
            job.id
            for job in jobs
            if job.next_run_time is not None and now() - job.next_run_time > SCHEDULER_LAG
        ]
        return f"jobs not woken: {', '.join(sorted(late))}" if late else None

    return check


def wall_clock() -> datetime:
    # APScheduler keeps wall-clock times, whatever clock the services are given.
    return datetime.now(UTC)


# -- readiness ------------------------------------------------------------------------------


def database_check(engine: Engine) -> Check:
    def check() -> str | None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None

    return check


def slack_check(connected: Callable[[], bool]) -> Check:
    return lambda: None if connected() else "Socket Mode not connected"


def integration_checks(health: IntegrationHealth) -> dict[str, Check]:
    """One check per integration, named ``integration:<name>``, from its latest preflight
    (``app/integrations/health.py``); none is run here."""
    return {
        f"integration:{status.name}": _status_check(health, status.name)
        for status in health.statuses()
    }


def _status_check(health: IntegrationHealth, name: str) -> Check:
    return lambda: health.status(name).short()
