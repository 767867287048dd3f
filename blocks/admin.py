"""The admin console: a compact Admin section for the Home tab and the modals behind it.

Pure builders from plain view models. Nothing here lists a bundle's objects: the editor shows
counts per integration and the last few added (the selection lives server-side in a draft), so a
bundle of 100,000 objects renders the same few dozen blocks as one of ten.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    ExternalDataSelectElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks.payloads import ModalMetadata
from blocks.text import clip, date_token, escape, plural, shorten
from domain.catalog import Source
from domain.objects import AccessObject
from domain.policy import Name

MAX_SECTION_BLOCKS: Final = 40
"""The Admin section's share of the Home tab's 100 blocks."""
HOME_ROWS: Final = 5
LIST_ROWS: Final = 10
MAX_INTEGRATION_LINES: Final = 10
MAX_SHARES_SHOWN: Final = 20
MAX_FLOW_BUNDLES_SHOWN: Final = 20
MAX_STATIC_OPTIONS: Final = 100
MAX_OPTION_TEXT: Final = 75
MAX_SAMPLES: Final = 10
RECENT_SHOWN: Final = 5
MAX_DESCRIPTION: Final = 300
MAX_RESOURCE: Final = 200
MAX_NAME: Final = 63
MAX_TEXT: Final = 3000
MAX_TITLE: Final = 24

FILE_MARKER: Final = "📄 _from the policy file_"
FILE_EDIT_NOTE: Final = (
    "📄 This is defined in the policy file. An edit made here is kept over the file until the "
    "file changes it too; then Slack's version stays and a conflict is announced in the audit "
    "channel (`python -m app policy export` brings the file up to date)."
)


class AdminAction(StrEnum):
    NEW_BUNDLE = "admin.bundle.new"
    BUNDLE_MENU = "admin.bundle.menu"
    ALL_BUNDLES = "admin.bundles.all"
    ALL_FLOWS = "admin.flows.all"
    LIST_PAGE = "admin.list.page"
    FLOW_MENU = "admin.flow.menu"
    EDIT_NAME = "admin.edit.name"
    EDIT_DESCRIPTION = "admin.edit.description"
    EDIT_INTEGRATION = "admin.edit.integration"
    EDIT_RESOURCE = "admin.edit.resource"
    EDIT_PATTERN = "admin.edit.pattern"
    EDIT_PERMISSION = "admin.edit.permission"
    EDIT_ADD = "admin.edit.add"
    EDIT_REMOVE = "admin.edit.remove"
    EDIT_CLEAR = "admin.edit.clear"
    FLOW_TOGGLE = "admin.flow.toggle"
    FLOW_ADD_BUNDLE = "admin.flow.add_bundle"
    FLOW_REMOVE_BUNDLE = "admin.flow.remove_bundle"


class AdminCallback(StrEnum):
    LIST = "admin.list"
    EDITOR = "admin.bundle.editor"
    REVIEW = "admin.bundle.review"
    DELETE = "admin.bundle.delete"
    FLOW = "admin.flow"
    DONE = "admin.done"


class AdminBlock(StrEnum):
    NAME = "admin.name"
    DESCRIPTION = "admin.description"
    INTEGRATION = "admin.integration"
    CONTENTS = "admin.contents"


class BundleChoice(StrEnum):
    """Options of a bundle row's menu (the bundle itself is named by the action ID)."""

    EDIT = "edit"
    DELETE = "delete"


class FlowChoice(StrEnum):
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    BUNDLES = "bundles"


def row_action(action: AdminAction, key: str) -> str:
    """An action ID unique within a view: one listener serves every row (as ``blocks.ids``)."""
    return f"{action.value}:{key}"


def row_matching(action: AdminAction) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(action.value)}(?::.*)?$")


def row_key(action_id: str) -> str | None:
    """The row a :func:`row_action` ID names, if it names one."""
    _, colon, key = action_id.partition(":")
    return key if colon and key else None


# -- what travels through Slack ---------------------------------------------------------------


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def encode(self) -> str:
        return self.model_dump_json(exclude_none=True)


class BundleRef(_Payload):
    """A bundle named in a button value or in the delete confirmation's private_metadata."""

    b: Name

    @classmethod
    def parse(cls, text: str | None) -> BundleRef | None:
        try:
            return cls.model_validate_json(text or "")
        except ValidationError:
            return None


class FlowRef(_Payload):
    """A flow (and, for a bundle button, which bundle) or the state a toggle asks for."""

    f: Name
    b: Name | None = None
    on: bool | None = None

    @classmethod
    def parse(cls, text: str | None) -> FlowRef | None:
        try:
            return cls.model_validate_json(text or "")
        except ValidationError:
            return None


class ListPage(_Payload):
    k: Literal["bundles", "flows"]
    p: Annotated[int, Field(ge=0, le=100_000)] = 0

    @classmethod
    def parse(cls, text: str | None) -> ListPage | None:
        try:
            return cls.model_validate_json(text or "")
        except ValidationError:
            return None


# -- view models ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BundleLine:
    name: str
    description: str
    source: Source
    objects: int
    integrations: int
    flows: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FlowLine:
    name: str
    active: bool
    source: Source
    grantees: tuple[str, ...]
    """User IDs, emails and user groups, as the flow names them."""
    approvers: tuple[str, ...]
    automatic: bool
    manager: bool
    durations: str
    bundles: tuple[str, ...]
    plain_objects: int


@dataclass(frozen=True, slots=True)
class IntegrationLine:
    name: str
    type: str
    resources: int
    ok: bool | None
    """``None`` until discovery has run once."""
    checked_at: datetime | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class AdminHome:
    bundles: tuple[BundleLine, ...]
    bundle_total: int
    flows: tuple[FlowLine, ...]
    flow_total: int
    integrations: tuple[IntegrationLine, ...]


@dataclass(frozen=True, slots=True)
class AdminList:
    kind: Literal["bundles", "flows"]
    page: int
    total: int
    bundles: tuple[BundleLine, ...] = ()
    flows: tuple[FlowLine, ...] = ()
    size: int = LIST_ROWS

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


@dataclass(frozen=True, slots=True)
class BundleEditor:
    draft_key: str
    name: str | None
    """``None`` for a new bundle: the admin types its name."""
    description: str
    source: Source | None
    flows: tuple[str, ...]
    integrations: tuple[str, ...]
    integration: str | None
    permissions: tuple[str, ...]
    total: int
    per_integration: dict[str, int] = field(default_factory=dict)
    recent: tuple[AccessObject, ...] = ()
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class Impact:
    """What saving (or deleting) a bundle touches."""

    flows: tuple[str, ...]
    inactive_flows: tuple[str, ...]
    pending: int
    active: int


@dataclass(frozen=True, slots=True)
class BundleReview:
    draft_key: str
    name: str
    new: bool
    source: Source | None
    before: int
    after: int
    per_integration: dict[str, int]
    added: tuple[AccessObject, ...]
    added_count: int
    removed: tuple[AccessObject, ...]
    removed_count: int
    description_changed: bool
    impact: Impact


@dataclass(frozen=True, slots=True)
class DeletePlan:
    name: str
    source: Source
    objects: int
    impact: Impact
    deactivated: tuple[str, ...]
    """Flows the bundle was all they offered: they are deactivated with it."""


@dataclass(frozen=True, slots=True)
class FlowEditor:
    flow: FlowLine
    addable: tuple[str, ...]
    """Bundles not in the flow yet."""
    notice: str | None = None


# -- small pieces -----------------------------------------------------------------------------


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, MAX_TEXT))


def _plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text, emoji=True)


def _option(text: str, value: str, description: str | None = None) -> Option:
    return Option(
        text=_plain(shorten(text, MAX_OPTION_TEXT)),
        value=value,
        description=_plain(clip(description, MAX_OPTION_TEXT)) if description else None,
    )


def _names(names: Sequence[str], *, limit: int = 10) -> str:
    shown = ", ".join(f"*{escape(n)}*" for n in names[:limit])
    more = len(names) - limit
    return shown + (f" and {more:,} more" if more > 0 else "")


def _marker(source: Source | None) -> str:
    return f" · {FILE_MARKER}" if source is Source.FILE else ""


def _object(obj: AccessObject) -> str:
    resource = escape(shorten(obj.resource, 60)).replace("`", "'")  # a backtick ends the code
    return f"`{resource}` {escape(obj.permission)} ({escape(obj.integration)})"


def _objects(objects: Sequence[AccessObject], total: int) -> str:
    text = ", ".join(_object(o) for o in objects)
    more = total - len(objects)
    return text + (f" and {more:,} more" if more > 0 else "")


def _notice(text: str) -> ContextBlock:
    return ContextBlock(elements=[_md(f"⚠️ {text}")])


def _modal(
    *,
    title: str,
    blocks: Sequence[Block],
    callback_id: AdminCallback,
    close: str = "Close",
    submit: str | None = None,
    private_metadata: str | None = None,
    clear_on_close: bool | None = None,
) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=callback_id,
        title=_plain(clip(title, MAX_TITLE)),
        close=_plain(close),
        submit=_plain(submit) if submit else None,
        private_metadata=private_metadata,
        clear_on_close=clear_on_close,
        blocks=list(blocks),
    ).to_dict()


# -- rows -------------------------------------------------------------------------------------


def _bundle_row(line: BundleLine) -> SectionBlock:
    used = f"in {_names(line.flows, limit=5)}" if line.flows else "in no flow yet"
    text = (
        f"📦 *{escape(line.name)}*{_marker(line.source)}\n"
        f"{plural(line.objects, 'object')} in {plural(line.integrations, 'integration')} · {used}"
    )
    if line.description:
        text += f"\n_{escape(clip(line.description, 150))}_"
    return SectionBlock(
        block_id=f"admin.bundle.{line.name}",
        text=_md(text),
        accessory=OverflowMenuElement(
            action_id=row_action(AdminAction.BUNDLE_MENU, line.name),
            options=[
                _option("Edit…", BundleChoice.EDIT),
                _option("Delete…", BundleChoice.DELETE),
            ],
        ),
    )


_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def _who(entry: str) -> str:
    """A user ID becomes a mention; anything else (email, @group) is shown inert."""
    return f"<@{entry}>" if _USER_ID.match(entry) else escape(entry)


def _people(entries: Sequence[str], *, limit: int = 5) -> str:
    shown = ", ".join(_who(e) for e in entries[:limit])
    more = len(entries) - limit
    return shown + (f" +{more:,}" if more > 0 else "")


def _approvers(line: FlowLine) -> str:
    if line.automatic:
        return "automatic"
    parts = (["the manager"] if line.manager else []) + [_people(line.approvers)]
    return ", ".join(p for p in parts if p) or "nobody"


def _flow_text(line: FlowLine) -> str:
    state = "🟢 active" if line.active else "⚪ inactive"
    offers = []
    if line.bundles:
        offers.append("bundles " + _names(line.bundles, limit=5))
    if line.plain_objects:
        offers.append(plural(line.plain_objects, "plain object"))
    return (
        f"*{escape(line.name)}* · {state}{_marker(line.source)}\n"
        f"Grantees {_people(line.grantees) or 'nobody'} · approvers {_approvers(line)} · "
        f"{escape(line.durations)}\n"
        f"Offers {' · '.join(offers) if offers else 'nothing'}"
    )


def _flow_row(line: FlowLine) -> SectionBlock:
    toggle = (
        _option("Deactivate", FlowChoice.DEACTIVATE)
        if line.active
        else _option("Activate", FlowChoice.ACTIVATE)
    )
    return SectionBlock(
        block_id=f"admin.flow.{line.name}",
        text=_md(_flow_text(line)),
        accessory=OverflowMenuElement(
            action_id=row_action(AdminAction.FLOW_MENU, line.name),
            options=[toggle, _option("Bundles…", FlowChoice.BUNDLES)],
        ),
    )


def _integration_text(line: IntegrationLine) -> str:
    if line.ok is None:
        health = "not checked yet"
    elif line.ok:
        checked = f" {date_token(line.checked_at)}" if line.checked_at else ""
        health = f"✅ reachable, checked{checked}"
    else:
        health = f"⚠️ {escape(clip(line.problem or 'unreachable', 200))}"
    return (
        f"*{escape(line.name)}* ({escape(line.type)}) · "
        f"{plural(line.resources, 'discovered resource')} · {health}"
    )


# -- the Home tab's section ---------------------------------------------------------------------


def admin_section(model: AdminHome) -> list[Block]:
    """At most :data:`MAX_SECTION_BLOCKS` blocks, whatever the number of bundles and flows."""
    blocks: list[Block] = [
        HeaderBlock(text="Admin"),
        ContextBlock(
            elements=[
                _md(
                    "Bundles and access flows as every instance runs them. "
                    f"{FILE_MARKER} marks what the policy file defines; editing it here makes "
                    "Slack's version the one kept."
                )
            ]
        ),
        SectionBlock(
            block_id="admin.bundles",
            text=_md(f"*Bundles* ({model.bundle_total:,})"),
            accessory=ButtonElement(
                text="New bundle", action_id=AdminAction.NEW_BUNDLE, style="primary", value="new"
            ),
        ),
        *[_bundle_row(b) for b in model.bundles[:HOME_ROWS]],
    ]
    if model.bundle_total > len(model.bundles[:HOME_ROWS]):
        blocks.append(
            ActionsBlock(
                block_id="admin.bundles.more",
                elements=[
                    ButtonElement(
                        text=f"All {model.bundle_total:,} bundles",
                        action_id=AdminAction.ALL_BUNDLES,
                        value=ListPage(k="bundles").encode(),
                    )
                ],
            )
        )
    blocks += [
        SectionBlock(block_id="admin.flows", text=_md(f"*Access flows* ({model.flow_total:,})")),
        *[_flow_row(f) for f in model.flows[:HOME_ROWS]],
    ]
    if model.flow_total > len(model.flows[:HOME_ROWS]):
        blocks.append(
            ActionsBlock(
                block_id="admin.flows.more",
                elements=[
                    ButtonElement(
                        text=f"All {model.flow_total:,} flows",
                        action_id=AdminAction.ALL_FLOWS,
                        value=ListPage(k="flows").encode(),
                    )
                ],
            )
        )
    lines = [_integration_text(i) for i in model.integrations[:MAX_INTEGRATION_LINES]]
    hidden = len(model.integrations) - MAX_INTEGRATION_LINES
    if hidden > 0:
        lines.append(f"…and {plural(hidden, 'more integration')}")
    blocks.append(
        SectionBlock(
            block_id="admin.integrations",
            text=_md("*Integrations*\n" + ("\n".join(lines) if lines else "none configured")),
        )
    )
    assert len(blocks) <= MAX_SECTION_BLOCKS
    return blocks


def admin_list_modal(model: AdminList) -> dict[str, Any]:
    """Every bundle or every flow, :data:`LIST_ROWS` at a time."""
    rows: list[Block]
    if model.kind == "bundles":
        rows = [_bundle_row(b) for b in model.bundles[: model.size]]
        head: list[Block] = [
            SectionBlock(
                text=_md(f"*{plural(model.total, 'bundle')}*"),
                accessory=ButtonElement(
                    text="New bundle", action_id=AdminAction.NEW_BUNDLE, value="new"
                ),
            )
        ]
    else:
        rows = [_flow_row(f) for f in model.flows[: model.size]]
        head = [SectionBlock(text=_md(f"*{plural(model.total, 'access flow')}*"))]
    buttons = []
    if model.page > 0:
        buttons.append(
            ButtonElement(
                text="← Previous",
                action_id=row_action(AdminAction.LIST_PAGE, "prev"),
                value=ListPage(k=model.kind, p=model.page - 1).encode(),
            )
        )
    if model.page + 1 < model.pages:
        buttons.append(
            ButtonElement(
                text="Next →",
                action_id=row_action(AdminAction.LIST_PAGE, "next"),
                value=ListPage(k=model.kind, p=model.page + 1).encode(),
            )
        )
    pager: list[Block] = [ContextBlock(elements=[_md(f"Page {model.page + 1} of {model.pages}")])]
    if buttons:
        pager.append(ActionsBlock(block_id="admin.pages", elements=buttons))
    return _modal(
        title="Bundles" if model.kind == "bundles" else "Access flows",
        callback_id=AdminCallback.LIST,
        private_metadata=ListPage(k=model.kind, p=model.page).encode(),
        blocks=[*head, DividerBlock(), *rows, *pager],
    )


# -- the bundle editor --------------------------------------------------------------------------


def _contents(model: BundleEditor) -> list[Block]:
    if model.total == 0:
        return [
            SectionBlock(
                block_id=AdminBlock.CONTENTS,
                text=_md("*Contents:* nothing yet. Add objects below."),
            )
        ]
    blocks: list[Block] = [
        SectionBlock(
            block_id=AdminBlock.CONTENTS,
            text=_md(
                f"*Contents: {plural(model.total, 'object')}* in "
                f"{plural(len(model.per_integration), 'integration')} "
                "(a pattern counts once here)"
            ),
            accessory=ButtonElement(
                text="Remove all", action_id=AdminAction.EDIT_CLEAR, value="all", style="danger"
            ),
        )
    ]
    shares = sorted(model.per_integration.items())
    for integration, count in shares[:MAX_SHARES_SHOWN]:
        blocks.append(
            SectionBlock(
                block_id=f"admin.share.{integration}",
                text=_md(f"*{escape(integration)}* · {plural(count, 'object')}"),
                accessory=ButtonElement(
                    text=f"Remove these {count:,}",
                    action_id=row_action(AdminAction.EDIT_REMOVE, integration),
                    value=integration,
                ),
            )
        )
    hidden = len(shares) - MAX_SHARES_SHOWN
    if hidden > 0:
        blocks.append(ContextBlock(elements=[_md(f"…and {plural(hidden, 'more integration')}")]))
    if model.recent:
        shown = model.recent[:RECENT_SHOWN]
        blocks.append(ContextBlock(elements=[_md("Last added: " + _objects(shown, model.total))]))
    return blocks


def _adder(model: BundleEditor) -> list[Block]:
    options = [_option(i, i) for i in model.integrations[:MAX_STATIC_OPTIONS]]
    blocks: list[Block] = [
        InputBlock(
            block_id=AdminBlock.INTEGRATION,
            label="Add objects from",
            element=StaticSelectElement(
                action_id=AdminAction.EDIT_INTEGRATION,
                placeholder="Choose an integration",
                options=options,
                initial_option=next((o for o in options if o.value == model.integration), None),
            ),
            dispatch_action=True,
            optional=True,
        )
    ]
    if model.integration is None:
        return blocks
    # Block IDs move with the contents so the inputs are empty again after each Add.
    step = f"{model.integration}.{model.total}"
    blocks.append(
        InputBlock(
            block_id=f"admin.resource.{step}",
            label="Resource",
            element=ExternalDataSelectElement(
                action_id=AdminAction.EDIT_RESOURCE,
                placeholder="Search discovered resources, or type a pattern",
                min_query_length=1,
            ),
            optional=True,
            hint="What you type is offered too, so a pattern such as sales.* can be picked.",
        )
    )
    blocks.append(
        InputBlock(
            block_id=f"admin.pattern.{step}",
            label="…or type a resource or pattern",
            element=PlainTextInputElement(
                action_id=AdminAction.EDIT_PATTERN,
                max_length=MAX_RESOURCE,
                placeholder="e.g. sales.* or orders:*",
            ),
            optional=True,
        )
    )
    if model.permissions:
        permissions = [_option(p, p) for p in model.permissions[:MAX_STATIC_OPTIONS]]
        blocks.append(
            InputBlock(
                block_id=f"admin.permission.{step}",
                label="Permission",
                element=StaticSelectElement(
                    action_id=AdminAction.EDIT_PERMISSION,
                    placeholder="Choose a permission",
                    options=permissions,
                    initial_option=permissions[0] if len(permissions) == 1 else None,
                ),
                optional=True,
            )
        )
    blocks.append(
        ActionsBlock(
            block_id="admin.add",
            elements=[
                ButtonElement(text="Add to bundle", action_id=AdminAction.EDIT_ADD, style="primary")
            ],
        )
    )
    return blocks


def bundle_editor(model: BundleEditor) -> dict[str, Any]:
    blocks: list[Block] = []
    if model.source is Source.FILE:
        blocks.append(ContextBlock(elements=[_md(FILE_EDIT_NOTE)]))
    if model.name is None:
        blocks.append(
            InputBlock(
                block_id=AdminBlock.NAME,
                label="Name",
                element=PlainTextInputElement(
                    action_id=AdminAction.EDIT_NAME,
                    max_length=MAX_NAME,
                    placeholder="e.g. prod-incident",
                ),
                hint="Letters, digits, dots, dashes and underscores.",
            )
        )
    else:
        held = (
            f"Held by {_names(model.flows)}: they all change when you save."
            if model.flows
            else "No flow holds it yet."
        )
        blocks.append(SectionBlock(text=_md(f"📦 *{escape(model.name)}*\n{held}")))
    blocks.append(
        InputBlock(
            block_id=AdminBlock.DESCRIPTION,
            label="Description",
            element=PlainTextInputElement(
                action_id=AdminAction.EDIT_DESCRIPTION,
                max_length=MAX_DESCRIPTION,
                initial_value=model.description or None,
                placeholder="What this access is for",
            ),
            optional=True,
        )
    )
    blocks.append(DividerBlock())
    blocks += _contents(model)
    blocks.append(DividerBlock())
    blocks += _adder(model)
    if model.notice:
        blocks.append(_notice(model.notice))
    return _modal(
        title="New bundle" if model.name is None else "Edit bundle",
        callback_id=AdminCallback.EDITOR,
        submit="Review",
        close="Cancel",
        private_metadata=ModalMetadata(d=model.draft_key).encode(),
        blocks=blocks,
    )


def _impact_text(impact: Impact, *, deleting: bool) -> str:
    if impact.flows:
        inactive = set(impact.inactive_flows)
        names = [f"{n} (inactive)" if n in inactive else n for n in impact.flows]
        flows = f"*Access flows affected ({len(names)}):* {_names(names, limit=20)}"
    else:
        flows = "*Access flows affected:* none; no flow holds this bundle."
    if deleting:
        pending = (
            f"{plural(impact.pending, 'pending request')} of it can no longer be approved "
            "(approvers may still deny them)"
        )
    else:
        pending = (
            f"{plural(impact.pending, 'pending request')} made on the old content will be "
            "checked again when an approver decides (they see what changed)"
        )
    active = (
        f"{plural(impact.active, 'active request')} keeps its current access until it ends"
        if impact.active == 1
        else f"{plural(impact.active, 'active request')} keep their current access until they end"
    )
    return f"{flows}\n*Requests:* {pending}; {active}."


def bundle_review(model: BundleReview) -> dict[str, Any]:
    """The impact preview, pushed over the editor; its submit is what saves."""
    verb = "Create" if model.new else "Save"
    change = (
        f"{plural(model.after, 'object')} as written"
        if model.new
        else f"{model.before:,} → {plural(model.after, 'object')} as written "
        f"(+{model.added_count:,} added, −{model.removed_count:,} removed)"
    )
    shares = " · ".join(
        f"{escape(name)} {count:,}" for name, count in sorted(model.per_integration.items())[:20]
    )
    blocks: list[Block] = [
        SectionBlock(
            text=_md(
                f"{verb} 📦 *{escape(model.name)}*{_marker(model.source)}?\n{change}\n{shares}"
                + ("\nThe description changes." if model.description_changed else "")
            )
        )
    ]
    if model.added and not model.new:
        blocks.append(
            SectionBlock(text=_md("*Added:* " + _objects(model.added, model.added_count)))
        )
    if model.removed:
        blocks.append(
            SectionBlock(text=_md("*Removed:* " + _objects(model.removed, model.removed_count)))
        )
    blocks.append(SectionBlock(text=_md(_impact_text(model.impact, deleting=False))))
    if model.source is Source.FILE:
        blocks.append(ContextBlock(elements=[_md(FILE_EDIT_NOTE)]))
    return _modal(
        title="Review changes",
        callback_id=AdminCallback.REVIEW,
        submit=verb,
        close="Back",
        private_metadata=ModalMetadata(d=model.draft_key).encode(),
        blocks=blocks,
    )


def delete_confirmation(model: DeletePlan) -> dict[str, Any]:
    blocks: list[Block] = [
        SectionBlock(
            text=_md(
                f"Delete 📦 *{escape(model.name)}*{_marker(model.source)} "
                f"({plural(model.objects, 'object')})? This cannot be undone here."
            )
        ),
        SectionBlock(text=_md(_impact_text(model.impact, deleting=True))),
    ]
    if model.impact.flows:
        blocks.append(
            SectionBlock(
                text=_md(f"It will be removed from {_names(model.impact.flows, limit=20)}.")
            )
        )
    if model.deactivated:
        blocks.append(
            SectionBlock(
                text=_md(
                    f"⚠️ {_names(model.deactivated, limit=20)} would offer nothing else, so "
                    f"{'it is' if len(model.deactivated) == 1 else 'they are'} deactivated too."
                )
            )
        )
    if model.source is Source.FILE:
        blocks.append(
            ContextBlock(
                elements=[
                    _md(
                        "📄 The policy file defines this bundle: it stays deleted until the file "
                        "changes it. Remove it from the file too."
                    )
                ]
            )
        )
    return _modal(
        title="Delete bundle",
        callback_id=AdminCallback.DELETE,
        submit="Delete",
        close="Cancel",
        private_metadata=BundleRef(b=model.name).encode(),
        blocks=blocks,
    )


# -- a flow's bundles and active flag -----------------------------------------------------------


def flow_modal(model: FlowEditor) -> dict[str, Any]:
    line = model.flow
    blocks: list[Block] = [
        SectionBlock(
            block_id="admin.flow.facts",
            text=_md(_flow_text(line)),
            accessory=ButtonElement(
                text="Deactivate" if line.active else "Activate",
                action_id=AdminAction.FLOW_TOGGLE,
                value=FlowRef(f=line.name, on=not line.active).encode(),
                style="danger" if line.active else "primary",
            ),
        )
    ]
    if line.source is Source.FILE:
        blocks.append(ContextBlock(elements=[_md(FILE_EDIT_NOTE)]))
    blocks.append(DividerBlock())
    for bundle in line.bundles[:MAX_FLOW_BUNDLES_SHOWN]:
        blocks.append(
            SectionBlock(
                block_id=f"admin.holds.{bundle}",
                text=_md(f"📦 *{escape(bundle)}*"),
                accessory=ButtonElement(
                    text="Remove",
                    action_id=row_action(AdminAction.FLOW_REMOVE_BUNDLE, bundle),
                    value=FlowRef(f=line.name, b=bundle).encode(),
                ),
            )
        )
    hidden = len(line.bundles) - MAX_FLOW_BUNDLES_SHOWN
    if hidden > 0:
        blocks.append(ContextBlock(elements=[_md(f"…and {plural(hidden, 'more bundle')}")]))
    if not line.bundles:
        blocks.append(SectionBlock(text=_md("This flow offers no bundle.")))
    if model.addable:
        picker: StaticSelectElement | ExternalDataSelectElement
        if len(model.addable) <= MAX_STATIC_OPTIONS:
            picker = StaticSelectElement(
                action_id=AdminAction.FLOW_ADD_BUNDLE,
                placeholder="Add a bundle",
                options=[_option(b, b) for b in model.addable],
            )
        else:
            # More bundles than one menu may list: served by typeahead.
            picker = ExternalDataSelectElement(
                action_id=AdminAction.FLOW_ADD_BUNDLE,
                placeholder="Search bundles to add",
                min_query_length=1,
            )
        blocks.append(ActionsBlock(block_id="admin.flow.add", elements=[picker]))
    if model.notice:
        blocks.append(_notice(model.notice))
    return _modal(
        title="Access flow",
        callback_id=AdminCallback.FLOW,
        close="Done",
        private_metadata=FlowRef(f=line.name).encode(),
        blocks=blocks,
    )


def done_modal(*, title: str, text: str) -> dict[str, Any]:
    """The result of a save or delete; closing it closes the whole stack under it too."""
    return _modal(
        title=title,
        callback_id=AdminCallback.DONE,
        close="Done",
        clear_on_close=True,
        blocks=[SectionBlock(text=_md(text))],
    )


def bundle_options(names: Sequence[str]) -> list[dict[str, Any]]:
    return [_option(n, n).to_dict() for n in names[:MAX_STATIC_OPTIONS]]


def resource_options(resources: Sequence[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Typeahead answer: ``(resource, description)`` pairs; values are the resource names, so
    names longer than an option value may be are left to the plain text input."""
    fitting = [(n, d) for n, d in resources if len(n) <= MAX_OPTION_TEXT]
    return [_option(n, n, d).to_dict() for n, d in fitting[:MAX_STATIC_OPTIONS]]
