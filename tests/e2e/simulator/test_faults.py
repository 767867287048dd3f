"""Injected 429s, 5xx, outages, delays and rate limits reach the SDK like Slack's own."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from slacksim import Simulator

from .conftest import ALICE, AUDIT

pytestmark = pytest.mark.e2e


def test_an_injected_429_is_retried_by_the_sdk_only_after_retry_after(sim: Simulator) -> None:
    client = WebClient(
        token=sim.bot_token,
        base_url=sim.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    sim.inject(method="chat.postMessage", status=429, retry_after=1, times=1)

    client.chat_postMessage(channel=AUDIT, text="after the wait")

    refused, accepted = sim.calls_to("chat.postMessage")
    assert (refused.status, refused.error, refused.injected) == (429, "ratelimited", True)
    assert accepted.ok
    # The SDK sleeps Retry-After plus up to one second of jitter.
    assert 1.0 <= accepted.at - refused.at < 2.5
    assert [m.text for m in sim.messages(AUDIT)] == ["after the wait"]


def test_without_a_retry_handler_the_429_and_its_retry_after_reach_the_caller(
    sim: Simulator, web: WebClient
) -> None:
    sim.inject(method="chat.postMessage", status=429, retry_after=7)

    with pytest.raises(SlackApiError) as raised:
        web.chat_postMessage(channel=AUDIT, text="x")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"


def test_an_injected_503_is_retried_by_the_server_error_retry_handler(sim: Simulator) -> None:
    client = WebClient(
        token=sim.bot_token,
        base_url=sim.api_url,
        retry_handlers=[
            ServerErrorRetryHandler(
                max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.05)
            )
        ],
    )
    sim.inject(method=None, status=503, times=2)

    assert client.users_info(user=ALICE)["user"]["id"] == ALICE

    assert [(c.status, c.ok) for c in sim.calls_to("users.info")] == [
        (503, False),
        (503, False),
        (200, True),
    ]


def test_an_outage_fails_every_method_until_restored(sim: Simulator, web: WebClient) -> None:
    sim.outage(status=503)
    with pytest.raises(SlackApiError) as auth_failed:
        web.auth_test()
    with pytest.raises(SlackApiError) as post_failed:
        web.chat_postMessage(channel=AUDIT, text="x")
    assert auth_failed.value.response.status_code == 503
    assert post_failed.value.response.status_code == 503

    sim.restore()

    assert web.auth_test()["ok"]
    assert [c.injected for c in sim.calls] == [True, True, False]


def test_an_injected_delay_slows_only_that_method(sim: Simulator, web: WebClient) -> None:
    sim.inject_delay("users.info", 0.2, times=1)

    started = time.perf_counter()
    web.users_info(user=ALICE)
    slow = time.perf_counter() - started
    started = time.perf_counter()
    web.users_info(user=ALICE)
    web.auth_test()
    fast = time.perf_counter() - started

    assert slow >= 0.2
    assert fast < 0.2


def test_the_per_channel_rate_limit_answers_429_beyond_the_burst(
    sim: Simulator, web: WebClient
) -> None:
    sim.enforce_rate_limit(per_second=1.0, burst=2)

    web.chat_postMessage(channel=AUDIT, text="1")
    web.chat_postMessage(channel=AUDIT, text="2")
    with pytest.raises(SlackApiError) as raised:
        web.chat_postMessage(channel=AUDIT, text="3")
    web.chat_postMessage(channel=ALICE, text="another channel has its own budget")

    assert raised.value.response.status_code == 429
    assert int(raised.value.response.headers["Retry-After"]) >= 1
    assert [m.text for m in sim.messages(AUDIT)] == ["1", "2"]
