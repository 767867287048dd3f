"""A flow's modal: its facts, its active flag, and the bundles it offers."""

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
    SectionBlock,
    StaticSelectElement,
)

from blocks import limits
from blocks.admin.ids import AdminAction, AdminCallback, FlowRef, row_action
from blocks.admin.limits import FILE_EDIT_NOTE, MAX_FLOW_BUNDLES_SHOWN
from blocks.admin.models import FlowEditor
from blocks.admin.pieces import md, modal, notice, option
from blocks.admin.rows import flow_text
from blocks.text import escape, plural
from domain.catalog import Source


def flow_modal(model: FlowEditor) -> dict[str, Any]:
    line = model.flow
    blocks: list[Block] = [
        SectionBlock(
            block_id="admin.flow.facts",
            text=md(flow_text(line)),
            accessory=ButtonElement(
                text="Deactivate" if line.active else "Activate",
                action_id=AdminAction.FLOW_TOGGLE,
                value=FlowRef(f=line.name, on=not line.active).encode(),
                style="danger" if line.active else "primary",
            ),
        )
    ]
    if line.source is Source.FILE:
        blocks.append(ContextBlock(elements=[md(FILE_EDIT_NOTE)]))
    blocks.append(DividerBlock())
    for bundle in line.bundles[:MAX_FLOW_BUNDLES_SHOWN]:
        blocks.append(
            SectionBlock(
                block_id=f"admin.holds.{bundle}",
                text=md(f"📦 *{escape(bundle)}*"),
                accessory=ButtonElement(
                    text="Remove",
                    action_id=row_action(AdminAction.FLOW_REMOVE_BUNDLE, bundle),
                    value=FlowRef(f=line.name, b=bundle).encode(),
                ),
            )
        )
    hidden = len(line.bundles) - MAX_FLOW_BUNDLES_SHOWN
    if hidden > 0:
        blocks.append(ContextBlock(elements=[md(f"…and {plural(hidden, 'more bundle')}")]))
    if not line.bundles:
        blocks.append(SectionBlock(text=md("This flow offers no bundle.")))
    if model.addable:
        picker: StaticSelectElement | ExternalDataSelectElement
        if len(model.addable) <= limits.MENU_OPTIONS:
            picker = StaticSelectElement(
                action_id=AdminAction.FLOW_ADD_BUNDLE,
                placeholder="Add a bundle",
                options=[option(b, b) for b in model.addable],
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
        blocks.append(notice(model.notice))
    return modal(
        title="Access flow",
        callback_id=AdminCallback.FLOW,
        close="Done",
        private_metadata=FlowRef(f=line.name).encode(),
        blocks=blocks,
    )


def bundle_options(bundles: Sequence[str]) -> list[dict[str, Any]]:
    return [option(n, n).to_dict() for n in bundles[: limits.SUGGESTIONS]]
