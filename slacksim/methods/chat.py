"""chat.postMessage, chat.update, chat.postEphemeral, chat.delete, chat.getPermalink."""

from __future__ import annotations

from typing import Any

from ..limits import check_message
from ..messages import MessageRecord
from ..models import Ephemeral
from ..state import ApiError, SlackState
from .registry import CallContext, as_json, method, note_blocks, optional_str, refuse, required

JSON = dict[str, Any]


def _content(state: SlackState, args: JSON, ctx: CallContext) -> tuple[str, list[JSON]]:
    text = args.get("text")
    blocks = as_json(args.get("blocks"), name="blocks")
    attachments = as_json(args.get("attachments"), name="attachments")
    if not text and not blocks and not attachments:
        raise ApiError("no_text")
    refuse(state, ctx, check_message(text=text, blocks=blocks))
    return (str(text) if text is not None else ""), list(blocks or [])


def _member_channel(state: SlackState, channel: str) -> None:
    found = state.workspace.channel(channel)
    if found is not None and not found.bot_is_member:
        raise ApiError("not_in_channel")


def _message_answer(state: SlackState, record: MessageRecord) -> JSON:
    ws = state.workspace
    return record.payload(team_id=ws.team_id, bot_id=ws.bot_id, app_id=ws.app_id)


def post_message(
    state: SlackState,
    ctx: CallContext,
    *,
    channel: str,
    text: str,
    blocks: list[JSON],
    thread_ts: str | None = None,
    metadata: JSON | None = None,
    files: tuple[str, ...] = (),
) -> MessageRecord:
    record = state.messages.post(
        channel=channel,
        text=text,
        blocks=blocks,
        thread_ts=thread_ts,
        at=ctx.at,
        user=state.workspace.bot_user_id,
        files=files,
        metadata=metadata,
    )
    thread = " (in thread)" if thread_ts else ""
    state.recorder.note(
        ctx.at, f"{state.channel_label(channel)}{thread}: {text}", note_blocks(text, blocks)
    )
    return record


@method("chat.postMessage")
def chat_post_message(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    channel = state.resolve_channel(required(args, "channel"))
    _member_channel(state, channel)
    text, blocks = _content(state, args, ctx)
    thread_ts = optional_str(args, "thread_ts")
    if thread_ts is not None and state.messages.get(channel, thread_ts) is None:
        raise ApiError("thread_not_found")
    metadata = as_json(args.get("metadata"), name="metadata")
    record = post_message(
        state,
        ctx,
        channel=channel,
        text=text,
        blocks=blocks,
        thread_ts=thread_ts,
        metadata=metadata if isinstance(metadata, dict) else None,
    )
    return {"channel": channel, "ts": record.ts, "message": _message_answer(state, record)}


def _existing(state: SlackState, args: JSON) -> MessageRecord:
    # chat.update and chat.delete need the real channel ID (a user ID is refused, as by Slack).
    channel = state.resolve_channel(required(args, "channel"), allow_user=False)
    record = state.messages.get(channel, str(required(args, "ts")))
    if record is None or record.deleted:
        raise ApiError("message_not_found")
    return record


@method("chat.update")
def chat_update(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    record = _existing(state, args)
    text = args.get("text")
    blocks = as_json(args.get("blocks"), name="blocks")
    refuse(state, ctx, check_message(text=text, blocks=blocks))
    state.messages.update(
        record,
        text=str(text) if text is not None else None,
        blocks=list(blocks) if blocks is not None else None,
        at=ctx.at,
    )
    state.recorder.note(
        ctx.at,
        f"{state.channel_label(record.channel)} (edited {record.ts}): {record.text}",
        note_blocks(record.text, record.blocks),
    )
    return {
        "channel": record.channel,
        "ts": record.ts,
        "text": record.text,
        "message": _message_answer(state, record),
    }


@method("chat.delete")
def chat_delete(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    record = _existing(state, args)
    record.deleted = True
    record.updated_at = ctx.at
    state.recorder.note(ctx.at, f"{state.channel_label(record.channel)} (deleted {record.ts})")
    return {"channel": record.channel, "ts": record.ts}


def post_ephemeral(
    state: SlackState,
    ctx: CallContext,
    *,
    channel: str,
    user_id: str,
    text: str,
    blocks: list[JSON],
) -> Ephemeral:
    ephemeral = Ephemeral(
        channel=channel, user=user_id, ts=state.ids.ts(), text=text, blocks=blocks, at=ctx.at
    )
    state.messages.add_ephemeral(ephemeral)
    who = state.workspace.display_name_of(user_id)
    where = state.channel_label(channel)
    state.recorder.note(ctx.at, f"Ephemeral to {who} in {where}: {text}", note_blocks(text, blocks))
    return ephemeral


@method("chat.postEphemeral")
def chat_post_ephemeral(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    user_id = str(required(args, "user"))
    user = state.workspace.user(user_id)
    if user is None:
        raise ApiError("user_not_found")
    channel = state.resolve_channel(required(args, "channel"))
    text, blocks = _content(state, args, ctx)
    ephemeral = post_ephemeral(
        state, ctx, channel=channel, user_id=user_id, text=text, blocks=blocks
    )
    return {"message_ts": ephemeral.ts}


@method("chat.getPermalink")
def chat_get_permalink(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    record = _existing(state, {"channel": args.get("channel"), "ts": args.get("message_ts")})
    ws = state.workspace
    link = f"https://{ws.domain}.slack.com/archives/{record.channel}/p{record.ts.replace('.', '')}"
    return {"channel": record.channel, "permalink": link}
