"""What a bundle save or delete would touch, shown before anything is changed."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from blocks.admin.ids import AdminCallback, BundleRef
from blocks.admin.limits import FILE_EDIT_NOTE
from blocks.admin.models import BundleReview, DeletePlan, Impact
from blocks.admin.pieces import marker, md, modal, names, objects_text
from blocks.payloads import ModalMetadata
from blocks.text import escape, plural
from domain.catalog import Source


def _impact_text(impact: Impact, *, deleting: bool) -> str:
    if impact.flows:
        inactive = set(impact.inactive_flows)
        flows_named = [f"{n} (inactive)" if n in inactive else n for n in impact.flows]
        flows = f"*Access flows affected ({len(flows_named)}):* {names(flows_named, limit=20)}"
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
            text=md(
                f"{verb} 📦 *{escape(model.name)}*{marker(model.source)}?\n{change}\n{shares}"
                + ("\nThe description changes." if model.description_changed else "")
            )
        )
    ]
    if model.added and not model.new:
        blocks.append(
            SectionBlock(text=md("*Added:* " + objects_text(model.added, model.added_count)))
        )
    if model.removed:
        blocks.append(
            SectionBlock(text=md("*Removed:* " + objects_text(model.removed, model.removed_count)))
        )
    blocks.append(SectionBlock(text=md(_impact_text(model.impact, deleting=False))))
    if model.source is Source.FILE:
        blocks.append(ContextBlock(elements=[md(FILE_EDIT_NOTE)]))
    return modal(
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
            text=md(
                f"Delete 📦 *{escape(model.name)}*{marker(model.source)} "
                f"({plural(model.objects, 'object')})? This cannot be undone here."
            )
        ),
        SectionBlock(text=md(_impact_text(model.impact, deleting=True))),
    ]
    if model.impact.flows:
        blocks.append(
            SectionBlock(text=md(f"It will be removed from {names(model.impact.flows, limit=20)}."))
        )
    if model.deactivated:
        blocks.append(
            SectionBlock(
                text=md(
                    f"⚠️ {names(model.deactivated, limit=20)} would offer nothing else, so "
                    f"{'it is' if len(model.deactivated) == 1 else 'they are'} deactivated too."
                )
            )
        )
    if model.source is Source.FILE:
        blocks.append(
            ContextBlock(
                elements=[
                    md(
                        "📄 The policy file defines this bundle: it stays deleted until the file "
                        "changes it. Remove it from the file too."
                    )
                ]
            )
        )
    return modal(
        title="Delete bundle",
        callback_id=AdminCallback.DELETE,
        submit="Delete",
        close="Cancel",
        private_metadata=BundleRef(b=model.name).encode(),
        blocks=blocks,
    )
