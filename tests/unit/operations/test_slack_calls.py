"""Slack Web API errors and 429s, counted from a real WebClient talking to the simulator, with
the client's own retries left as they were."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from app.operations.metrics import Metrics
from app.operations.slack_calls import SlackCallCounter
from app.slack.client import make_web_client
from slacksim import Simulator
from slacksim.pytest_plugin import SimulatorFactory
from tests.e2e.harness import AUDIT, workspace
from tests.unit.operations.conftest import sample


@pytest.fixture
def sim(slack_sim_factory: SimulatorFactory) -> Simulator:
    return slack_sim_factory(workspace=workspace())


def counted(sim: Simulator, metrics: Metrics, *, retries: bool) -> WebClient:
    client = make_web_client(token=sim.bot_token, base_url=sim.api_url, retries=retries)
    SlackCallCounter(metrics=metrics).observe(client)
    return client


def test_a_429_is_counted_each_time_slack_answers_it_and_retried_as_before(
    sim: Simulator, metrics: Metrics
) -> None:
    client = counted(sim, metrics, retries=True)
    sim.inject(method="chat.postMessage", status=429, retry_after=0, times=1)
    client.chat_postMessage(channel=AUDIT, text="hello")
    assert len(sim.messages(AUDIT)) == 1  # the SDK's rate-limit handler retried it
    assert sample(metrics, "jit_slack_rate_limited_total", method="chat.postMessage") == 1
    assert (
        sample(
            metrics, "jit_slack_api_errors_total", method="chat.postMessage", error="ratelimited"
        )
        == 1
    )


def test_an_error_answered_with_200_is_counted_by_its_code(
    sim: Simulator, metrics: Metrics
) -> None:
    client = counted(sim, metrics, retries=False)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C0NOWHERE", text="hello")
    assert (
        sample(
            metrics,
            "jit_slack_api_errors_total",
            method="chat.postMessage",
            error="channel_not_found",
        )
        == 1
    )
    client.chat_postMessage(channel=AUDIT, text="hello")
    assert sample(metrics, "jit_slack_rate_limited_total", method="chat.postMessage") == 0


def test_a_server_error_is_counted_once_per_answer(sim: Simulator, metrics: Metrics) -> None:
    client = counted(sim, metrics, retries=False)
    sim.inject(method="chat.postMessage", status=500, times=1)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel=AUDIT, text="hello")
    errors = [
        s
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == "jit_slack_api_errors_total"
    ]
    assert [(s.labels["method"], s.value) for s in errors] == [("chat.postMessage", 1.0)]
