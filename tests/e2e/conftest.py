"""End-to-end fixtures: the unchanged app against the Slack simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from slacksim.pytest_plugin import SimulatorFactory
from tests.e2e.harness import Bot, standard_policy, start_bot, workspace

StartBot = Callable[..., Bot]


@pytest.fixture
def start(slack_sim_factory: SimulatorFactory, tmp_path: Path) -> Iterator[StartBot]:
    """Start the app (SQLite by default) against a fresh simulator; stopped at the end."""
    bots: list[Bot] = []

    def _start(**kwargs: Any) -> Bot:
        sim = kwargs.pop("sim", None) or slack_sim_factory(workspace=workspace())
        kwargs.setdefault("policy", standard_policy())
        kwargs.setdefault("database_url", f"sqlite:///{tmp_path / 'bot.db'}")
        bot = start_bot(sim, **kwargs)
        bots.append(bot)
        return bot

    yield _start
    for bot in bots:
        bot.app.stop(wait_for_socket=False)


@pytest.fixture
def bot(start: StartBot) -> Bot:
    return start()
