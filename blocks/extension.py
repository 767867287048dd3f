"""Extending access and the reminders before the end: every sentence of them (README,
"Extending access")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    HeaderBlock,
)

from blocks import limits
from blocks.ids import ActionId
from blocks.messages import (
    Message,
    _context,
    _message,
    _section,
    asked_because,
    everything,
    what,
)
from blocks.payloads import ExtensionButton, RequestButton
from blocks.text import clip, date_token, escape, mention
from domain.durations import format_duration
from domain.summary import RequestSummary

EXTEND_USAGE: Final = (
    "Usage: `/apono extend AR-XXXXXX [DURATION]`, e.g. `/apono extend AR-7K3Q9M 1h` "
    "(without a duration: the flow's usual step)."
)
ONLY_REQUESTER_EXTENDS: Final = (
    "Only the requester, or the teammate it was asked for, can extend it."
)
NOT_EXTENSIBLE: Final = "This access flow does not allow extensions."
NOBODY_TO_APPROVE: Final = (
    "Extensions of this request need approval, but the access flow names nobody who could give it."
)


def _until(when: datetime) -> str:
    return date_token(when)


def extend_button(summary: RequestSummary) -> ButtonElement:
    """*Extend* on a request's active status message and on the reminder before its end."""
    return ButtonElement(
        text="Extend",
        action_id=ActionId.EXTEND,
        value=RequestButton(r=summary.id, f=summary.flow).encode(),
    )


def revoke_now_button(summary: RequestSummary) -> ButtonElement:
    return ButtonElement(
        text="Revoke now",
        action_id=ActionId.REVOKE,
        value=RequestButton(r=summary.id, f=summary.flow).encode(),
        style="danger",
        confirm=ConfirmObject(
            title="Revoke access?",
            text=f"{everything(summary.object_count)} of {summary.id} will be removed now.",
            confirm="Revoke",
            deny="Keep",
        ),
    )


# -- what the requester is told right away ---------------------------------------------------------


def no_request_to_extend(request_id: str) -> str:
    return f"There is no request {request_id} that you could extend."


def not_active(request_id: str, status: str) -> str:
    """``status``: the request's status label (``pending``, ``timed out``, ...)."""
    return f"{request_id} is not active (it is {status}); only active access can be extended."


def over_the_maximum(
    *, request_id: str, asked: timedelta, left: timedelta, max_total: timedelta
) -> str:
    if left <= timedelta():
        return (
            f"{request_id} cannot be extended: it already lasts the most this access flow "
            f"allows ({format_duration(max_total)} in all)."
        )
    return (
        f"{format_duration(asked)} more is over the maximum: {request_id} may last "
        f"{format_duration(max_total)} in all, so at most {format_duration(left)} can be added."
    )


def already_asked(request_id: str, new_end: datetime) -> str:
    return (
        f"An extension of {request_id} until {_until(new_end)} is already waiting; "
        "ask again once it is decided."
    )


def extension_asked(request_id: str, new_end: datetime) -> str:
    return f"⏳ Asked the approvers to extend {request_id} until {_until(new_end)}."


def extending(request_id: str, new_end: datetime) -> str:
    return f"⏩ Extending {request_id} until {_until(new_end)}."


def too_soon_to_extend(request_id: str) -> str:
    return f"{request_id} is ending right now; it can no longer be extended."


def not_an_extension_approver(request_id: str) -> str:
    return f"You are not an approver of {request_id}'s access flow, so you cannot decide this."


def own_extension() -> str:
    return "You cannot decide on an extension of your own access."


_DECIDED: Final = {
    "approved": "approved",
    "done": "approved",
    "denied": "denied",
    "void": "dropped: it could not be applied",
}


def extension_decided(*, request_id: str, status: str, by: str | None) -> str:
    """``status``: the extension's status value (``approved``, ``done``, ``denied``, ``void``)."""
    said = _DECIDED.get(status, status)
    who = f" by {mention(by)}" if by and status != "void" else ""
    return f"The extension of {request_id} was already {said}{who}. Nothing changed."


def extension_approved(request_id: str) -> str:
    return f"✅ Extension of {request_id} approved."


def extension_denied(request_id: str) -> str:
    return f"⛔ Extension of {request_id} denied."


def extended_reason(*, old_end: datetime, new_end: datetime) -> str:
    """The request's timeline entry (a plain sentence: the timeline is read in Slack and CSV)."""
    added = format_duration(new_end - old_end)
    return f"extended by {added}, until {new_end.strftime('%Y-%m-%d %H:%M UTC')}"


# -- messages ------------------------------------------------------------------------------------


def extension_approval_message(
    *,
    summary: RequestSummary,
    extension_id: int,
    old_end: datetime,
    new_end: datetime,
    reasons: Sequence[str],
    decided: str | None = None,
    decided_by: str | None = None,
) -> Message:
    """One approver's copy of an extension ask; once decided (``decided``) without buttons."""
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Extension of {summary.id}", limits.HEADER_TEXT)),
        _section(
            f"<@{summary.requester}> asks for more time on {what(summary)} "
            f"(access flow *{escape(summary.flow)}*): until {_until(new_end)} instead of "
            f"{_until(old_end)}, {format_duration(new_end - old_end)} more."
        ),
        _context(", ".join(f"{escape(p.integration)} ({p.count:,})" for p in summary.parts)),
    ]
    if reasons:
        blocks.append(_context(asked_because(reasons)))
    if decided is None:
        value = ExtensionButton(r=summary.id, e=extension_id, f=summary.flow).encode()
        blocks.append(
            ActionsBlock(
                block_id="extension_decision",
                elements=[
                    ButtonElement(
                        text="Approve extension",
                        action_id=ActionId.EXTEND_APPROVE,
                        value=value,
                        style="primary",
                    ),
                    ButtonElement(
                        text="Deny extension",
                        action_id=ActionId.EXTEND_DENY,
                        value=value,
                        style="danger",
                    ),
                ],
            )
        )
    else:
        who = f" by {mention(decided_by)}" if decided_by else ""
        blocks.append(_section(f"*Extension {decided}*{who}"))
    return _message(f"{summary.requester_name} asks to extend {summary.id}", blocks)


def extended_message(
    *,
    summary: RequestSummary,
    old_end: datetime,
    new_end: datetime,
    by: str | None,
    for_requester: bool,
) -> Message:
    """The end moved: for the requester (with *Extend* and *Revoke now*) or the audit channel."""
    subject = "Your request" if for_requester else f"<@{summary.requester}>'s request"
    approved = f", approved by {mention(by)}" if by else ", automatically"
    blocks: list[Block] = [
        _section(
            f"⏩ {subject} *{summary.id}* for {what(summary)} was extended{approved}: "
            f"access now ends {_until(new_end)} (was {_until(old_end)})."
        ),
        _context(f"Access flow *{escape(summary.flow)}*"),
    ]
    if for_requester:
        blocks.append(
            ActionsBlock(
                block_id="extended_actions",
                elements=[extend_button(summary), revoke_now_button(summary)],
            )
        )
    return _message(f"{summary.id} was extended until {new_end:%Y-%m-%d %H:%M} UTC", blocks)


def extension_refused_message(
    *, summary: RequestSummary, new_end: datetime, by: str | None, problem: str | None
) -> Message:
    """An extension that was denied, or could not be applied: the end did not move."""
    if problem is None:
        line = (
            f"⛔ The extension of your request *{summary.id}* until {_until(new_end)} was "
            f"denied by {mention(by)}."
        )
    else:
        line = (
            f"❌ Your request *{summary.id}* could not be extended until {_until(new_end)}: "
            f"{escape(problem.rstrip('.'))}."
        )
    end = f"Access still ends {_until(summary.expires_at)}." if summary.expires_at else ""
    return _message(f"{summary.id} was not extended", [_section(line), _context(end)])


def end_reminder_message(*, summary: RequestSummary, ends_at: datetime) -> Message:
    """The DM shortly before access ends."""
    blocks: list[Block] = [
        _section(
            f"⏰ Your access *{summary.id}* for {what(summary)} ends {_until(ends_at)}. "
            "Extend it if you still need it, or give it back now."
        ),
        _context(f"Access flow *{escape(summary.flow)}*"),
        ActionsBlock(
            block_id="end_reminder_actions",
            elements=[extend_button(summary), revoke_now_button(summary)],
        ),
    ]
    return _message(f"Reminder: {summary.id} ends {ends_at:%Y-%m-%d %H:%M} UTC", blocks)


VOID_ENDED: Final = "the request ended first"
VOID_MOVED: Final = "its end changed meanwhile"
