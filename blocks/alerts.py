"""Alerts for the audit channel and the admins: access that could not be removed, leftovers
the reconciler removed. Data in, message out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from blocks.simple import text_message
from blocks.text import date_token, escape, plural


def removal_failing_message(
    *, request_id: str, problem: str, since: datetime, attempts: int
) -> dict[str, Any]:
    return text_message(
        f"🚨 *Access of {request_id} could not be removed yet.* {escape(problem)}\n"
        f"Failing since {date_token(since)} ({plural(attempts, 'round')} of retries). "
        "The bot keeps trying; fix the integration's server or its admin login."
    )


def removal_recovered_message(*, request_id: str, since: datetime, attempts: int) -> dict[str, Any]:
    return text_message(
        f"✅ Access of {request_id} is removed now, after {plural(attempts, 'failed round')} "
        f"since {date_token(since)}."
    )


def credentials_lost_message(
    *, request_id: str, requester: str, integration: str, problem: str
) -> dict[str, Any]:
    return text_message(
        f"🚨 *{request_id} was revoked: its access details never reached <@{requester}>.* "
        f"Those for {escape(integration)} could not be delivered and could not be issued anew: "
        f"{escape(problem)}. Every grant of the request is being removed; check the credentials "
        "keys (README, 'Keys') and the integration."
    )


def reconciled_message(*, integration: str, account: str, why: str) -> dict[str, Any]:
    return text_message(
        f"🧹 Removed the leftover account `{escape(account)}` from {escape(integration)}: "
        f"{escape(why)}."
    )


def policy_conflict(*, kind: str, name: str) -> str:
    """A ``kind`` (bundle, flow) ``name`` edited both in the policy file and in Slack."""
    return (
        f"{kind} {name}: changed both in the policy file and in Slack; the Slack "
        "version was kept. Export it (python -m app policy export) to update the file, or "
        "import the file (python -m app policy import FILE) to replace it."
    )
