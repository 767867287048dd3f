"""Approval steps in words, for the request modal's flow line and the admins' flow list
(README, "Approval steps")."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from domain.approval_steps import quorum_text
from domain.policy import Approvers


def quorum_words(step: Approvers) -> str:
    """``any of``, ``all of`` or ``2 of``."""
    return f"{quorum_text(step.quorum)} of"


def step_words(step: Approvers, *, manager: str, who: Callable[[str], str]) -> str:
    """``2 of: the owners, @dba`` or, for quorum any, just the approvers."""
    parts = [manager] if step.manager else []
    if step.owners:
        parts.append("the owners")
    parts += [who(u) for u in step.users]
    parts += [g if g.startswith("@") else f"@{g}" for g in step.groups]
    listed = ", ".join(parts) or "nobody"
    return listed if step.quorum == "any" else f"{quorum_words(step)}: {listed}"


def steps_words(steps: Sequence[Approvers], *, manager: str, who: Callable[[str], str]) -> str:
    """One step as :func:`step_words`; several as ``1. … → 2. …``."""
    if len(steps) == 1:
        return step_words(steps[0], manager=manager, who=who)
    return " → ".join(
        f"{i}. {step_words(s, manager=manager, who=who)}" for i, s in enumerate(steps, start=1)
    )
