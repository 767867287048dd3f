"""Every message builder emits only blocks Slack accepts, even for a request that lists no
objects (a context or actions block with nothing in it is refused as ``invalid_blocks``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from blocks.messages import (
    approval_message,
    credentials_message,
    reminder_message,
    status_message,
)
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from domain.summary import IntegrationPart, RequestSummary
from slacksim.limits import check_message

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def a_summary(status: Status, *, parts: tuple[IntegrationPart, ...] = ()) -> RequestSummary:
    return RequestSummary(
        id=RequestId("AR-7K3Q9M"),
        requester=UserId("U0ALICE"),
        requester_name="Alice Doe",
        requester_email=None,
        flow="developers",
        bundle=None,
        status=status,
        duration=timedelta(hours=1),
        justification="",
        created_at=T0,
        parts=parts,
        expires_at=T0 + timedelta(hours=1) if status is Status.ACTIVE else None,
    )


def empty_lists(blocks: list[dict[str, Any]]) -> list[str]:
    found = []
    for i, block in enumerate(blocks):
        for key in ("elements", "fields"):
            if key in block and not block[key]:
                found.append(f"/blocks/{i}/{key}")
        for j, element in enumerate(block.get("elements") or []):
            if isinstance(element, dict) and element.get("text") == "":
                found.append(f"/blocks/{i}/elements/{j}/text")
    return found


def messages_about(summary: RequestSummary) -> list[dict[str, Any]]:
    return [
        approval_message(summary=summary, reasons=[]),
        status_message(summary=summary, actor=None, at=T0, reason=None, for_requester=True),
        status_message(summary=summary, actor=None, at=T0, reason=None, for_requester=False),
        credentials_message(
            summary=summary, integration="x", fields={"user": "u"}, valid_until=None
        ),
        reminder_message(summary=summary, waiting_since=T0),
    ]


@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.value)
def test_messages_about_a_request_without_objects_have_no_empty_blocks(status: Status) -> None:
    for message in messages_about(a_summary(status)):
        assert empty_lists(message["blocks"]) == []
        assert check_message(text=message["text"], blocks=message["blocks"]) == []


def test_the_audit_copy_still_lists_the_integrations_when_there_are_some() -> None:
    part = IntegrationPart("prod-redis", ("orders:*",), ("read_write",), 1)
    message = status_message(
        summary=a_summary(Status.PENDING, parts=(part,)),
        actor=None,
        at=T0,
        reason=None,
        for_requester=False,
    )
    assert check_message(text=message["text"], blocks=message["blocks"]) == []
    assert "prod-redis (1)" in str(message["blocks"])
