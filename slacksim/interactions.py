"""Block Kit interactions: commands, Home tab events, clicks, typing, selecting, suggestions."""

from __future__ import annotations

from typing import Any

from . import blockkit, payloads
from .acting import Acting
from .blockkit import ElementRef, clone
from .limits import check_message, check_suggestions
from .methods import CallContext
from .methods.chat import post_ephemeral, post_message
from .models import Ack, ElementNotFoundError, SimulatorError
from .state import ResponseTarget

JSON = dict[str, Any]

_SINGLE_OPTION = frozenset({"static_select", "radio_buttons", "overflow"})
_MULTI_OPTION = frozenset({"multi_static_select", "checkboxes"})
_PLAIN_VALUE = frozenset(
    {
        "users_select",
        "conversations_select",
        "channels_select",
        "datepicker",
        "timepicker",
        "datetimepicker",
    }
)
_MULTI_VALUE = frozenset(
    {"multi_users_select", "multi_conversations_select", "multi_channels_select"}
)


class UserActions(Acting):
    """What a user does outside a modal's submit and close buttons."""

    _message_state: dict[tuple[str, str], dict[str, dict[str, JSON]]]

    # --- commands and events ----------------------------------------------------------------

    def slash_command(
        self,
        user_id: str,
        *,
        command: str = "/apono",
        text: str = "",
        channel_id: str | None = None,
        timeout: float | None = None,
    ) -> Ack:
        """Type a slash command (in the user's DM with the app unless channel_id says otherwise)."""
        state = self._state
        user = self._actor(user_id)
        with state.lock:
            channel = channel_id or state.messages.dm_for(user_id)
            name = state.channel_name(channel)
        response_url = state.new_response_url(ResponseTarget(channel, user_id, None))
        payload = payloads.slash_command(
            state.workspace,
            user,
            command=command,
            text=text,
            channel_id=channel,
            channel_name=name,
            response_url=response_url,
            trigger_id=state.new_trigger(user_id),
        )
        ack = self._deliver("slash_commands", payload, timeout)
        self._apply_command_ack(ack, channel=channel, user_id=user_id)
        return ack

    def _apply_command_ack(self, ack: Ack, *, channel: str, user_id: str) -> None:
        body = ack.payload or {}
        text, blocks = body.get("text"), body.get("blocks")
        if not text and not blocks:
            return
        if self._violate(
            "slash_commands ack", check_message(text=text, blocks=blocks), raise_now=True
        ):
            return
        ctx = CallContext("slash_commands ack", ack.acked_at)
        with self._state.lock:
            if body.get("response_type") == "in_channel":
                post_message(
                    self._state,
                    ctx,
                    channel=channel,
                    text=str(text or ""),
                    blocks=list(blocks or []),
                )
            else:
                post_ephemeral(
                    self._state,
                    ctx,
                    channel=channel,
                    user_id=user_id,
                    text=str(text or ""),
                    blocks=list(blocks or []),
                )

    def open_home(self, user_id: str, *, timeout: float | None = None) -> Ack:
        """Open the app's Home tab: an `app_home_opened` event."""
        state = self._state
        user = self._actor(user_id)
        with state.lock:
            channel = state.messages.dm_for(user_id)
            home = state.views.home(user_id)
            view = self._view_json(home) if home is not None else None
        payload = payloads.app_home_opened(
            state.workspace, user, channel_id=channel, view=view, event_id=state.ids.next("Ev", 10)
        )
        return self._deliver("events_api", payload, timeout)

    # --- block actions ----------------------------------------------------------------------

    def click(
        self,
        user_id: str,
        *,
        action_id: str,
        view_id: str | None = None,
        message: tuple[str, str] | None = None,
        block_id: str | None = None,
        value: str | None = None,
        timeout: float | None = None,
    ) -> Ack:
        """Click a button (or pick `value` from an overflow menu) in a view or a message."""
        if (view_id is None) == (message is None):
            raise SimulatorError("click needs exactly one of view_id= or message=(channel, ts)")
        self._actor(user_id)
        with self._state.lock:
            blocks, where = self._surface_blocks(user_id, view_id, message)
            ref = self._element(
                blocks, action_id=action_id, block_id=block_id, value=value, where=where
            )
            if ref.type == "overflow":
                if value is None:
                    raise SimulatorError("an overflow menu needs value= to pick an option")
                action = _value_action(ref, "selected_option", _option_by_value(ref, value))
            elif ref.type in {"button", "workflow_button"}:
                action = _button_action(ref)
            else:
                raise SimulatorError(f"{action_id!r} is a {ref.type}; use select() or type_text()")
        return self._send_block_action(user_id, view_id, message, action)

    def _surface_blocks(
        self, user_id: str, view_id: str | None, message: tuple[str, str] | None
    ) -> tuple[list[JSON], str]:
        if view_id is not None:
            return self._visible_view(user_id, view_id).blocks, f"view {view_id}"
        assert message is not None
        _, _, blocks = self._message_target(user_id, message)
        return blocks, f"message {message[1]} in {message[0]}"

    def _send_block_action(
        self,
        user_id: str,
        view_id: str | None,
        message: tuple[str, str] | None,
        action: JSON,
        timeout: float | None = None,
    ) -> Ack:
        state = self._state
        user = self._actor(user_id)
        trigger_id = state.new_trigger(user_id)
        with state.lock:
            if view_id is not None:
                record = self._visible_view(user_id, view_id)
                payload = payloads.block_actions_in_view(
                    state.workspace,
                    user,
                    view=self._view_json(record),
                    actions=[action],
                    trigger_id=trigger_id,
                )
            else:
                assert message is not None
                channel_id, message_json, _ = self._message_target(user_id, message)
                payload = payloads.block_actions_in_message(
                    state.workspace,
                    user,
                    channel_id=channel_id,
                    channel_name=state.channel_name(channel_id),
                    message=message_json,
                    state_values=clone(self._message_state.get((channel_id, message[1]), {})),
                    actions=[action],
                    trigger_id=trigger_id,
                    response_url=state.new_response_url(
                        ResponseTarget(channel_id, user_id, message[1])
                    ),
                )
        return self._deliver("interactive", payload, timeout)

    def type_text(
        self,
        user_id: str,
        *,
        view_id: str,
        action_id: str,
        text: str,
        block_id: str | None = None,
        timeout: float | None = None,
    ) -> Ack | None:
        """Type into a text input; an Ack only when the input dispatches block_actions."""
        self._actor(user_id)
        with self._state.lock:
            record = self._visible_view(user_id, view_id)
            ref = self._element(
                record.blocks,
                action_id=action_id,
                block_id=block_id,
                value=None,
                where=f"view {view_id}",
            )
            if ref.type not in blockkit.TEXT_INPUT_TYPES:
                raise SimulatorError(f"{action_id!r} is a {ref.type}, not a text input")
            record.set_value(ref.block_id, ref.action_id, {"type": ref.type, "value": text})
            action = _value_action(ref, "value", text)
        if not ref.dispatches_action:
            return None
        return self._send_block_action(user_id, view_id, None, action, timeout)

    def select(
        self,
        user_id: str,
        *,
        action_id: str,
        view_id: str | None = None,
        message: tuple[str, str] | None = None,
        block_id: str | None = None,
        value: str | None = None,
        values: list[str] | None = None,
        option: JSON | None = None,
        options: list[JSON] | None = None,
        timeout: float | None = None,
    ) -> Ack | None:
        """Choose in a select, radio group, checkboxes, date/time picker or overflow menu.

        Static options are looked up by `value`/`values`; external selects take `option`/`options`
        as returned by suggest(). Returns the Ack when Slack would send block_actions (the element
        sits outside an input block, or the input has dispatch_action), otherwise None.
        """
        if (view_id is None) == (message is None):
            raise SimulatorError("select needs exactly one of view_id= or message=(channel, ts)")
        self._actor(user_id)
        with self._state.lock:
            blocks, where = self._surface_blocks(user_id, view_id, message)
            ref = self._element(
                blocks, action_id=action_id, block_id=block_id, value=None, where=where
            )
            key, chosen = _choice(ref, value=value, values=values, option=option, options=options)
            if ref.type != "overflow":
                entry = {"type": ref.type, key: chosen}
                if view_id is not None:
                    self._visible_view(user_id, view_id).set_value(
                        ref.block_id, ref.action_id, entry
                    )
                else:
                    assert message is not None
                    channel_id = self._state.lookup_channel(message[0]) or message[0]
                    values_by_block = self._message_state.setdefault((channel_id, message[1]), {})
                    values_by_block.setdefault(ref.block_id, {})[ref.action_id] = entry
            action = _value_action(ref, key, chosen)
        if not ref.dispatches_action:
            return None
        return self._send_block_action(user_id, view_id, message, action, timeout)

    def suggest(
        self,
        user_id: str,
        *,
        view_id: str,
        action_id: str,
        query: str,
        block_id: str | None = None,
        timeout: float | None = None,
    ) -> list[JSON]:
        """Type `query` into an external select; returns the options the app answered, flattened."""
        state = self._state
        user = self._actor(user_id)
        with state.lock:
            record = self._visible_view(user_id, view_id)
            ref = self._element(
                record.blocks,
                action_id=action_id,
                block_id=block_id,
                value=None,
                where=f"view {view_id}",
            )
            if ref.type not in blockkit.EXTERNAL_TYPES:
                raise SimulatorError(f"{action_id!r} is a {ref.type}, not an external select")
            min_length = int(ref.element.get("min_query_length", 3))
            if len(query) < min_length:
                raise SimulatorError(
                    f"Slack sends no block_suggestion for {query!r} (min_query_length {min_length})"
                )
            payload = payloads.block_suggestion(
                state.workspace,
                user,
                view=self._view_json(record),
                action_id=ref.action_id,
                block_id=ref.block_id,
                value=query,
            )
        ack = self._deliver("interactive", payload, timeout)
        self._violate("block_suggestion", check_suggestions(ack.payload))
        body = ack.payload or {}
        flat = list(body.get("options") or [])
        for group in body.get("option_groups") or []:
            flat.extend(group.get("options") or [])
        return flat


# --- helpers ---------------------------------------------------------------------------------


def _button_action(ref: ElementRef) -> JSON:
    element = ref.element
    action: JSON = {
        "action_id": ref.action_id,
        "block_id": ref.block_id,
        "text": clone(element.get("text")),
        "type": ref.type,
        "action_ts": payloads.action_ts(),
    }
    for key in ("value", "style", "url"):
        if key in element:
            action[key] = element[key]
    return action


def _value_action(ref: ElementRef, key: str, value: Any) -> JSON:
    action: JSON = {
        "type": ref.type,
        "action_id": ref.action_id,
        "block_id": ref.block_id,
        key: clone(value),
        "action_ts": payloads.action_ts(),
    }
    if "placeholder" in ref.element:
        action["placeholder"] = clone(ref.element["placeholder"])
    return action


def _option_by_value(ref: ElementRef, value: str) -> JSON:
    for option in blockkit.options_of(ref.element):
        if option.get("value") == value:
            return {k: clone(v) for k, v in option.items() if k in {"text", "value", "description"}}
    shown = [o.get("value") for o in blockkit.options_of(ref.element)]
    raise ElementNotFoundError(f"{ref.action_id!r} has no option {value!r}; options: {shown}")


def _choice(
    ref: ElementRef,
    *,
    value: str | None,
    values: list[str] | None,
    option: JSON | None,
    options: list[JSON] | None,
) -> tuple[str, Any]:
    kind = ref.type
    if kind in _SINGLE_OPTION:
        if option is not None:
            return "selected_option", option
        if value is None:
            raise SimulatorError(f"{ref.action_id!r} ({kind}) needs value= or option=")
        return "selected_option", _option_by_value(ref, value)
    if kind in _MULTI_OPTION:
        if options is not None:
            return "selected_options", options
        return "selected_options", [_option_by_value(ref, v) for v in values or []]
    if kind == "external_select":
        if option is None:
            raise SimulatorError(
                "external selects need option= (one of the dicts suggest() returned)"
            )
        return "selected_option", option
    if kind == "multi_external_select":
        chosen = options if options is not None else ([option] if option is not None else None)
        if chosen is None:
            raise SimulatorError("multi external selects need options= (dicts suggest() returned)")
        return "selected_options", chosen
    key = blockkit.state_key(kind)
    if kind in _PLAIN_VALUE and key is not None:
        if value is None:
            raise SimulatorError(f"{ref.action_id!r} ({kind}) needs value=")
        return key, value
    if kind in _MULTI_VALUE and key is not None:
        return key, list(values or [])
    raise SimulatorError(f"{ref.action_id!r} is a {kind}; it cannot be selected")
