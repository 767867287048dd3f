"""The App Home tab, the history modal and the request breakdown.

Lists are paged (ten rows at a time) so that a person with ten thousand past requests gets the
same few dozen blocks as anyone else; the page numbers and filters travel in the view's
``private_metadata``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from blocks import kit, limits
from blocks.admin import AdminHome, admin_section
from blocks.break_glass import BREAK_GLASS_MARK
from blocks.favorites import FavoriteLine, favorites_section
from blocks.ids import ActionId, CallbackId, scoped
from blocks.kit import JSON
from blocks.messages import (
    STATUS_EMOJI,
    approval_reasons_text,
    approve_label,
    decision_line,
    deny_label,
    parts_blocks,
    show_all_label,
    step_count_line,
)
from blocks.payloads import PageButton, RequestButton
from blocks.simple import notice_modal
from blocks.text import clip, date_token, escape, mention, plural
from domain.approval_steps import ApprovalProgress
from domain.break_glass import Trigger
from domain.durations import format_duration
from domain.lifecycle import Status, StatusChange
from domain.summary import Headline, Page, RequestSummary

ANY: Final = "any"


class HomeState(BaseModel):
    """Where the person is in their Home tab (kept in the view's private_metadata)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mine: int = Field(default=0, ge=0, le=100_000)
    activity: int = Field(default=0, ge=0, le=100_000)
    status: str | None = Field(default=None, max_length=16)
    bundle: str | None = Field(default=None, max_length=64)
    requester: str | None = Field(default=None, max_length=32)

    def encode(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def decode(cls, text: str | None) -> HomeState:
        try:
            return cls.model_validate_json(text or "{}")
        except ValidationError:
            return cls()


class RowAction(BaseModel):
    """Value of an option in a row's overflow menu."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    r: str = Field(pattern=r"^AR-[0-9A-Z]{6}$")
    a: str = Field(pattern=r"^(details|revoke|again|cancel|extend|favorite)$")


@dataclass(frozen=True, slots=True)
class HomeModel:
    user: str
    state: HomeState
    mine: Page
    waiting: Page
    activity: Page | None = None
    bundles: tuple[str, ...] = ()
    admin: AdminHome | None = None
    favorites: tuple[FavoriteLine, ...] = ()


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, limits.SECTION_TEXT))


def _mrkdwn(text: str) -> JSON:
    return kit.mrkdwn(clip(text, limits.SECTION_TEXT))


def _row_text(row: Headline, *, with_requester: bool) -> str:
    emoji = STATUS_EMOJI.get(row.status, "")
    who = f"<@{row.requester}> · " if with_requester else ""
    if row.grantee is not None:
        # Asked on a teammate's behalf: both see it, and whose it is (README, "On behalf of a
        # teammate").
        who = f"<@{row.requester}> for <@{row.grantee}> · "
    what = escape(row.bundle) if row.bundle else plural(row.object_count, "object")
    line = f"{emoji} *{row.id}* · {who}{what} · {row.status.label}"
    if row.trigger is Trigger.BREAK_GLASS:
        line += f" · *{BREAK_GLASS_MARK}*"
    if row.status is Status.ACTIVE and row.expires_at:
        line += f" · until {date_token(row.expires_at)}"
    elif row.ended_at:
        line += f" · ended {date_token(row.ended_at, style='{date_short_pretty}')}"
    else:
        line += f" · {date_token(row.created_at, style='{date_short_pretty}')}"
    if row.integrations:
        line += f"\n{escape(', '.join(row.integrations))} · {plural(row.object_count, 'object')}"
    return line


def _row_value(request_id: str, action: str) -> str:
    """``RowAction(r=request_id, a=action).model_dump_json()``, without a model per option."""
    return json.dumps({"r": request_id, "a": action}, separators=(",", ":"))


def _menu(row: Headline, *, own: bool, viewer: str | None = None) -> JSON:
    def option(text: str, action: str) -> JSON:
        return kit.option(text=kit.plain(text), value=_row_value(row.id, action))

    options = [option("Details", "details")]
    if own and row.status is Status.ACTIVE:
        options.append(option("Extend", "extend"))
    if row.status is Status.ACTIVE:
        options.append(option("Revoke now", "revoke"))
    # The teammate a request was made for may revoke it, not cancel or repeat it.
    own = own and (viewer is None or viewer == row.requester)
    if own and row.status is Status.PENDING:
        options.append(option("Cancel request", "cancel"))
    if own and row.status.terminal:
        options.append(option("Request again", "again"))
    if own:
        options.append(option("Save as favorite", "favorite"))
    return kit.overflow(action_id=scoped(ActionId.HOME_ROW, row.id), options=options)


def request_rows(page: Page, *, own: bool, viewer: str | None = None) -> list[JSON]:
    return [
        kit.section(
            block_id=f"row.{row.id}",
            text=_mrkdwn(_row_text(row, with_requester=not own)),
            accessory=_menu(row, own=own, viewer=viewer),
        )
        for row in page.rows
    ]


def pager(page: Page, *, section: str, action: ActionId = ActionId.HOME_PAGE) -> list[JSON]:
    buttons = []
    if page.has_previous:
        buttons.append(
            kit.button(
                text="← Newer",
                action_id=scoped(action, f"{section}.prev"),
                value=PageButton(p=page.number - 1, f=section).encode(),
            )
        )
    if page.has_next:
        buttons.append(
            kit.button(
                text="Older →",
                action_id=scoped(action, f"{section}.next"),
                value=PageButton(p=page.number + 1, f=section).encode(),
            )
        )
    context = kit.context(
        [_mrkdwn(f"Page {page.number + 1} of {page.pages} · {plural(page.total, 'request')}")]
    )
    return [
        context,
        *([kit.actions(buttons, block_id=f"pages.{section}")] if buttons else []),
    ]


def _waiting(page: Page) -> list[JSON]:
    blocks: list[JSON] = [kit.header(f"Waiting for your decision ({page.total})")]
    for row in page.rows:
        value = RequestButton(r=row.id, f=row.flow).encode()
        blocks.append(
            kit.section(
                block_id=f"wait.{row.id}", text=_mrkdwn(_row_text(row, with_requester=True))
            )
        )
        blocks.append(
            kit.actions(
                [
                    kit.button(text=approve_label(row.object_count), style="primary",
                               value=value, action_id=scoped(ActionId.APPROVE, row.id)),
                    kit.button(text=deny_label(row.object_count), style="danger",
                               value=value, action_id=scoped(ActionId.DENY, row.id)),
                    kit.button(text="Details", value=value,
                               action_id=scoped(ActionId.HOME_DETAIL, row.id)),
                ],
                block_id=f"decide.{row.id}",
            )
        )  # fmt: skip
    if page.total > len(page.rows):
        hidden = plural(page.total - len(page.rows), "more request")
        blocks.append(kit.context([_mrkdwn(f"…and {hidden} waiting.")]))
    return blocks


def _filters(model: HomeModel) -> ActionsBlock:
    def select(
        action: ActionId, placeholder: str, values: list[tuple[str, str]], current: str | None
    ) -> StaticSelectElement:
        """``values``: (what the option says, its value)."""
        options = [Option(text=PlainTextObject(text="Any"), value=ANY)] + [
            Option(text=PlainTextObject(text=clip(text, limits.OPTION_TEXT)), value=v)
            for text, v in values[: limits.HOME_FILTER_VALUES]
        ]
        initial = next((o for o in options if o.value == current), None)
        return StaticSelectElement(action_id=action, placeholder=placeholder, options=options,
                                   initial_option=initial)  # fmt: skip

    requester = UserSelectElement(
        action_id=ActionId.HOME_FILTER_REQUESTER, placeholder="Requester",
        initial_user=model.state.requester,
    )  # fmt: skip
    return ActionsBlock(
        block_id="filters",
        elements=[
            select(
                ActionId.HOME_FILTER_STATUS,
                "Status",
                [(s.label.capitalize(), s.value) for s in Status],
                model.state.status,
            ),
            select(
                ActionId.HOME_FILTER_BUNDLE,
                "Bundle",
                [(b, b) for b in model.bundles],
                model.state.bundle,
            ),
            requester,
        ],
    )


def home_view(model: HomeModel) -> dict[str, Any]:
    # Plain dicts (blocks/kit.py): Home is published on every click in it.
    blocks: list[JSON] = [
        kit.header("Just-in-time access"),
        kit.section(
            text=_mrkdwn("Request access to databases and services for a limited time."),
            accessory=kit.button(
                text="Request access", style="primary", action_id=ActionId.OPEN_REQUEST
            ),
        ),
    ]
    if model.waiting.total:
        blocks += [kit.divider(), *_waiting(model.waiting)]
    blocks += [kit.divider(), kit.header("Your requests")]
    if model.mine.total:
        blocks += request_rows(model.mine, own=True, viewer=model.user) + pager(
            model.mine, section="mine"
        )
    else:
        blocks.append(kit.context([_mrkdwn("No requests yet. Type `/apono` to make one.")]))
    if model.activity is not None:
        blocks += [
            kit.divider(),
            kit.header("Recent activity (admins)"),
            kit.as_dict(_filters(model)),
        ]
        if model.activity.total:
            blocks += request_rows(model.activity, own=False) + pager(
                model.activity, section="activity"
            )
        else:
            blocks.append(kit.context([_mrkdwn("Nothing matches these filters.")]))
    if model.admin is not None:
        blocks += [kit.divider(), *(kit.as_dict(b) for b in admin_section(model.admin))]
    # Favorites come right under *Request access*, as many as the rest leaves room for (two
    # blocks each, after a divider and a header).
    room = limits.VIEW_BLOCKS - len(blocks) - 2
    if room >= 1:
        shown = model.favorites[: room // 2]
        section = favorites_section(shown, total=len(model.favorites))
        blocks[2:2] = [kit.divider(), *(kit.as_dict(b) for b in section)]
    return {"type": "home", "blocks": blocks, "private_metadata": model.state.encode()}


def history_modal(page: Page) -> dict[str, Any]:
    blocks: list[JSON] = (
        request_rows(page, own=True) + pager(page, section="history", action=ActionId.HISTORY_PAGE)
        if page.total
        else [kit.section(text=_mrkdwn("You have not requested anything yet."))]
    )
    return kit.as_dict(
        View(
            type="modal",
            callback_id=CallbackId.HISTORY,
            title=PlainTextObject(text="Your requests"),
            close=PlainTextObject(text="Close"),
            blocks=blocks,
        )
    )


TIMELINE_STEPS: Final = {
    Status.PENDING: "Submitted",
    Status.APPROVED: "Approved",
    Status.GRANTING: "Granting started",
    Status.ACTIVE: "Active",
    Status.EXPIRED: "Expired",
    Status.REVOKED: "Revoked",
    Status.DENIED: "Denied",
    Status.CANCELED: "Canceled",
    Status.TIMED_OUT: "Timed out",
    Status.FAILED: "Failed",
}
"""One step of a request's details timeline, before who took it and when."""


def _timeline(history: tuple[StatusChange, ...]) -> str:
    lines = []
    for change in history:
        emoji = STATUS_EMOJI.get(change.to_status, "")
        reason = f" — {escape(change.reason)}" if change.reason else ""
        # The bot's own steps (granting, expiry, a timeout) have no actor to name.
        who = f" by {mention(change.actor)}" if change.actor else ""
        step = TIMELINE_STEPS[change.to_status]
        lines.append(f"{emoji} {step}{who} · {date_token(change.at)}{reason}")
    return "\n".join(lines)


def row_canceled(request_id: str) -> str:
    """What *Cancel request* in a row's menu answers once it is done."""
    return f"↩️ {request_id} canceled."


def row_outcome_modal(text: str) -> dict[str, Any]:
    """The answer to a revoke or a cancel from a row's menu."""
    return notice_modal(title="Your request", text=text)


def hidden_request_modal() -> dict[str, Any]:
    """In place of a request's details for someone who may not see them."""
    return notice_modal(title="Request", text="You cannot see that request.")


def request_again_refused(text: str) -> dict[str, Any]:
    """In place of the pre-filled request modal when the earlier request cannot be reused."""
    return notice_modal(title="Request again", text=text)


def _break_glass_fact(summary: RequestSummary) -> str:
    """README, "Break-glass": taken without an approver, and whether someone acknowledged it."""
    if not summary.break_glass:
        return ""
    if summary.acknowledged_by is None:
        return f"\n*Trigger* {BREAK_GLASS_MARK}, no approver · not acknowledged yet"
    when = f" {date_token(summary.acknowledged_at)}" if summary.acknowledged_at else ""
    return (
        f"\n*Trigger* {BREAK_GLASS_MARK}, no approver · acknowledged by "
        f"<@{summary.acknowledged_by}>{when}"
    )


def details_modal(
    *,
    summary: RequestSummary,
    history: tuple[StatusChange, ...],
    approvers: tuple[str, ...],
    removal_problem: str | None = None,
    progress: ApprovalProgress | None = None,
    own: bool = False,
) -> dict[str, Any]:
    """``own``: the requester is looking, who may save the request as a favorite."""
    bundle = escape(summary.bundle) if summary.bundle else "—"
    facts = (
        f"*Requester* <@{summary.requester}>"
        + (f" ({escape(summary.requester_email)})" if summary.requester_email else "")
        + (f" for <@{summary.grantee}>" if summary.grantee else "")
        + f"\n*Bundle* {bundle} · *Access flow* {escape(summary.flow)}"
        + f"\n*Duration* {format_duration(summary.duration)} · *Objects* {summary.object_count:,}"
        + f"\n*Justification* {escape(summary.justification) if summary.justification else '—'}"
        + _break_glass_fact(summary)
    )
    blocks: list[Block] = [
        SectionBlock(text=_md(facts)),
        *parts_blocks(summary),
        SectionBlock(text=_md(decision_line(summary))) if summary.decided_at else DividerBlock(),
        SectionBlock(text=_md("*Timeline*\n" + _timeline(history))),
    ]
    if progress is not None and progress.multi:
        # Every step, even one needing a single approval, once there are several.
        steps = "\n".join(step_count_line(s, steps=progress.total) for s in progress.steps)
        blocks.append(
            SectionBlock(text=_md(clip(f"*Approval steps*\n{steps}", limits.SECTION_TEXT)))
        )
    if progress is not None and (comments := approval_reasons_text(progress)):
        blocks.append(
            SectionBlock(text=_md(clip(f"*Approvers' comments*\n{comments}", limits.SECTION_TEXT)))
        )
    if removal_problem:
        blocks.insert(
            0, SectionBlock(text=_md(clip(f"⚠️ *{escape(removal_problem)}*", limits.SECTION_TEXT)))
        )
    if approvers:
        blocks.append(
            ContextBlock(
                elements=[_md("Approvers asked: " + ", ".join(f"<@{a}>" for a in approvers[:40]))]
            )
        )
    blocks.append(
        ActionsBlock(
            block_id="details_actions",
            elements=[
                ButtonElement(
                    text=show_all_label(summary.object_count),
                    action_id=ActionId.SHOW_OBJECTS,
                    value=RequestButton(r=summary.id, f=summary.flow).encode(),
                ),
                *(
                    [
                        ButtonElement(
                            text="⭐ Save as favorite",
                            action_id=ActionId.SAVE_FAVORITE,
                            value=RequestButton(r=summary.id, f=summary.flow).encode(),
                        )
                    ]
                    if own
                    else []
                ),
            ],
        )
    )
    return kit.as_dict(
        View(
            type="modal",
            callback_id=CallbackId.HOME_DETAIL,
            title=PlainTextObject(text=clip(f"Request {summary.id}", limits.VIEW_TITLE)),
            close=PlainTextObject(text="Close"),
            blocks=blocks,
        )
    )
