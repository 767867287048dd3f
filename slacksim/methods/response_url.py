"""What a POST to an interaction's response_url does (Bolt's respond())."""

from __future__ import annotations

from typing import Any

from ..limits import check_message
from ..state import ApiError, SlackState
from .chat import post_ephemeral, post_message
from .registry import CallContext, as_bool, as_json, refuse

JSON = dict[str, Any]


def handle_response_url(state: SlackState, token: str, body: JSON, ctx: CallContext) -> JSON:
    target = state.response_urls.get(token)
    if target is None:
        raise ApiError("invalid_response_url")
    text = body.get("text")
    blocks = as_json(body.get("blocks"), name="blocks")
    original = (
        state.messages.get(target.channel, target.message_ts)
        if target.message_ts is not None
        else None
    )
    if as_bool(body.get("delete_original")):
        if original is None:
            raise ApiError("message_not_found")
        original.deleted = True
        original.updated_at = ctx.at
        return {}
    refuse(state, ctx, check_message(text=text, blocks=blocks))
    text_str = str(text) if text is not None else ""
    if as_bool(body.get("replace_original")) and original is not None:
        state.messages.update(original, text=text_str, blocks=list(blocks or []), at=ctx.at)
        state.recorder.note(
            ctx.at, f"{state.channel_label(original.channel)} (replaced): {text_str}"
        )
        return {}
    if body.get("response_type") == "in_channel":
        post_message(state, ctx, channel=target.channel, text=text_str, blocks=list(blocks or []))
    else:
        post_ephemeral(
            state,
            ctx,
            channel=target.channel,
            user_id=target.user_id,
            text=text_str,
            blocks=list(blocks or []),
        )
    return {}
