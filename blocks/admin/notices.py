"""What the admin console tells the admin (refusals, the editor's notices, why a save or a flow
change did not happen) and what the audit channel is told of each change. The services in
app/admin/ decide which applies; the words are here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Final

from blocks.admin.models import Impact
from domain.durations import format_duration

NOT_ADMIN: Final = "Only admins can manage bundles and access flows."
EXPIRED: Final = "This editor has expired; open the bundle again from the Home tab."

# -- the bundle editor and its review -------------------------------------------------------

BAD_NAME: Final = (
    "Use 1 to 63 letters, digits, dots, dashes or underscores, starting with a letter or digit."
)
ADD_AN_OBJECT: Final = "Add at least one object."
EMPTY_NOT_SAVED: Final = "A bundle needs at least one object; nothing was saved."
CHOOSE_INTEGRATION: Final = "Choose an integration first."
PICK_RESOURCE: Final = "Pick a resource, or type a name or a pattern such as sales.*"
NO_LONGER_IN_BUNDLE: Final = "That is no longer in the bundle."
AS_TYPED: Final = "as typed"
"""Beside what the admin typed, first among the resource suggestions."""


def bundle_gone(bundle: str) -> str:
    return f"The bundle {bundle} no longer exists."


def name_taken(bundle: str) -> str:
    return f"A bundle named {bundle} exists already."


def deleted_meanwhile(bundle: str) -> str:
    """The review of a bundle deleted since its editor opened."""
    return f"{bundle} was deleted meanwhile; nothing can be saved."


def created_meanwhile_not_saved(bundle: str) -> str:
    return f"A bundle named {bundle} was created meanwhile; nothing was saved."


def deleted_meanwhile_not_saved(bundle: str) -> str:
    return f"{bundle} was deleted meanwhile; nothing was saved."


def changed_meanwhile_not_saved(bundle: str) -> str:
    return (
        f"{bundle} was changed by someone else since you opened it; nothing was saved. "
        "Open it again to see their version."
    )


def no_integration(integration: str) -> str:
    return f"There is no integration {integration}."


def description_too_long(limit: int) -> str:
    return f"A description is at most {limit:,} characters."


def resource_too_long(limit: int) -> str:
    return f"A resource is at most {limit} characters."


def choose_offered_permission(integration: str | None) -> str:
    return f"Choose one of the permissions {integration} offers."


def already_in_bundle(obj: str) -> str:
    return f"{obj} is already in the bundle."


def removed_from_bundle(obj: str) -> str:
    """``obj`` is escaped for mrkdwn already."""
    return f"Removed {obj}."


def pattern_matches(*, pattern: str, matches: int, integration: str) -> str:
    return (
        f"{pattern} matches {matches:,} discovered resources of {integration} "
        "now, and will match new ones as they are discovered."
    )


def pattern_suggestion(matches: int) -> str:
    """The description of a pattern offered among the resource suggestions."""
    return f"pattern · matches {matches:,} discovered now"


def durations_offered(
    *, maximum: timedelta, offered: Sequence[timedelta], default: timedelta
) -> str:
    """A flow's durations, as its line in the console says them."""
    if len(offered) <= 1:
        return f"{format_duration(maximum)} max"
    menu = ", ".join(format_duration(d) for d in offered)
    return f"{menu} (default {format_duration(default)})"


# -- flows --------------------------------------------------------------------------------------


def flow_gone(flow: str) -> str:
    return f"The access flow {flow} no longer exists."


def no_bundle(bundle: str) -> str:
    return f"There is no bundle {bundle}."


def flow_already(*, flow: str, active: bool) -> str:
    return f"{flow} is already {'active' if active else 'inactive'}."


def flow_offers_nothing(flow: str) -> str:
    return f"{flow} offers nothing; add a bundle to it first."


def flow_offers_already(*, flow: str, bundle: str) -> str:
    return f"{flow} offers {bundle} already."


def flow_does_not_offer(*, flow: str, bundle: str) -> str:
    return f"{flow} does not offer {bundle}."


# -- what the audit channel is told (after "🛠️ @admin") --------------------------------------


def admin_change_line(*, by: str, summary: str) -> str:
    return f"🛠️ <@{by}> {summary}"


def names_text(names: Iterable[str]) -> str:
    """Names as an audit-channel line shows them."""
    return ", ".join(f"*{n}*" for n in names) or "none"


def flow_switched(*, flow: str, active: bool) -> str:
    return f"{'activate' if active else 'deactivate'}d access flow *{flow}*."


def bundle_added_to_flow(*, flow: str, bundle: str) -> str:
    return f"added bundle *{bundle}* to access flow *{flow}*."


def bundle_removed_from_flow(*, flow: str, bundle: str, deactivated: bool) -> str:
    """``deactivated``: the flow offered nothing else, so it was switched off as well."""
    text = f"removed bundle *{bundle}* from access flow *{flow}*"
    if deactivated:
        text += f"; *{flow}* offers nothing else now, so it was deactivated"
    return text + "."


def bundle_saved(
    *,
    name: str,
    new: bool,
    was_file: bool,
    written: int,
    objects: int,
    added: int,
    removed: int,
    impact: Impact,
) -> str:
    verb = "created" if new else "changed"
    origin = " (defined in the policy file; Slack's version is now kept)" if was_file else ""
    text = f"{verb} bundle *{name}*{origin}: {written:,} objects"
    if objects != written:
        text += f" as written, {objects:,} once patterns are expanded"
    if not new:
        text += f" (+{added:,} −{removed:,})"
    if impact.flows:
        text += f". Flows offering it now: {names_text(impact.flows)}"
    else:
        text += ". No flow offers it yet"
    if impact.pending:
        text += (
            f". {impact.pending:,} pending request(s) made on the old content are checked "
            "again at decision time"
        )
    return text + "."


def bundle_deleted(
    *,
    name: str,
    was_file: bool,
    flows: Sequence[str],
    deactivated: Sequence[str],
    pending: int,
) -> str:
    text = f"deleted bundle *{name}*"
    if was_file:
        text += " (defined in the policy file: it stays deleted until the file changes)"
    text += f"; removed from {names_text(flows)}" if flows else "; no flow held it"
    if deactivated:
        text += f"; deactivated, as they offer nothing else now: {names_text(deactivated)}"
    if pending:
        text += f"; {pending:,} pending request(s) of it can no longer be approved"
    return text + "."
