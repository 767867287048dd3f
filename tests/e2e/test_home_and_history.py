"""App Home, /apono history and Request again (issue 6)."""

from __future__ import annotations

import json

import pytest

from domain.lifecycle import Status
from slacksim import View, texts_of
from tests.e2e.harness import ALICE, BOB, CAROL, DAVE, FRANK, Bot
from tests.e2e.messages import approval_requests, buttons, status_messages, wait_status
from tests.e2e.modal_steps import request_bundle, text
from tests.e2e.test_approvals import _submit_directly

pytestmark = pytest.mark.e2e


def home(bot: Bot, user: str) -> View:
    before = len(bot.sim.calls_to("views.publish"))
    bot.sim.open_home(user)
    bot.sim.wait_for(lambda: len(bot.sim.calls_to("views.publish")) > before)
    view = bot.sim.home(user)
    assert view is not None
    return view


def republished(bot: Bot, user: str, act: object) -> View:
    before = len(bot.sim.calls_to("views.publish"))
    act()  # type: ignore[operator]
    bot.sim.wait_for(lambda: len(bot.sim.calls_to("views.publish")) > before)
    view = bot.sim.home(user)
    assert view is not None
    return view


def choose(bot: Bot, user: str, action_id: str, value: str) -> View:
    """Pick in a Home filter (without reopening Home, which would reset the filters)."""
    current = bot.sim.home(user)
    assert current is not None
    return republished(
        bot,
        user,
        lambda: bot.sim.select(user, view_id=current.id, action_id=action_id, value=value),
    )


def rows(view: View) -> list[str]:
    return [
        b["block_id"].removeprefix("row.")
        for b in view.blocks
        if str(b.get("block_id", "")).startswith("row.")
    ]


def test_home_lists_the_users_requests_newest_first_with_paging(bot: Bot) -> None:
    ids = [_submit_directly(bot, FRANK, "finance-bundle") for _ in range(12)]
    view = home(bot, FRANK)
    assert rows(view) == list(reversed(ids))[:10]
    assert "Page 1 of 2 · 12 requests" in " ".join(texts_of(view.blocks))
    view = republished(
        bot, FRANK, lambda: bot.sim.click(FRANK, action_id="home.page:mine.next", view_id=view.id)
    )
    assert rows(view) == list(reversed(ids))[10:]
    assert len(view.blocks) <= 100


def test_approvers_see_what_waits_for_them_and_can_decide_from_home(bot: Bot) -> None:
    request_id = _submit_directly(bot, FRANK, "finance-bundle")
    view = home(bot, CAROL)
    shown = " ".join(texts_of(view.blocks))
    assert "Waiting for your decision (1)" in shown
    assert request_id in shown
    republished(
        bot,
        CAROL,
        lambda: bot.sim.click(CAROL, action_id=f"request.approve:{request_id}", view_id=view.id),
    )
    wait_status(bot, request_id, Status.ACTIVE)
    view = home(bot, CAROL)
    assert "Waiting for your decision" not in " ".join(texts_of(view.blocks))


def test_admins_see_everyones_activity_filtered_by_status_bundle_and_requester(bot: Bot) -> None:
    finance = _submit_directly(bot, FRANK, "finance-bundle")
    incident = request_bundle(bot, ALICE, "prod-incident")
    view = home(bot, CAROL)  # Carol is an admin
    assert "Recent activity (admins)" in " ".join(texts_of(view.blocks))
    assert {finance, incident} <= set(rows(view))
    view = choose(bot, CAROL, "home.filter.bundle", "finance-bundle")
    assert finance in rows(view)
    assert incident not in rows(view)
    view = choose(bot, CAROL, "home.filter.bundle", "any")
    view = choose(bot, CAROL, "home.filter.requester", ALICE)
    assert incident in rows(view)
    assert finance not in rows(view)
    view = choose(bot, CAROL, "home.filter.status", "active")
    assert incident not in rows(view)
    # Non-admins see no activity section at all.
    assert "Recent activity" not in " ".join(texts_of(home(bot, DAVE).blocks))


def test_opening_a_row_shows_the_full_breakdown_and_timeline(bot: Bot) -> None:
    request_id = request_bundle(bot, ALICE, "prod-incident", reason="INC-9")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    [ask] = approval_requests(bot, BOB, request_id)
    bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    wait_status(bot, request_id, Status.ACTIVE)
    view = home(bot, ALICE)
    bot.sim.select(
        ALICE,
        view_id=view.id,
        action_id=f"home.row:{request_id}",
        value=json.dumps({"r": request_id, "a": "details"}, separators=(",", ":")),
    )
    bot.sim.wait_for(lambda: _top_is(bot, ALICE, "home_detail"))
    details = bot.sim.top_view(ALICE)
    assert details is not None
    shown = text(details)
    for fact in (
        "prod-postgres",
        "sales.orders",
        "read_write",
        "prod-redis",
        "shop-mysql",
        "INC-9",
        f"Submitted by <@{ALICE}>",
        f"Approved by <@{BOB}>",
        "Granting started",
        "Active",
        f"<@{BOB}>",
    ):
        assert fact in shown, fact
    assert view is not None


def test_apono_history_pages_through_past_requests(bot: Bot) -> None:
    ids = [_submit_directly(bot, FRANK, "finance-bundle") for _ in range(11)]
    bot.sim.slash_command(FRANK, text="history")
    bot.sim.wait_for(lambda: bot.sim.top_view(FRANK) is not None)
    modal = bot.sim.top_view(FRANK)
    assert modal is not None
    assert rows(modal) == list(reversed(ids))[:10]
    bot.sim.click(FRANK, action_id="history.page:history.next", view_id=modal.id)
    bot.sim.wait_for(lambda: rows(bot.sim.view(modal.id)) == [ids[0]])


def test_request_again_opens_the_modal_prefilled_from_an_ended_request(bot: Bot) -> None:
    request_id = request_bundle(bot, ALICE, "prod-incident", reason="INC-77")
    bot.sim.wait_for(lambda: len(status_messages(bot, ALICE, request_id)) == 1)
    [pending] = status_messages(bot, ALICE, request_id)
    bot.sim.click(ALICE, action_id="request.cancel", message=(pending.channel, pending.ts))
    wait_status(bot, request_id, Status.CANCELED)
    bot.sim.wait_for(lambda: len(status_messages(bot, ALICE, request_id)) == 2)
    canceled = status_messages(bot, ALICE, request_id)[-1]
    assert "request.again" in buttons(canceled)
    bot.sim.click(ALICE, action_id="request.again", message=(canceled.channel, canceled.ts))
    bot.sim.wait_for(lambda: _top_is(bot, ALICE, "request_modal"))
    modal = bot.sim.top_view(ALICE)
    assert modal is not None
    assert "Selected: 4" in text(modal)
    assert (
        bot.sim.view(modal.id).state_values["justification"]["modal.justification"]["value"]
        == "INC-77"
    )
    done = bot.sim.submit_view(ALICE, view_id=modal.id)
    assert done.payload is not None
    assert done.payload["response_action"] == "update"


def _top_is(bot: Bot, user: str, callback_id: str) -> bool:
    view = bot.sim.top_view(user)
    return view is not None and view.callback_id == callback_id
