"""The App Home tab, the history modal and the request breakdown.

Lists are paged (ten rows at a time) so that a person with ten thousand past requests gets the
same few dozen blocks as anyone else; the page numbers and filters travel in the view's
``private_metadata``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from blocks import limits
from blocks.admin import AdminHome, admin_section
from blocks.break_glass import BREAK_GLASS_MARK
from blocks.favorites import FavoriteLine, favorites_section
from blocks.ids import ActionId, CallbackId, scoped
from blocks.messages import (
    STATUS_EMOJI,
    approval_reasons_text,
    decision_line,
    parts_blocks,
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


def _row_text(row: Headline, *, with_requester: bool) -> str:
    emoji = STATUS_EMOJI.get(row.status, "")
    who = f"<@{row.requester}> · " if with_requester else ""
    if row.grantee is not None:
        # Asked on a teammate's behalf: both see it, and whose it is (README, "On behalf of a
        # teammate").
        who = f"<@{row.requester}> for <@{row.grantee}> · "
    line = f"{emoji} *{row.id}* · {who}{escape(row.what)} · {row.status.label}"
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


def _menu(row: Headline, *, own: bool, viewer: str | None = None) -> OverflowMenuElement:
    def option(text: str, action: str) -> Option:
        return Option(
            text=PlainTextObject(text=text), value=RowAction(r=row.id, a=action).model_dump_json()
        )

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
    return OverflowMenuElement(action_id=scoped(ActionId.HOME_ROW, row.id), options=options)


def request_rows(page: Page, *, own: bool, viewer: str | None = None) -> list[Block]:
    return [
        SectionBlock(
            block_id=f"row.{row.id}",
            text=_md(_row_text(row, with_requester=not own)),
            accessory=_menu(row, own=own, viewer=viewer),
        )
        for row in page.rows
    ]


def pager(page: Page, *, section: str, action: ActionId = ActionId.HOME_PAGE) -> list[Block]:
    buttons = []
    if page.has_previous:
        buttons.append(
            ButtonElement(
                text="← Newer",
                action_id=scoped(action, f"{section}.prev"),
                value=PageButton(p=page.number - 1, f=section).encode(),
            )
        )
    if page.has_next:
        buttons.append(
            ButtonElement(
                text="Older →",
                action_id=scoped(action, f"{section}.next"),
                value=PageButton(p=page.number + 1, f=section).encode(),
            )
        )
    context = ContextBlock(
        elements=[_md(f"Page {page.number + 1} of {page.pages} · {plural(page.total, 'request')}")]
    )
    return [
        context,
        *([ActionsBlock(block_id=f"pages.{section}", elements=buttons)] if buttons else []),
    ]


def _waiting(page: Page) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=f"Waiting for your decision ({page.total})")]
    for row in page.rows:
        value = RequestButton(r=row.id, f=row.flow).encode()
        blocks.append(
            SectionBlock(block_id=f"wait.{row.id}", text=_md(_row_text(row, with_requester=True)))
        )
        blocks.append(
            ActionsBlock(
                block_id=f"decide.{row.id}",
                elements=[
                    ButtonElement(text="Approve all", style="primary", value=value,
                                  action_id=scoped(ActionId.APPROVE, row.id)),
                    ButtonElement(text="Deny all", style="danger", value=value,
                                  action_id=scoped(ActionId.DENY, row.id)),
                    ButtonElement(text="Details", value=value,
                                  action_id=scoped(ActionId.HOME_DETAIL, row.id)),
                ],
            )
        )  # fmt: skip
    if page.total > len(page.rows):
        blocks.append(ContextBlock(elements=[_md(f"…and {page.total - len(page.rows)} more.")]))
    return blocks


def _filters(model: HomeModel) -> ActionsBlock:
    def select(
        action: ActionId, placeholder: str, values: list[str], current: str | None
    ) -> StaticSelectElement:
        options = [Option(text=PlainTextObject(text="Any"), value=ANY)] + [
            Option(text=PlainTextObject(text=clip(v, limits.OPTION_TEXT)), value=v)
            for v in values[: limits.HOME_FILTER_VALUES]
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
                ActionId.HOME_FILTER_STATUS, "Status", [s.value for s in Status], model.state.status
            ),
            select(ActionId.HOME_FILTER_BUNDLE, "Bundle", list(model.bundles), model.state.bundle),
            requester,
        ],
    )


def home_view(model: HomeModel) -> dict[str, Any]:
    blocks: list[Block] = [
        HeaderBlock(text="Just-in-time access"),
        SectionBlock(
            text=_md("Request access to databases and services for a limited time."),
            accessory=ButtonElement(
                text="Request access", style="primary", action_id=ActionId.OPEN_REQUEST
            ),
        ),
    ]
    if model.waiting.total:
        blocks += [DividerBlock(), *_waiting(model.waiting)]
    blocks += [DividerBlock(), HeaderBlock(text="Your requests")]
    if model.mine.total:
        blocks += request_rows(model.mine, own=True, viewer=model.user) + pager(
            model.mine, section="mine"
        )
    else:
        blocks.append(ContextBlock(elements=[_md("No requests yet. Type `/apono` to make one.")]))
    if model.activity is not None:
        blocks += [DividerBlock(), HeaderBlock(text="Recent activity (admins)"), _filters(model)]
        if model.activity.total:
            blocks += request_rows(model.activity, own=False) + pager(
                model.activity, section="activity"
            )
        else:
            blocks.append(ContextBlock(elements=[_md("Nothing matches these filters.")]))
    if model.admin is not None:
        blocks += [DividerBlock(), *admin_section(model.admin)]
    # Favorites come right under *Request access*, as many as the rest leaves room for (two
    # blocks each, after a divider and a header).
    room = limits.VIEW_BLOCKS - len(blocks) - 2
    if room >= 1:
        shown = model.favorites[: room // 2]
        section = favorites_section(shown, total=len(model.favorites))
        blocks[2:2] = [DividerBlock(), *section]
    return View(type="home", blocks=blocks, private_metadata=model.state.encode()).to_dict()


def history_modal(page: Page) -> dict[str, Any]:
    blocks: list[Block] = (
        request_rows(page, own=True) + pager(page, section="history", action=ActionId.HISTORY_PAGE)
        if page.total
        else [SectionBlock(text=_md("You have not requested anything yet."))]
    )
    return View(
        type="modal",
        callback_id=CallbackId.HISTORY,
        title=PlainTextObject(text="Your requests"),
        close=PlainTextObject(text="Close"),
        blocks=blocks,
    ).to_dict()


def _timeline(history: tuple[StatusChange, ...]) -> str:
    lines = []
    for change in history:
        emoji = STATUS_EMOJI.get(change.to_status, "")
        reason = f" — {escape(change.reason)}" if change.reason else ""
        who = mention(change.actor)
        lines.append(f"{emoji} {change.to_status.label} · {who} · {date_token(change.at)}{reason}")
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
                    text=f"All {plural(summary.object_count, 'object')}",
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
    return View(
        type="modal",
        callback_id=CallbackId.HOME_DETAIL,
        title=PlainTextObject(text=clip(f"Request {summary.id}", limits.VIEW_TITLE)),
        close=PlainTextObject(text="Close"),
        blocks=blocks,
    ).to_dict()
