"""Block Kit as plain dicts, for the views that are rendered on every click of a busy page.

``slack_sdk.models`` validates every element and walks the tree again at each level of
``to_dict()``: for Home's ten rows with their menus that is most of the time a publish takes.
These builders return exactly what ``slack_sdk.models`` would (tests/unit/blocks/test_kit.py
checks each against it, and checks whole views through its parser and validators), so the
views built with them do not change; the length limits stay where they are, in the callers'
``clip``/``shorten``. Everything else keeps building with ``slack_sdk.models``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block

JSON = dict[str, Any]


def plain(text: str, *, emoji: bool | None = None) -> JSON:
    found: JSON = {"type": "plain_text", "text": text}
    if emoji is not None:
        found["emoji"] = emoji
    return found


def mrkdwn(text: str) -> JSON:
    return {"type": "mrkdwn", "text": text}


def header(text: str) -> JSON:
    return {"type": "header", "text": plain(text, emoji=True)}


def divider() -> JSON:
    return {"type": "divider"}


def section(*, text: JSON, block_id: str | None = None, accessory: JSON | None = None) -> JSON:
    found: JSON = {"type": "section", "text": text}
    if block_id is not None:
        found["block_id"] = block_id
    if accessory is not None:
        found["accessory"] = accessory
    return found


def context(elements: Sequence[JSON], *, block_id: str | None = None) -> JSON:
    found: JSON = {"type": "context", "elements": list(elements)}
    if block_id is not None:
        found["block_id"] = block_id
    return found


def actions(elements: Sequence[JSON], *, block_id: str | None = None) -> JSON:
    found: JSON = {"type": "actions", "elements": list(elements)}
    if block_id is not None:
        found["block_id"] = block_id
    return found


def button(
    *, text: str, action_id: str, value: str | None = None, style: str | None = None
) -> JSON:
    found: JSON = {"type": "button", "text": plain(text, emoji=True), "action_id": action_id}
    if value is not None:
        found["value"] = value
    if style is not None:
        found["style"] = style
    return found


def option(*, text: JSON, value: str) -> JSON:
    return {"text": text, "value": value}


def overflow(*, action_id: str, options: Sequence[JSON]) -> JSON:
    return {"type": "overflow", "action_id": action_id, "options": list(options)}


def as_dict(block: Block | JSON) -> JSON:
    """A block built either way, as the dict Slack receives."""
    return block if isinstance(block, dict) else block.to_dict()
