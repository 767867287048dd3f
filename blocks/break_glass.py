"""Break-glass in Slack (README, "Break-glass"): the modal's choice, the alarm every approver,
admin and the audit channel receive, and what a requester or an acknowledger is told."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
)

from blocks import kit, limits
from blocks.ids import ActionId, BlockId
from blocks.messages import STATUS_EMOJI, everything, parts_blocks, what
from blocks.payloads import RequestButton
from blocks.text import clip, date_token, escape, mention, plural
from domain.durations import format_duration
from domain.summary import RequestSummary


def _uses(count: int) -> str:
    return plural(count, "use")


NORMAL_CHOICE: Final = "normal"
BREAK_GLASS_CHOICE: Final = "break_glass"
ALARM_HEADER: Final = "🚨 BREAK GLASS"
"""Every alarm starts with this; tests and people both look for it."""

# -- the request modal ----------------------------------------------------------------------------


def break_glass_input(*, flow: str, max_duration: timedelta, daily_limit: int) -> InputBlock:
    """The modal's choice between asking for approval and breaking the glass (flows that
    allow it only). Its block ID moves with the flow, so another flow starts at "approval"."""
    longest = format_duration(max_duration)
    options = [
        Option(
            text=PlainTextObject(text="Ask for approval"),
            value=NORMAL_CHOICE,
        ),
        Option(
            text=PlainTextObject(text="🚨 Break glass: access now, no approver"),
            value=BREAK_GLASS_CHOICE,
            description=PlainTextObject(
                text=clip(
                    f"Emergencies only · up to {longest} · everyone is told", limits.OPTION_TEXT
                )
            ),
        ),
    ]
    return InputBlock(
        block_id=f"{BlockId.BREAK_GLASS}.{flow}",
        label="How",
        element=RadioButtonsElement(
            action_id=ActionId.BREAK_GLASS, options=options, initial_option=options[0]
        ),
        hint=clip(
            f"Break glass needs a reason below; {_uses(daily_limit)} a day per person. The "
            "audit channel, every approver and every admin are alerted at once.",
            limits.OPTION_TEXT * 2,
        ),
    )


def break_glass_not_offered(flow: str) -> str:
    return f"Access flow {flow} does not allow break-glass; ask for approval instead."


BREAK_GLASS_UNAVAILABLE: Final = "Break-glass is not available right now; ask for approval."
REASON_REQUIRED: Final = "Break glass needs a reason: what is on fire (e.g. INC-1234, db down)."


def reason_too_long(limit: int) -> str:
    return f"Keep the break-glass reason under {limit:,} characters."


def daily_limit_reached(*, flow: str, limit: int) -> str:
    uses = "once" if limit == 1 else f"{limit} times"
    return (
        f"You already broke the glass of {flow} {uses} today (UTC), its daily limit. "
        "Ask for approval instead, or ask an admin."
    )


def break_glass_next_step(duration: timedelta) -> str:
    """The submitted modal's line about what happens now."""
    return (
        f"🚨 Break glass: access is being granted now, for {format_duration(duration)}. "
        "The audit channel, the flow's approvers and the admins have been alerted."
    )


# -- the alarm --------------------------------------------------------------------------------


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, limits.SECTION_TEXT)))


def _button(text: str, action: ActionId, summary: RequestSummary, **kwargs: Any) -> ButtonElement:
    value = RequestButton(r=summary.id, f=summary.flow).encode()
    return ButtonElement(text=text, action_id=action, value=value, **kwargs)


def break_glass_alarm(*, summary: RequestSummary) -> dict[str, Any]:
    """The one loud message each recipient gets; sent again in place once acknowledged.

    *Acknowledge* is offered until someone acknowledges; *Revoke now* (the revocation feature's
    own button) while access is or may still become active."""
    requester = f"<@{summary.requester}>"
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"{ALARM_HEADER} · {summary.id}", limits.HEADER_TEXT)),
        _section(
            f"{requester} broke the glass: {what(summary)} through access flow "
            f"*{escape(summary.flow)}*, for {format_duration(summary.duration)}, "
            f"*without any approver*, {date_token(summary.created_at)}."
        ),
        _section(f"*Reason*\n>{escape(summary.justification)}"),
        *parts_blocks(summary),
    ]
    status = summary.status
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"{STATUS_EMOJI.get(status, '')} Now {status.label} · {requester}"
                    + (f" ({escape(summary.requester_email)})" if summary.requester_email else "")
                )
            ]
        )
    )
    if summary.acknowledged_by is not None:
        when = f" {date_token(summary.acknowledged_at)}" if summary.acknowledged_at else ""
        blocks.append(_section(f"✅ *Acknowledged* by {mention(summary.acknowledged_by)}{when}"))
    buttons: list[ButtonElement] = []
    if summary.acknowledged_by is None:
        buttons.append(_button("Acknowledge", ActionId.ACKNOWLEDGE, summary, style="primary"))
    if not status.terminal:
        buttons.append(
            _button(
                "Revoke now",
                ActionId.REVOKE,
                summary,
                style="danger",
                confirm=ConfirmObject(
                    title="Revoke break-glass access?",
                    text=f"{everything(summary.object_count)} of {summary.id} will be removed now.",
                    confirm="Revoke",
                    deny="Keep",
                ),
            )
        )
    if buttons:
        blocks.append(ActionsBlock(block_id="break_glass_actions", elements=buttons))
    built = [kit.as_dict(b) for b in blocks]
    text = f"BREAK GLASS: {summary.requester_name} took access without approval ({summary.id})"
    return {"text": clip(text, limits.MESSAGE_TEXT), "blocks": built}


# -- acknowledging ------------------------------------------------------------------------------

ACKNOWLEDGE_NOT_ALLOWED: Final = "Only an approver of its flow or an admin can acknowledge it."
OWN_BREAK_GLASS: Final = "You cannot acknowledge your own break-glass access."


def not_break_glass(request_id: str) -> str:
    return f"{request_id} is not a break-glass request."


def acknowledged(request_id: str) -> str:
    return f"✅ You acknowledged {request_id}; every copy of the alarm now says so."


def already_acknowledged(*, request_id: str, by: str | None, at: datetime | None) -> str:
    when = f" {date_token(at)}" if at else ""
    return f"{request_id} was already acknowledged by {mention(by)}{when}."


BREAK_GLASS_MARK: Final = "🚨 break-glass"
"""How Home rows and the details mark a break-glass request."""
