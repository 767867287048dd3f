"""The two-step external upload files_upload_v2 uses, and the upload URL it posts bytes to."""

from __future__ import annotations

import mimetypes
import time
from typing import Any

from ..models import FileRecord
from ..state import ApiError, SlackState
from .chat import post_message
from .registry import (
    CallContext,
    as_json,
    as_list,
    invalid_arguments,
    method,
    optional_str,
    required,
)

JSON = dict[str, Any]


@method("files.getUploadURLExternal")
def files_get_upload_url_external(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    filename = str(required(args, "filename"))
    try:
        length = int(required(args, "length"))
    except (TypeError, ValueError):
        raise invalid_arguments("length must be an integer") from None
    upload = state.messages.start_upload(filename=filename, length=length)
    return {"upload_url": f"{state.base_url}/upload/v1/{upload.id}", "file_id": upload.id}


def receive_upload(state: SlackState, file_id: str, content: bytes) -> bool:
    with state.lock:
        return state.messages.receive_upload(file_id, content)


def _file_json(state: SlackState, record: FileRecord, channels: list[str]) -> JSON:
    mimetype = mimetypes.guess_type(record.name)[0] or "application/octet-stream"
    filetype = record.name.rsplit(".", 1)[-1].lower() if "." in record.name else "binary"
    now = int(time.time())
    return {
        "id": record.id,
        "created": now,
        "timestamp": now,
        "name": record.name,
        "title": record.title,
        "mimetype": mimetype,
        "filetype": filetype,
        "pretty_type": filetype.upper(),
        "user": state.workspace.bot_user_id,
        "user_team": state.workspace.team_id,
        "size": record.size,
        "mode": "hosted",
        "is_external": False,
        "is_public": any(c.startswith("C") for c in channels),
        "channels": [c for c in channels if c.startswith("C")],
        "ims": [c for c in channels if c.startswith("D")],
        "url_private": f"{state.base_url}/files/{record.id}/{record.name}",
    }


@method("files.completeUploadExternal")
def files_complete_upload_external(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    files = as_json(required(args, "files"), name="files")
    if not isinstance(files, list) or not files:
        raise invalid_arguments("files must be a non-empty array")
    channel_args = [
        c for c in [optional_str(args, "channel_id"), *as_list(args.get("channels"))] if c
    ]
    # As in Slack, a user ID is not a channel here: open the DM first (conversations.open).
    channels = [state.resolve_channel(c, allow_user=False) for c in channel_args]
    comment = optional_str(args, "initial_comment")
    thread_ts = optional_str(args, "thread_ts")
    records: list[FileRecord] = []
    for entry in files:
        upload = state.messages.upload(str(entry.get("id"))) if isinstance(entry, dict) else None
        if upload is None or upload.content is None:
            raise ApiError("file_not_found")
        records.append(
            FileRecord(
                id=upload.id,
                name=upload.filename,
                title=str(entry.get("title") or upload.filename),
                content=upload.content,
                channel=channels[0] if channels else None,
                initial_comment=comment,
                thread_ts=thread_ts,
                at=ctx.at,
            )
        )
    for record in records:
        state.messages.complete_upload(record)
        where = state.channel_label(record.channel) if record.channel else "(not shared)"
        state.recorder.note(ctx.at, f"File to {where}: {record.name} ({record.size} bytes)")
    ids = tuple(r.id for r in records)
    for channel in channels:
        post_message(
            state,
            ctx,
            channel=channel,
            text=comment or "",
            blocks=[],
            thread_ts=thread_ts,
            files=ids,
        )
    return {"files": [_file_json(state, r, channels) for r in records]}
