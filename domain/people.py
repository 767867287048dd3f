"""People as the directory describes them."""

from __future__ import annotations

from dataclasses import dataclass

from domain.ids import UserId


@dataclass(frozen=True, slots=True)
class Person:
    id: UserId
    name: str
    """Real name if Slack has one, else the handle."""
    email: str | None = None
    tz: str | None = None
    deleted: bool = False
    is_bot: bool = False

    @property
    def can_act(self) -> bool:
        """Deactivated users and bots are never asked to approve or counted as approvers."""
        return not (self.deleted or self.is_bot)
