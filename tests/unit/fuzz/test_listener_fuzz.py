"""Every listener against hypothesis-made payloads (issue 14), through the real Socket Mode path.

One bot and one simulator serve the whole module. Each example is one envelope: it must be
acked within Slack's 3 s. After each test, once the listeners have finished: no request, grant,
approval, status change or catalog row was written, no failure was raised in the project's own
code (Bolt's and the SDK's refusals of impossible shapes are acked and logged, and allowed), and
no Slack call carries a traceback to a person.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.bootstrap import LISTENER_THREADS
from blocks.admin.ids import AdminAction, AdminCallback
from blocks.ids import ActionId, CallbackId
from slacksim import Simulator
from tests.e2e.harness import ALICE, BOB, CAROL, Bot, standard_policy, start_bot, workspace

JSON = dict[str, Any]

FUZZ = settings(
    max_examples=100,
    deadline=timedelta(seconds=3),  # Slack's ack deadline
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # `quiet` checks once per test, on purpose
    ],
)
WRITTEN = (
    "requests",
    "grants",
    "approvals",
    "status_changes",
    "bundles",
    "bundle_objects",
    "flows",
)
OWN_CODE = ("app/", "blocks/", "domain/", "store/")

# -- strategies ---------------------------------------------------------------------------------

leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
anything = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
huge = st.sampled_from(["x" * 10_000, "9" * 5_000 + "d", "🙂" * 4_000, "\u0000" * 100])
texts = (
    st.text(max_size=40)
    | st.sampled_from(["", "1h", "90m", "12h", "0s", "AR-ZZZZZZ", "prod-incident", "-1"])
    | huge
)
values = texts | st.builds(
    json.dumps,
    st.fixed_dictionaries(
        {},
        optional={
            "r": st.sampled_from(["AR-ZZZZZZ", "AR-", "x"]) | st.text(max_size=10),
            "f": texts,
            "d": st.text(alphabet="abcdefghij0123456789", min_size=16, max_size=32),
            "o": st.integers() | st.floats(),
            "p": st.integers(),
            "b": texts,
        },
    ),
)
users = st.sampled_from([ALICE, BOB, CAROL]) | st.text(max_size=12) | st.none() | st.integers()
action_ids = (
    st.sampled_from([a.value for a in ActionId] + [a.value for a in AdminAction])
    | st.sampled_from([f"{a.value}:next" for a in ActionId])
    | st.text(max_size=20)
)
callback_ids = (
    st.sampled_from([c.value for c in CallbackId] + [c.value for c in AdminCallback])
    | st.text(max_size=20)
    | st.none()
)
options = st.none() | st.fixed_dictionaries({"value": values}) | anything


@st.composite
def views(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(anything)
    state = draw(
        st.dictionaries(
            st.text(max_size=12),
            st.dictionaries(
                action_ids,
                st.fixed_dictionaries({}, optional={"value": texts, "selected_option": options}),
                max_size=3,
            ),
            max_size=4,
        )
    )
    return {
        "id": draw(st.text(max_size=12)),
        "type": draw(st.sampled_from(["modal", "home", "x"]) | st.none()),
        "callback_id": draw(callback_ids),
        "private_metadata": draw(values | st.none()),
        "hash": draw(st.text(max_size=12) | st.none()),
        "state": {"values": state},
        "blocks": [{"type": "input", "block_id": b} for b in draw(st.lists(texts, max_size=4))],
    }


def _with_user(draw: st.DrawFn, payload: JSON) -> JSON:
    if draw(st.integers(0, 9)):
        payload["user"] = {"id": draw(users), "name": "x"}
    return payload


@st.composite
def block_actions(draw: st.DrawFn) -> JSON:
    action = {
        "action_id": draw(action_ids),
        "block_id": draw(texts | st.none()),
        "value": draw(values | st.none()),
        "selected_option": draw(options),
        "selected_user": draw(users),
    }
    return _with_user(
        draw,
        {
            "type": "block_actions",
            "actions": draw(st.just([action]) | anything),
            "trigger_id": draw(texts | st.none()),
            "view": draw(views() | st.none()),
            "channel": {"id": draw(texts)},
            "message": {"ts": draw(texts)},
            "container": draw(anything),
        },
    )


@st.composite
def view_submissions(draw: st.DrawFn) -> JSON:
    kind = draw(st.sampled_from(["view_submission", "view_closed"]))
    return _with_user(
        draw, {"type": kind, "view": draw(views()), "trigger_id": draw(texts | st.none())}
    )


@st.composite
def suggestions(draw: st.DrawFn) -> JSON:
    return _with_user(
        draw,
        {
            "type": "block_suggestion",
            "action_id": draw(action_ids),
            "value": draw(texts | anything),
            "view": draw(views() | st.none()),
        },
    )


@st.composite
def commands(draw: st.DrawFn) -> JSON:
    words = st.sampled_from(["", "request", "revoke", "history", "report", "help", "admin"])
    line = draw(st.builds(lambda w, t: f"{w} {t}".strip(), words, texts) | anything)
    return {
        "command": draw(st.sampled_from(["/apono", "/other"]) | texts),
        "text": line,
        "user_id": draw(users),
        "channel_id": draw(texts),
        "trigger_id": draw(texts | st.none()),
    }


@st.composite
def events(draw: st.DrawFn) -> JSON:
    event = draw(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["app_home_opened", "message", "x"]) | texts},
            optional={"user": users, "tab": texts, "channel": texts, "text": texts},
        )
        | anything
    )
    return {"type": "event_callback", "event": event, "event_id": draw(st.text(max_size=10))}


# -- the bot ------------------------------------------------------------------------------------


class _Failures(logging.Handler):
    """Failures the global error handler logged (app/slack/failures.py)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def in_own_code(self) -> list[str]:
        found = [f"{getattr(r, 'error', '?')} at {getattr(r, 'at', '?')}" for r in self.records]
        return [f for f in found if f.split(" at ", 1)[1].startswith(OWN_CODE)]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bot, _Failures]]:
    database = Path(tmp_path_factory.mktemp("fuzz")) / "bot.db"
    failures = _Failures()
    logger = logging.getLogger("app.slack.failures")
    logger.addHandler(failures)
    with Simulator(workspace=workspace()) as sim:
        bot = start_bot(sim, policy=standard_policy(), database_url=f"sqlite:///{database}")
        try:
            yield bot, failures
        finally:
            bot.app.stop(wait_for_socket=False)
            logger.removeHandler(failures)


def _counts(bot: Bot) -> dict[str, int]:
    with bot.app.store.engine.connect() as connection:
        return {
            t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in WRITTEN
        }


def _drain(bot: Bot) -> None:
    """Wait until every listener started so far has finished: the pool's queue is first in,
    first out, so once a task holds each of its threads, nothing submitted earlier still runs."""
    # Bolt offers no public handle on its listener pool.
    executor = bot.app.bolt._listener_runner.listener_executor
    barrier = threading.Barrier(LISTENER_THREADS + 1, timeout=30)
    for _ in range(LISTENER_THREADS):
        executor.submit(barrier.wait)
    barrier.wait()


def _send(bot: Bot, type_: str, payload: JSON) -> None:
    ack = bot.sim.send_envelope(type_=type_, payload=payload, timeout=5)
    assert ack.latency < 3


@pytest.fixture
def quiet(fuzzed: tuple[Bot, _Failures]) -> Iterator[Bot]:
    """The bot, checked after the test: nothing stored, no failure of ours, no traceback shown."""
    bot, failures = fuzzed
    before = _counts(bot)
    calls = len(bot.sim.calls)
    failures.records.clear()
    yield bot
    _drain(bot)
    assert _counts(bot) == before
    assert failures.in_own_code() == []
    said = json.dumps([c.args for c in bot.sim.calls[calls:]], ensure_ascii=False)
    assert "Traceback" not in said


@FUZZ
@given(payload=block_actions())
def test_any_click_is_acked_and_changes_nothing(quiet: Bot, payload: JSON) -> None:
    _send(quiet, "interactive", payload)


@FUZZ
@given(payload=view_submissions())
def test_any_view_submission_is_acked_and_stores_nothing(quiet: Bot, payload: JSON) -> None:
    _send(quiet, "interactive", payload)


@FUZZ
@given(payload=suggestions())
def test_any_typeahead_query_is_acked(quiet: Bot, payload: JSON) -> None:
    _send(quiet, "interactive", payload)


@FUZZ
@given(payload=commands())
def test_any_slash_command_is_acked_and_changes_nothing(quiet: Bot, payload: JSON) -> None:
    _send(quiet, "slash_commands", payload)


@FUZZ
@given(payload=events())
def test_any_event_is_acked(quiet: Bot, payload: JSON) -> None:
    _send(quiet, "events_api", payload)
