"""The one shared, lock-guarded state that Web API threads and the test thread both touch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .ids import IdFactory
from .limits import TRIGGER_TTL
from .messages import MessageStore
from .recorder import Recorder
from .views import ViewStore
from .workspace import Workspace

JSON = dict[str, Any]


class ApiError(Exception):
    """A Slack error answer: {"ok": false, "error": <error>, ...extra}."""

    def __init__(self, error: str, *, extra: JSON | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra or {}


def _no_socket_server() -> str:
    raise ApiError("internal_error")


@dataclass(frozen=True, slots=True)
class ResponseTarget:
    """Where a response_url posts: the interaction's channel, user and (for messages) ts."""

    channel: str
    user_id: str
    message_ts: str | None


@dataclass(slots=True)
class Trigger:
    user_id: str
    created_at: float
    used: bool = False


class SlackState:
    def __init__(
        self,
        *,
        workspace: Workspace,
        bot_token: str,
        app_token: str,
        recorder: Recorder,
        trigger_ttl: float = TRIGGER_TTL,
        unique_action_ids: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.workspace = workspace
        self.bot_token = bot_token
        self.app_token = app_token
        self.recorder = recorder
        self.trigger_ttl = trigger_ttl
        self.unique_action_ids = unique_action_ids
        self.ids = IdFactory()
        self.views = ViewStore(self.ids)
        self.messages = MessageStore(self.ids)
        self._triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseTarget] = {}
        # Filled in by the simulator once its servers listen.
        self.base_url = ""
        self.socket_url_factory: Callable[[], str] = _no_socket_server

    # --- triggers ---------------------------------------------------------------------------

    def new_trigger(self, user_id: str) -> str:
        trigger_id = self.ids.trigger_id()
        with self.lock:
            self._triggers[trigger_id] = Trigger(user_id, time.perf_counter())
        return trigger_id

    def consume_trigger(self, trigger_id: Any) -> Trigger:
        """Slack lets a trigger_id open one view, within 3 seconds of the interaction."""
        trigger = self._triggers.get(trigger_id) if isinstance(trigger_id, str) else None
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.used or time.perf_counter() - trigger.created_at > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        trigger.used = True
        return trigger

    def age_triggers(self, seconds: float) -> None:
        """Make every trigger look older, so tests check staleness without sleeping."""
        with self.lock:
            for trigger in self._triggers.values():
                trigger.created_at -= seconds

    def new_response_url(self, target: ResponseTarget) -> str:
        token = self.ids.next("R", 10)
        with self.lock:
            self.response_urls[token] = target
        return f"{self.base_url}/response/{token}"

    # --- channels ---------------------------------------------------------------------------

    def resolve_channel(self, channel: Any, *, allow_user: bool = True) -> str:
        """A channel ID, DM ID, channel name or user ID (= that user's DM with the bot) to an ID."""
        if not isinstance(channel, str) or not channel:
            raise ApiError("channel_not_found")
        ws = self.workspace
        if ws.channel(channel) is not None:
            return channel
        dm_user = self.messages.dm_user(channel)
        if dm_user is not None:
            found = ws.user(dm_user)
            if found is not None and found.deleted:
                raise ApiError("is_archived")
            return channel
        user = ws.user(channel) if allow_user else None
        if user is not None:
            if user.deleted:
                raise ApiError("is_archived")  # a deactivated user's DM is archived
            return self.messages.dm_for(channel)
        by_name = ws.channel_by_name(channel)
        if by_name is not None:
            return by_name.id
        raise ApiError("channel_not_found")

    def lookup_channel(self, channel_or_user: str) -> str | None:
        """For reads by tests: like resolve_channel, never failing, never creating anything."""
        with self.lock:
            if self.workspace.user(channel_or_user) is not None:
                return self.messages.existing_dm(channel_or_user)
            named = self.workspace.channel_by_name(channel_or_user)
            if self.workspace.channel(channel_or_user) is None and named is not None:
                return named.id
            return channel_or_user

    def channel_label(self, channel_id: str) -> str:
        user_id = self.messages.dm_user(channel_id)
        if user_id is not None:
            return f"DM to {self.workspace.display_name_of(user_id)}"
        channel = self.workspace.channel(channel_id)
        return f"#{channel.name}" if channel is not None else channel_id

    def channel_name(self, channel_id: str) -> str:
        if self.messages.dm_user(channel_id) is not None:
            return "directmessage"
        channel = self.workspace.channel(channel_id)
        return channel.name if channel is not None else channel_id
