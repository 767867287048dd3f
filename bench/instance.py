"""Several app instances, each in a process of its own, on one shared database and one simulator.

``python -m bench.instance`` is the child: like :mod:`bench.appprocess`, it builds the app with
``build_application`` from the configuration line the parent writes, but on the parent's
database (a PostgreSQL database that every instance shares, as production runs several bots)
and, when asked, with every integration wrapped in a :class:`~bench.ledger.LedgerIntegration`
so that the parent can count what each instance granted and revoked.

The simulator hands envelopes to its Socket Mode connections in turn, so two instances share
the load as Slack spreads it over an app's connections.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final

from app.bootstrap import build_application, integrations_from
from app.integrations.base import Integration
from app.settings import Settings
from bench.appprocess import CHANNEL_RATE
from bench.children import START_TIMEOUT, child_main, child_process
from bench.ledger import Ledger, LedgerIntegration
from bench.simcalls import BenchError
from domain.policy import Policy
from slacksim import NoConnectionError, Simulator
from store.engine import make_engine
from store.migrate import upgrade

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LedgerSpec:
    url: str
    key: str
    real: bool
    """Do the grants and revokes in the policy's integrations too, or only count them."""


def _wait_for_connections(*, sim: Simulator, process: subprocess.Popen[str], n: int) -> None:
    """Like :func:`bench.children.wait_until_connected`, for the ``n``-th connection."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        with suppress(NoConnectionError):
            sim.wait_for_connections(n=n, timeout=0.2)
            return
        if process.poll() is not None:
            raise BenchError(f"instance {n} exited with status {process.returncode}")
        if time.monotonic() >= deadline:
            raise BenchError(f"instance {n} did not connect within {START_TIMEOUT:g} s")


@contextmanager
def app_instances(
    *,
    sim: Simulator,
    database_url: str,
    policy: Policy,
    count: int,
    audit_channel: str | None = None,
    ledger: LedgerSpec | None = None,
    sweeps: bool = True,
    channel_rate: float | None = CHANNEL_RATE,
) -> Iterator[list[int]]:
    """Start ``count`` instances one after another; each is connected before the next starts.
    Yields their process IDs (for :mod:`bench.cpu`). ``channel_rate``: the relay's messages
    per second per channel (``None``: the app's default, Slack's pace)."""
    # Migrated once here: instances starting together would race on the same migration.
    engine = make_engine(database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    config: JSON = {
        "bot_token": sim.bot_token,
        "app_token": sim.app_token,
        "api_url": sim.api_url,
        "database_url": database_url,
        "audit_channel": audit_channel,
        "policy": policy.model_dump(mode="json"),
        "sweeps": sweeps,
        "channel_rate": channel_rate,
        "ledger": None
        if ledger is None
        else {"url": ledger.url, "key": ledger.key, "real": ledger.real},
    }
    with ExitStack() as stack:
        pids: list[int] = []
        for n in range(1, count + 1):
            process = stack.enter_context(child_process(module="bench.instance", config=config))
            _wait_for_connections(sim=sim, process=process, n=n)
            pids.append(process.pid)
        yield pids


def _integrations(config: JSON, policy: Policy) -> dict[str, Integration]:
    real = integrations_from(policy, env=os.environ)
    spec = config["ledger"]
    if spec is None:
        return dict(real)
    ledger = Ledger(url=spec["url"], key=spec["key"])
    return {
        name: LedgerIntegration(
            name=name,
            type_name=integration.type_name,
            ledger=ledger,
            inner=integration if spec["real"] else None,
        )
        for name, integration in real.items()
    }


def _start(config: JSON) -> Callable[[], None]:
    policy = Policy.model_validate(config["policy"])
    settings = Settings(
        _env_file=None,
        slack_bot_token=config["bot_token"],
        slack_app_token=config["app_token"],
        slack_api_url=config["api_url"],
        database_url=config["database_url"],
        audit_channel=config["audit_channel"],
    )
    app = build_application(
        settings=settings,
        policy=policy,
        integrations=_integrations(config, policy),
        channel_rate=config["channel_rate"],
    )
    app.start(sweeps=bool(config["sweeps"]))
    return lambda: app.stop(wait_for_socket=False)


INSTANCES: Final = 2
"""How many instances the multi-instance benchmarks run (issue 5 and 8 ask for two)."""

if __name__ == "__main__":
    child_main(name="instance", start=_start)
