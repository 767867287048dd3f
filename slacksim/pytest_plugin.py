"""pytest fixtures: simulators that fail a test at teardown on limit violations it did not claim.

Use from the root conftest.py (pytest allows `pytest_plugins` only there):

    pytest_plugins = ["slacksim.pytest_plugin"]

or from a nested conftest.py by importing the fixtures:

    from slacksim.pytest_plugin import slack_sim, slack_sim_factory  # noqa: F401

Then:

    def test_request_modal(slack_sim):                 # started, demo_workspace()
        ...
    def test_with_my_people(slack_sim_factory):
        sim = slack_sim_factory(workspace=Workspace(users=[...]))

A test that provokes a violation on purpose claims it with `sim.take_violations()`; any violation
still recorded when the test ends fails it at teardown, listing each with its JSON pointer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import pytest

from .simulator import Simulator
from .workspace import DEFAULT_APP_TOKEN, DEFAULT_BOT_TOKEN, Workspace


class SimulatorFactory(Protocol):
    def __call__(
        self,
        *,
        workspace: Workspace | None = None,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        ack_timeout: float = 5.0,
        trigger_ttl: float = 3.0,
        raise_on_violation: bool = True,
        unique_action_ids: bool = True,
    ) -> Simulator: ...


class SimulatorPool:
    """Starts simulators for one test; at its end stops them and reports leftover violations."""

    def __init__(self) -> None:
        self._simulators: list[Simulator] = []

    def create(
        self,
        *,
        workspace: Workspace | None = None,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        ack_timeout: float = 5.0,
        trigger_ttl: float = 3.0,
        raise_on_violation: bool = True,
        unique_action_ids: bool = True,
    ) -> Simulator:
        sim = Simulator(
            workspace=workspace,
            bot_token=bot_token,
            app_token=app_token,
            ack_timeout=ack_timeout,
            trigger_ttl=trigger_ttl,
            raise_on_violation=raise_on_violation,
            unique_action_ids=unique_action_ids,
        )
        self._simulators.append(sim.start())
        return sim

    def close(self) -> list[str]:
        """Stop every simulator; return one line per unclaimed violation."""
        leftovers: list[str] = []
        for sim in self._simulators:
            leftovers.extend(str(v) for v in sim.take_violations())
            sim.stop()
        self._simulators.clear()
        return leftovers


@pytest.fixture
def slack_sim_factory() -> Iterator[SimulatorFactory]:
    pool = SimulatorPool()
    yield pool.create
    leftovers = pool.close()
    if leftovers:
        listed = "\n  ".join(leftovers)
        pytest.fail(
            f"{len(leftovers)} Slack limit violation(s) not claimed with sim.take_violations():"
            f"\n  {listed}",
            pytrace=False,
        )


@pytest.fixture
def slack_sim(slack_sim_factory: SimulatorFactory) -> Simulator:
    return slack_sim_factory()
