"""One request modal makes one request, however many submissions of it arrive at once."""

from __future__ import annotations

import json
import re

import pytest

from domain.ids import UserId
from slacksim import Ack
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT, BOB
from tests.e2e.messages import approval_requests, settled, status_messages
from tests.e2e.modal_steps import justify, pick_bundle, select_all

pytestmark = pytest.mark.e2e

ROUNDS = 3


def request_ids_in(ack: Ack) -> set[str]:
    assert ack.payload is not None
    assert ack.payload.get("response_action") == "update", ack.payload
    return set(re.findall(r"AR-[0-9A-Z]{6}", json.dumps(ack.payload["view"])))


def test_two_identical_submissions_at_once_make_one_request_and_one_approval_message(
    start: StartBot, database_url: str
) -> None:
    bot = start(database_url=database_url)
    made: list[str] = []
    for _ in range(ROUNDS):
        bot.open_modal(ALICE)
        pick_bundle(bot, ALICE, "prod-incident")
        select_all(bot, ALICE)
        justify(bot, ALICE, "INC-7: double click")
        view = bot.view(ALICE)

        acks = bot.sim.submit_view_at_once(ALICE, view_id=view.id, copies=2)

        # Both get the same answer: the one request this form made.
        [first, second] = [request_ids_in(a) for a in acks]
        assert len(first) == 1
        assert first == second
        made.extend(first)
    with bot.app.store.read() as uow:
        assert uow.requests.count() == ROUNDS
        mine = uow.requests.recent_for(UserId(ALICE), limit=10)
        assert sorted(mine) == sorted(made)
        for mine_id in mine:
            assert len(uow.requests.objects(mine_id)) == 4
    for request_id in made:
        settled(bot, request_id, channels=[ALICE, AUDIT])
        assert len(approval_requests(bot, BOB, request_id)) == 1
        assert len(status_messages(bot, ALICE, request_id)) == 1
        assert len(status_messages(bot, AUDIT, request_id)) == 1
