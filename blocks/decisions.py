"""Views and replies around a decision: the deny-reason modal, what the clicker is told (approved,
canceled, revoking, already decided), the full object list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks import kit, limits
from blocks.ids import ActionId, BlockId, CallbackId, scoped
from blocks.payloads import PageButton, RequestButton
from blocks.text import clip, date_token, escape, mention, plural
from domain.lifecycle import Status
from domain.objects import AccessObject
from domain.summary import RequestSummary

OBJECTS_PER_PAGE: Final = 40
MAX_DENY_REASON: Final = 500
MAX_APPROVE_REASON: Final = 500
"""Approvers' comments are kept in the audit log and reports; Slack's input enforces it too."""


def approve_modal(*, request_id: str, flow: str) -> dict[str, Any]:
    """Approve with a comment the requester sees (kept in the audit log and reports)."""
    view = View(
        type="modal",
        callback_id=CallbackId.APPROVE_REASON,
        title=PlainTextObject(text=clip(f"Approve {request_id}", limits.VIEW_TITLE)),
        submit=PlainTextObject(text="Approve all"),
        close=PlainTextObject(text="Back"),
        private_metadata=RequestButton(r=request_id, f=flow).encode(),
        blocks=[
            InputBlock(
                block_id=BlockId.APPROVE_REASON,
                label="Comment (the requester sees it)",
                element=PlainTextInputElement(
                    action_id=ActionId.APPROVE_REASON,
                    multiline=True,
                    max_length=MAX_APPROVE_REASON,
                    placeholder="e.g. approved for INC-42 only",
                ),
            )
        ],
    )
    return kit.as_dict(view)


def deny_modal(*, request_id: str, flow: str) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=CallbackId.DENY_REASON,
        title=PlainTextObject(text=clip(f"Deny {request_id}", limits.VIEW_TITLE)),
        submit=PlainTextObject(text="Deny all"),
        close=PlainTextObject(text="Back"),
        private_metadata=RequestButton(r=request_id, f=flow).encode(),
        blocks=[
            InputBlock(
                block_id=BlockId.DENY_REASON,
                label="Reason (optional; the requester sees it)",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ActionId.DENY_REASON,
                    multiline=True,
                    max_length=MAX_DENY_REASON,
                    placeholder="e.g. use the staging database for this",
                ),
            )
        ],
    )
    return kit.as_dict(view)


REVOKE_USAGE: Final = "Usage: `/apono revoke AR-XXXXXX` (the request ID from its messages)."


def approved(request_id: str) -> str:
    return f"✅ You approved {request_id}."


def approval_counted(*, request_id: str, count: int, needed: int, step: int, steps: int) -> str:
    """An approval that did not yet decide the request."""
    where = f" in step {step + 1} of {steps}" if steps > 1 else ""
    return f"✅ Your approval of {request_id} is counted{where}: {count} of {needed} approved."


def already_voted(request_id: str) -> str:
    return f"You already decided on {request_id} in this step. Nothing changed."


def canceled(request_id: str) -> str:
    return f"↩️ You canceled {request_id}."


def revoking(request_id: str) -> str:
    return (
        f"🔒 Revoking {request_id}: its access is being removed now; the requester gets a DM "
        "when it's gone."
    )


STATE: Final = {
    Status.PENDING: "is still waiting for approval",
    Status.APPROVED: "was approved",
    Status.GRANTING: "is being granted",
    Status.ACTIVE: "is active",
    Status.EXPIRED: "has expired",
    Status.REVOKED: "was revoked",
    Status.DENIED: "was denied",
    Status.CANCELED: "was canceled",
    Status.TIMED_OUT: "timed out without a decision",
    Status.FAILED: "failed",
}
"""Where a request stands, after its ID."""


def nothing_to_revoke(summary: RequestSummary) -> str:
    return f"{summary.id} {STATE[summary.status]}; there is nothing to revoke."


def already_decided(summary: RequestSummary) -> str:
    """What a second click on Approve or Deny is told: who decided first, and where it stands."""
    status = summary.status
    if summary.decided_at is None:  # canceled, timed out, failed before any decision
        return f"{summary.id} {STATE[status]} already. Nothing changed."
    if summary.decided_by:
        who = f" by {mention(summary.decided_by)}"
    else:
        who = " automatically" if status is not Status.DENIED else " by the bot"
    decision = "denied" if status is Status.DENIED else "approved"
    now = "" if status in (Status.APPROVED, Status.DENIED) else f" and {STATE[status]} now"
    return (
        f"{summary.id} was already {decision}{who} {date_token(summary.decided_at)}{now}. "
        "Nothing changed."
    )


def object_list_modal(
    *, summary: RequestSummary, objects: Sequence[AccessObject], page: int, pages: int
) -> dict[str, Any]:
    """One page of a request's objects; buttons move between pages in place."""
    lines: list[str] = []
    current: str | None = None
    for obj in objects:
        if obj.integration != current:
            current = obj.integration
            lines.append(f"*{escape(obj.integration)}*")
        lines.append(f"• `{escape(obj.resource)}` · {obj.permission}")
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > limits.OBJECT_LIST_SECTION:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
            chunk = []
        chunk.append(clip(line, limits.OBJECT_LIST_SECTION))
    if chunk:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Page {page + 1} of {pages} · {plural(summary.object_count, 'object')} "
                    f"in {plural(len(summary.parts), 'integration')}"
                )
            ]
        )
    )
    buttons = []
    if page > 0:
        buttons.append(
            ButtonElement(
                text="← Previous",
                action_id=scoped(ActionId.OBJECTS_PAGE, "prev"),
                value=PageButton(r=summary.id, p=page - 1).encode(),
            )
        )
    if page + 1 < pages:
        buttons.append(
            ButtonElement(
                text="Next →",
                action_id=scoped(ActionId.OBJECTS_PAGE, "next"),
                value=PageButton(r=summary.id, p=page + 1).encode(),
            )
        )
    if buttons:
        blocks.append(ActionsBlock(block_id="pages", elements=buttons))
    view = View(
        type="modal",
        callback_id=CallbackId.OBJECT_LIST,
        title=PlainTextObject(text=clip(f"Objects of {summary.id}", limits.VIEW_TITLE)),
        close=PlainTextObject(text="Close"),
        blocks=blocks,
    )
    return kit.as_dict(view)


def step_already_done(*, request_id: str, step: int, steps: int) -> str:
    """A click that came after its step had reached its quorum."""
    return (
        f"Step {step + 1} of {steps} of {request_id} already has its approvals; "
        "the request has moved on. Nothing changed."
    )
