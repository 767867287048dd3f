"""The Home tab's Admin section and the paged list of every bundle or flow behind it."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    SectionBlock,
)

from blocks import limits
from blocks.admin.ids import AdminAction, AdminCallback, ListPage, row_action
from blocks.admin.limits import (
    FILE_MARKER,
    HOME_ROWS,
    MAX_INTEGRATION_LINES,
    MAX_SECTION_BLOCKS,
)
from blocks.admin.models import AdminHome, AdminList
from blocks.admin.pieces import md, modal
from blocks.admin.rows import bundle_row, flow_row, health_text, integration_text
from blocks.text import clip, plural


def admin_section(model: AdminHome) -> list[Block]:
    """At most :data:`MAX_SECTION_BLOCKS` blocks, whatever the number of bundles and flows."""
    blocks: list[Block] = [
        HeaderBlock(text="Admin"),
        ContextBlock(
            elements=[
                md(
                    "Bundles and access flows as every instance runs them. "
                    f"{FILE_MARKER} marks what the policy file defines; editing it here makes "
                    "Slack's version the one kept."
                )
            ]
        ),
        SectionBlock(
            block_id="admin.bundles",
            text=md(f"*Bundles* ({model.bundle_total:,})"),
            accessory=ButtonElement(
                text="New bundle", action_id=AdminAction.NEW_BUNDLE, style="primary", value="new"
            ),
        ),
        *[bundle_row(b) for b in model.bundles[:HOME_ROWS]],
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
        SectionBlock(block_id="admin.flows", text=md(f"*Access flows* ({model.flow_total:,})")),
        *[flow_row(f) for f in model.flows[:HOME_ROWS]],
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
    lines = [integration_text(i) for i in model.integrations[:MAX_INTEGRATION_LINES]]
    hidden = len(model.integrations) - MAX_INTEGRATION_LINES
    if hidden > 0:
        lines.append(f"…and {plural(hidden, 'more integration')}")
    blocks.append(
        SectionBlock(
            block_id="admin.integrations",
            text=md("*Integrations*\n" + ("\n".join(lines) if lines else "none configured")),
        )
    )
    if model.health:
        checks = [health_text(h) for h in model.health[:MAX_INTEGRATION_LINES]]
        unshown = model.health[MAX_INTEGRATION_LINES:]
        if unshown:
            failing = sum(1 for h in unshown if h.problems)
            checks.append(f"…and {plural(len(unshown), 'more integration')} ({failing:,} failing)")
        blocks.append(
            SectionBlock(
                block_id="admin.health",
                text=md(
                    clip(
                        "*Admin logins* (an integration that fails offers nothing until it "
                        "passes)\n" + "\n".join(checks),
                        limits.SECTION_TEXT,
                    )
                ),
            )
        )
    assert len(blocks) <= MAX_SECTION_BLOCKS
    return blocks


def admin_list_modal(model: AdminList) -> dict[str, Any]:
    """Every bundle or every flow, :data:`LIST_ROWS` at a time."""
    rows: list[Block]
    if model.kind == "bundles":
        rows = [bundle_row(b) for b in model.bundles[: model.size]]
        head: list[Block] = [
            SectionBlock(
                text=md(f"*{plural(model.total, 'bundle')}*"),
                accessory=ButtonElement(
                    text="New bundle", action_id=AdminAction.NEW_BUNDLE, value="new"
                ),
            )
        ]
    else:
        rows = [flow_row(f) for f in model.flows[: model.size]]
        head = [SectionBlock(text=md(f"*{plural(model.total, 'access flow')}*"))]
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
    pager: list[Block] = [ContextBlock(elements=[md(f"Page {model.page + 1} of {model.pages}")])]
    if buttons:
        pager.append(ActionsBlock(block_id="admin.pages", elements=buttons))
    return modal(
        title="Bundles" if model.kind == "bundles" else "Access flows",
        callback_id=AdminCallback.LIST,
        private_metadata=ListPage(k=model.kind, p=model.page).encode(),
        blocks=[*head, DividerBlock(), *rows, *pager],
    )
