"""A fair outbox under Slack's pace (issue 13): ``outbox.fairness``.

One channel holds a backlog of 100 queued messages while messages to other, idle channels are
queued one at a time, ten a second, spread over twenty channels (each gets one every two
seconds: well within Slack's pace, so each stays idle). The figure is the delay of those
messages: from the commit of the outbox row to the simulator receiving the ``chat.postMessage``,
both read from this process's clock. The target is a p99 under a second (1,000 ms): the busy
channel's backlog, which the relay sends at about one message a second, must not hold anything
else up.

The app is the real one (``build_application``, the outbox relay of ``app/slack/relay.py``)
paced as production is, at ``CHANNEL_RATE`` (one message a second per channel by default), on
a PostgreSQL database, in this process: a row committed through the app's store wakes its relay
as the app's own writes do (``Store.on_outbox_commit``). The simulator enforces Slack's
per-channel limit (one a second, bursts of five) and the run logs how many 429s it answered.
The floor is a bare ``chat.postMessage`` by ``slack_sdk`` to the simulator, from the call to
the simulator receiving it, taken alternately with the subject's samples.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from slack_sdk import WebClient

from app.bootstrap import Application, build_application
from app.core.notifier import POST
from app.settings import Settings
from bench.context import Context
from bench.figures import Distribution, ms
from bench.offline import offline_integrations
from bench.pgdb import temporary_pg_database
from bench.registry import benchmark
from bench.simcalls import BenchError
from blocks.simple import text_message
from domain.policy import Policy
from slacksim import ApiCall, CallFeed, Channel, Simulator, Workspace
from store.unit_of_work import Store

BUSY: Final = "C0BUSY"
IDLE: Final = tuple(f"C0IDLE{n:02d}" for n in range(20))
FLOOR: Final = tuple(f"C0FLOOR{n:02d}" for n in range(20))
BACKLOG: Final = 100
SPACING: Final = 0.1
"""Seconds between two messages to idle channels: each idle channel gets one every 2 s."""
SLACK_RATE: Final = 1.0
SLACK_BURST: Final = 5.0
ARRIVAL_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class World:
    sim: Simulator
    app: Application
    floor: WebClient


def workspace() -> Workspace:
    names = {BUSY: "busy", **{c: c.lower() for c in (*IDLE, *FLOOR)}}
    return Workspace(users=[], channels=[Channel(id=c, name=n) for c, n in names.items()])


@contextmanager
def paced_app() -> Iterator[World]:
    """The app, paced as in production, with its relay sending to the simulator."""
    policy = Policy.model_validate({})
    with temporary_pg_database() as url, Simulator(workspace=workspace()) as sim:
        settings = Settings(
            _env_file=None,
            slack_bot_token=sim.bot_token,
            slack_app_token=sim.app_token,
            slack_api_url=sim.api_url,
            database_url=url,
        )
        app = build_application(
            settings=settings,
            policy=policy,
            integrations=offline_integrations(policy),
            channel_rate=settings.channel_rate,
        )
        try:
            app.start(sweeps=False)
            sim.wait_for_connections(n=1)
            sim.enforce_rate_limit(per_second=SLACK_RATE, burst=SLACK_BURST)
            floor = WebClient(token=sim.bot_token, base_url=sim.api_url)
            yield World(sim=sim, app=app, floor=floor)
        finally:
            app.stop(wait_for_socket=False)


def _arrival(feed: CallFeed, *, text: str) -> ApiCall:
    """The ``chat.postMessage`` carrying ``text``, once the simulator has received it."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while time.monotonic() < deadline:
        for call in feed.take(timeout=deadline - time.monotonic()):
            if call.method == "chat.postMessage" and call.args.get("text") == text:
                if not call.ok:
                    raise BenchError(f"chat.postMessage of {text!r} failed: {call.error}")
                return call
    raise BenchError(f"{text!r} did not reach the simulator within {ARRIVAL_TIMEOUT:g} s")


def _queue(store: Store, *, channel: str, texts: list[str]) -> float:
    """Commit one outbox row per text, each with its own ordering key (as each request's
    messages have); the time of the commit."""
    with store.write() as uow:
        for text in texts:
            uow.outbox.add(
                at=datetime.now(UTC),
                ordering_key=f"bench:{channel}:{text}",
                channel=channel,
                kind=POST,
                payload=text_message(text),
            )
    return time.perf_counter()


def _subject(world: World, n: int) -> float:
    text = f"Fairness sample {n}"
    feed = world.sim.call_feed()
    committed = _queue(world.app.store, channel=IDLE[n % len(IDLE)], texts=[text])
    return ms(_arrival(feed, text=text).at - committed)


def _floor(world: World, n: int) -> float:
    text = f"Floor sample {n}"
    feed = world.sim.call_feed()
    sent = time.perf_counter()
    world.floor.chat_postMessage(channel=FLOOR[n % len(FLOOR)], text=text)
    return ms(_arrival(feed, text=text).at - sent)


def _busy_calls(sim: Simulator) -> list[ApiCall]:
    return [c for c in sim.calls_to("chat.postMessage") if c.args.get("channel") == BUSY]


@benchmark(name="outbox.fairness", unit="ms")
def outbox_fairness(ctx: Context) -> Distribution:
    """Delay of a message to an idle channel while another channel has 100 queued (paced)."""
    n = ctx.samples(full=200, quick=20)
    warmup = ctx.samples(full=10, quick=3)
    with paced_app() as world:
        for i in range(warmup):
            _floor(world, -1 - i)
            _subject(world, -1 - i)
        _queue(world.app.store, channel=BUSY, texts=[f"Backlog {i}" for i in range(BACKLOG)])
        started = time.perf_counter()
        samples: list[float] = []
        floors: list[float] = []
        for i in range(n):
            # A steady arrival of messages, as people's requests come in, not as fast as we can.
            pause = started + i * SPACING - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            if i % 2 == 0:
                floors.append(_floor(world, i))
                samples.append(_subject(world, i))
            else:
                samples.append(_subject(world, i))
                floors.append(_floor(world, i))
        elapsed = time.perf_counter() - started
        busy = _busy_calls(world.sim)
        with world.app.store.read() as uow:
            left = uow.outbox.pending_count()
        refused = [c for c in world.sim.calls_to("chat.postMessage") if c.status == 429]
        world.sim.take_violations()
    sent = sum(1 for c in busy if c.ok)
    if left == 0:
        raise BenchError("the busy channel's backlog ran out before the samples ended")
    ctx.log(
        f"[bench] outbox.fairness: the busy channel got {sent} of {BACKLOG} in {elapsed:.1f} s "
        f"({left} still queued); the simulator answered {len(refused)} calls with 429 "
        f"(Slack's pace: {SLACK_RATE:g} a second per channel, bursts of {SLACK_BURST:g})"
    )
    return Distribution(samples=samples, floor=floors)
