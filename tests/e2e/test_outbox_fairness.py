"""A backlog in one channel never delays another (issue 13, "a fair outbox"): with Slack's real
pace of about one message a second per channel, a message to an idle channel leaves while a busy
channel still has most of its backlog queued."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.bootstrap import Application, build_application
from app.core.notifier import POST
from slacksim.pytest_plugin import SimulatorFactory
from slacksim.simulator import Simulator
from tests.e2e.harness import ALICE, AUDIT, fake_integrations, settings_for, standard_policy
from tests.e2e.harness import workspace as people

pytestmark = pytest.mark.e2e

BACKLOG = 20


@dataclass(frozen=True)
class Paced:
    app: Application
    sim: Simulator


@pytest.fixture
def paced(slack_sim_factory: SimulatorFactory, tmp_path: Path) -> Iterator[Paced]:
    sim = slack_sim_factory(workspace=people())
    policy = standard_policy()
    app = build_application(
        settings=settings_for(sim, database_url=f"sqlite:///{tmp_path / 'bot.db'}"),
        policy=policy,
        integrations=fake_integrations(policy),
        channel_rate=1.0,  # Slack's own pace, not the tests' usual 1,000 a second
    )
    app.prepare()
    yield Paced(app=app, sim=sim)
    app.stop(wait_for_socket=False)


def queue(app: Application, *, channel: str, texts: list[str]) -> None:
    with app.store.write() as uow:
        for n, text in enumerate(texts):
            # One key per message, as each request's messages have their own key: all of them
            # are due at once, as after a burst of submissions.
            uow.outbox.add(
                at=datetime.now(UTC),
                ordering_key=f"fairness:{channel}:{n}",
                channel=channel,
                kind=POST,
                payload={"text": text},
            )


def test_a_message_to_an_idle_channel_does_not_wait_for_another_channels_backlog(
    paced: Paced,
) -> None:
    paced_app, sim = paced.app, paced.sim
    queue(paced_app, channel=AUDIT, texts=[f"busy {n}" for n in range(BACKLOG)])
    paced_app.relay.start()
    # The busy channel's first round is being sent ...
    sim.wait_for(lambda: len(sim.messages(AUDIT)) >= 1, timeout=10)
    # ... when someone else's message is queued.
    queue(paced_app, channel=ALICE, texts=["for an idle channel"])
    paced_app.relay.wake()

    sim.wait_for(lambda: len(sim.messages(ALICE)) == 1, timeout=15)
    delivered_to_busy = len(sim.messages(AUDIT))

    # Waiting for the backlog would have meant all 20 first (about 15 s at one a second).
    assert delivered_to_busy < BACKLOG // 2
    sim.wait_for(lambda: len(sim.messages(AUDIT)) == BACKLOG, timeout=60)
    assert [m.text for m in sim.messages(AUDIT)] == [f"busy {n}" for n in range(BACKLOG)]
