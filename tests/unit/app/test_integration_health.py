"""IntegrationHealth: every admin login checked, the latest result kept, changes logged."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from app.integrations.base import IntegrationError
from app.integrations.health import NOT_CHECKED, IntegrationHealth
from app.workers import Trigger
from domain.clock import ManualClock
from tests.fakes import RecordingIntegration

LACKS_CREATEROLE = "The admin login lacks CREATEROLE, needed to create temporary accounts."
LACKS_KILL = "The admin login cannot end other sessions (pg_signal_backend)."


@dataclass
class Unreachable(RecordingIntegration):
    """A server the preflight cannot connect to."""

    def preflight(self) -> list[str]:
        raise IntegrationError(f"{self.name}: cannot connect (connection refused)")


@dataclass
class Broken(RecordingIntegration):
    """A preflight with a bug: its exception text must not reach people."""

    def preflight(self) -> list[str]:
        raise RuntimeError("postgresql://admin:hunter2@db/prod exploded")


@dataclass
class Slow(RecordingIntegration):
    """A server that answers only when the test lets it."""

    release: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    calls: int = 0

    def preflight(self) -> list[str]:
        self.calls += 1
        self.started.set()
        assert self.release.wait(10), "the test never released the slow server"
        return []


def health_of(
    *integrations: RecordingIntegration, clock: ManualClock | None = None
) -> IntegrationHealth:
    return IntegrationHealth(
        integrations={i.name: i for i in integrations}, clock=clock or ManualClock()
    )


def test_an_integration_counts_as_unhealthy_until_its_first_check_has_run() -> None:
    health = health_of(RecordingIntegration(name="prod-postgres", type_name="postgresql"))

    status = health.status("prod-postgres")
    assert not status.healthy
    assert status.problems == (NOT_CHECKED,)
    assert health.problem("prod-postgres") == NOT_CHECKED


def test_an_integration_whose_login_lacks_something_is_unhealthy_with_each_sentence() -> None:
    clock = ManualClock()
    pg = RecordingIntegration(
        name="prod-postgres", type_name="postgresql", missing=[LACKS_CREATEROLE, LACKS_KILL]
    )
    health = health_of(pg, clock=clock)

    health.run()

    status = health.status("prod-postgres")
    assert not status.healthy
    assert status.missing == (LACKS_CREATEROLE, LACKS_KILL)
    assert status.checked_at == clock.now()
    assert health.problem("prod-postgres") == (
        "The admin login lacks CREATEROLE, needed to create temporary accounts (+1 more)"
    )


def test_an_unhealthy_integration_becomes_healthy_when_the_trigger_runs_after_it_is_fixed() -> None:
    clock = ManualClock()
    pg = RecordingIntegration(name="prod-postgres", missing=[LACKS_CREATEROLE])
    health = health_of(pg, clock=clock)
    trigger = Trigger(name="health", work=health.run)
    trigger.run_now()
    assert not health.status("prod-postgres").healthy

    pg.missing.clear()
    later = clock.advance(timedelta(minutes=1))
    trigger.run_now()

    status = health.status("prod-postgres")
    assert status.healthy
    assert status.problems == ()
    assert status.checked_at == later
    assert health.problem("prod-postgres") is None


def test_an_integration_that_cannot_connect_is_unhealthy_with_the_error_message() -> None:
    health = health_of(Unreachable(name="prod-redis", type_name="redis"))

    health.run()

    status = health.status("prod-redis")
    assert not status.healthy
    assert status.error == "prod-redis: cannot connect (connection refused)"
    assert status.problems == ("prod-redis: cannot connect (connection refused)",)


def test_an_unexpected_failure_is_unhealthy_without_its_text_which_may_hold_a_secret() -> None:
    health = health_of(Broken(name="prod-postgres"))

    health.run()

    status = health.status("prod-postgres")
    assert not status.healthy
    assert "hunter2" not in " ".join(status.problems)
    assert "RuntimeError" in (status.error or "")


def test_only_the_bots_own_integrations_are_checked_and_refused() -> None:
    health = health_of(RecordingIntegration(name="prod-postgres", missing=[LACKS_KILL]))
    health.run()

    assert health.problem("prod-postgres") is not None
    assert health.problem("not-an-integration-of-this-bot") is None
    assert [s.name for s in health.statuses()] == ["prod-postgres"]


def test_a_slow_server_does_not_delay_the_results_of_the_others() -> None:
    slow = Slow(name="slow-hook")
    fast = RecordingIntegration(name="prod-postgres", missing=[LACKS_CREATEROLE])
    fine = RecordingIntegration(name="prod-redis")
    health = health_of(slow, fast, fine)
    run = threading.Thread(target=health.run)
    run.start()
    try:
        assert slow.started.wait(5)
        # While the slow one still hangs, the others' results are already there.
        done = threading.Event()

        def others_recorded() -> bool:
            return health.status("prod-redis").healthy and bool(
                health.status("prod-postgres").missing
            )

        for _ in range(500):
            if others_recorded():
                done.set()
                break
            done.wait(0.01)
        assert done.is_set(), "the fast integrations waited for the slow one"
        assert health.status("slow-hook").problems == (NOT_CHECKED,)
    finally:
        slow.release.set()
        run.join(10)
    assert health.status("slow-hook").healthy


def test_a_run_returns_after_its_wait_and_never_checks_a_hanging_server_twice_at_once() -> None:
    slow = Slow(name="slow-hook")
    health = health_of(slow, RecordingIntegration(name="prod-redis"))
    try:
        health.run(wait=0.05)  # returns although the slow server has not answered
        assert slow.started.wait(5)
        health.run(wait=0.05)  # its check is still running: not started a second time
        assert slow.calls == 1
        assert health.status("slow-hook").problems == (NOT_CHECKED,)
    finally:
        slow.release.set()


def test_an_unhealthy_integration_is_logged_as_an_error_naming_it_and_what_is_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pg = RecordingIntegration(name="prod-postgres", type_name="postgresql", missing=[LACKS_KILL])
    health = health_of(pg)
    caplog.set_level(logging.INFO, logger="app.integrations.health")

    health.run()
    health.run()  # the same problem again: not repeated

    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "prod-postgres" in errors[0].getMessage()
    assert LACKS_KILL in errors[0].getMessage()


def test_a_recovery_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    pg = RecordingIntegration(name="prod-postgres", missing=[LACKS_KILL])
    health = health_of(pg)
    caplog.set_level(logging.INFO, logger="app.integrations.health")
    health.run()
    caplog.clear()

    pg.missing.clear()
    health.run()

    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "prod-postgres" in infos[0].getMessage()
    assert "passed" in infos[0].getMessage()
