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
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks import limits
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


def _message(text: str, blocks: Sequence[Block]) -> Message:
    # Slack refuses a whole message (invalid_blocks) for one block with nothing in it; the
    # builders do not make such blocks, and this keeps one slip from silencing a message.
    built = [b.to_dict() for b in blocks]
    return {"text": clip(text, limits.MESSAGE_TEXT), "blocks": [b for b in built if not _empty(b)]}


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


# -- approval steps and quorums (README, "Approval steps") --------------------------------------


def step_count_line(step: StepProgress, *, steps: int) -> str:
    """``Step 2 of 2: 1 of 2 approved: @bob`` (``Step 2 of 2`` only for several steps)."""
    head = f"Step {step.index + 1} of {steps}: " if steps > 1 else ""
    who = ", ".join(mention(a.approver) for a in step.approvals)
    if not step.started:
        return f"{head}waits for the steps before it"
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
        blocks.append(_context("You are asked as " + "; ".join(escape(r) for r in reasons) + "."))
    if progress is not None and (counts := progress_text(progress)):
        blocks.append(_section(f"*Approvals*\n{counts}"))
    if progress is not None and (comments := approval_reasons_text(progress)):
        blocks.append(_section(comments))
    show_all = _button(f"Show all {summary.object_count:,} objects", ActionId.SHOW_OBJECTS, summary)
    if summary.status is Status.PENDING and can_decide:
        blocks.append(
            ActionsBlock(
                block_id="decision",
                elements=[
                    _button("Approve all", ActionId.APPROVE, summary, style="primary"),
                    _button(
                        "Deny all",
                        ActionId.DENY,
                        summary,
                        style="danger",
                    ),
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
    text = f"{summary.requester_name} requests {summary.object_count:,} objects ({summary.id})"
    if summary.grantee is not None:
        text = (
            f"{summary.requester_name} requests {summary.object_count:,} objects for "
            f"{summary.holder_name} ({summary.id})"
        )
    return _message(text, blocks)


STATUS_SENTENCES: Final = {
    Status.PENDING: "submitted and waits for approval",
    Status.APPROVED: "approved",
    Status.GRANTING: "approved; access is being granted",
    Status.ACTIVE: "active",
    Status.EXPIRED: "expired; access was removed",
    Status.REVOKED: "revoked; access was removed",
    Status.DENIED: "denied",
    Status.CANCELED: "canceled",
    Status.TIMED_OUT: "timed out without a decision",
    Status.FAILED: "failed",
}


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
    emoji = STATUS_EMOJI.get(status, "")
    subject = "Your request" if for_requester else f"<@{summary.requester}>'s request"
    behalf = on_behalf(summary, reader=summary.grantee if for_grantee else None)
    line = (
        f"{emoji} {subject} *{summary.id}* for {what(summary)}{behalf} "
        f"is {STATUS_SENTENCES[status]}"
    )
    if actor and status is not Status.PENDING:  # a submission's actor is the requester
        line += f" by {mention(actor)}"
    line += f" {date_token(at)}."
    details: list[str] = [f"Access flow *{escape(summary.flow)}*"]
    if status is Status.ACTIVE and summary.expires_at:
        details.append(f"until {date_token(summary.expires_at)}")
    elif status is Status.PENDING:
        details.append(f"duration {format_duration(summary.duration)}")
    blocks: list[Block] = [_section(line), _context(" · ".join(details))]
    counts = progress_text(progress) if progress is not None else ""
    if counts and status is not Status.PENDING:
        blocks.append(_section(f"*Approvals*\n{counts}"))
    if progress is not None and (comments := approval_reasons_text(progress)):
        blocks.append(_section(f"*Approvers' comments*\n{comments}"))
    if reason:
        blocks.append(_section(f"*Reason*\n{escape(reason)}"))
    if not for_requester and not for_grantee and summary.parts:
        blocks.append(_context(", ".join(f"{p.integration} ({p.count:,})" for p in summary.parts)))
    buttons: list[ButtonElement] = []
    if for_requester and status is Status.PENDING:
        buttons.append(_button("Cancel request", ActionId.CANCEL, summary))
    if for_requester and status is Status.ACTIVE:
        buttons.append(_button("Extend", ActionId.EXTEND, summary))
    if (for_requester or for_grantee) and status is Status.ACTIVE:
        buttons.append(
            _button(
                "Revoke now",
                ActionId.REVOKE,
                summary,
                style="danger",
                confirm=ConfirmObject(
                    title="Revoke access?",
                    text=f"All {summary.object_count:,} objects of {summary.id} will be removed.",
                    confirm="Revoke",
                    deny="Keep",
                ),
            )
        )
    if for_requester and status.terminal:
        buttons.append(_button("Request again", ActionId.REQUEST_AGAIN, summary))
    if for_requester:
        buttons.append(_button("⭐ Save as favorite", ActionId.SAVE_FAVORITE, summary))
    if buttons:
        blocks.append(ActionsBlock(block_id="status_actions", elements=buttons))
    plain = f"{summary.id} is {STATUS_SENTENCES[status]}"
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
    plain = f"{summary.id}: approved by an approver{where}, waiting for more approvals"
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
        _context(f"{until} Keep these to yourself; they stop working when access ends."),
    ]
    return _message(f"Access details for {integration} ({summary.id})", blocks)


def reminder_message(*, summary: RequestSummary, waiting_since: datetime) -> Message:
    blocks: list[Block] = [
        _section(
            f"⏰ Reminder: <@{summary.requester}>'s request *{summary.id}* for {what(summary)}"
            f"{on_behalf(summary)} has waited for a decision since {date_token(waiting_since)}. "
            "The buttons are on the original message above."
        )
    ]
    return _message(f"Reminder: {summary.id} waits for your decision", blocks)
