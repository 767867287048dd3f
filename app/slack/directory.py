"""The directory backed by Slack's Web API, with a short cache.

Eligibility is checked on every modal action and every submission, and each check may need a
user, their email and the members of several groups; a cache of a minute keeps that to zero Web
API calls in the common case while membership changes still apply within a minute.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from app.core.cache import TtlCache
from domain.eligibility import normalise_group
from domain.ids import UserId
from domain.people import Person

DEFAULT_TTL_SECONDS: Final = 60.0
_log = logging.getLogger(__name__)


def _person(user: dict[str, Any]) -> Person:
    profile = user.get("profile") or {}
    name = profile.get("real_name") or user.get("real_name") or user.get("name") or user["id"]
    return Person(
        id=UserId(user["id"]),
        name=name,
        email=profile.get("email"),
        tz=user.get("tz"),
        deleted=bool(user.get("deleted")),
        is_bot=bool(user.get("is_bot")),
    )


@dataclass(frozen=True, slots=True)
class _Groups:
    ids: dict[str, str]
    """``@handle`` → ``S…`` ID."""
    members: dict[str, frozenset[UserId]]
    """``S…`` ID → members."""


class SlackDirectory:
    def __init__(self, *, client: WebClient, ttl: float = DEFAULT_TTL_SECONDS) -> None:
        self._client = client
        # Stale-while-revalidate: after a minute the old answer is still given at once while
        # one background call refreshes it, so no listener waits on the Web API for it.
        self._people: TtlCache[str, Person | None] = TtlCache(ttl=ttl, refresh_in_background=True)
        self._by_email: TtlCache[str, Person | None] = TtlCache(ttl=ttl, refresh_in_background=True)
        self._groups: TtlCache[str, _Groups] = TtlCache(ttl=ttl, refresh_in_background=True)
        self._fields: TtlCache[tuple[str, str], str | None] = TtlCache(
            ttl=ttl, refresh_in_background=True
        )

    def person(self, user_id: UserId) -> Person | None:
        return self._people.get(user_id, lambda: self._load_person(user_id))

    def _load_person(self, user_id: UserId) -> Person | None:
        try:
            return _person(self._client.users_info(user=user_id)["user"])
        except SlackApiError as error:
            if error.response.get("error") == "user_not_found":
                return None
            raise

    def person_by_email(self, email: str) -> Person | None:
        return self._by_email.get(email.lower(), lambda: self._load_by_email(email))

    def _load_by_email(self, email: str) -> Person | None:
        try:
            return _person(self._client.users_lookupByEmail(email=email)["user"])
        except SlackApiError as error:
            if error.response.get("error") == "users_not_found":
                return None
            raise

    def _all_groups(self) -> _Groups:
        """Every user group with its members, in one Web API call (not one per group)."""

        def load() -> _Groups:
            groups = self._client.usergroups_list(include_disabled=False, include_users=True)
            listed = groups["usergroups"]
            return _Groups(
                ids={normalise_group(g["handle"]): g["id"] for g in listed},
                members={
                    g["id"]: frozenset(UserId(u) for u in g.get("users") or []) for g in listed
                },
            )

        return self._groups.get("all", load)

    def group_id(self, group: str) -> str | None:
        key = normalise_group(group)
        if not key.startswith("@"):
            return key
        return self._all_groups().ids.get(key)

    def group_members(self, group: str, *, fresh: bool = False) -> frozenset[UserId]:
        group_id = self.group_id(group)
        if fresh and group_id:
            return self._members_now(group_id)
        members = self._all_groups().members.get(group_id) if group_id else None
        if members is None:
            _log.warning("unknown user group", extra={"group": group})
            return frozenset()
        return members

    def _members_now(self, group_id: str) -> frozenset[UserId]:
        """One ``usergroups.users.list`` call: the members as Slack has them at this moment."""
        try:
            users = self._client.usergroups_users_list(usergroup=group_id)["users"]
        except SlackApiError as error:
            if error.response.get("error") in {"no_such_subteam", "subteam_not_found"}:
                return frozenset()
            raise
        return frozenset(UserId(u) for u in users or [])

    def forget(self) -> None:
        """Drop every cached answer (tests; an admin's "refresh" later)."""
        for cache in (self._people, self._by_email, self._groups, self._fields):
            cache.clear()

    def profile_field(self, user_id: UserId, label: str, *, fresh: bool = False) -> str | None:
        if fresh:
            return self._load_field(user_id, label)
        return self._fields.get((user_id, label), lambda: self._load_field(user_id, label))

    def _load_field(self, user_id: UserId, label: str) -> str | None:
        profile = self._client.users_profile_get(user=user_id, include_labels=True)["profile"]
        for field in (profile.get("fields") or {}).values():
            if str(field.get("label", "")).lower() == label.lower():
                value = field.get("value")
                return str(value) if value else None
        return None
