"""Who is an admin: the ``ADMINS`` setting and the policy's ``admins``, by ID or email."""

from __future__ import annotations

from collections.abc import Iterable

from app.core.ports import Directory
from domain.ids import UserId


class Admins:
    def __init__(self, *, entries: Iterable[str], directory: Directory) -> None:
        self._ids = {e for e in entries if "@" not in e}
        self._emails = {e.lower() for e in entries if "@" in e}
        self._directory = directory

    def user_ids(self) -> list[UserId]:
        """Every admin who can be messaged: IDs as given, emails looked up (unknown: skipped)."""
        found = [UserId(e) for e in sorted(self._ids)]
        for email in sorted(self._emails):
            person = self._directory.person_by_email(email)
            if person is not None and person.can_act:
                found.append(person.id)
        return list(dict.fromkeys(found))

    def is_admin(self, user: UserId) -> bool:
        if user in self._ids:
            return True
        if not self._emails:
            return False
        person = self._directory.person(user)
        return bool(
            person and person.can_act and person.email and person.email.lower() in self._emails
        )
