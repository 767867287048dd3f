"""Bounded inputs (issue 14): a forged or oversized submission gets an inline error and stores
nothing; every envelope is acked whatever it holds, and nobody is shown a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from blocks.request_notices import CHOOSE_OFFERED_DURATION
from blocks.simple import INVALID_FORM
from domain.ids import UserId
from slacksim import Ack
from tests.e2e.harness import ALICE, CAROL, Bot
from tests.e2e.modal_steps import justify, pick_bundle, request_bundle, select_all
from tests.e2e.test_admin import Console, add, console, new_bundle

__all__ = ["console"]  # the admin console fixture, shared with test_admin.py

pytestmark = pytest.mark.e2e

JSON = dict[str, Any]


def _duration(value: str) -> Callable[[JSON], None]:
    def edit(view: JSON) -> None:
        values = view["state"]["values"]
        [block] = [b for b in values if b.startswith("duration.")]
        [action] = values[block]
        values[block][action]["selected_option"] = {
            "text": {"type": "plain_text", "text": value[:75]},
            "value": value,
        }

    return edit


def _justification(text: str) -> Callable[[JSON], None]:
    def edit(view: JSON) -> None:
        for block in view["state"]["values"].values():
            if "modal.justification" in block:
                block["modal.justification"]["value"] = text

    return edit


def _metadata(text: str) -> Callable[[JSON], None]:
    def edit(view: JSON) -> None:
        view["private_metadata"] = text

    return edit


def _requests_of(bot: Bot, user: str) -> list[Any]:
    with bot.app.store.read() as uow:
        return list(uow.requests.recent_for(UserId(user), limit=10))


@pytest.mark.parametrize(
    ("edit", "shown"),
    [
        (_duration("12h"), "At most 5h in flow developers."),
        (_duration("90m"), "Choose one of: 1h, 2h, 5h"),
        (_duration("soon"), CHOOSE_OFFERED_DURATION),
        (_duration("9" * 100_000 + "d"), CHOOSE_OFFERED_DURATION),
        (_justification("x" * 5_000), "At most 1,000 characters."),
        (_metadata("x" * 1_000_000), INVALID_FORM),
    ],
    ids=["above-max", "not-offered", "garbage", "huge", "long-justification", "1mb-metadata"],
)
def test_a_forged_or_oversized_submission_gets_an_inline_error_and_stores_nothing(
    bot: Bot, edit: Callable[[JSON], None], shown: str
) -> None:
    bot.open_modal(ALICE)
    pick_bundle(bot, ALICE, "prod-incident")
    select_all(bot, ALICE)
    justify(bot, ALICE, "INC-9")
    view = bot.view(ALICE)

    ack = bot.sim.submit_forged_view(ALICE, view_id=view.id, edit=edit)

    assert ack.latency < 3
    assert ack.payload is not None
    assert ack.payload["response_action"] == "errors", ack.payload
    errors = ack.payload["errors"]
    assert shown in " ".join(errors.values())
    inputs = {b["block_id"] for b in bot.sim.view(view.id).blocks if b["type"] == "input"}
    assert set(errors) <= inputs  # Slack shows errors on input blocks only
    assert _requests_of(bot, ALICE) == []
    # The same modal, unforged, still submits: the refusal left the form as it was.
    request_bundle(bot, ALICE, "prod-incident")
    assert len(_requests_of(bot, ALICE)) == 1


def _interaction(**fields: Any) -> JSON:
    return {"type": "block_actions", "user": {"id": ALICE}, **fields}


GARBAGE: list[tuple[str, Any]] = [
    ("interactive", {}),
    ("interactive", {"type": "block_actions"}),
    ("interactive", _interaction(actions="nope")),
    ("interactive", _interaction(actions=[{"action_id": "no.such.action", "value": 7}])),
    ("interactive", _interaction(actions=[{"action_id": "x" * 1_000_000}])),
    ("interactive", _interaction(actions=[{"action_id": "request.approve", "value": "🙂\u0000"}])),
    ("interactive", _interaction(actions=[{"action_id": "modal.pick_bundle"}], view=[1, 2])),
    ("interactive", {"type": "view_submission", "user": {"id": ALICE}, "view": "a string"}),
    ("interactive", {"type": "view_submission", "user": "U0ALICE", "view": {"callback_id": 5}}),
    (
        "interactive",
        {"type": "view_submission", "user": {"id": ALICE}, "view": {"callback_id": "request"}},
    ),
    ("interactive", {"type": "block_suggestion", "action_id": "modal.add_object", "value": {}}),
    ("interactive", {"type": "view_closed", "user": None}),
    ("slash_commands", {"command": "/apono", "text": 123, "user_id": ALICE}),
    ("slash_commands", {"command": "/apono", "text": "revoke " + "é" * 100_000}),
    ("slash_commands", {"command": "/nope"}),
    ("events_api", {"type": "event_callback", "event": {"type": "app_home_opened", "user": 5}}),
    ("events_api", {"type": "event_callback", "event": "garbage"}),
    ("events_api", {"type": "url_verification"}),
    ("interactive", "garbage"),
    ("interactive", [1, 2, 3]),
    ("interactive", None),
    ("nonsense", {"type": "block_actions"}),
]


def test_every_envelope_is_acked_whatever_it_holds_and_nobody_sees_a_traceback(
    bot: Bot,
) -> None:
    acks: list[Ack] = []
    for type_, payload in GARBAGE:
        acks.append(
            bot.sim.send_raw_envelope(
                {"envelope_id": f"e-{len(acks)}", "type": type_, "payload": payload}
            )
        )
    acks.append(bot.sim.send_raw_envelope({"envelope_id": "no-payload", "type": "interactive"}))
    acks.append(bot.sim.send_raw_envelope({"envelope_id": "no-type", "payload": {}}))

    assert len(acks) == len(GARBAGE) + 2
    assert all(a.latency < 3 for a in acks)
    # The bot still answers people afterwards.
    request_bundle(bot, ALICE, "prod-incident")
    said = json.dumps([c.args for c in bot.sim.calls], ensure_ascii=False)
    assert "Traceback" not in said
    assert "Error" not in said


def test_an_admin_description_longer_than_allowed_is_refused_inline_not_cut(
    console: Console,
) -> None:
    from blocks.admin import MAX_DESCRIPTION
    from blocks.admin.notices import description_too_long

    new_bundle(console)
    editor = add(console, "prod-redis", "orders:*", "read_write")

    def edit(view: JSON) -> None:
        for block in view["state"]["values"].values():
            if "admin.edit.name" in block:
                block["admin.edit.name"]["value"] = "too-long"
            if "admin.edit.description" in block:
                block["admin.edit.description"]["value"] = "x" * (MAX_DESCRIPTION + 1)

    ack = console.sim.submit_forged_view(CAROL, view_id=editor.id, edit=edit)

    assert ack.payload == {
        "response_action": "errors",
        "errors": {"admin.description": description_too_long(MAX_DESCRIPTION)},
    }
    assert console.bot.app.services.catalog.bundle("too-long", fresh=True) is None
