"""The directory backed by Slack's Web API, with a short cache.

Eligibility is checked on every modal action and every submission, and each check may need a
user, their email and the members of several groups; a cache of a minute keeps that to zero Web
API calls in the common case while membership changes still apply within a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from domain.eligibility import normalise_group
from domain.ids import UserId
from domain.people import Person

DEFAULT_TTL_SECONDS: Final = 60.0
_log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A thread-safe memo with expiry; concurrent misses on one key may both load (harmless)."""

    def __init__(self, *, ttl: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._monotonic = monotonic
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        now = self._monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        with self._lock:
            self._entries[key] = (now + self._ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


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


class SlackDirectory:
    def __init__(self, *, client: WebClient, ttl: float = DEFAULT_TTL_SECONDS) -> None:
        self._client = client
        self._people: TtlCache[str, Person | None] = TtlCache(ttl=ttl)
        self._by_email: TtlCache[str, Person | None] = TtlCache(ttl=ttl)
        self._groups: TtlCache[str, dict[str, str]] = TtlCache(ttl=ttl)
        self._members: TtlCache[str, frozenset[UserId]] = TtlCache(ttl=ttl)
        self._fields: TtlCache[tuple[str, str], str | None] = TtlCache(ttl=ttl)

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

    def _group_index(self) -> dict[str, str]:
        """``@handle`` → ``S…`` ID for every user group of the workspace."""

        def load() -> dict[str, str]:
            groups = self._client.usergroups_list(include_disabled=False)["usergroups"]
            return {normalise_group(g["handle"]): g["id"] for g in groups}

        return self._groups.get("all", load)

    def group_id(self, group: str) -> str | None:
        key = normalise_group(group)
        if not key.startswith("@"):
            return key
        return self._group_index().get(key)

    def group_members(self, group: str) -> frozenset[UserId]:
        group_id = self.group_id(group)
        if group_id is None:
            _log.warning("unknown user group", extra={"group": group})
            return frozenset()
        return self._members.get(group_id, lambda: self._load_members(group_id))

    def _load_members(self, group_id: str) -> frozenset[UserId]:
        try:
            users = self._client.usergroups_users_list(usergroup=group_id)["users"]
        except SlackApiError as error:
            if error.response.get("error") in ("no_such_subteam", "subteam_not_found"):
                return frozenset()
            raise
        return frozenset(UserId(u) for u in users)

    def profile_field(self, user_id: UserId, label: str) -> str | None:
        return self._fields.get((user_id, label), lambda: self._load_field(user_id, label))

    def _load_field(self, user_id: UserId, label: str) -> str | None:
        profile = self._client.users_profile_get(user=user_id)["profile"]
        for field in (profile.get("fields") or {}).values():
            if str(field.get("label", "")).lower() == label.lower():
                value = field.get("value")
                return str(value) if value else None
        return None
