"""The request modal: Integrations mode and Bundle Mode, built from a plain view model.

The selection itself is never in the view: the modal shows counts and the last few picks, and
``private_metadata`` carries only the draft key, so a 100,000-object bundle renders the same
handful of blocks as a 10-object one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from blocks import kit, limits
from blocks.break_glass import break_glass_input, break_glass_next_step
from blocks.favorites import Starts, starts_blocks
from blocks.ids import ActionId, BlockId, CallbackId, scoped
from blocks.inputs import permission_input
from blocks.payloads import ModalMetadata, ObjectOption
from blocks.simple import notice_modal
from blocks.text import clip, escape, plural, shorten
from domain.catalog import CatalogObject, IntegrationShare
from domain.drafts import Mode
from domain.durations import format_duration
from domain.lifecycle import Status
from domain.objects import AccessObject

MAX_SHARES_SHOWN: Final = 20
RECENT_SHOWN: Final = 5
MAX_JUSTIFICATION: Final = 1_000
MAX_APPROVERS_NAMED: Final = 10
"""The confirmation names this many approvers at most."""
TITLE: Final = "Request access"


@dataclass(frozen=True, slots=True)
class BundleChoice:
    name: str
    description: str
    size: int | None = None
    """How many objects the bundle holds (``None``: not counted)."""

    @property
    def summary(self) -> str:
        """The option's description: size, then the bundle's own description."""
        parts = [plural(self.size, "object")] if self.size is not None else []
        if self.description:
            parts.append(self.description)
        return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class FlowChoice:
    name: str
    automatic: bool
    approvers: str
    """Who approves, in words: "your manager", "@db-owners", ..."""
    max_duration: timedelta
    durations: tuple[timedelta, ...]
    default_duration: timedelta
    justification_required: bool
    break_glass_max: timedelta | None = None
    """Set when the flow allows break-glass: how long such access lasts at most."""
    break_glass_daily: int = 0
    justification_hint: str = ""
    """Why the flow asks for a justification, as its policy says (shown under the input)."""
    on_behalf: bool = False
    """The flow lets a grantee request for another grantee (README, "On behalf of a
    teammate"): the modal offers a "For" user picker."""

    approvers_plain: str = ""
    """The same people by display name, for plain_text (where mentions do not render)."""

    @property
    def summary(self) -> str:
        """In mrkdwn: approvers mentioned."""
        return self._summary(self.approvers)

    @property
    def plain_summary(self) -> str:
        """In plain_text: approvers by name."""
        return self._summary(self.approvers_plain or self.approvers)

    def _summary(self, approvers: str) -> str:
        how = "approved automatically" if self.automatic else f"approved by {approvers}"
        return f"{how} · up to {format_duration(self.max_duration)}"


@dataclass(frozen=True, slots=True)
class BundleDetail:
    name: str
    description: str
    total: int
    shares: tuple[IntegrationShare, ...]
    unavailable: dict[str, str] = field(default_factory=dict)
    """Integrations whose objects cannot be selected now, and why (one short line each)."""

    @property
    def selectable(self) -> int:
        return self.total - sum(s.count for s in self.shares if s.integration in self.unavailable)


@dataclass(frozen=True, slots=True)
class Selection:
    total: int = 0
    per_integration: dict[str, int] = field(default_factory=dict)
    recent: tuple[AccessObject, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestModal:
    draft_key: str
    mode: Mode
    limit: int
    bundles: tuple[BundleChoice, ...] = ()
    """Every bundle offered to the person; the builder lists them in a static menu when they fit
    in one, and serves them by typeahead when they do not."""
    bundle: BundleDetail | None = None
    integrations: tuple[str, ...] = ()
    integration: str | None = None
    resource: str | None = None
    permissions: tuple[str, ...] = ()
    unavailable: tuple[tuple[str, str], ...] = ()
    """Integrations a flow offers that are not offered now, and why (Integrations mode)."""
    selection: Selection = field(default_factory=Selection)
    flows: tuple[FlowChoice, ...] = ()
    flow: FlowChoice | None = None
    duration: timedelta | None = None
    justification: str | None = None
    notice: str | None = None
    starts: Starts = field(default_factory=Starts)
    """Recent requests and favorites to start from in one click (an empty form only)."""
    remembered_duration: timedelta | None = None
    """The duration this person chose last time in the chosen flow: preselected when the
    draft has none of its own."""
    focus_justification: bool = False
    """The form was pre-filled and still lacks the justification its flow requires."""

    @property
    def bundle_count(self) -> int:
        return len(self.bundles)


def _plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text, emoji=True)


def _option(*, text: str, value: str, description: str | None = None) -> Option:
    return Option(
        text=_plain(shorten(text, limits.OPTION_TEXT)),
        value=value,
        description=_plain(clip(description, limits.OPTION_TEXT)) if description else None,
    )


def _mode_switch(mode: Mode) -> ActionsBlock:
    return ActionsBlock(
        block_id=BlockId.MODE,
        elements=[
            ButtonElement(
                text="Integrations",
                action_id=ActionId.MODE_INTEGRATIONS,
                style="primary" if mode is Mode.INTEGRATIONS else None,
            ),
            ButtonElement(
                text="📦 Bundle Mode",
                action_id=ActionId.MODE_BUNDLE,
                style="primary" if mode is Mode.BUNDLE else None,
            ),
        ],
    )


def _bundle_menu(model: RequestModal) -> Block:
    initial = (
        _option(text=model.bundle.name, value=model.bundle.name)
        if model.bundle is not None
        else None
    )
    element: StaticSelectElement | ExternalDataSelectElement
    if model.bundle_count <= limits.MENU_OPTIONS:
        element = StaticSelectElement(
            action_id=ActionId.PICK_BUNDLE,
            placeholder="Choose a bundle",
            options=[
                _option(text=b.name, value=b.name, description=b.summary or None)
                for b in model.bundles
            ],
            initial_option=initial,
        )
    else:
        # More bundles than one menu may list: served by typeahead from the database.
        element = ExternalDataSelectElement(
            action_id=ActionId.PICK_BUNDLE,
            placeholder="Search bundles",
            min_query_length=0,
            initial_option=initial,
        )
    return InputBlock(
        block_id=BlockId.BUNDLE,
        label="Bundle",
        element=element,
        dispatch_action=True,
        hint=f"{plural(model.bundle_count, 'bundle')} offered to you by active access flows",
    )


def unavailable_text(integration: str, why: str) -> str:
    """One short line: which integration cannot be requested now, and why."""
    return f"⚠️ *{escape(integration)}* is unavailable: {escape(shorten(why, limits.SHORT_LINE))}"


def too_many_to_select(limit: int) -> str:
    """Instead of a *Select all* that would be refused: what can work."""
    return f"more than one request can hold ({limit:,}): pick objects with the search below"


def _select_all_text(count: int) -> str:
    return "Select it" if count == 1 else f"Select all {count:,}"


def _bundle_detail(bundle: BundleDetail, selection: Selection, limit: int) -> list[Block]:
    head = f"*{escape(bundle.name)}*"
    if bundle.description:
        head += f" — {escape(bundle.description)}"
    integrations = plural(len(bundle.shares), "integration")
    selectable = bundle.selectable
    # What Select all would leave selected (app/requesting/modal.py, select_all): a button that
    # could only be refused is not offered; the line says what works instead.
    kept = sum(selection.per_integration.get(name, 0) for name in bundle.unavailable)
    fits = selectable + kept <= limit
    summary = f"{head}\n{plural(bundle.total, 'object')} in {integrations}"
    if selectable and not fits:
        summary += f"; {too_many_to_select(limit)}"
        if len(bundle.shares) > 1:
            summary += " or select one integration at a time"
    blocks: list[Block] = [
        SectionBlock(
            block_id=BlockId.BUNDLE_SUMMARY,
            text=MarkdownTextObject(
                text=clip(summary + ("." if not fits else ""), limits.SECTION_TEXT)
            ),
            accessory=(
                ButtonElement(
                    text=_select_all_text(selectable), action_id=ActionId.SELECT_ALL, value="all"
                )
                if selectable and fits
                else None
            ),
        )
    ]
    for share in bundle.shares[:MAX_SHARES_SHOWN]:
        chosen = selection.per_integration.get(share.integration, 0)
        why = bundle.unavailable.get(share.integration)
        if why is not None:
            line = (
                f"{unavailable_text(share.integration, why)}\n"
                f"{plural(share.count, 'object')} not selectable until it passes its check"
            )
        else:
            line = (
                f"*{escape(share.integration)}* · {plural(share.count, 'object')} · "
                f"{', '.join(share.permissions)}"
            )
        share_fits = selection.total - chosen + share.count <= limit
        if why is None and not share_fits and chosen < share.count:
            line += f"\n{too_many_to_select(limit).capitalize()}."
        if chosen:
            line += f"\n✅ {chosen:,} selected"
        button: ButtonElement | None = None
        if chosen and (chosen >= share.count or why is not None or not share_fits):
            button = ButtonElement(
                text="Clear",
                action_id=scoped(ActionId.CLEAR_INTEGRATION, share.integration),
                value=share.integration,
            )
        elif why is None and share_fits:
            button = ButtonElement(
                text=_select_all_text(share.count),
                action_id=scoped(ActionId.SELECT_INTEGRATION, share.integration),
                value=share.integration,
            )
        blocks.append(
            SectionBlock(
                block_id=f"share.{share.integration}",
                text=MarkdownTextObject(text=clip(line, limits.SECTION_TEXT)),
                accessory=button,
            )
        )
    hidden = len(bundle.shares) - MAX_SHARES_SHOWN
    if hidden > 0:
        unshown = [
            s.integration
            for s in bundle.shares[MAX_SHARES_SHOWN:]
            if s.integration in bundle.unavailable
        ]
        more = f" ({', '.join(unshown)} unavailable now)" if unshown else ""
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=clip(
                            f"…and {plural(hidden, 'more integration')}{escape(more)}: "
                            "search below to pick objects from them.",
                            limits.SECTION_TEXT,
                        )
                    )
                ]
            )
        )
    return blocks


def _unavailable_block(unavailable: Sequence[tuple[str, str]]) -> ContextBlock:
    return ContextBlock(
        block_id="unavailable",
        elements=[
            MarkdownTextObject(
                text=clip(
                    "\n".join(unavailable_text(n, w) for n, w in unavailable), limits.SECTION_TEXT
                )
            )
        ],
    )


def _typeahead(
    *,
    action_id: ActionId,
    block_id: str,
    label: str,
    placeholder: str,
    initial: Option | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        element=ExternalDataSelectElement(
            action_id=action_id,
            placeholder=placeholder,
            min_query_length=1,
            initial_option=initial,
        ),
        dispatch_action=True,
        optional=True,
    )


def _selection(model: RequestModal) -> list[Block]:
    selection = model.selection
    if selection.total == 0:
        text = "*Selected:* nothing yet"
    else:
        parts = " · ".join(
            f"{escape(name)} {count:,}" for name, count in sorted(selection.per_integration.items())
        )
        text = f"*Selected: {selection.total:,}* of at most {model.limit:,} · {parts}"
    section = SectionBlock(
        block_id=BlockId.SELECTION,
        text=MarkdownTextObject(text=clip(text, limits.SECTION_TEXT)),
        accessory=(
            ButtonElement(text="Clear all", action_id=ActionId.CLEAR, value="all")
            if selection.total
            else None
        ),
    )
    blocks: list[Block] = [section]
    if selection.recent:
        recent = ", ".join(
            f"`{escape(shorten(o.resource, 60))}` {o.permission} ({escape(o.integration)})"
            for o in selection.recent[:RECENT_SHOWN]
        )
        more = selection.total - len(selection.recent[:RECENT_SHOWN])
        if more > 0:
            recent += f" and {more:,} more"
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=clip(recent, limits.SECTION_TEXT))])
        )
    return blocks


def _notice(text: str) -> ContextBlock:
    return ContextBlock(
        block_id=BlockId.NOTICE,
        elements=[MarkdownTextObject(text=clip(f"⚠️ {text}", limits.SECTION_TEXT))],
    )


def _flow_blocks(model: RequestModal) -> list[Block]:
    blocks: list[Block] = []
    if len(model.flows) > 1:
        options = [
            _option(text=f.name, value=f.name, description=f.plain_summary) for f in model.flows
        ]
        initial = next((o for o in options if model.flow and o.value == model.flow.name), None)
        element: RadioButtonsElement | StaticSelectElement
        if len(options) <= limits.RADIO_OPTIONS:
            element = RadioButtonsElement(
                action_id=ActionId.PICK_FLOW, options=options, initial_option=initial
            )
        else:
            element = StaticSelectElement(
                action_id=ActionId.PICK_FLOW,
                options=options[: limits.MENU_OPTIONS],
                initial_option=initial,
                placeholder="Choose an access flow",
            )
        blocks.append(
            InputBlock(
                block_id=BlockId.FLOW,
                label="Access flow",
                element=element,
                dispatch_action=True,
                hint="Several access flows offer this; they differ in approval and duration.",
            )
        )
    elif model.flow is not None:
        blocks.append(
            ContextBlock(
                block_id=BlockId.FLOW,
                elements=[
                    MarkdownTextObject(
                        text=f"Access flow *{escape(model.flow.name)}*: {model.flow.summary}"
                    )
                ],
            )
        )
    flow = model.flow
    if flow is not None:
        options = [
            _option(text=format_duration(d), value=format_duration(d)) for d in flow.durations
        ]
        chosen = next(
            (d for d in (model.duration, model.remembered_duration) if d in flow.durations),
            flow.default_duration,
        )
        initial = next((o for o in options if o.value == format_duration(chosen)), None)
        blocks.append(
            InputBlock(
                # A new flow means new choices: a new block ID drops the old selection.
                block_id=f"duration.{flow.name}",
                label="Duration",
                element=StaticSelectElement(
                    action_id=ActionId.DURATION,
                    options=options[: limits.MENU_OPTIONS],
                    initial_option=initial,
                    placeholder="How long",
                ),
            )
        )
    if flow is not None and flow.break_glass_max is not None:
        blocks.append(
            break_glass_input(
                flow=flow.name,
                max_duration=flow.break_glass_max,
                daily_limit=flow.break_glass_daily,
            )
        )
    if flow is not None and flow.on_behalf:
        blocks.append(on_behalf_input())
    required = flow.justification_required if flow is not None else False
    hint = flow.justification_hint if flow is not None else ""
    blocks.append(
        InputBlock(
            block_id=BlockId.JUSTIFICATION,
            label="Justification",
            element=PlainTextInputElement(
                action_id=ActionId.JUSTIFICATION,
                multiline=True,
                max_length=MAX_JUSTIFICATION,
                initial_value=model.justification or None,
                placeholder="Why do you need this access? e.g. INC-1234",
                focus_on_load=True if model.focus_justification else None,
            ),
            optional=not required,
            hint=_plain(clip(hint, limits.SHORT_LINE)) if hint else None,
        )
    )
    return blocks


ON_BEHALF_LABEL: Final = "For"
ON_BEHALF_HINT: Final = (
    "Leave empty to request for yourself. A teammate must be a grantee of this flow;"
    " they get the access details, you both get the updates."
)


def on_behalf_input() -> InputBlock:
    """The optional "For" picker of a flow that allows requesting for a teammate."""
    return InputBlock(
        block_id=BlockId.ON_BEHALF,
        label=ON_BEHALF_LABEL,
        element=UserSelectElement(
            action_id=ActionId.ON_BEHALF, placeholder="Yourself, or a teammate"
        ),
        optional=True,
        hint=_plain(clip(ON_BEHALF_HINT, limits.SHORT_LINE)),
    )


def _bundle_mode(model: RequestModal) -> list[Block]:
    if not model.bundle_count:
        return [
            SectionBlock(
                text=MarkdownTextObject(
                    text="No active access flow offers you a bundle yet. Ask an admin to add "
                    "you to one, or switch to *Integrations* to request single objects."
                )
            )
        ]
    blocks: list[Block] = [_bundle_menu(model)]
    if model.bundle is None:
        if model.notice:
            blocks.append(_notice(model.notice))
        return blocks
    blocks.extend(_bundle_detail(model.bundle, model.selection, model.limit))
    if model.notice:
        blocks.append(_notice(model.notice))
    blocks.append(
        _typeahead(
            action_id=ActionId.ADD_OBJECT,
            # The block ID moves with the selection so the menu is empty again after each pick.
            block_id=f"add.{model.selection.total}",
            label="Add objects one by one",
            placeholder="Search this bundle",
        )
    )
    blocks.append(DividerBlock())
    blocks.extend(_selection(model))
    blocks.extend(_flow_blocks(model))
    return blocks


def _integrations_mode(model: RequestModal) -> list[Block]:
    if not model.integrations and model.unavailable:
        return [
            _unavailable_block(model.unavailable),
            SectionBlock(
                text=MarkdownTextObject(
                    text="No other integration offers you single objects right now. "
                    "Switch to *📦 Bundle Mode* to request a bundle."
                )
            ),
            *([_notice(model.notice)] if model.notice else []),
            DividerBlock(),
            *_selection(model),
        ]
    if not model.integrations:
        return [
            SectionBlock(
                text=MarkdownTextObject(
                    text="No active access flow offers you single objects. "
                    "Switch to *📦 Bundle Mode* to request a bundle."
                )
            )
        ]
    integration_options = [_option(text=i, value=i) for i in model.integrations]
    blocks: list[Block] = [
        InputBlock(
            block_id=BlockId.INTEGRATION,
            label="Integration",
            element=StaticSelectElement(
                action_id=ActionId.PICK_INTEGRATION,
                placeholder="Choose an integration",
                options=integration_options[: limits.MENU_OPTIONS],
                initial_option=next(
                    (o for o in integration_options if o.value == model.integration), None
                ),
            ),
            dispatch_action=True,
        )
    ]
    if model.unavailable:
        blocks.append(_unavailable_block(model.unavailable))
    if model.integration is not None:
        blocks.append(
            _typeahead(
                action_id=ActionId.PICK_RESOURCE,
                block_id=f"resource.{model.integration}",
                label="Resource",
                placeholder="Search resources",
                initial=(
                    _option(text=model.resource, value=model.resource)
                    if model.resource is not None
                    else None
                ),
            )
        )
    if model.resource is not None and model.permissions:
        blocks.append(
            permission_input(
                block_id=f"{BlockId.PERMISSION}.{model.integration}.{len(model.permissions)}",
                action_id=ActionId.PICK_PERMISSION,
                permissions=model.permissions,
            )
        )
        blocks.append(
            ActionsBlock(
                block_id=BlockId.ADD_PLAIN,
                elements=[
                    ButtonElement(
                        text="Add to request", action_id=ActionId.ADD_PLAIN, style="primary"
                    )
                ],
            )
        )
    if model.notice:
        blocks.append(_notice(model.notice))
    blocks.append(DividerBlock())
    blocks.extend(_selection(model))
    blocks.extend(_flow_blocks(model))
    return blocks


def request_modal(model: RequestModal) -> dict[str, Any]:
    body = _bundle_mode(model) if model.mode is Mode.BUNDLE else _integrations_mode(model)
    blocks = [_mode_switch(model.mode), *starts_blocks(model.starts), *body]
    # What View(...).to_dict() gives, without parsing every block back and validating it all
    # again: the modal is rendered on every click (tests/unit/blocks/test_kit.py checks it).
    return {
        "type": "modal",
        "callback_id": CallbackId.REQUEST,
        "title": kit.plain(TITLE, emoji=True),
        # Slack requires a submit button on any modal with inputs; the server checks anyway.
        "submit": kit.plain("Request", emoji=True),
        "close": kit.plain("Cancel", emoji=True),
        "private_metadata": ModalMetadata(d=model.draft_key).encode(),
        "blocks": [kit.as_dict(block) for block in blocks],
    }


def form_expired(text: str) -> dict[str, Any]:
    """In place of the request modal when its form can no longer be used; ``text`` says why."""
    return notice_modal(title=TITLE, text=text)


def _next_step(status: Status, approvers: Sequence[str], grantee: str | None = None) -> str:
    if status is Status.APPROVED and grantee is not None:
        return f"Approved automatically; <@{grantee}> gets the access details in a DM shortly."
    if status is Status.APPROVED:
        return "Approved automatically; your access details arrive in a DM shortly."
    if status is Status.FAILED:
        return "It could not be sent for approval: nobody but you could approve it."
    named = ", ".join(f"<@{a}>" for a in approvers[:MAX_APPROVERS_NAMED])
    more = len(approvers) - MAX_APPROVERS_NAMED
    if more > 0:
        named += f" and {plural(more, 'other')}"
    return f"Waiting for approval by {named}. You'll get a DM at each step."


def request_submitted(
    *,
    request_id: str,
    object_count: int,
    bundle: str | None,
    status: Status,
    approvers: Sequence[str],
    break_glass: timedelta | None = None,
    grantee: str | None = None,
) -> dict[str, Any]:
    """The modal once a request is submitted: what it holds and what happens next
    (``break_glass``: the duration of break-glass access, README "Break-glass"; ``grantee``:
    the teammate it was asked for, README "On behalf of a teammate")."""
    summary = plural(object_count, "object") + (f" of bundle *{escape(bundle)}*" if bundle else "")
    if grantee is not None:
        summary += f" for <@{grantee}>"
    next_step = (
        break_glass_next_step(break_glass)
        if break_glass is not None
        else _next_step(status, approvers, grantee)
    )
    view = View(
        type="modal",
        callback_id=CallbackId.REQUEST_DONE,
        title=_plain(TITLE),
        close=_plain("Done"),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip(
                        f"✅ Request *{request_id}* submitted.\n{summary}\n{next_step}",
                        limits.SECTION_TEXT,
                    )
                )
            )
        ],
    )
    return kit.as_dict(view)


def bundle_suggestions(bundles: Sequence[BundleChoice]) -> list[dict[str, Any]]:
    return [
        kit.as_dict(_option(text=b.name, value=b.name, description=b.summary or None))
        for b in bundles[: limits.SUGGESTIONS]
    ]


def object_suggestions(objects: Sequence[CatalogObject]) -> list[dict[str, Any]]:
    """Typeahead answer, grouped by integration (at most :data:`limits.SUGGESTIONS` options in
    all, so no group holds more than :data:`limits.GROUP_OPTIONS` either)."""
    groups: dict[str, list[Option]] = {}
    for item in objects[: limits.SUGGESTIONS]:
        groups.setdefault(item.object.integration, []).append(
            _option(
                text=f"{item.object.resource} · {item.object.permission}",
                value=ObjectOption(o=item.key).encode(),
            )
        )
    return [
        kit.as_dict(OptionGroup(label=_plain(shorten(name, limits.GROUP_LABEL)), options=options))
        for name, options in groups.items()
    ]


def resource_suggestions(resources: Sequence[str]) -> list[dict[str, Any]]:
    return [
        kit.as_dict(_option(text=r, value=r))
        for r in resources[: limits.SUGGESTIONS]
        if len(r) <= limits.OPTION_VALUE
    ]
