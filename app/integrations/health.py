"""Admin logins checked before they are trusted: every integration's preflight, kept in memory.

An integration is healthy only once its preflight has passed: until its first check it counts as
unhealthy ("not checked yet"), and one that fails stays unhealthy until a later check passes.
The request modal offers nothing of an unhealthy integration and the admin Home shows why.

Checks run concurrently on a few daemon threads, each bounded by the integration's own connect
timeouts, so a slow server delays only its own result; an integration whose check is still
running when the next run starts is not checked twice at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from app.integrations.base import Integration, IntegrationError
from blocks import limits
from domain.clock import Clock

_log = logging.getLogger(__name__)

NOT_CHECKED: Final = "not checked yet"
MAX_PARALLEL: Final = 8
"""Preflights running at once."""
RUN_WAIT_SECONDS: Final = 120.0
"""How long one run waits for its checks; slower ones finish and are recorded in the background."""
STARTUP_WAIT_SECONDS: Final = 5.0
"""How long start-up waits for the first results before it connects to Slack."""
SHORT_LINE: Final = limits.SHORT_LINE


@dataclass(frozen=True, slots=True)
class IntegrationStatus:
    """The latest preflight result of one integration."""

    name: str
    type_name: str
    checked_at: datetime | None = None
    """``None`` until the first check has finished."""
    missing: tuple[str, ...] = ()
    """What the admin login lacks, one sentence each."""
    error: str | None = None
    """Why the check could not run (cannot connect, ...); safe to show."""
    safeguard: str | None = None
    """Why the target would not end access itself if the bot were down (not a problem)."""

    @property
    def healthy(self) -> bool:
        return self.checked_at is not None and not self.missing and self.error is None

    @property
    def problems(self) -> tuple[str, ...]:
        """Everything wrong, one sentence each (empty when healthy)."""
        if self.checked_at is None:
            return (NOT_CHECKED,)
        if self.error is not None:
            return (self.error,)
        return self.missing

    def short(self) -> str | None:
        """Why it is unavailable, in one short line; ``None`` when healthy."""
        problems = self.problems
        if not problems:
            return None
        line = problems[0].strip().rstrip(".")
        if len(line) > SHORT_LINE:
            line = line[: SHORT_LINE - 1].rstrip() + "…"
        if len(problems) > 1:
            line += f" (+{len(problems) - 1} more)"
        return line


def check_integration(
    integration: Integration, *, clock: Clock, log_unexpected: bool = True
) -> IntegrationStatus:
    """Run one preflight; never raises (a failure is the result). An unexpected exception's
    text may hold anything, a secret included: only its type is in the result (and, with
    ``log_unexpected``, the traceback goes to the log, whose filter masks secrets)."""
    name, type_name = integration.name, integration.type_name
    try:
        missing = tuple(str(m) for m in integration.preflight())
    except IntegrationError as error:
        return IntegrationStatus(name, type_name, clock.now(), error=str(error) or "cannot connect")
    except Exception as error:
        detail = f"the check failed unexpectedly ({type(error).__name__})"
        if log_unexpected:
            _log.error(
                "preflight of integration %s failed unexpectedly",
                name,
                exc_info=True,
                extra={"integration": name},
            )
            detail += "; see the bot's log"
        return IntegrationStatus(name, type_name, clock.now(), error=detail)
    try:
        safeguard = integration.safeguard_problem()
    except IntegrationError as error:
        safeguard = f"the server-side safeguard could not be checked: {error}"
    return IntegrationStatus(name, type_name, clock.now(), missing=missing, safeguard=safeguard)


def run_bounded(
    integrations: Iterable[Integration],
    work: Callable[[Integration], None],
    *,
    parallel: int = MAX_PARALLEL,
    wait: float | None = None,
) -> None:
    """``work`` for every integration on at most ``parallel`` daemon threads; returns when all
    are done or after ``wait`` seconds (``None``: all done), leaving the rest to finish."""
    pending: queue.SimpleQueue[Integration] = queue.SimpleQueue()
    count = 0
    for integration in integrations:
        pending.put(integration)
        count += 1
    if not count:
        return

    def drain() -> None:
        while True:
            try:
                integration = pending.get_nowait()
            except queue.Empty:
                return
            work(integration)

    threads = [
        threading.Thread(target=drain, name=f"preflight-{i}", daemon=True)
        for i in range(min(parallel, count))
    ]
    for thread in threads:
        thread.start()
    deadline = None if wait is None else time.monotonic() + wait
    for thread in threads:
        thread.join(None if deadline is None else max(deadline - time.monotonic(), 0.0))


class IntegrationHealth:
    """The latest preflight result per integration; thread-safe."""

    def __init__(
        self,
        *,
        integrations: Mapping[str, Integration],
        clock: Clock,
        parallel: int = MAX_PARALLEL,
        wait_seconds: float = RUN_WAIT_SECONDS,
    ) -> None:
        self._integrations = dict(integrations)
        self._clock = clock
        self._parallel = parallel
        self._wait = wait_seconds
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._latest: dict[str, IntegrationStatus] = {
            name: IntegrationStatus(name=name, type_name=i.type_name)
            for name, i in self._integrations.items()
        }

    def run(self, *, wait: float | None = None) -> None:
        """Check every integration whose previous check has finished (the trigger's work)."""
        with self._lock:
            due = [i for n, i in self._integrations.items() if n not in self._running]
            self._running.update(i.name for i in due)
        run_bounded(
            due,
            self._check,
            parallel=self._parallel,
            wait=self._wait if wait is None else wait,
        )

    def run_at_start(self) -> None:
        """The first run, before Slack is connected: waits a few seconds at most."""
        self.run(wait=STARTUP_WAIT_SECONDS)

    def status(self, name: str) -> IntegrationStatus:
        with self._lock:
            found = self._latest.get(name)
        return found or IntegrationStatus(name=name, type_name="unknown")

    def statuses(self) -> list[IntegrationStatus]:
        """Every integration's latest result, by name."""
        with self._lock:
            return [self._latest[name] for name in sorted(self._latest)]

    def problem(self, integration: str) -> str | None:
        """Why ``integration`` must not be offered now, in one short line; ``None`` if healthy.

        Only the bot's own integrations are checked: a name it has no integration for has no
        admin login to check (nothing can be granted there, and provisioning says so)."""
        with self._lock:
            found = self._latest.get(integration)
        return found.short() if found is not None else None

    def _check(self, integration: Integration) -> None:
        name = integration.name
        try:
            result = check_integration(integration, clock=self._clock)
        except BaseException:
            with self._lock:
                self._running.discard(name)
            raise
        with self._lock:
            before = self._latest.get(name)
            self._latest[name] = result
            self._running.discard(name)
        _log_change(before, result)


def _log_change(before: IntegrationStatus | None, after: IntegrationStatus) -> None:
    was_checked = before is not None and before.checked_at is not None
    if after.safeguard and (before is None or before.safeguard != after.safeguard):
        _log.warning(
            "integration %s (%s): %s",
            after.name,
            after.type_name,
            after.safeguard,
            extra={"integration": after.name},
        )
    if not after.healthy:
        if was_checked and before is not None and before.problems == after.problems:
            return  # said already; said again when it changes or recovers
        _log.error(
            "integration %s (%s) is unavailable until its admin login passes the check: %s",
            after.name,
            after.type_name,
            "; ".join(after.problems),
            extra={
                "integration": after.name,
                "missing": list(after.missing),
                "check_error": after.error,
            },
        )
    elif was_checked and before is not None and not before.healthy:
        _log.info(
            "integration %s (%s) passed its check again and is offered",
            after.name,
            after.type_name,
            extra={"integration": after.name},
        )
