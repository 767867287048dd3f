"""Channels, DMs, messages, ephemerals and files the app posted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .blockkit import clone
from .ids import IdFactory
from .models import Ephemeral, FileRecord, Message, MessageVersion

JSON = dict[str, Any]


@dataclass(slots=True)
class MessageRecord:
    channel: str
    ts: str
    text: str
    blocks: list[JSON]
    thread_ts: str | None
    posted_at: float
    user: str
    edits: list[MessageVersion] = field(default_factory=list)
    updated_at: float | None = None
    deleted: bool = False
    files: tuple[str, ...] = ()
    metadata: JSON | None = None

    def snapshot(self) -> Message:
        return Message(
            channel=self.channel,
            ts=self.ts,
            text=self.text,
            blocks=clone(self.blocks),
            thread_ts=self.thread_ts,
            edits=tuple(self.edits),
            updated_at=self.updated_at,
            posted_at=self.posted_at,
            deleted=self.deleted,
            files=self.files,
            metadata=clone(self.metadata),
        )

    def payload(self, *, team_id: str, bot_id: str, app_id: str) -> JSON:
        """The message object Slack returns from chat.* and puts in block_actions."""
        message: JSON = {
            "type": "message",
            "subtype": "bot_message",
            "text": self.text,
            "user": self.user,
            "bot_id": bot_id,
            "app_id": app_id,
            "team": team_id,
            "ts": self.ts,
            "blocks": clone(self.blocks),
        }
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        if self.updated_at is not None:
            message["edited"] = {"user": self.user, "ts": self.ts}
        if self.metadata:
            message["metadata"] = clone(self.metadata)
        return message


@dataclass(slots=True)
class PendingUpload:
    id: str
    filename: str
    length: int
    content: bytes | None = None


class MessageStore:
    """Not thread-safe on its own: the caller holds the simulator's state lock."""

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._messages: dict[str, list[MessageRecord]] = {}
        self._by_key: dict[tuple[str, str], MessageRecord] = {}
        self._ephemerals: list[Ephemeral] = []
        self._dms: dict[str, str] = {}
        self._dm_users: dict[str, str] = {}
        self._uploads: dict[str, PendingUpload] = {}
        self._files: list[FileRecord] = []

    # --- DMs --------------------------------------------------------------------------------

    def dm_for(self, user_id: str) -> str:
        """The bot's DM with a user: one stable D… id per user, created on first use."""
        dm = self._dms.get(user_id)
        if dm is None:
            dm = self._ids.next("D", 8)
            self._dms[user_id] = dm
            self._dm_users[dm] = user_id
        return dm

    def dm_user(self, channel_id: str) -> str | None:
        return self._dm_users.get(channel_id)

    def existing_dm(self, user_id: str) -> str | None:
        return self._dms.get(user_id)

    # --- messages ---------------------------------------------------------------------------

    def post(
        self,
        *,
        channel: str,
        text: str,
        blocks: list[JSON],
        thread_ts: str | None,
        at: float,
        user: str,
        files: tuple[str, ...] = (),
        metadata: JSON | None = None,
    ) -> MessageRecord:
        record = MessageRecord(
            channel=channel,
            ts=self._ids.ts(),
            text=text,
            blocks=clone(blocks),
            thread_ts=thread_ts,
            posted_at=at,
            user=user,
            files=files,
            metadata=clone(metadata),
        )
        self._messages.setdefault(channel, []).append(record)
        self._by_key[(channel, record.ts)] = record
        return record

    def get(self, channel: str, ts: str) -> MessageRecord | None:
        return self._by_key.get((channel, ts))

    def update(
        self, record: MessageRecord, *, text: str | None, blocks: list[JSON] | None, at: float
    ) -> None:
        record.edits.append(
            MessageVersion(record.text, clone(record.blocks), record.updated_at or record.posted_at)
        )
        if text is not None:
            record.text = text
        if blocks is not None:
            record.blocks = clone(blocks)
        record.updated_at = at

    def in_channel(self, channel: str) -> list[MessageRecord]:
        return list(self._messages.get(channel, []))

    def add_ephemeral(self, ephemeral: Ephemeral) -> None:
        self._ephemerals.append(ephemeral)

    def ephemerals(self, user_id: str) -> list[Ephemeral]:
        return [e for e in self._ephemerals if e.user == user_id]

    # --- files ------------------------------------------------------------------------------

    def start_upload(self, *, filename: str, length: int) -> PendingUpload:
        upload = PendingUpload(id=self._ids.next("F", 10), filename=filename, length=length)
        self._uploads[upload.id] = upload
        return upload

    def receive_upload(self, file_id: str, content: bytes) -> bool:
        upload = self._uploads.get(file_id)
        if upload is None:
            return False
        upload.content = content
        return True

    def upload(self, file_id: str) -> PendingUpload | None:
        return self._uploads.get(file_id)

    def complete_upload(self, record: FileRecord) -> None:
        self._uploads.pop(record.id, None)
        self._files.append(record)

    def files(self, channel: str | None = None) -> list[FileRecord]:
        return [f for f in self._files if channel is None or f.channel == channel]
