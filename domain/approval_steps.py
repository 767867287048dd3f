"""Approval steps and quorums, as pure rules (README, "Approval steps").

A flow's steps are decided in order; a step is done when its quorum of distinct approvers has
approved, and one deny in any step ends the request. The requester never counts, and a person
counts once: they are asked in the first step that names them and in no later one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from domain.ids import UserId

ANY: Final = "any"
ALL: Final = "all"


def quorum_text(quorum: str | int) -> str:
    """How a quorum is stored and shown: ``any``, ``all`` or a number such as ``2``."""
    return str(quorum)


def needed(quorum: str | int, *, pool: int) -> int:
    """How many approvals a step needs, given how many people it asks (``pool``).

    ``any`` needs one, ``all`` needs everyone asked, a number needs that many. A result above
    ``pool`` means the step can never pass (:func:`possible`)."""
    text = quorum_text(quorum)
    if text == ANY:
        return 1
    if text == ALL:
        return max(pool, 1)
    return int(text)


def possible(quorum: str | int, *, pool: int) -> bool:
    """Whether a step asking ``pool`` people can reach its quorum."""
    return pool > 0 and needed(quorum, pool=pool) <= pool


@dataclass(frozen=True, slots=True)
class StepApproval:
    """One approval counted in a step, with the approver's optional reason."""

    approver: UserId
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class StepProgress:
    """Where one step stands."""

    index: int
    """0-based; people read ``index + 1``."""
    quorum: str
    needed: int
    """0 while the step has not begun (its approvers are not known yet)."""
    approvals: tuple[StepApproval, ...] = ()
    started: bool = False
    done: bool = False

    @property
    def count(self) -> int:
        return len(self.approvals)


@dataclass(frozen=True, slots=True)
class ApprovalProgress:
    """Every step of one request, and which one is current."""

    steps: tuple[StepProgress, ...]
    current: int

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def multi(self) -> bool:
        """Whether there is anything to say beyond approved or not: several steps, or a step
        that needs more than one approval."""
        return self.total > 1 or any(s.needed > 1 for s in self.steps)

    def step(self, index: int) -> StepProgress | None:
        return self.steps[index] if 0 <= index < len(self.steps) else None

    @property
    def current_step(self) -> StepProgress | None:
        return self.step(self.current)


def outcome_of(*, needed_count: int, approvals: Sequence[UserId]) -> bool:
    """Whether distinct ``approvals`` reach ``needed_count`` (a person counts once)."""
    return len(set(approvals)) >= needed_count
