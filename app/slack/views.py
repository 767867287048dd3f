"""Modals the bot already opened: updating them in place, and reading the draft key they carry."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from app.slack.payloads import ViewPayload
from blocks.payloads import ModalMetadata


def update_view(client: WebClient, view: ViewPayload, payload: dict[str, Any]) -> None:
    """Update in place; if another update landed first, render ours anyway (it is newer data)."""
    try:
        client.views_update(view_id=view.id, hash=view.hash, view=payload)
    except SlackApiError as error:
        if error.response.get("error") != "hash_conflict":
            raise
        client.views_update(view_id=view.id, view=payload)


def metadata(view: ViewPayload | None) -> ModalMetadata | None:
    """The draft key a modal carries, if it carries a valid one."""
    return ModalMetadata.parse(view.private_metadata) if view is not None else None
