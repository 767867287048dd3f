"""The real app in the benchmark's own process, for benchmarks that need its objects.

Use this when a benchmark must reach into the app (a manual clock, ``run_now`` of a sweep,
its services); latency figures are cleaner with :func:`bench.appprocess.app_process`, whose
app shares neither GIL nor garbage collector with the simulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.bootstrap import Application, build_application
from app.settings import Settings
from bench.appprocess import CHANNEL_RATE
from bench.sqlite import temporary_database
from domain.clock import Clock
from domain.policy import Policy
from slacksim import Simulator, Workspace


@dataclass(frozen=True, slots=True)
class RunningApp:
    sim: Simulator
    app: Application


@contextmanager
def running_app(
    *,
    workspace: Workspace,
    policy: Policy,
    audit_channel: str | None = None,
    clock: Clock | None = None,
    sweeps: bool = True,
) -> Iterator[RunningApp]:
    """The app as production builds it (one ``build_application``), on a temporary SQLite file,
    connected over Socket Mode to a simulator of its own; stopped without waiting for the
    socket client's receive timeout."""
    with Simulator(workspace=workspace) as sim, temporary_database() as url:
        settings = Settings(
            _env_file=None,
            slack_bot_token=sim.bot_token,
            slack_app_token=sim.app_token,
            slack_api_url=sim.api_url,
            database_url=url,
            audit_channel=audit_channel,
        )
        app = build_application(
            settings=settings, policy=policy, clock=clock, channel_rate=CHANNEL_RATE
        )
        try:
            app.start(sweeps=sweeps)
            sim.wait_for_connections(n=1)
            yield RunningApp(sim=sim, app=app)
        finally:
            app.stop(wait_for_socket=False)
