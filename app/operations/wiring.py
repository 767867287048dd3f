"""Everything of health and metrics for one application, built by ``app/bootstrap.py`` when
``HTTP_PORT`` is set, started and stopped with the application."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from apscheduler.schedulers.base import BaseScheduler
from slack_sdk import WebClient

from app.integrations.base import Integration
from app.integrations.health import IntegrationHealth
from app.operations import probes
from app.operations.committed import count_committed
from app.operations.database import DatabaseGauges
from app.operations.instrumented import timed
from app.operations.metrics import Metrics
from app.operations.probes import Alive, Check, Probe
from app.operations.server import OperationsServer
from app.operations.slack_calls import SlackCallCounter
from domain.clock import Clock
from store.unit_of_work import Store


class Operations:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        store: Store,
        clock: Clock,
        health: IntegrationHealth,
    ) -> None:
        self.metrics = Metrics()
        self.metrics.registry.register(DatabaseGauges(store=store, clock=clock))
        count_committed(store.engine, metrics=self.metrics)
        self._slack_calls = SlackCallCounter(metrics=self.metrics)
        self._readiness: dict[str, Check] = {"database": probes.database_check(store.engine)}
        self._health = health
        self._liveness: dict[str, Check] = {}
        self.server = OperationsServer(
            host=host,
            port=port,
            registry=self.metrics.registry,
            liveness=Probe(checks=lambda: self._liveness),
            readiness=Probe(
                checks=lambda: {**self._readiness, **probes.integration_checks(self._health)}
            ),
        )

    def timed(self, integrations: Mapping[str, Integration]) -> dict[str, Integration]:
        """The integrations as the services get them: grants and revokes timed and counted."""
        return timed(integrations, metrics=self.metrics)

    def count_calls(self, *clients: WebClient) -> None:
        for client in clients:
            self._slack_calls.observe(client)

    def watch(
        self,
        *,
        threads: Mapping[str, Alive],
        scheduler: BaseScheduler,
        slack_connected: Callable[[], bool],
    ) -> None:
        """What ``/healthz`` and ``/readyz`` ask about besides the database and integrations."""
        self._liveness = {
            "scheduler": probes.scheduler_check(scheduler, now=probes.wall_clock),
            **{name: probes.thread_check(thing) for name, thing in threads.items()},
        }
        self._readiness["slack"] = probes.slack_check(slack_connected)

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
