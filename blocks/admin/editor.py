"""The bundle editor: name, description, counts per integration, and the adder.

Nothing here lists a bundle's objects: the editor shows counts per integration and the last few
added (the selection lives server-side in a draft), so a bundle of 100,000 objects renders the
same few dozen blocks as one of ten. Single objects are found for removal by typeahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    ExternalDataSelectElement,
    InputBlock,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)

from blocks import limits
from blocks.admin.ids import AdminAction, AdminBlock, AdminCallback, row_action
from blocks.admin.limits import (
    FILE_EDIT_NOTE,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_RESOURCE,
    MAX_SHARES_SHOWN,
    RECENT_SHOWN,
)
from blocks.admin.models import BundleEditor
from blocks.admin.pieces import md, modal, names, notice, objects_text, option
from blocks.inputs import permission_input
from blocks.payloads import ModalMetadata
from blocks.text import escape, plural
from domain.catalog import Source
from domain.objects import AccessObject


def _contents(model: BundleEditor) -> list[Block]:
    if model.total == 0:
        return [
            SectionBlock(
                block_id=AdminBlock.CONTENTS,
                text=md("*Contents:* nothing yet. Add objects below."),
            )
        ]
    blocks: list[Block] = [
        SectionBlock(
            block_id=AdminBlock.CONTENTS,
            text=md(
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
                text=md(f"*{escape(integration)}* · {plural(count, 'object')}"),
                accessory=ButtonElement(
                    text="Remove it" if count == 1 else f"Remove these {count:,}",
                    action_id=row_action(AdminAction.EDIT_REMOVE, integration),
                    value=integration,
                ),
            )
        )
    hidden = len(shares) - MAX_SHARES_SHOWN
    if hidden > 0:
        blocks.append(ContextBlock(elements=[md(f"…and {plural(hidden, 'more integration')}")]))
    if model.recent:
        shown = model.recent[:RECENT_SHOWN]
        blocks.append(
            ContextBlock(elements=[md("Last added: " + objects_text(shown, model.total))])
        )
    # Its block ID moves with the contents so the picker is empty again after each removal.
    picker = ExternalDataSelectElement(
        action_id=AdminAction.EDIT_REMOVE_ONE,
        placeholder="Remove one object: search by name",
        min_query_length=1,
    )
    blocks.append(ActionsBlock(block_id=f"admin.remove_one.{model.total}", elements=[picker]))
    return blocks


def _adder(model: BundleEditor) -> list[Block]:
    options = [option(i, i) for i in model.integrations[: limits.MENU_OPTIONS]]
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
        blocks.append(
            permission_input(
                block_id=f"admin.permission.{step}",
                action_id=AdminAction.EDIT_PERMISSION,
                permissions=model.permissions,
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
        blocks.append(ContextBlock(elements=[md(FILE_EDIT_NOTE)]))
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
            f"Held by {names(model.flows)}: they all change when you save."
            if model.flows
            else "No flow holds it yet."
        )
        blocks.append(SectionBlock(text=md(f"📦 *{escape(model.name)}*\n{held}")))
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
        blocks.append(notice(model.notice))
    return modal(
        title="New bundle" if model.name is None else "Edit bundle",
        callback_id=AdminCallback.EDITOR,
        submit="Review",
        close="Cancel",
        private_metadata=ModalMetadata(d=model.draft_key).encode(),
        blocks=blocks,
    )


def resource_options(resources: Sequence[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Typeahead answer: ``(resource, description)`` pairs; values are the resource names, so
    names longer than an option value may be are left to the plain text input."""
    fitting = [(n, d) for n, d in resources if len(n) <= limits.OPTION_VALUE]
    return [option(n, n, d).to_dict() for n, d in fitting[: limits.SUGGESTIONS]]


def removal_options(items: Sequence[tuple[int, AccessObject]]) -> list[dict[str, Any]]:
    """Typeahead answer for removing one object: ``(draft item ID, object)`` pairs. The value
    is the item's ID, since an object (a resource of up to 200 characters) may not fit one."""
    return [
        option(o.resource, str(item), f"{o.permission} · {o.integration}").to_dict()
        for item, o in items[: limits.SUGGESTIONS]
    ]
