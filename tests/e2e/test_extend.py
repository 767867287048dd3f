"""Extending active access through Slack (README, "Extending access"): with the approvers' say
or automatically, never over the flow's maximum, and the new end honoured by the bot's expiry
and by PostgreSQL's own ``VALID UNTIL`` on a real server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.bootstrap import integrations_from
from domain.audit import AuditKind
from domain.clock import ManualClock
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim import Message
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT, BOB, DAVE, Bot
from tests.e2e.messages import (
    about,
    approval_requests,
    buttons,
    forged_click,
    status,
    text_of,
    wait_status,
)
from tests.e2e.modal_steps import request_bundle
from tests.integration.integrations.integration_servers import PgCluster, pg_role_exists

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def extend_policy(pg: PgCluster, **extend: Any) -> Policy:
    """One real PostgreSQL integration; access of one hour, at most three in all."""
    return Policy.model_validate(
        {
            "integrations": [
                {
                    "name": "prod-postgres",
                    "type": "postgresql",
                    "connection": {
                        "host": "127.0.0.1",
                        "port": pg.port,
                        "database": "shop",
                        "user": "postgres",
                        "password": "${EXTEND_PG_PASSWORD}",
                    },
                }
            ],
            "bundles": [
                {
                    "name": "orders",
                    "objects": [
                        {
                            "integration": "prod-postgres",
                            "resource": "sales.orders",
                            "permission": "read_only",
                        }
                    ],
                }
            ],
            "access_flows": [
                {
                    "name": "developers",
                    "grantees": {"groups": ["@developers"]},
                    "bundles": ["orders"],
                    "approvers": {"users": [BOB]},
                    "duration": {"default": "1h", "max": "1h"},
                    "extend": {"max_total": "3h", **extend},
                }
            ],
        }
    )


def start_with_pg(start: StartBot, pg: PgCluster, clock: ManualClock, **extend: Any) -> Bot:
    policy = extend_policy(pg, **extend)
    integrations = integrations_from(policy, env={"EXTEND_PG_PASSWORD": pg.password})
    return start(policy=policy, integrations=integrations, clock=clock, sweeps=False)


def active(bot: Bot) -> str:
    request_id = request_bundle(bot, ALICE, "orders")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    [ask] = approval_requests(bot, BOB, request_id)
    bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    wait_status(bot, request_id, Status.ACTIVE, timeout=30)
    return request_id


def expires_at(bot: Bot, request_id: str) -> datetime:
    with bot.app.store.read() as uow:
        request = uow.requests.get(RequestId(request_id))
    assert request is not None
    assert request.expires_at is not None
    return request.expires_at


def valid_until(pg: PgCluster, account: str) -> datetime | None:
    with pg.connect() as admin:
        row = admin.execute(
            "SELECT rolvaliduntil FROM pg_roles WHERE rolname = %s", (account,)
        ).fetchone()
    assert row is not None, f"{account} is not in pg_roles"
    value = row[0]
    assert value is None or isinstance(value, datetime)
    return value


def account_of(request_id: str) -> str:
    return "jit_" + request_id.removeprefix("AR-").lower()


def active_status_message(bot: Bot, request_id: str) -> Message:
    def found() -> list[Message]:
        return [
            m
            for m in about(bot.sim.messages(ALICE), request_id)
            if "is active" in text_of(m) and "request.extend" in buttons(m)
        ]

    bot.sim.wait_for(lambda: len(found()) == 1)
    return found()[0]


def extension_asks(bot: Bot, request_id: str) -> list[Message]:
    return [m for m in about(bot.sim.messages(BOB), request_id) if "Extension of" in text_of(m)]


def extended_messages(bot: Bot, channel: str, request_id: str) -> list[Message]:
    return [m for m in about(bot.sim.messages(channel), request_id) if "was extended" in text_of(m)]


def test_an_extension_approved_by_an_approver_moves_valid_until_and_the_expiry(
    start: StartBot, scram_pg: PgCluster
) -> None:
    # Real time as the start: PostgreSQL checks VALID UNTIL against its own clock.
    clock = ManualClock(start=datetime.now(UTC))
    bot = start_with_pg(start, scram_pg, clock)
    request_id = active(bot)
    old_end = expires_at(bot, request_id)
    account = account_of(request_id)
    assert valid_until(scram_pg, account) == old_end

    # Extend on the active status message: the flow's step (its default, 1h) needs approval.
    dm = active_status_message(bot, request_id)
    bot.sim.click(ALICE, action_id="request.extend", message=(dm.channel, dm.ts))
    bot.sim.wait_for(lambda: len(extension_asks(bot, request_id)) == 1)
    assert any("Asked the approvers" in e.text for e in bot.sim.ephemerals(ALICE))
    [ask] = extension_asks(bot, request_id)
    assert buttons(ask) == ["extension.approve", "extension.deny"]
    # Nobody but an approver decides: a click forged from the approver's button is refused.
    value = next(
        e["value"] for b in ask.blocks if b.get("type") == "actions" for e in b["elements"]
    )
    bot.sim.send_envelope(
        type_="interactive",
        payload=forged_click(
            user=DAVE, action_id="extension.approve", value=value, channel=bot.sim.dm_channel(DAVE)
        ),
    )
    bot.sim.wait_for(lambda: any("not an approver" in e.text for e in bot.sim.ephemerals(DAVE)))
    assert expires_at(bot, request_id) == old_end

    bot.sim.click(BOB, action_id="extension.approve", message=(ask.channel, ask.ts))

    new_end = old_end + timedelta(hours=1)
    bot.sim.wait_for(lambda: expires_at(bot, request_id) == new_end, timeout=30)
    assert valid_until(scram_pg, account) == new_end
    bot.sim.wait_for(lambda: len(extended_messages(bot, ALICE, request_id)) == 1)
    bot.sim.wait_for(lambda: len(extended_messages(bot, AUDIT, request_id)) == 1)
    bot.sim.wait_for(lambda: "extension.approve" not in buttons(extension_asks(bot, request_id)[0]))
    with bot.app.store.read() as uow:
        [extended] = uow.audit.kinds(kind=AuditKind.EXTENDED)
        timeline = uow.requests.history(RequestId(request_id))
    assert extended.actor == BOB
    [entry] = [c for c in timeline if c.from_status is Status.ACTIVE]
    assert entry.to_status is Status.ACTIVE
    assert entry.actor == BOB
    assert entry.reason is not None
    assert entry.reason.startswith("extended by 1h")

    # The old end passes: still active, and PostgreSQL still lets the role in.
    clock.set(old_end + timedelta(seconds=1))
    bot.app.run_now("end")
    assert status(bot, request_id) is Status.ACTIVE
    assert pg_role_exists(scram_pg, account)

    clock.set(new_end + timedelta(seconds=1))
    bot.app.run_now("end")
    assert status(bot, request_id) is Status.EXPIRED
    assert not pg_role_exists(scram_pg, account)


def test_an_automatic_extension_by_command_moves_the_end_at_once(
    start: StartBot, scram_pg: PgCluster
) -> None:
    clock = ManualClock(start=datetime.now(UTC))
    bot = start_with_pg(start, scram_pg, clock, automatic_up_to="1h")
    request_id = active(bot)
    old_end = expires_at(bot, request_id)

    ack = bot.sim.slash_command(ALICE, text=f"extend {request_id} 30m")

    assert ack.payload is not None
    assert "Extending" in ack.payload["text"]
    new_end = old_end + timedelta(minutes=30)
    bot.sim.wait_for(lambda: expires_at(bot, request_id) == new_end, timeout=30)
    assert valid_until(scram_pg, account_of(request_id)) == new_end
    assert extension_asks(bot, request_id) == []
    bot.sim.wait_for(lambda: len(extended_messages(bot, ALICE, request_id)) == 1)
    assert "automatically" in text_of(extended_messages(bot, ALICE, request_id)[0])


def test_an_extension_over_the_maximum_is_refused_and_nothing_moves(
    start: StartBot, scram_pg: PgCluster
) -> None:
    clock = ManualClock(start=datetime.now(UTC))
    bot = start_with_pg(start, scram_pg, clock, approval="automatic")
    request_id = active(bot)
    old_end = expires_at(bot, request_id)

    ack = bot.sim.slash_command(ALICE, text=f"extend {request_id} 2h30m")

    assert ack.payload is not None
    text = ack.payload["text"]
    assert "over the maximum" in text
    assert "at most 2h can be added" in text
    with bot.app.store.read() as uow:
        refused = uow.audit.kinds(kind=AuditKind.EXTENSION_REFUSED)
        assert uow.extensions.for_request(RequestId(request_id)) == []
    assert [(e.actor, e.request_id) for e in refused] == [(ALICE, request_id)]
    bot.app.run_now("extend")
    assert expires_at(bot, request_id) == old_end
    assert valid_until(scram_pg, account_of(request_id)) == old_end

    usage = bot.sim.slash_command(ALICE, text="extend")
    assert usage.payload is not None
    assert "Usage: `/apono extend" in usage.payload["text"]


def test_extend_from_the_home_row_menu_asks_the_approvers_who_may_deny(
    start: StartBot, scram_pg: PgCluster
) -> None:
    clock = ManualClock(start=datetime.now(UTC))
    bot = start_with_pg(start, scram_pg, clock)
    request_id = active(bot)
    old_end = expires_at(bot, request_id)
    before = len(bot.sim.calls_to("views.publish"))
    bot.sim.open_home(ALICE)
    bot.sim.wait_for(lambda: len(bot.sim.calls_to("views.publish")) > before)
    home = bot.sim.home(ALICE)
    assert home is not None

    bot.sim.click(
        ALICE,
        view_id=home.id,
        action_id=f"home.row:{request_id}",
        value=json.dumps({"r": request_id, "a": "extend"}, separators=(",", ":")),
    )

    bot.sim.wait_for(lambda: len(extension_asks(bot, request_id)) == 1)
    [ask] = extension_asks(bot, request_id)
    bot.sim.click(BOB, action_id="extension.deny", message=(ask.channel, ask.ts))
    bot.sim.wait_for(lambda: any("was not extended" in text_of(m) for m in bot.sim.messages(ALICE)))
    bot.app.run_now("extend")
    assert expires_at(bot, request_id) == old_end
    assert valid_until(scram_pg, account_of(request_id)) == old_end
    with bot.app.store.read() as uow:
        assert [e.actor for e in uow.audit.kinds(kind=AuditKind.EXTENSION_DENIED)] == [BOB]
