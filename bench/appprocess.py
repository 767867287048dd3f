"""The real app in a process of its own, against a fresh simulator in the benchmark's process.

``python -m bench.appprocess`` is the child: it builds the app with ``build_application`` (as
production does) from the configuration line the parent writes, and stops when its stdin
closes. The parent keeps a :class:`~store.unit_of_work.Store` on the same SQLite file to seed
data and to check what the app stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from app.bootstrap import build_application
from app.settings import Settings
from bench.children import child_main, child_process, wait_until_connected
from bench.offline import offline_integrations
from bench.sqlite import temporary_database
from domain.policy import Policy
from slacksim import Simulator, Workspace
from store.engine import make_engine
from store.unit_of_work import Store

CHANNEL_RATE: Final = 1_000_000.0
"""Messages per second per channel for the outbox relay: high, so that pacing meant for the
real Slack does not hold messages back and distort what is measured."""


@dataclass(frozen=True, slots=True)
class AppProcess:
    sim: Simulator
    store: Store
    """The app's database, opened from the benchmark's side (SQLite in WAL mode allows it)."""


@contextmanager
def app_process(
    *,
    workspace: Workspace,
    policy: Policy,
    audit_channel: str | None = None,
    sweeps: bool = True,
    offline: bool = False,
) -> Iterator[AppProcess]:
    """Start the app on a temporary SQLite file; yields once it is connected over Socket Mode.

    ``offline``: the policy's integrations are :mod:`bench.offline` ones (no server behind)."""
    with Simulator(workspace=workspace) as sim, temporary_database() as url:
        config = {
            "bot_token": sim.bot_token,
            "app_token": sim.app_token,
            "api_url": sim.api_url,
            "database_url": url,
            "audit_channel": audit_channel,
            "policy": policy.model_dump(mode="json"),
            "sweeps": sweeps,
            "offline": offline,
        }
        with child_process(module="bench.appprocess", config=config) as process:
            wait_until_connected(sim=sim, process=process, name="the app")
            store = Store(engine=make_engine(url))
            try:
                yield AppProcess(sim=sim, store=store)
            finally:
                store.dispose()


def _start(config: dict[str, Any]) -> Callable[[], None]:
    settings = Settings(
        _env_file=None,
        slack_bot_token=config["bot_token"],
        slack_app_token=config["app_token"],
        slack_api_url=config["api_url"],
        database_url=config["database_url"],
        audit_channel=config["audit_channel"],
    )
    policy = Policy.model_validate(config["policy"])
    app = build_application(
        settings=settings,
        policy=policy,
        channel_rate=CHANNEL_RATE,
        integrations=offline_integrations(policy) if config["offline"] else None,
    )
    app.start(sweeps=bool(config["sweeps"]))
    return lambda: app.stop(wait_for_socket=False)


if __name__ == "__main__":
    child_main(name="app", start=_start)
