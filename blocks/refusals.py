"""Why a click on a request, a revoke or a report is refused: what the clicker is told.

Each refusal is also audited with a short detail of its own (app/core/outcomes.py); only these
words reach a person. ``blocks.simple.refused`` puts the ⛔ in front.
"""

from __future__ import annotations

from typing import Final

REQUEST_NOT_FOUND: Final = "That request does not exist."
BUTTON_OF_ANOTHER_REQUEST: Final = "That button does not belong to this request."
OWN_REQUEST: Final = "You cannot decide on your own request."
REQUEST_FOR_YOU: Final = "You cannot decide on a request made for you."
ONLY_REQUESTER_CANCELS: Final = "Only the requester can cancel a request."
REVOKE_NOT_ALLOWED: Final = (
    "Only the requester, an approver of its flow or an admin can revoke it"
    " (and the teammate it was requested for)."
)
REPORTS_FOR_ADMINS: Final = "Reports are for admins."


def not_an_approver(request_id: str) -> str:
    return f"You are not an approver of {request_id}."


def manager_named_since(request_id: str) -> str:
    """An approval refused: the clicker is the requester's manager only since the request was
    sent (a profile field changed), and the manager it was sent to must decide."""
    return (
        f"You became the requester's manager after {request_id} was sent, so you cannot "
        "decide on it. The manager it was sent to can."
    )


def bundle_changed_since(*, request_id: str, gone: int, sample: str) -> str:
    """An approval refused: ``gone`` objects of the request (``sample`` names a few) left its
    bundle since it was made."""
    return (
        f"The bundle changed after {request_id} was made: {gone:,} of its "
        f"objects are no longer in it ({sample}). Deny it, and the requester "
        "can request the current bundle again."
    )


def eligibility_unchecked(request_id: str) -> str:
    """An approval not decided: Slack did not answer whether the requester may still have it."""
    return (
        f"Could not check whether {request_id} may still be granted (Slack did not "
        "answer). Nothing was decided; try again in a minute."
    )


def denied_as_ineligible(*, request_id: str, reason: str) -> str:
    """An approval refused and the request denied; ``reason`` is a ``blocks.reasons`` clause."""
    return (
        f"{request_id} cannot be approved: {reason}. It was denied, and the requester was told why."
    )


def no_request_to_revoke(request_id: str) -> str:
    return f"There is no request {request_id} to revoke."
