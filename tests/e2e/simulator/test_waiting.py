"""Waiting on the simulator wakes on the call being recorded, without polling."""

from __future__ import annotations

import threading
import time

import pytest
from slack_sdk import WebClient

from slacksim import Simulator

from .conftest import ALICE, AUDIT

pytestmark = pytest.mark.e2e

LONG: float = 30.0
"""An interval no wait here may sit out: each must be woken by the call itself."""


def post_soon(web: WebClient, *, channel: str, text: str, after: float = 0.05) -> threading.Thread:
    def post() -> None:
        time.sleep(after)  # the call must come while the test already waits
        web.chat_postMessage(channel=channel, text=text)

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def test_wait_for_call_returns_the_matching_call_as_soon_as_it_is_recorded(
    sim: Simulator, web: WebClient
) -> None:
    web.chat_postMessage(channel=AUDIT, text="before")
    thread = post_soon(web, channel=ALICE, text="wanted")
    started = time.monotonic()

    call = sim.wait_for_call(
        "chat.postMessage", where=lambda c: c.args.get("text") == "wanted", timeout=LONG
    )

    thread.join()
    assert call.args["channel"] == ALICE
    assert time.monotonic() - started < LONG / 10


def test_wait_for_call_finds_a_call_recorded_before_it_began(
    sim: Simulator, web: WebClient
) -> None:
    web.chat_postMessage(channel=AUDIT, text="already there")

    call = sim.wait_for_call("chat.postMessage", timeout=0.5)

    assert call.args["text"] == "already there"


def test_wait_for_call_skips_calls_older_than_since(sim: Simulator, web: WebClient) -> None:
    web.chat_postMessage(channel=AUDIT, text="old")
    since = time.perf_counter()
    web.chat_postMessage(channel=AUDIT, text="new")

    assert sim.wait_for_call("chat.postMessage", since=since).args["text"] == "new"


def test_wait_for_call_times_out_when_no_call_matches(sim: Simulator, web: WebClient) -> None:
    web.chat_postMessage(channel=AUDIT, text="other")

    with pytest.raises(TimeoutError):
        sim.wait_for_call("chat.postMessage", where=lambda c: False, timeout=0.2)


def test_wait_for_wakes_on_a_recorded_call_before_its_interval(
    sim: Simulator, web: WebClient
) -> None:
    thread = post_soon(web, channel=ALICE, text="hello")
    started = time.monotonic()

    messages = sim.wait_for(lambda: sim.messages(ALICE), timeout=LONG, interval=LONG)

    thread.join()
    assert [m.text for m in messages] == ["hello"]
    assert time.monotonic() - started < LONG / 10


def test_a_call_feed_hands_out_each_new_call_once_in_order(sim: Simulator, web: WebClient) -> None:
    web.chat_postMessage(channel=AUDIT, text="before the feed")
    feed = sim.call_feed()
    for text in ("one", "two"):
        web.chat_postMessage(channel=AUDIT, text=text)

    first = feed.take(timeout=1.0)
    thread = post_soon(web, channel=AUDIT, text="three")
    second = feed.take(timeout=LONG)
    thread.join()

    assert [c.args["text"] for c in first] == ["one", "two"]
    assert [c.args["text"] for c in second] == ["three"]
    assert feed.take(timeout=0.05) == []


def test_a_call_feed_keeps_its_place_when_the_records_are_cleared(
    sim: Simulator, web: WebClient
) -> None:
    feed = sim.call_feed(from_start=True)
    web.chat_postMessage(channel=AUDIT, text="seen")
    assert [c.args["text"] for c in feed.take(timeout=1.0)] == ["seen"]

    sim.clear_records()
    web.chat_postMessage(channel=AUDIT, text="after clearing")

    assert [c.args["text"] for c in feed.take(timeout=1.0)] == ["after clearing"]


def test_a_wait_with_wake_on_is_woken_by_a_matching_call_before_its_interval(
    sim: Simulator, web: WebClient
) -> None:
    thread = post_soon(web, channel=ALICE, text="hello")
    started = time.monotonic()

    messages = sim.wait_for(
        lambda: sim.messages(ALICE),
        timeout=LONG,
        interval=LONG,
        wake_on=lambda call: call.args.get("channel") == ALICE,
    )

    thread.join()
    assert [m.text for m in messages] == ["hello"]
    assert time.monotonic() - started < LONG / 10


def test_a_wait_with_wake_on_sleeps_through_calls_it_is_not_about(
    sim: Simulator, web: WebClient
) -> None:
    tried: list[float] = []

    def nothing_yet() -> bool:
        tried.append(time.monotonic())
        return False

    def post_elsewhere() -> None:
        for n in range(5):
            web.chat_postMessage(channel=AUDIT, text=f"not for alice {n}")

    thread = threading.Thread(target=post_elsewhere)
    thread.start()
    with pytest.raises(TimeoutError):
        sim.wait_for(
            nothing_yet,
            timeout=1.0,
            interval=LONG,
            wake_on=lambda call: call.args.get("channel") == ALICE,
        )
    thread.join()

    # Tried when the wait began and once more at its deadline: the five calls woke it for none.
    assert len(tried) == 2
    assert tried[1] - tried[0] >= 0.9


def test_a_wait_with_wake_on_returns_at_once_for_a_matching_call_made_while_it_looked(
    sim: Simulator, web: WebClient
) -> None:
    """The call lands after the predicate was tried and before the wait sleeps: it must not be
    missed until the interval."""
    looked = 0

    def first_look_posts() -> list[object]:
        nonlocal looked
        looked += 1
        if looked == 1:
            web.chat_postMessage(channel=ALICE, text="while looking")
            return []
        return list(sim.messages(ALICE))

    started = time.monotonic()
    found = sim.wait_for(
        first_look_posts,
        timeout=LONG,
        interval=LONG,
        wake_on=lambda call: call.args.get("channel") == ALICE,
    )

    assert len(found) == 1
    assert time.monotonic() - started < LONG / 10
