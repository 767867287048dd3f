"""Fixtures for the simulator's self-tests: a simulator, a raw WebClient, Bolt apps on sockets."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from slacksim import Channel, Simulator, User, UserGroup, Workspace
from slacksim.pytest_plugin import SimulatorFactory, slack_sim, slack_sim_factory

__all__ = ["slack_sim", "slack_sim_factory"]  # the plugin's fixtures, imported to register them

ALICE, BOB, CAROL = "U1", "U2", "U3"
AUDIT = "C1"


def workspace() -> Workspace:
    return Workspace(
        team_id="T0SIM",
        users=[
            User(
                id=ALICE,
                name="alice",
                real_name="Alice Doe",
                email="alice@example.com",
                tz="Europe/Paris",
                tz_offset=3600,
                profile_fields={"Manager": BOB},
            ),
            User(id=BOB, name="bob", real_name="Bob Roe", email="bob@example.com"),
            User(id=CAROL, name="carol", real_name="Carol Poe", email="carol@example.com"),
        ],
        groups=[UserGroup(id="S1", handle="oncall", name="On-call", users=[ALICE])],
        channels=[
            Channel(id=AUDIT, name="access-audit"),
            Channel(id="C2", name="elsewhere", bot_is_member=False),
        ],
    )


@pytest.fixture
def sim(slack_sim_factory: SimulatorFactory) -> Simulator:
    return slack_sim_factory(workspace=workspace())


@pytest.fixture
def web(sim: Simulator) -> WebClient:
    return WebClient(token=sim.bot_token, base_url=sim.api_url)


Connect = Callable[..., SocketModeHandler]


@pytest.fixture
def new_app(sim: Simulator) -> Callable[[], App]:
    def make() -> App:
        return App(client=WebClient(token=sim.bot_token, base_url=sim.api_url))

    return make


@pytest.fixture
def connect(sim: Simulator) -> Iterator[Connect]:
    """Connect a Bolt app over Socket Mode exactly as the project's app does."""
    handlers: list[SocketModeHandler] = []

    def run(app: App, *, ping_interval: float = 10) -> SocketModeHandler:
        handler = SocketModeHandler(app, sim.app_token, ping_interval=ping_interval)
        handler.connect()  # type: ignore[no-untyped-call]
        handlers.append(handler)
        return handler

    yield run
    # The SDK client's close() waits for its reader thread, which sits in a recv() with a 3 s
    # timeout; a close frame from our side wakes it at once.
    sim.drop_connections(notify=False)
    for handler in handlers:
        close_quickly(handler)


def close_quickly(handler: SocketModeHandler) -> None:
    """handler.close(), minus the SDK's 1 s wait for its message loop to see `closed`."""
    handler.client.closed = True
    handler.client.message_queue.put("")  # wakes the loop's queue.get(timeout=1)
    handler.close()  # type: ignore[no-untyped-call]
