"""Messages: the approval request, status changes and access details.

A long object list is summarised per integration within a message's 50 blocks and 3,000
characters per section; the full list is one click away (a paged modal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks import kit, limits
from blocks.ids import ActionId
from blocks.payloads import RequestButton
from blocks.text import clip, date_token, escape, mention, plural
from domain.approval_steps import ApprovalProgress, StepProgress
from domain.durations import format_duration
from domain.lifecycle import Status
from domain.summary import IntegrationPart, RequestSummary

MAX_PARTS_SHOWN: Final = 10
RESOURCES_BUDGET: Final = 900

STATUS_EMOJI: Final = {
    Status.PENDING: "⏳",
    Status.APPROVED: "👍",
    Status.GRANTING: "🔧",
    Status.ACTIVE: "🟢",
    Status.EXPIRED: "⌛",
    Status.REVOKED: "🔒",
    Status.DENIED: "⛔",
    Status.CANCELED: "↩️",
    Status.TIMED_OUT: "⏰",
    Status.FAILED: "❌",
}

Message = dict[str, Any]


def _section(text: str, **kwargs: Any) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, limits.SECTION_TEXT)), **kwargs)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, limits.SECTION_TEXT))])


def _message(text: str, blocks: Sequence[Block | dict[str, Any]]) -> Message:
    # Slack refuses a whole message (invalid_blocks) for one block with nothing in it; the
    # builders do not make such blocks, and this keeps one slip from silencing a message.
    built = [kit.as_dict(b) for b in blocks]
    return {"text": clip(text, limits.MESSAGE_TEXT), "blocks": [b for b in built if not _empty(b)]}


# Status messages are written as plain Block Kit JSON, the same JSON the SDK's models make: an
# expiry sweep writes two for each of hundreds of requests in one transaction, and the models'
# validation took most of its time (docs/architecture.md, "Durable time"). Their texts are
# clipped to the same limits; their buttons' labels are fixed and short.


def _mrkdwn(text: str, limit: int = limits.SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _section_json(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _context_json(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _button_json(
    text: str,
    action: ActionId,
    value: str,
    *,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": _plain(text),
        "action_id": action.value,
        "value": value,
    }
    if style is not None:
        button["style"] = style
    if confirm is not None:
        button["confirm"] = confirm
    return button


def _empty(block: dict[str, Any]) -> bool:
    kind = block.get("type")
    if kind in {"context", "actions"}:
        elements = block.get("elements") or []
        return not elements or any(e.get("text") == "" for e in elements)
    if kind == "section":
        text = (block.get("text") or {}).get("text")
        return not text and not block.get("fields")
    return False


def what(summary: RequestSummary) -> str:
    """``bundle prod-incident (12 objects)`` or ``3 objects``."""
    count = plural(summary.object_count, "object")
    return f"bundle *{escape(summary.bundle)}* ({count})" if summary.bundle else count


def resources_line(part: IntegrationPart, *, budget: int = RESOURCES_BUDGET) -> str:
    shown: list[str] = []
    used = 0
    for resource in part.resources:
        piece = f"`{escape(resource)}`"
        if used + len(piece) + 2 > budget:
            break
        shown.append(piece)
        used += len(piece) + 2
    rest = part.resources_in_all - len(shown)
    line = ", ".join(shown)
    if rest > 0:
        line += f" and {rest:,} more"
    return line


def parts_blocks(summary: RequestSummary) -> list[Block]:
    blocks: list[Block] = []
    for part in summary.parts[:MAX_PARTS_SHOWN]:
        blocks.append(
            _section(
                f"*{escape(part.integration)}* · {plural(part.count, 'object')} · "
                f"{', '.join(part.permissions)}\n{resources_line(part)}"
            )
        )
    hidden = len(summary.parts) - MAX_PARTS_SHOWN
    if hidden > 0:
        blocks.append(_context(f"…and {plural(hidden, 'more integration')}."))
    return blocks


def on_behalf(summary: RequestSummary, *, reader: str | None = None) -> str:
    """`` on behalf of @dave`` for a request asked for a teammate (``on your behalf`` when
    ``reader`` is that teammate); empty otherwise (README, "On behalf of a teammate")."""
    if summary.grantee is None:
        return ""
    if reader == summary.grantee:
        return " on your behalf"
    return f" on behalf of <@{summary.grantee}>"


def _facts(summary: RequestSummary) -> SectionBlock:
    email = f" ({escape(summary.requester_email)})" if summary.requester_email else ""
    who = f"<@{summary.requester}>{email}"
    if summary.grantee is not None:
        # Approvers see who asked for whom: "@alice for @dave".
        email = f" ({escape(summary.grantee_email)})" if summary.grantee_email else ""
        who = f"<@{summary.requester}> for <@{summary.grantee}>{email}"
    fields = [
        f"*Requester*\n{who}",
        f"*Bundle*\n{escape(summary.bundle) if summary.bundle else '—'}",
        f"*Integrations*\n{escape(', '.join(p.integration for p in summary.parts)) or '—'}",
        f"*Duration*\n{format_duration(summary.duration)}",
        f"*Access flow*\n{escape(summary.flow)}",
        f"*Objects*\n{summary.object_count:,}",
    ]
    return SectionBlock(
        fields=[MarkdownTextObject(text=clip(f, limits.SECTION_FIELD_TEXT)) for f in fields]
    )


def _justification(summary: RequestSummary) -> SectionBlock:
    text = escape(summary.justification) if summary.justification else "_none given_"
    return _section(f"*Justification*\n{text}")


def _button(text: str, action: ActionId, summary: RequestSummary, **kwargs: Any) -> ButtonElement:
    value = RequestButton(r=summary.id, f=summary.flow).encode()
    return ButtonElement(text=text, action_id=action, value=value, **kwargs)


def decision_line(summary: RequestSummary) -> str:
    verb = STATUS_EMOJI.get(summary.status, "") + " " + summary.status.label.capitalize()
    who = f" by {mention(summary.decided_by)}" if summary.decided_by else ""
    when = f" {date_token(summary.decided_at)}" if summary.decided_at else ""
    reason = f"\n>{escape(summary.reason)}" if summary.reason else ""
    return f"*{verb.strip()}*{who}{when}{reason}"


def asked_because(reasons: Sequence[str]) -> str:
    """Why this approver is asked: ``blocks.reasons`` clauses, joined as one sentence."""
    clauses = [escape(r) for r in reasons]
    joined = ", ".join(clauses[:-1]) + " and " + clauses[-1] if len(clauses) > 1 else clauses[0]
    return f"You're asked because {joined}."


def show_all_label(count: int) -> str:
    """The button that opens a request's full object list."""
    return "Show the object" if count == 1 else f"Show all {count:,} objects"


def approve_label(count: int) -> str:
    return "Approve" if count == 1 else "Approve all"


def deny_label(count: int) -> str:
    return "Deny" if count == 1 else "Deny all"


def everything(count: int) -> str:
    """A request's objects as the subject of a sentence: ``The object``, ``All 12 objects``."""
    return "The object" if count == 1 else f"All {count:,} objects"


# -- approval steps and quorums (README, "Approval steps") --------------------------------------


def step_count_line(step: StepProgress, *, steps: int) -> str:
    """``Step 2 of 2: 1 of 2 approved: @bob`` (``Step 2 of 2`` only for several steps)."""
    head = f"Step {step.index + 1} of {steps}: " if steps > 1 else ""
    who = ", ".join(mention(a.approver) for a in step.approvals)
    if not step.started:
        return f"{head}waiting for the steps before it"
    count = f"{step.count} of {step.needed} approved"
    mark = "✅ " if step.done else ""
    return f"{mark}{head}{count}{': ' + who if who else ''}"


def progress_text(progress: ApprovalProgress) -> str:
    """Every step's count, one line each; empty for one step needing one approval."""
    if not progress.multi:
        return ""
    return "\n".join(step_count_line(s, steps=progress.total) for s in progress.steps)


def approval_reasons_text(progress: ApprovalProgress) -> str:
    """The approvers' comments, one quoted line each."""
    lines = [
        f"{mention(a.approver)}: {escape(a.reason)}"
        for s in progress.steps
        for a in s.approvals
        if a.reason
    ]
    return "\n".join(f">{line}" for line in lines)


def approval_message(
    *,
    summary: RequestSummary,
    reasons: Sequence[str],
    progress: ApprovalProgress | None = None,
    can_decide: bool = True,
) -> Message:
    """One approver's copy. Once decided (``summary.status`` past pending) it has no buttons;
    nor has it while ``can_decide`` is false (its step is over, or this approver already
    decided). With ``progress``, it shows where every step stands."""
    header = HeaderBlock(text=clip(f"Access request {summary.id}", limits.HEADER_TEXT))
    blocks: list[Block] = [
        header,
        _section(f"<@{summary.requester}> asks for {what(summary)}{on_behalf(summary)}."),
        _facts(summary),
        _justification(summary),
        *parts_blocks(summary),
    ]
    if reasons:
        blocks.append(_context(asked_because(reasons)))
    if progress is not None and (counts := progress_text(progress)):
        blocks.append(_section(f"*Approvals*\n{counts}"))
    if progress is not None and (comments := approval_reasons_text(progress)):
        blocks.append(_section(comments))
    show_all = _button(show_all_label(summary.object_count), ActionId.SHOW_OBJECTS, summary)
    count = summary.object_count
    if summary.status is Status.PENDING and can_decide:
        blocks.append(
            ActionsBlock(
                block_id="decision",
                elements=[
                    _button(approve_label(count), ActionId.APPROVE, summary, style="primary"),
                    _button(deny_label(count), ActionId.DENY, summary, style="danger"),
                    _button("Approve with comment", ActionId.APPROVE_WITH_COMMENT, summary),
                    show_all,
                ],
            )
        )
    elif summary.status is Status.PENDING:
        blocks.append(_context("Your part is done; this copy follows the other approvals."))
        blocks.append(ActionsBlock(block_id="details", elements=[show_all]))
    else:
        blocks.append(_section(decision_line(summary)))
        blocks.append(ActionsBlock(block_id="details", elements=[show_all]))
    objects = plural(summary.object_count, "object")
    text = f"{summary.requester_name} requests {objects} ({summary.id})"
    if summary.grantee is not None:
        text = (
            f"{summary.requester_name} requests {objects} for {summary.holder_name} ({summary.id})"
        )
    return _message(text, blocks)


STATUS_SENTENCES: Final = {
    Status.PENDING: "is waiting for approval",
    Status.APPROVED: "was approved",
    Status.GRANTING: "was approved; access is being granted",
    Status.ACTIVE: "is active",
    Status.EXPIRED: "expired; access was removed",
    Status.REVOKED: "was revoked; access was removed",
    Status.DENIED: "was denied",
    Status.CANCELED: "was canceled",
    Status.TIMED_OUT: "timed out without a decision",
    Status.FAILED: "failed",
}
"""What happened, after the request's ID: the notification text of a status message."""


def _by(actor: str | None, *, you: str | None) -> str:
    """`` by <@U…>``, or `` by you`` in the DM of the person who did it."""
    if not actor:
        return ""
    return " by you" if actor == you else f" by {mention(actor)}"


def status_line(
    *,
    summary: RequestSummary,
    actor: str | None,
    at: datetime,
    for_requester: bool,
    for_grantee: bool = False,
) -> str:
    """The sentence of one status change: what happened, who did it and when (``for_grantee``:
    read by the teammate it was asked for, README "On behalf of a teammate")."""
    status = summary.status
    subject = "Your request" if for_requester else f"<@{summary.requester}>'s request"
    behalf = on_behalf(summary, reader=summary.grantee if for_grantee else None)
    head = f"{STATUS_EMOJI.get(status, '')} {subject} *{summary.id}* for {what(summary)}{behalf}"
    you = summary.requester if for_requester else summary.grantee if for_grantee else None
    when = date_token(at)
    if status is Status.PENDING:
        return f"{head} was submitted {when} and is waiting for approval."
    if status is Status.GRANTING:
        # Shown in place of the approval's own message: who approved, and what happens now.
        decided = date_token(summary.decided_at) if summary.decided_at else when
        by = _by(summary.decided_by, you=you)
        return f"{head} was approved{by} {decided}; access is being granted."
    if status is Status.ACTIVE:
        return f"{head} is active: access was granted {when}."
    if status is Status.EXPIRED:
        return f"{head} expired {when}; access was removed."
    if status is Status.TIMED_OUT:
        return f"{head} timed out {when} without a decision."
    if status is Status.FAILED:
        return f"{head} failed {when}."
    verb = {Status.REVOKED: "was revoked", Status.DENIED: "was denied"}.get(
        status, f"was {status.label}"
    )
    rest = "; access was removed." if status is Status.REVOKED else "."
    return f"{head} {verb}{_by(actor, you=you)} {when}{rest}"


def status_message(
    *,
    summary: RequestSummary,
    actor: str | None,
    at: datetime,
    reason: str | None,
    for_requester: bool,
    for_grantee: bool = False,
    progress: ApprovalProgress | None = None,
) -> Message:
    """One status change, for the requester (with what they can do next), the teammate it was
    asked for (``for_grantee``: who may revoke it) or the audit channel; with ``progress``, the
    steps' counts and the approvers' comments."""
    status = summary.status
    line = status_line(
        summary=summary,
        actor=actor,
        at=at,
        for_requester=for_requester,
        for_grantee=for_grantee,
    )
    details: list[str] = [f"Access flow *{escape(summary.flow)}*"]
    if status is Status.ACTIVE and summary.expires_at:
        details.append(f"until {date_token(summary.expires_at)}")
    elif status is Status.PENDING:
        details.append(f"for {format_duration(summary.duration)}")
    blocks: list[dict[str, Any]] = [_section_json(line), _context_json(" · ".join(details))]
    counts = progress_text(progress) if progress is not None else ""
    if counts and status is not Status.PENDING:
        blocks.append(_section_json(f"*Approvals*\n{counts}"))
    if progress is not None and (comments := approval_reasons_text(progress)):
        blocks.append(_section_json(f"*Approvers' comments*\n{comments}"))
    if reason:
        blocks.append(_section_json(f"*Reason*\n{escape(reason)}"))
    if not for_requester and not for_grantee and summary.parts:
        blocks.append(
            _context_json(
                ", ".join(f"{escape(p.integration)} ({p.count:,})" for p in summary.parts)
            )
        )
    buttons: list[dict[str, Any]] = []
    value = (
        RequestButton(r=summary.id, f=summary.flow).encode() if for_requester or for_grantee else ""
    )
    if for_requester and status is Status.PENDING:
        buttons.append(_button_json("Cancel request", ActionId.CANCEL, value))
    if for_requester and status is Status.ACTIVE:
        buttons.append(_button_json("Extend", ActionId.EXTEND, value))
    if (for_requester or for_grantee) and status is Status.ACTIVE:
        buttons.append(
            _button_json(
                "Revoke now",
                ActionId.REVOKE,
                value,
                style="danger",
                confirm={
                    "title": _plain("Revoke access?"),
                    "text": _mrkdwn(
                        f"{everything(summary.object_count)} of {summary.id} will be removed now."
                    ),
                    "confirm": _plain("Revoke"),
                    "deny": _plain("Keep"),
                },
            )
        )
    if for_requester and status.terminal:
        buttons.append(_button_json("Request again", ActionId.REQUEST_AGAIN, value))
    if for_requester:
        buttons.append(_button_json("⭐ Save as favorite", ActionId.SAVE_FAVORITE, value))
    if buttons:
        blocks.append({"type": "actions", "block_id": "status_actions", "elements": buttons})
    plain = f"{summary.id} {STATUS_SENTENCES[status]}"
    return _message(plain, blocks)


def progress_message(
    *,
    summary: RequestSummary,
    progress: ApprovalProgress,
    actor: str,
    step: int,
    at: datetime,
    for_requester: bool,
    reason: str | None = None,
) -> Message:
    """One approval that did not decide the request yet: who approved in which step, the count
    now, and whether the next step began."""
    subject = "your request" if for_requester else f"<@{summary.requester}>'s request"
    counted = progress.step(step)
    where = f" (step {step + 1} of {progress.total})" if progress.total > 1 else ""
    line = f"👍 {mention(actor)} approved {subject} *{summary.id}* for {what(summary)}{where}"
    line += f" {date_token(at)}."
    blocks: list[Block] = [_section(line)]
    if counted is not None:
        blocks.append(_context(step_count_line(counted, steps=progress.total)))
    current = progress.current_step
    if current is not None and current.index != step:
        blocks.append(
            _section(
                f"Step {current.index + 1} of {progress.total} begins: "
                f"{current.needed} of its approvers must approve."
            )
        )
    if reason:
        blocks.append(_section(f"*Comment*\n{escape(reason)}"))
    plain = f"{summary.id} has one more approval{where}; it needs more"
    return _message(plain, blocks)


def credentials_message(
    *,
    summary: RequestSummary,
    integration: str,
    fields: Mapping[str, str],
    valid_until: datetime | None,
    resent: bool = False,
) -> Message:
    """Access details for one integration: sent only to whoever holds the access (the teammate
    a request was made for, else the requester), in a DM. ``resent``: the first message could
    not be delivered, so the password was reset."""
    lines = []
    for key, value in fields.items():
        lines.append(f"*{escape(key.replace('_', ' ').capitalize())}*: `{value}`")
    until = f"Valid until {date_token(valid_until)}." if valid_until else ""
    asked = f" Requested for you by <@{summary.requester}>." if summary.grantee else ""
    blocks: list[Block] = [
        _section(f"🔑 Access details for *{escape(integration)}* ({summary.id}){asked}"),
        _section("\n".join(lines)),
    ]
    if resent:
        blocks.append(
            _context(
                "Sent again: the first message with your access details could not be "
                "delivered, so they were issued anew (a new password)."
            )
        )
    blocks += [
        _context(f"{until} Keep them to yourself; they stop working when access ends.".strip()),
    ]
    return _message(f"Access details for {integration} ({summary.id})", blocks)


def reminder_message(*, summary: RequestSummary, waiting_since: datetime) -> Message:
    blocks: list[Block] = [
        _section(
            f"⏰ Reminder: <@{summary.requester}>'s request *{summary.id}* for {what(summary)}"
            f"{on_behalf(summary)} has been waiting for your decision since "
            f"{date_token(waiting_since)}. "
            "The buttons are on the original message above."
        )
    ]
    return _message(f"Reminder: {summary.id} is waiting for your decision", blocks)
