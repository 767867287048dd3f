"""Reading what people received: DMs by kind, and the message counts the issues ask for."""

from __future__ import annotations

from typing import Any

from domain.ids import RequestId
from domain.lifecycle import Status
from slacksim import Message, texts_of
from tests.e2e.harness import Bot


def text_of(message: Message) -> str:
    return message.text + " " + " ".join(texts_of(message.blocks))


def about(messages: list[Message], request_id: str) -> list[Message]:
    return [m for m in messages if request_id in text_of(m)]


def approval_requests(bot: Bot, user: str, request_id: str) -> list[Message]:
    return [m for m in about(bot.sim.messages(user), request_id) if "Access request" in text_of(m)]


def status_messages(bot: Bot, channel: str, request_id: str) -> list[Message]:
    return [
        m
        for m in about(bot.sim.messages(channel), request_id)
        if "Access request" not in text_of(m)
        and "Access details" not in text_of(m)
        and "Reminder" not in text_of(m)
    ]


def history(bot: Bot, request_id: str) -> list[Status]:
    with bot.app.store.read() as uow:
        return [c.to_status for c in uow.requests.history(RequestId(request_id))]


def status(bot: Bot, request_id: str) -> Status:
    return history(bot, request_id)[-1]


def wait_status(bot: Bot, request_id: str, wanted: Status, *, timeout: float = 10) -> None:
    bot.sim.wait_for(lambda: status(bot, request_id) is wanted, timeout=timeout)


def followers_of(bot: Bot, request_id: str) -> set[str]:
    """Who follows a request in DMs: its requester, and the teammate it was asked for."""
    with bot.app.store.read() as uow:
        request = uow.requests.get(RequestId(request_id))
    assert request is not None
    return {str(request.requester), str(request.holder)}


def expected_messages(bot: Bot, request_id: str, channel: str) -> int:
    """The audit channel gets one message per status change; the requester (and the teammate
    it was asked for) one per change too, except granting, which rewrites the approval's
    message in place."""
    changes = history(bot, request_id)
    if channel in followers_of(bot, request_id):
        return sum(1 for c in changes if c is not Status.GRANTING)
    return len(changes)


def settled(bot: Bot, request_id: str, *, channels: list[str], timeout: float = 10) -> None:
    """Wait until every status change has reached the requester and the audit channel."""

    def done() -> bool:
        return all(
            len(status_messages(bot, c, request_id)) >= expected_messages(bot, request_id, c)
            for c in channels
        )

    bot.sim.wait_for(done, timeout=timeout)
    bot.sim.wait_for(lambda: outbox_empty(bot), timeout=timeout)


def outbox_empty(bot: Bot) -> bool:
    with bot.app.store.read() as uow:
        return uow.outbox.pending_count() == 0


def buttons(message: Message) -> list[str]:
    ids: list[str] = []
    for block in message.blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            ids.append(str(element.get("action_id")))
    return ids


def forged_click(*, user: str, action_id: str, value: str, channel: str) -> dict[str, Any]:
    """A block_actions payload built by hand, as a client that fakes a click would send."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "x", "name": "x", "team_id": "T0SIM"},
        "api_app_id": "A0SIM",
        "team": {"id": "T0SIM", "domain": "sim"},
        "container": {"type": "message", "message_ts": "1.1", "channel_id": channel},
        "channel": {"id": channel, "name": "x"},
        "message": {"ts": "1.1", "text": "", "blocks": []},
        "trigger_id": "1.2.forged",
        "response_url": "http://127.0.0.1:1/none",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "decision",
                "value": value,
                "action_ts": "1.1",
            }
        ],
    }
