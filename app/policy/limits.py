"""Limits the policy model cannot state: a bundle no request could hold, a duration above the
``MAX_ACCESS_DURATION`` setting.

A request holds at most :data:`~domain.objects.MAX_OBJECTS_PER_REQUEST` access objects
(docs/architecture.md, "Vocabulary" and "Slack's limits"), and Bundle Mode adds a bundle whole, so
a bigger bundle can be offered but never requested. It is a warning, not an error: the bot runs
and refuses such a request with a clear reason, and a bundle an admin grew in Slack must still
export and import.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from app.policy.validation import Issue
from domain.durations import format_duration
from domain.objects import MAX_OBJECTS_PER_REQUEST
from domain.policy import Policy
from domain.policy_checks import PolicyPath, Problem


def limit_issues(data: Any) -> Iterator[Issue]:
    """Issues about sizes, with paths from the top of the file; runs on the data as written."""
    bundles = data.get("bundles") if isinstance(data, dict) else None
    if not isinstance(bundles, list):
        return
    for index, bundle in enumerate(bundles):
        objects = bundle.get("objects") if isinstance(bundle, dict) else None
        if not isinstance(objects, list) or len(objects) <= MAX_OBJECTS_PER_REQUEST:
            continue
        name = bundle.get("name")
        called = f"bundle {name!r}" if isinstance(name, str) else f"bundles[{index}]"
        yield Issue(
            path=("bundles", index, "objects"),
            code="bundle-too-large",
            message=f"{called} holds {len(objects):,} objects, but a request holds at most "
            f"{MAX_OBJECTS_PER_REQUEST:,}, so it can never be requested whole",
            hint=f"split it into bundles of at most {MAX_OBJECTS_PER_REQUEST:,} objects",
            at_key=True,
            severity="warning",
        )


def duration_cap_problems(policy: Policy, *, cap: timedelta) -> Iterator[Problem]:
    """Every duration of ``policy`` above ``cap`` (the ``MAX_ACCESS_DURATION`` setting): the
    bot never grants, waits or reminds for longer, whatever a file says (README, "Settings")."""
    ceiling = format_duration(cap)
    hint = f"at most {ceiling} (MAX_ACCESS_DURATION), or raise that setting"
    for index, flow in enumerate(policy.access_flows):
        path: PolicyPath = ("access_flows", index)
        named: list[tuple[PolicyPath, str, timedelta]] = [
            ((*path, "duration", "max"), "max", flow.duration.max),
            ((*path, "duration", "default"), "default", flow.duration.default),
            *(
                ((*path, "duration", "choices", n), "duration choice", choice)
                for n, choice in enumerate(flow.duration.choices)
            ),
            ((*path, "approval_timeout"), "approval_timeout", flow.approval_timeout),
        ]
        if flow.remind_after is not None:
            named.append(((*path, "remind_after"), "remind_after", flow.remind_after))
        if flow.break_glass is not None:
            where: PolicyPath = (*path, "break_glass", "max_duration")
            named.append((where, "break_glass max_duration", flow.break_glass.max_duration))
        for where, what, value in named:
            if value > cap:
                yield Problem(
                    path=where,
                    message=f"{what} {format_duration(value)} of access flow {flow.name!r} is "
                    f"above the longest duration allowed, {ceiling}",
                    hint=hint,
                    code="duration-above-cap",
                )
