"""The simulated workspace: users, user groups and channels, changeable while a test runs."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

JSON = dict[str, Any]

BOT_USER_ID = "U0SIMBOT"
BOT_ID = "B0SIMBOT"
APP_ID = "A0SIM"
# Fake tokens: the simulator accepts exactly these unless told others.
DEFAULT_BOT_TOKEN = "xoxb-sim-token"  # noqa: S105
DEFAULT_APP_TOKEN = "xapp-sim-token"  # noqa: S105


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    real_name: str = ""
    email: str = ""
    tz: str = "UTC"
    tz_offset: int = 0
    deleted: bool = False
    is_bot: bool = False
    display_name: str = ""
    title: str = ""
    profile_fields: dict[str, str] = field(default_factory=dict)  # label -> value
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class UserGroup:
    id: str
    handle: str
    name: str = ""
    users: list[str] = field(default_factory=list)
    description: str = ""


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    is_private: bool = False
    bot_is_member: bool = True


class Workspace:
    """Thread-safe: Web API threads read it while a test changes it."""

    def __init__(
        self,
        *,
        team_id: str = "T0SIM",
        team_name: str = "Simulated Workspace",
        domain: str = "sim",
        users: Iterable[User] = (),
        groups: Iterable[UserGroup] = (),
        channels: Iterable[Channel] = (),
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        app_id: str = APP_ID,
        bot_name: str = "jit-access",
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.domain = domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self._lock = threading.RLock()
        self._users: dict[str, User] = {}
        self._groups: dict[str, UserGroup] = {}
        self._channels: dict[str, Channel] = {}
        self._field_ids: dict[str, str] = {}
        for user in users:
            self.add_user(user)
        for group in groups:
            self.add_group(group)
        for channel in channels:
            self.add_channel(channel)

    # --- changes --------------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        with self._lock:
            self._users[user.id] = user
            for label in user.profile_fields:
                self._field_ids.setdefault(label, f"Xf{len(self._field_ids) + 1:08d}")

    def update_user(self, user_id: str, **changes: Any) -> User:
        with self._lock:
            updated = replace(self.require_user(user_id), **changes)
            self.add_user(updated)
            return updated

    def deactivate_user(self, user_id: str) -> None:
        self.update_user(user_id, deleted=True)

    def add_group(self, group: UserGroup) -> None:
        with self._lock:
            self._groups[group.id] = replace(group, users=list(group.users))

    def set_group_members(self, group_id: str, users: Iterable[str]) -> None:
        with self._lock:
            group = self._groups[group_id]
            self._groups[group_id] = replace(group, users=list(users))

    def add_channel(self, channel: Channel) -> None:
        with self._lock:
            self._channels[channel.id] = channel

    # --- reads ----------------------------------------------------------------------------

    @property
    def users(self) -> list[User]:
        with self._lock:
            return list(self._users.values())

    @property
    def groups(self) -> list[UserGroup]:
        with self._lock:
            return list(self._groups.values())

    @property
    def channels(self) -> list[Channel]:
        with self._lock:
            return list(self._channels.values())

    def user(self, user_id: str) -> User | None:
        with self._lock:
            return self._users.get(user_id)

    def require_user(self, user_id: str) -> User:
        user = self.user(user_id)
        if user is None:
            raise KeyError(f"no user {user_id!r} in the simulated workspace")
        return user

    def user_by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        with self._lock:
            return next((u for u in self._users.values() if u.email.lower() == wanted), None)

    def group(self, group_id: str) -> UserGroup | None:
        with self._lock:
            return self._groups.get(group_id)

    def channel(self, channel_id: str) -> Channel | None:
        with self._lock:
            return self._channels.get(channel_id)

    def channel_by_name(self, name: str) -> Channel | None:
        wanted = name.lstrip("#")
        with self._lock:
            return next((c for c in self._channels.values() if c.name == wanted), None)

    def field_id(self, label: str) -> str | None:
        with self._lock:
            return self._field_ids.get(label)

    def field_labels(self) -> dict[str, str]:
        """Custom profile field id -> label, as team.profile.get lists them."""
        with self._lock:
            return {fid: label for label, fid in self._field_ids.items()}

    def display_name_of(self, user_id: str) -> str:
        user = self.user(user_id)
        if user is None:
            return user_id
        return user.real_name or user.display_name or user.name


def demo_workspace() -> Workspace:
    """A small workspace for demos and tests: two engineers, a manager, a bot, an audit channel."""
    return Workspace(
        users=[
            User(
                id="U0ALICE",
                name="alice",
                real_name="Alice Doe",
                email="alice@example.com",
                tz="Europe/Paris",
                tz_offset=3600,
                profile_fields={"Manager": "U0BOB"},
            ),
            User(
                id="U0BOB",
                name="bob",
                real_name="Bob Roe",
                email="bob@example.com",
                tz="America/New_York",
                tz_offset=-18000,
            ),
            User(
                id="U0CAROL",
                name="carol",
                real_name="Carol Poe",
                email="carol@example.com",
                profile_fields={"Manager": "U0BOB"},
            ),
        ],
        groups=[
            UserGroup(id="S0ONCALL", handle="oncall", name="On-call", users=["U0CAROL"]),
            UserGroup(id="S0DEVS", handle="developers", name="Developers", users=["U0ALICE"]),
        ],
        channels=[Channel(id="C0AUDIT", name="access-audit")],
    )
