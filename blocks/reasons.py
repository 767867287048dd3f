"""Clauses that say why: they are carried inside other sentences (a status message's reason,
"You are asked as …", "X cannot be approved: …"), so they start in lower case and end without a
full stop. The services pick which one applies; the words are here."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from domain.durations import format_duration

NO_APPROVER: Final = "no approver is available for this request (the requester cannot approve it)"
"""Why a submitted request failed at once: nobody but its requester could approve it."""

# -- why a request may no longer be granted (app/core/still_eligible.py) ------------------------


def flow_gone(flow: str) -> str:
    return f"the access flow {flow} no longer exists"


def flow_deactivated(flow: str) -> str:
    return f"the access flow {flow} was deactivated"


def no_longer_grantee(flow: str) -> str:
    return f"the requester is no longer a grantee of the access flow {flow}"


def teammate_no_longer_grantee(flow: str) -> str:
    return (
        f"the teammate it was asked for is no longer a grantee of the access flow {flow},"
        " or the flow no longer allows requesting for a teammate"
    )


def no_longer_on_call(flow: str) -> str:
    return f"the requester is no longer on call for the access flow {flow}"


def on_call_unreachable(flow: str) -> str:
    return f"the on-call service of the access flow {flow} could not be asked"


def duration_over_maximum(*, duration: timedelta, maximum: timedelta, flow: str) -> str:
    return (
        f"{format_duration(duration)} is longer than the "
        f"{format_duration(maximum)} the access flow {flow} now allows"
    )


def bundle_no_longer_offered(*, flow: str, bundle: str) -> str:
    return f"the access flow {flow} no longer offers the bundle {bundle}"


def holds_no_objects(request_id: str) -> str:
    return f"{request_id} holds no objects"


def objects_no_longer_offered(*, flow: str, count: int, example: str) -> str:
    return f"the access flow {flow} no longer offers {count:,} of its objects, e.g. {example}"


def bundle_changed_after_approval(*, bundle: str | None, gone: int, example: str) -> str:
    return (
        f"the bundle {bundle} changed after approval: {gone:,} of its "
        f"objects are no longer in it, e.g. {example}"
    )


# -- why an approver is asked (app/core/approvers.py; shown as "You are asked as …") -----------


def listed_approver(flow: str) -> str:
    return f"listed as an approver of flow {flow}"


def group_approver(*, group: str, flow: str) -> str:
    return f"member of {group}, approvers of flow {flow}"


def on_call_approver(*, reference: str, flow: str) -> str:
    return f"on call for {reference}, approvers of flow {flow}"


def manager_of(requester: str) -> str:
    return f"manager of {requester}"


def owner_of(what: str) -> str:
    """``what``: ``integration prod-db`` or ``bundle db-read``."""
    return f"owner of {what}"


def step_unreachable(*, step: int, steps: int) -> str:
    """Why a request failed: too few people could approve one of its steps."""
    return (
        f"step {step} of {steps} cannot reach its quorum: too few approvers are available "
        "(the requester and earlier steps' approvers do not count)"
    )


# -- why granting failed or access is not gone yet (granting, expiry, app/core/removal_alerts.py)


def granting_failed(*, integration: str, problem: str) -> str:
    return f"granting failed in {integration}: {problem}"


def credentials_undeliverable(*, integration: str, problem: str) -> str:
    """Why a request ended: its credentials never reached the requester (README, "Keys")."""
    return (
        f"your access details for {integration} could not be delivered, and new ones could not "
        f"be issued ({problem}); the access was removed, request it again if you still need it"
    )


def delivery_gave_up(attempts: int) -> str:
    return f"still not delivered after {attempts} attempts"


def not_configured(integration: str) -> str:
    return f"{integration} is not configured"


def no_longer_configured(integration: str) -> str:
    return (
        f"{integration} is no longer configured (removed from the policy?) "
        "but still holds this grant"
    )


def not_removed_yet(problems: str) -> str:
    """``problems``: ``<integration>: <error>; ...``."""
    return f"access could not be removed yet: {problems}"


# -- why the reconciler removed an account (app/revocation/reconciler.py) ----------------------


def request_unknown(request_id: str) -> str:
    return f"its request {request_id} is not in the bot's database"


def request_ended(*, request_id: str, status: str) -> str:
    return f"its request {request_id} is {status}"
