"""What the request modal tells the person: the notice above its inputs after a click, and the
errors of a refused submission (next to the field they concern). The services decide which one
applies (app/requesting/); the words are here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Final

from blocks.approval_steps import steps_words
from domain.durations import format_duration
from domain.policy import AccessFlow

FORM_EXPIRED: Final = "This request form has expired; type /apono to start again."
"""A click in a modal whose draft is gone or someone else's."""
SUBMITTED_FORM_EXPIRED: Final = "This form has expired; type /apono to start again."
NOT_YOUR_REQUEST: Final = "You can only request your own requests again."
BUNDLE_NOT_OFFERED: Final = "That bundle is not offered to you by any active flow."
PICK_BUNDLE_FIRST: Final = "Pick a bundle first."
OBJECT_NOT_IN_BUNDLE: Final = "That object is not part of the chosen bundle."
RESOURCE_NOT_OFFERED: Final = "That resource is not offered to you."
CHOOSE_INTEGRATION_AND_RESOURCE: Final = "Choose an integration and a resource first."
CHOOSE_OFFERED_PERMISSION: Final = "Choose one of the permissions offered for this resource."
NO_SINGLE_FLOW: Final = (
    "No single access flow offers this together with what you already "
    "selected; submit those first, then request this separately."
)

# -- submission errors ------------------------------------------------------------------------

PICK_AN_OBJECT: Final = "Pick at least one object."
NO_FLOW_FOR_OBJECTS: Final = "No active access flow offers you all of these objects."
PICK_A_BUNDLE: Final = "Pick a bundle."
SUBMITTED_BUNDLE_NOT_OFFERED: Final = "This bundle is not offered to you by any active flow."
BUNDLE_GONE: Final = "This bundle no longer exists."
CHOOSE_OFFERED_DURATION: Final = "Choose one of the offered durations."
NOTHING_TO_REQUEST: Final = "Nothing to request."


def approvers_in_words(flow: AccessFlow) -> str:
    """Who approves ``flow``'s requests, as the modal's flow line says it."""
    if flow.approvers == "automatic":
        return "nobody (automatic)"
    return steps_words(
        flow.steps,
        manager="your manager",
        who=lambda u: f"<@{u}>" if u.startswith(("U", "W")) else u,
    )


def unavailable_line(*, integration: str, why: str) -> str:
    """``integration`` is not offered now: its admin login failed its check (``why``)."""
    return f"{integration} is unavailable until its admin login passes the check: {why}."


def unavailable_lines(blocked: Mapping[str, str]) -> str:
    return " ".join(unavailable_line(integration=name, why=why) for name, why in blocked.items())


def unavailable_selected(*, integration: str, why: str, selected: int) -> str:
    """A submission holding ``selected`` objects of one unavailable integration."""
    return (
        f"{unavailable_line(integration=integration, why=why)} Remove its {selected:,} "
        "selected objects, or submit again once it is fixed."
    )


def unavailable_several(blocked: Mapping[str, str]) -> str:
    """A submission holding objects of several unavailable integrations (name → why)."""
    names = ", ".join(f"{name} ({why})" for name, why in blocked.items())
    return (
        "These integrations are unavailable until their admin logins pass the check: "
        f"{names}. Remove their objects, or submit again once they are fixed."
    )


def too_many(*, count: int, limit: int) -> str:
    return (
        f"That would make {count:,} objects; one request can hold at most {limit:,}. "
        "Select all of a single integration, or add objects one by one with the search."
    )


def no_longer_offered(bundle: str) -> str:
    """*Request again* of a bundle that is no longer offered to the person."""
    return f"{bundle} is no longer offered to you."


def left_the_bundle(*, missing: int, request_id: str, bundle: str) -> str:
    """*Request again*: ``missing`` objects of the earlier request are no longer in the bundle."""
    return f"{missing:,} objects of {request_id} are no longer in {bundle}; the rest is selected."


def objects_no_longer_offered(missing: int) -> str:
    return f"{missing:,} objects are no longer offered to you."


def flow_not_available(flow: str) -> str:
    return f"The access flow {flow} is not available to you."


def whole_bundle_scope(selectable: int) -> str:
    """What *Select all* of the whole bundle would select (a clause of ``select_all_refused``)."""
    return f"This bundle has {selectable:,} objects you can select now"


def integration_scope(*, integration: str, count: int) -> str:
    """What *Select all* of one integration would select (a clause of ``select_all_refused``)."""
    return f"{integration} has {count:,} objects in this bundle"


def select_all_refused(*, scope: str, limit: int) -> str:
    return (
        f"Select all refused: {scope}, and one request can hold at most "
        f"{limit:,}. Select all of a single integration that fits, or add "
        "objects one by one with the search."
    )


def not_in_bundle(integration: str | None) -> str:
    return f"{integration} is not part of this bundle."


def no_flow_offers_objects_in(integration: str) -> str:
    return f"No active flow offers you objects in {integration}."


MANAGER_IS_YOURSELF: Final = (
    "Your Slack profile names you as your own manager, so this request could never be "
    "approved by a manager. Ask a workspace admin to correct the field."
)


def justification_too_long(limit: int) -> str:
    return f"At most {limit:,} characters."


def reason_required(flow: str) -> str:
    return f"The access flow {flow} requires a reason."


def too_many_selected(*, count: int, limit: int) -> str:
    return f"{count:,} objects selected; one request can hold at most {limit:,}."


def on_call_unknown(flow: str) -> str:
    return (
        f"The on-call service of the access flow {flow} cannot be asked right now, so it "
        "cannot tell whether you are on call. Try again in a minute."
    )


def flow_deactivated_meanwhile(flow: str) -> str:
    return (
        f"The access flow {flow} was deactivated while you were choosing; "
        "this bundle is no longer offered to you."
    )


def bundle_edited_meanwhile(objects: int) -> str:
    return (
        f"This bundle was edited while you were choosing (it now has "
        f"{objects:,} objects). Pick it again to see its current content."
    )


def outside_bundle(*, count: int, bundle: str, example: str) -> str:
    return f"{count:,} selected objects are not part of {bundle}, e.g. {example}."


def flow_no_longer_offers_bundle(flow: str) -> str:
    return f"The access flow {flow} no longer offers this bundle to you; choose another."


def duration_over_maximum(*, maximum: timedelta, flow: str) -> str:
    return f"At most {format_duration(maximum)} in flow {flow}."


def choose_a_duration(offered: Sequence[timedelta]) -> str:
    return "Choose one of: " + ", ".join(format_duration(d) for d in offered)


# -- on behalf of a teammate (README, "On behalf of a teammate") ---------------------------------


def on_behalf_not_offered(flow: str) -> str:
    return f"Access flow {flow} does not allow requesting for a teammate; leave For empty."


def cannot_request_for(user: str) -> str:
    return f"<@{user}> cannot be given access: not an active person in this workspace."


def teammate_not_a_grantee(*, user: str, flow: str) -> str:
    return f"<@{user}> is not a grantee of access flow {flow}, so you cannot request it for them."


BREAK_GLASS_ONLY_FOR_YOURSELF: Final = "Break-glass access is only for yourself; leave For empty."
