"""One row per bundle, flow or integration, as the Home section and the lists show them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from slack_sdk.models.blocks import OverflowMenuElement, SectionBlock

from blocks import limits
from blocks.admin.ids import AdminAction, BundleChoice, FlowChoice, row_action
from blocks.admin.models import BundleLine, FlowLine, HealthLine, IntegrationLine
from blocks.admin.pieces import marker, md, names, option
from blocks.approval_steps import steps_words
from blocks.text import clip, date_token, escape, plural


def bundle_row(line: BundleLine) -> SectionBlock:
    used = f"in {names(line.flows, limit=5)}" if line.flows else "in no flow yet"
    text = (
        f"📦 *{escape(line.name)}*{marker(line.source)}\n"
        f"{plural(line.objects, 'object')} in {plural(line.integrations, 'integration')} · {used}"
    )
    if line.description:
        text += f"\n_{escape(clip(line.description, limits.SHORT_LINE))}_"
    return SectionBlock(
        block_id=f"admin.bundle.{line.name}",
        text=md(text),
        accessory=OverflowMenuElement(
            action_id=row_action(AdminAction.BUNDLE_MENU, line.name),
            options=[
                option("Edit…", BundleChoice.EDIT),
                option("Delete…", BundleChoice.DELETE),
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
    if line.steps:
        return steps_words(line.steps, manager="the manager", who=_who)
    parts = (["the manager"] if line.manager else []) + [_people(line.approvers)]
    return ", ".join(p for p in parts if p) or "nobody"


def flow_text(line: FlowLine) -> str:
    state = "🟢 active" if line.active else "⚪ inactive"
    offers = []
    if line.bundles:
        offers.append("bundles " + names(line.bundles, limit=5))
    if line.plain_objects:
        offers.append(plural(line.plain_objects, "plain object"))
    return (
        f"*{escape(line.name)}* · {state}{marker(line.source)}\n"
        f"Grantees {_people(line.grantees) or 'nobody'} · approvers {_approvers(line)} · "
        f"{escape(line.durations)}\n"
        f"Offers {' · '.join(offers) if offers else 'nothing'}"
    )


def flow_row(line: FlowLine) -> SectionBlock:
    toggle = (
        option("Deactivate", FlowChoice.DEACTIVATE)
        if line.active
        else option("Activate", FlowChoice.ACTIVATE)
    )
    return SectionBlock(
        block_id=f"admin.flow.{line.name}",
        text=md(flow_text(line)),
        accessory=OverflowMenuElement(
            action_id=row_action(AdminAction.FLOW_MENU, line.name),
            options=[toggle, option("Bundles…", FlowChoice.BUNDLES)],
        ),
    )


def integration_text(line: IntegrationLine) -> str:
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


def health_text(line: HealthLine) -> str:
    """``✅ name (type)`` or ``⚠️ name: what is missing``, with when it was checked."""
    checked = f" · checked {date_token(line.checked_at)}" if line.checked_at else ""
    if line.checked_at is not None and not line.problems:
        return f"✅ *{escape(line.name)}* ({escape(line.type)}){checked}"
    problems = "; ".join(p.strip() for p in line.problems) or "not checked yet"
    return f"⚠️ *{escape(line.name)}*: {escape(clip(problems, 300))}{checked}"
