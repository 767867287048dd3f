"""What Slack sends, parsed once into small typed values: listeners read these, never ``body[...]``.

One parser per payload type: :class:`Click` (``block_actions``), :class:`Submission`
(``view_submission``), :class:`Suggestion` (``block_suggestion``), :class:`Command` (a slash
command) and :class:`HomeOpened` (the ``app_home_opened`` event). Each takes the body Bolt hands
a listener and keeps only what the bot reads. Anything missing or of the wrong type parses as
empty (``None``, ``""``); only a body without the user it comes from is refused, with
:class:`MalformedPayload`, since nothing can be answered without knowing whom to answer.

Sizes are bounded too, by what Slack itself ever sends (docs/architecture.md, "Slack's limits").
A name (``action_id``, ``block_id``, ``callback_id``) longer than Slack allows is forged and
parses as absent (a user ID too long, as :class:`MalformedPayload`). A value (an option's, a
button's, ``private_metadata``, a text input, a command's text) is cut to one character over its
limit: still present, so a forged value is refused by the check of its meaning rather than
replaced by a default, but a megabyte never travels further. A view's state is read from its
first :data:`~blocks.limits.VIEW_BLOCKS` blocks only.

The meaning of values (request IDs, draft keys, which action is which) is the listeners' and
``blocks/``'s business; this module knows Slack's shapes only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Final

from blocks.limits import PRIVATE_METADATA, SLACK_OPTION_VALUE, VIEW_BLOCKS
from domain.ids import UserId

JSON = Mapping[str, Any]

MAX_ID: Final = 255
"""Slack's longest ``action_id``, ``block_id``, ``callback_id``; no Slack ID is longer either."""
MAX_USER_ID: Final = 32
MAX_BUTTON_VALUE: Final = 2_000
MAX_TEXT_INPUT: Final = 3_000
"""A plain-text input's longest value."""
MAX_COMMAND_TEXT: Final = 4_000
MAX_QUERY: Final = 256


class MalformedPayload(ValueError):
    """A body that lacks what every payload of its type carries (the user it comes from)."""


def _dict(value: object) -> JSON:
    return value if isinstance(value, Mapping) else {}


def _str(value: object, limit: int = MAX_ID) -> str | None:
    """A string Slack could have sent, or ``None`` (missing, another type, or forged: too long)."""
    return value if isinstance(value, str) and len(value) <= limit else None


def _text(value: object, limit: int) -> str | None:
    """A value, cut to one character over ``limit`` so that a check of it still refuses it."""
    return value[: limit + 1] if isinstance(value, str) else None


def _user(user_id: object) -> UserId:
    if not isinstance(user_id, str) or not user_id or len(user_id) > MAX_USER_ID:
        raise MalformedPayload("the payload names no user")
    return UserId(user_id)


def _option_value(option: object) -> str | None:
    return _text(option.get("value"), SLACK_OPTION_VALUE) if isinstance(option, Mapping) else None


@dataclass(frozen=True, slots=True)
class Action:
    """One element's action in a ``block_actions`` payload."""

    action_id: str = ""
    block_id: str | None = None
    value: str | None = None
    """A button's value."""
    selected: str | None = None
    """The value of the option picked in a menu, radio buttons or an overflow menu."""
    selected_user: str | None = None
    """The user picked in a users menu."""

    @property
    def choice(self) -> str:
        """The picked option's value, or else the button's value, or ``""``."""
        if self.selected is not None:
            return self.selected
        return self.value or ""

    @classmethod
    def from_dict(cls, raw: object) -> Action:
        action = _dict(raw)
        return cls(
            action_id=_str(action.get("action_id")) or "",
            block_id=_str(action.get("block_id")),
            value=_text(action.get("value"), MAX_BUTTON_VALUE),
            selected=_option_value(action.get("selected_option")),
            selected_user=_str(action.get("selected_user"), MAX_USER_ID),
        )


@dataclass(frozen=True, slots=True)
class StateEntry:
    """What one input holds in a view's state."""

    value: str | None = None
    """A text input's value."""
    selected: str | None = None
    """A menu's picked option value."""


@dataclass(frozen=True, slots=True)
class ViewPayload:
    """A modal or Home tab as Slack sends it back: where it is, what it carries, what it holds."""

    id: str = ""
    hash: str | None = None
    type: str | None = None
    callback_id: str | None = None
    private_metadata: str | None = None
    state: Mapping[str, StateEntry] = field(default_factory=dict)
    """The inputs' state, by action ID (whichever block holds the element)."""
    input_block_ids: tuple[str, ...] = ()
    """The block IDs of the view's input blocks, in order (errors attach to these only)."""

    @property
    def in_modal(self) -> bool:
        return self.type == "modal"

    @property
    def is_home(self) -> bool:
        return self.type == "home"

    def text(self, action_id: str) -> str | None:
        entry = self.state.get(action_id)
        return entry.value if entry else None

    def selected(self, action_id: str) -> str | None:
        entry = self.state.get(action_id)
        return entry.selected if entry else None

    @classmethod
    def from_dict(cls, raw: object) -> ViewPayload:
        view = _dict(raw)
        state: dict[str, StateEntry] = {}
        values = _dict(_dict(view.get("state")).get("values"))
        for block in islice(values.values(), VIEW_BLOCKS):
            for action_id, entry in _dict(block).items():
                if action_id in state or not isinstance(entry, Mapping):
                    continue  # the first block that holds an action ID wins
                if not isinstance(action_id, str) or len(action_id) > MAX_ID:
                    continue
                state[action_id] = StateEntry(
                    value=_text(entry.get("value"), MAX_TEXT_INPUT),
                    # A users_select holds its pick as selected_user, not as an option.
                    selected=_option_value(entry.get("selected_option"))
                    or _str(entry.get("selected_user"), MAX_USER_ID),
                )
        blocks = view.get("blocks")
        inputs = tuple(
            b["block_id"]
            for b in islice(blocks if isinstance(blocks, list) else [], VIEW_BLOCKS)
            if isinstance(b, Mapping)
            and b.get("type") == "input"
            and _str(b.get("block_id")) is not None
        )
        return cls(
            id=_str(view.get("id")) or "",
            hash=_str(view.get("hash")),
            type=_str(view.get("type")),
            callback_id=_str(view.get("callback_id")),
            private_metadata=_text(view.get("private_metadata"), PRIVATE_METADATA),
            state=state,
            input_block_ids=inputs,
        )

    @classmethod
    def optional(cls, raw: object) -> ViewPayload | None:
        return cls.from_dict(raw) if isinstance(raw, Mapping) else None


@dataclass(frozen=True, slots=True)
class Click:
    """A ``block_actions`` payload: a button, menu or overflow in a view or a message."""

    user: UserId
    action: Action
    """The first action (Slack sends one per click)."""
    trigger_id: str | None = None
    view: ViewPayload | None = None
    """The view clicked in; ``None`` for a click in a message."""
    channel: str | None = None
    """The channel of the message clicked in."""
    message_ts: str | None = None

    @property
    def reply_channel(self) -> str:
        """Where a private answer goes: the message's channel, or else the clicker's DM."""
        return self.channel or self.user

    @property
    def in_modal(self) -> bool:
        return self.view is not None and self.view.in_modal

    @property
    def from_home(self) -> bool:
        return self.view is not None and self.view.is_home

    @classmethod
    def from_body(cls, body: JSON) -> Click:
        actions = body.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else None
        message = _dict(body.get("message"))
        container = _dict(body.get("container"))
        return cls(
            user=_user(_dict(body.get("user")).get("id")),
            action=Action.from_dict(first),
            trigger_id=_str(body.get("trigger_id")),
            view=ViewPayload.optional(body.get("view")),
            channel=_str(_dict(body.get("channel")).get("id")),
            message_ts=_str(message.get("ts")) or _str(container.get("message_ts")),
        )


@dataclass(frozen=True, slots=True)
class Submission:
    """A ``view_submission`` payload: a modal's submit button."""

    user: UserId
    view: ViewPayload
    trigger_id: str | None = None

    @classmethod
    def from_body(cls, body: JSON) -> Submission:
        return cls(
            user=_user(_dict(body.get("user")).get("id")),
            view=ViewPayload.from_dict(body.get("view")),
            trigger_id=_str(body.get("trigger_id")),
        )


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A ``block_suggestion`` payload: what was typed into an external menu."""

    user: UserId
    action_id: str
    query: str
    view: ViewPayload | None = None

    @classmethod
    def from_body(cls, body: JSON) -> Suggestion:
        value = body.get("value", "")
        query = value if isinstance(value, str) else str(value) if isinstance(value, int) else ""
        return cls(
            user=_user(_dict(body.get("user")).get("id")),
            action_id=_str(body.get("action_id")) or "",
            query=query[:MAX_QUERY],
            view=ViewPayload.optional(body.get("view")),
        )


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command: its sender, its text and the trigger to open a modal with."""

    user: UserId
    text: str
    trigger_id: str | None = None
    channel: str | None = None

    @classmethod
    def from_body(cls, body: JSON) -> Command:
        return cls(
            user=_user(body.get("user_id")),
            text=_text(body.get("text"), MAX_COMMAND_TEXT) or "",
            trigger_id=_str(body.get("trigger_id")),
            channel=_str(body.get("channel_id")),
        )


@dataclass(frozen=True, slots=True)
class HomeOpened:
    """The ``app_home_opened`` event: who opened which tab."""

    user: UserId
    tab: str

    @classmethod
    def from_event(cls, event: JSON) -> HomeOpened:
        return cls(user=_user(event.get("user")), tab=_str(event.get("tab")) or "home")
