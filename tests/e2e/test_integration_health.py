"""Admin logins checked before they are trusted: an integration that fails offers nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.bootstrap import build_application
from domain.ids import UserId
from slacksim import View
from slacksim.pytest_plugin import SimulatorFactory
from tests.e2e.conftest import StartBot
from tests.e2e.harness import (
    ALICE,
    CAROL,
    DAVE,
    Bot,
    fake_integrations,
    settings_for,
    standard_policy,
    workspace,
)
from tests.e2e.modal_steps import justify, pick_bundle, search, select_all, submit, text
from tests.e2e.test_home_and_history import home
from tests.fakes import RecordingIntegration

pytestmark = pytest.mark.e2e

LACKS = "The admin login lacks CREATEROLE, needed to create the temporary accounts."
UNAVAILABLE = "⚠️ *prod-postgres* is unavailable: The admin login lacks CREATEROLE"


def action_ids(view: View) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("action_id"), str):
                found.add(node["action_id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(view.blocks)
    return found


def integration_menu(view: View) -> list[str]:
    menu = next((b for b in view.blocks if b.get("block_id") == "integration"), None)
    return [o["value"] for o in menu["element"]["options"]] if menu else []


def requests_of(bot: Bot, user: str) -> list[str]:
    with bot.app.store.read() as uow:
        return list(uow.requests.recent_for(UserId(user), limit=100))


def start_with_missing(start: StartBot) -> tuple[Bot, RecordingIntegration]:
    policy = standard_policy()
    fakes = fake_integrations(policy)
    fakes["prod-postgres"].missing = [LACKS]
    return start(policy=policy, integrations=fakes), fakes["prod-postgres"]


def fixed(bot: Bot, postgres: RecordingIntegration) -> None:
    postgres.missing.clear()
    bot.app.run_now("health")


def test_a_bundle_offers_nothing_of_an_integration_whose_admin_login_lacks_something(
    start: StartBot,
) -> None:
    bot, _ = start_with_missing(start)
    bot.open_modal(ALICE)

    view = pick_bundle(bot, ALICE, "prod-incident")

    shown = text(view)
    assert UNAVAILABLE in shown
    assert "Select all 2" in shown  # 4 objects, 2 of them on prod-postgres
    assert "modal.select_integration:prod-postgres" not in action_ids(view)
    assert "modal.select_integration:prod-redis" in action_ids(view)
    assert search(bot, ALICE, "sales") == []  # prod-postgres's objects are not found either
    view = select_all(bot, ALICE)
    assert "*Selected: 2*" in text(view)
    assert "prod-postgres" not in json.dumps(
        next(b for b in view.blocks if b.get("block_id") == "selection")
    )


def test_the_objects_are_offered_again_once_the_login_passes_and_the_health_trigger_runs(
    start: StartBot,
) -> None:
    bot, postgres = start_with_missing(start)
    bot.open_modal(ALICE)
    assert UNAVAILABLE in text(pick_bundle(bot, ALICE, "prod-incident"))

    fixed(bot, postgres)
    view = pick_bundle(bot, ALICE, "prod-incident")

    assert "unavailable" not in text(view)
    assert "modal.select_integration:prod-postgres" in action_ids(view)
    assert "Select all 4" in text(view)
    assert search(bot, ALICE, "sales") != []


def test_single_objects_of_an_unhealthy_integration_are_not_listed_and_the_modal_says_why(
    start: StartBot,
) -> None:
    bot, postgres = start_with_missing(start)

    view = bot.open_modal(ALICE)

    assert integration_menu(view) == ["prod-redis"]
    assert UNAVAILABLE in text(view)
    fixed(bot, postgres)
    assert integration_menu(bot.open_modal(ALICE)) == ["prod-postgres", "prod-redis"]


def test_a_submission_that_still_holds_objects_of_an_unhealthy_integration_is_refused(
    start: StartBot,
) -> None:
    bot, postgres = start_with_missing(start)
    fixed(bot, postgres)
    bot.open_modal(ALICE)
    pick_bundle(bot, ALICE, "prod-incident")
    select_all(bot, ALICE)  # all 4, prod-postgres's included, while it was healthy
    justify(bot, ALICE, "INC-7")
    postgres.missing.append(LACKS)
    bot.app.run_now("health")

    refused = submit(bot, ALICE)

    assert refused.payload is not None
    assert refused.payload["response_action"] == "errors"
    message = " ".join(refused.payload["errors"].values())
    assert "prod-postgres is unavailable" in message
    assert "lacks CREATEROLE" in message
    assert "Remove its 2 selected objects" in message
    assert requests_of(bot, ALICE) == []

    fixed(bot, postgres)
    done = submit(bot, ALICE)
    assert done.payload is not None
    assert done.payload["response_action"] == "update", done.payload
    assert len(requests_of(bot, ALICE)) == 1


def test_the_admin_home_shows_each_integrations_login_health_with_the_check_time(
    start: StartBot,
) -> None:
    bot, postgres = start_with_missing(start)

    carol = text(home(bot, CAROL))

    assert "*Admin logins*" in carol
    assert f"⚠️ *prod-postgres*: {LACKS} · checked <!date^" in carol
    assert "✅ *prod-redis* (redis) · checked <!date^" in carol
    assert "✅ *shop-mysql* (mysql) · checked <!date^" in carol
    fixed(bot, postgres)
    assert "✅ *prod-postgres* (postgresql) · checked <!date^" in text(home(bot, CAROL))


def test_people_who_are_not_admins_do_not_see_the_login_health(start: StartBot) -> None:
    bot, _ = start_with_missing(start)

    dave = text(home(bot, DAVE))

    assert "Admin logins" not in dave
    assert LACKS not in dave


def test_a_bot_whose_check_has_not_run_yet_offers_nothing_of_its_integrations(
    slack_sim_factory: SimulatorFactory, tmp_path: Path
) -> None:
    sim = slack_sim_factory(workspace=workspace())
    policy = standard_policy()
    app = build_application(
        settings=settings_for(sim, database_url=f"sqlite:///{tmp_path / 'bot.db'}"),
        policy=policy,
        integrations=fake_integrations(policy),
    )
    app.prepare()
    try:
        before = app.services.modal.open(user=UserId(ALICE))
        assert before.integrations == ()
        assert dict(before.unavailable) == {
            "prod-postgres": "not checked yet",
            "prod-redis": "not checked yet",
        }

        app.run_now("health")

        after = app.services.modal.open(user=UserId(ALICE))
        assert after.integrations == ("prod-postgres", "prod-redis")
        assert after.unavailable == ()
    finally:
        app.stop(wait_for_socket=False)
