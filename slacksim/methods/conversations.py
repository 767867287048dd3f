"""conversations.open and conversations.info."""

from __future__ import annotations

from typing import Any

from ..state import ApiError, SlackState
from .registry import CallContext, as_bool, as_list, invalid_arguments, method, required

JSON = dict[str, Any]


@method("conversations.open")
def conversations_open(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    if args.get("channel"):
        existing = state.resolve_channel(args["channel"], allow_user=False)
        return {"channel": {"id": existing}, "no_op": True, "already_open": True}
    users = as_list(args.get("users"))
    if not users:
        raise ApiError("users_list_not_supplied")
    if len(users) > 1:
        raise invalid_arguments("the simulator opens one-to-one DMs only")
    user = state.workspace.user(users[0])
    if user is None:
        raise ApiError("user_not_found")
    if user.deleted:
        raise ApiError("user_disabled")
    already = state.messages.existing_dm(user.id) is not None
    channel_id = state.messages.dm_for(user.id)
    channel: JSON = {"id": channel_id}
    if as_bool(args.get("return_im")):
        channel.update(
            {"is_im": True, "user": user.id, "created": 1_700_000_000, "is_org_shared": False}
        )
    return {"channel": channel, "no_op": already, "already_open": already}


@method("conversations.info")
def conversations_info(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    channel_id = state.resolve_channel(required(args, "channel"), allow_user=False)
    dm_user = state.messages.dm_user(channel_id)
    if dm_user is not None:
        return {"channel": {"id": channel_id, "is_im": True, "user": dm_user, "is_channel": False}}
    channel = state.workspace.channel(channel_id)
    assert channel is not None
    return {
        "channel": {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not channel.is_private,
            "is_group": channel.is_private,
            "is_im": False,
            "is_private": channel.is_private,
            "is_member": channel.bot_is_member,
            "is_archived": False,
        }
    }
