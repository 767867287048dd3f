"""Favorites and recent requests, and the request form's polish, through the simulator
(issue 16): a favorite goes from Home to active access in two clicks, a stale one says what
changed, the form starts from recent requests, remembers the duration and sizes its bundles."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from domain.lifecycle import Status
from domain.objects import AccessObject
from slacksim import Message, View, texts_of
from tests.e2e.harness import ALICE, CAROL, FRANK, OSCAR, Bot
from tests.e2e.messages import buttons, status_messages, wait_status
from tests.e2e.modal_steps import (
    input_block,
    justify,
    pick_bundle,
    request_bundle,
    seed_bundle,
    select_all,
    submit,
    text,
)
from tests.e2e.test_approvals import _submit_directly

pytestmark = pytest.mark.e2e


def home(bot: Bot, user: str) -> View:
    before = len(bot.sim.calls_to("views.publish"))
    bot.sim.open_home(user)
    bot.sim.wait_for(lambda: len(bot.sim.calls_to("views.publish")) > before)
    view = bot.sim.home(user)
    assert view is not None
    return view


def top(bot: Bot, user: str, callback_id: str) -> View:
    bot.sim.wait_for(
        lambda: (v := bot.sim.top_view(user)) is not None and v.callback_id == callback_id
    )
    view = bot.sim.top_view(user)
    assert view is not None
    return view


def request_id_in(ack: Any) -> str:
    assert ack.payload is not None
    assert ack.payload["response_action"] == "update", ack.payload
    match = re.search(r"AR-[0-9A-Z]{6}", str(ack.payload["view"]))
    assert match is not None
    return match.group(0)


def save_as_favorite(bot: Bot, user: str, request_id: str, *, name: str | None = None) -> str:
    """*Save as favorite* on the request's latest status DM; what the saved modal says."""

    def offering() -> list[Message]:
        found = status_messages(bot, user, request_id)
        return [m for m in found if "request.save_favorite" in buttons(m)]

    bot.sim.wait_for(lambda: len(offering()) >= 1)
    message = offering()[-1]
    bot.sim.click(user, action_id="request.save_favorite", message=(message.channel, message.ts))
    naming = top(bot, user, "favorite_save")
    if name is not None:
        bot.sim.type_text(user, view_id=naming.id, action_id="favorite.name", text=name)
    ack = bot.sim.submit_view(user, view_id=naming.id)
    assert ack.payload is not None
    assert ack.payload["response_action"] == "update", ack.payload
    return " ".join(texts_of(ack.payload["view"]["blocks"]))


def favorite_ids(view: View) -> list[str]:
    return [
        str(b["block_id"]).removeprefix("favorite.")
        for b in view.blocks
        if str(b.get("block_id", "")).startswith("favorite.")
    ]


def start_buttons(view: View) -> list[str]:
    block = next((b for b in view.blocks if b.get("block_id") == "starts"), None)
    return [e["text"]["text"] for e in block["elements"]] if block else []


def test_a_favorite_goes_from_home_to_active_access_in_two_clicks(bot: Bot) -> None:
    first = request_bundle(bot, OSCAR, "prod-incident")  # on-call: approved automatically
    wait_status(bot, first, Status.ACTIVE)
    saved = save_as_favorite(bot, OSCAR, first)
    assert "Saved *prod-incident*" in saved
    assert "You keep 1 favorite:" in saved

    view = home(bot, OSCAR)
    shown = " ".join(texts_of(view.blocks))
    assert "Favorites (1)" in shown
    assert "⭐ *prod-incident* · prod-incident (4 objects) · access flow on-call · 1h" in shown
    [favorite] = favorite_ids(view)

    # Click 1: the favorite's *Request* on Home opens the form, filled in.
    bot.sim.click(OSCAR, action_id=f"home.favorite.open:{favorite}", view_id=view.id)
    modal = top(bot, OSCAR, "request_modal")
    assert "Selected: 4" in text(modal)
    # Click 2: Submit.
    again = request_id_in(bot.sim.submit_view(OSCAR, view_id=modal.id))

    assert again != first
    wait_status(bot, again, Status.ACTIVE)


def test_a_stale_favorite_says_what_is_no_longer_offered_and_prefills_the_rest(bot: Bot) -> None:
    first = request_bundle(bot, OSCAR, "prod-incident")
    save_as_favorite(bot, OSCAR, first, name="incident kit")
    # An admin takes two objects out of the bundle.
    seed_bundle(
        bot,
        name="prod-incident",
        objects=[
            AccessObject("prod-postgres", "sales.orders", "read_write"),
            AccessObject("prod-redis", "orders:*", "read_write"),
        ],
    )
    view = home(bot, OSCAR)
    assert "⭐ *incident kit*" in " ".join(texts_of(view.blocks))
    [favorite] = favorite_ids(view)

    bot.sim.click(OSCAR, action_id=f"home.favorite.open:{favorite}", view_id=view.id)
    modal = top(bot, OSCAR, "request_modal")

    shown = text(modal)
    assert (
        "Favorite incident kit: 2 of 4 objects are no longer offered to you: sales.customers "
        "read_only (prod-postgres), shop.orders read_only (shop-mysql); the rest is pre-filled."
    ) in shown
    assert "Selected: 2" in shown
    request_id_in(bot.sim.submit_view(OSCAR, view_id=modal.id))


def test_the_form_starts_from_the_three_most_recent_requests_newest_first(bot: Bot) -> None:
    ids = [_submit_directly(bot, FRANK, "finance-bundle") for _ in range(4)]

    modal = bot.open_modal(FRANK)

    assert start_buttons(modal) == [f"↻ {i} · finance-bundle" for i in reversed(ids[1:])]
    # One click fills the form from the newest, in place.
    modal = bot.after(
        FRANK,
        lambda: bot.sim.click(FRANK, action_id=f"modal.start.recent:{ids[3]}", view_id=modal.id),
    )
    assert "Selected: 1" in text(modal)
    assert start_buttons(modal) == []


def test_favorites_in_the_form_and_on_home_read_right_for_one_object_and_many(bot: Bot) -> None:
    single = _submit_directly(bot, FRANK, "finance-bundle")
    save_as_favorite(bot, FRANK, single, name="ledger")

    modal = bot.open_modal(FRANK)
    assert start_buttons(modal) == [f"↻ {single} · finance-bundle", "⭐ ledger"]
    shown = " ".join(texts_of(home(bot, FRANK).blocks))
    assert "⭐ *ledger* · finance-bundle (1 object) · access flow finance · 1h" in shown

    many = request_bundle(bot, OSCAR, "prod-incident")
    save_as_favorite(bot, OSCAR, many)
    assert "prod-incident (4 objects)" in " ".join(texts_of(home(bot, OSCAR).blocks))


def test_favorites_are_renamed_and_deleted_on_home(bot: Bot) -> None:
    save_as_favorite(bot, FRANK, _submit_directly(bot, FRANK, "finance-bundle"))
    view = home(bot, FRANK)
    [favorite] = favorite_ids(view)

    bot.sim.click(FRANK, action_id=f"home.favorite.rename:{favorite}", view_id=view.id)
    rename = top(bot, FRANK, "favorite_rename")
    bot.sim.type_text(FRANK, view_id=rename.id, action_id="favorite.name", text="month end")
    before = len(bot.sim.calls_to("views.publish"))
    bot.sim.submit_view(FRANK, view_id=rename.id)
    bot.sim.wait_for(lambda: len(bot.sim.calls_to("views.publish")) > before)
    renamed = bot.sim.home(FRANK)
    assert renamed is not None
    assert "⭐ *month end*" in " ".join(texts_of(renamed.blocks))

    before = len(bot.sim.calls_to("views.publish"))
    bot.sim.click(FRANK, action_id=f"home.favorite.delete:{favorite}", view_id=renamed.id)
    bot.sim.wait_for(lambda: len(bot.sim.calls_to("views.publish")) > before)
    deleted = bot.sim.home(FRANK)
    assert deleted is not None
    assert favorite_ids(deleted) == []
    assert "Favorites (0)" in " ".join(texts_of(deleted.blocks))


def test_the_last_duration_chosen_in_a_flow_is_preselected(bot: Bot) -> None:
    bot.open_modal(ALICE)
    modal = pick_bundle(bot, ALICE, "prod-incident")
    select_all(bot, ALICE)
    modal = bot.view(ALICE)
    bot.sim.select(
        ALICE,
        action_id="modal.duration",
        view_id=modal.id,
        block_id=input_block(modal, "duration."),
        value="5h",
    )
    justify(bot, ALICE, "INC-5")
    request_id_in(submit(bot, ALICE))

    bot.open_modal(ALICE)
    modal = pick_bundle(bot, ALICE, "prod-incident")

    menu = next(b for b in modal.blocks if b.get("block_id") == "duration.developers")
    assert menu["element"]["initial_option"]["value"] == "5h"


def described(view: View) -> dict[str, str | None]:
    block = next(b for b in view.blocks if b.get("block_id") == "bundle")
    return {o["value"]: o.get("description", {}).get("text") for o in block["element"]["options"]}


def test_bundle_options_show_each_bundles_size_and_description(bot: Bot) -> None:
    bot.open_modal(ALICE)
    alice = pick_bundle(bot, ALICE, "prod-incident")
    assert described(alice) == {
        "prod-incident": "4 objects · Read/write on production sales data during an incident"
    }
    frank = bot.open_modal(FRANK)
    assert described(frank) == {"finance-bundle": "1 object"}


def test_the_flows_justification_hint_is_shown_under_the_input(start: Any) -> None:
    from tests.e2e.harness import standard_policy

    policy = standard_policy()
    flows = [
        f.model_copy(update={"justification_hint": "Link the incident, e.g. INC-1234"})
        if f.name == "developers"
        else f
        for f in policy.access_flows
    ]
    bot = start(policy=policy.model_copy(update={"access_flows": flows}))
    bot.open_modal(ALICE)
    modal = pick_bundle(bot, ALICE, "prod-incident")

    field = next(b for b in modal.blocks if b.get("block_id") == "justification")
    assert field["hint"]["text"] == "Link the incident, e.g. INC-1234"


def test_a_request_is_saved_as_a_favorite_from_homes_row_menu_and_home_shows_it(
    bot: Bot,
) -> None:
    request_id = _submit_directly(bot, FRANK, "finance-bundle")
    view = home(bot, FRANK)
    bot.sim.select(
        FRANK,
        view_id=view.id,
        action_id=f"home.row:{request_id}",
        value=json.dumps({"r": request_id, "a": "favorite"}, separators=(",", ":")),
    )
    naming = top(bot, FRANK, "favorite_save")
    assert f"Save *{request_id}* (1 object) as a favorite" in text(naming)
    before = len(bot.sim.calls_to("views.publish"))
    bot.sim.submit_view(FRANK, view_id=naming.id)

    bot.sim.wait_for(lambda: len(bot.sim.calls_to("views.publish")) > before)
    refreshed = bot.sim.home(FRANK)
    assert refreshed is not None
    assert "⭐ *finance-bundle* · finance-bundle (1 object)" in " ".join(texts_of(refreshed.blocks))


def test_only_the_requester_sees_save_as_favorite_in_a_requests_details(bot: Bot) -> None:
    request_id = _submit_directly(bot, FRANK, "finance-bundle")

    def details(user: str) -> View:
        view = home(bot, user)
        bot.sim.select(
            user,
            view_id=view.id,
            action_id=f"home.row:{request_id}",
            value=json.dumps({"r": request_id, "a": "details"}, separators=(",", ":")),
        )
        return top(bot, user, "home_detail")

    assert "request.save_favorite" in str(details(FRANK).blocks)
    assert "request.save_favorite" not in str(details(CAROL).blocks)  # an approver and admin
