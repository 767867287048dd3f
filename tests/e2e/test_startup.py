"""The bot starts against the simulator and answers /apono inside Slack's deadlines."""

from __future__ import annotations

import time

from slacksim import texts_of
from tests.e2e.harness import ALICE, Bot


def test_apono_is_acknowledged_well_inside_3s_and_opens_a_modal_with_its_trigger(
    bot: Bot,
) -> None:
    ack = bot.sim.slash_command(ALICE, text="")
    bot.sim.wait_for(lambda: bool(bot.sim.calls_to("views.open")))
    assert ack.latency < 1.0
    opened = bot.sim.calls_to("views.open")[0]
    envelope = next(e for e in bot.sim.envelopes if e["type"] == "slash_commands")
    assert opened.args["trigger_id"] == envelope["payload"]["trigger_id"]
    assert opened.ok
    view = bot.sim.top_view(ALICE)
    assert view is not None
    assert view.callback_id == "request_modal"


def test_the_home_tab_is_published_when_opened(bot: Bot) -> None:
    bot.sim.open_home(ALICE)
    bot.sim.wait_for(lambda: bot.sim.home(ALICE) is not None)
    home = bot.sim.home(ALICE)
    assert home is not None
    assert "Your requests" in " ".join(texts_of(home.blocks))


def test_apono_help_answers_with_what_the_command_can_do(bot: Bot) -> None:
    ack = bot.sim.slash_command(ALICE, text="help")
    assert ack.payload is not None
    assert "/apono revoke" in ack.payload["text"]
    assert not bot.sim.calls_to("views.open")


def test_the_apps_web_client_retries_a_429_only_after_retry_after(bot: Bot) -> None:
    from app.slack.client import make_web_client

    client = make_web_client(token=bot.sim.bot_token, base_url=bot.sim.api_url)
    bot.sim.inject(method="users.info", status=429, retry_after=1, times=1)
    started = time.monotonic()
    answer = client.users_info(user=ALICE)
    waited = time.monotonic() - started
    assert answer["user"]["id"] == ALICE
    calls = bot.sim.calls_to("users.info")
    assert [c.status for c in calls[-2:]] == [429, 200]
    assert calls[-1].at - calls[-2].at >= 1.0
    assert waited >= 1.0


def test_the_apps_web_client_retries_a_503(bot: Bot) -> None:
    from app.slack.client import make_web_client

    client = make_web_client(token=bot.sim.bot_token, base_url=bot.sim.api_url)
    bot.sim.inject(method="users.info", status=503, times=2)
    assert client.users_info(user=ALICE)["ok"]
    assert [c.status for c in bot.sim.calls_to("users.info")[-3:]] == [503, 503, 200]
