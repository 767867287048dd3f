"""Small generic views: a notice modal, an ephemeral line."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject, PlainTextObject, SectionBlock
from slack_sdk.models.views import View

from blocks import limits
from blocks.text import clip


def notice_modal(*, title: str, text: str) -> dict[str, Any]:
    view = View(
        type="modal",
        title=PlainTextObject(text=clip(title, limits.VIEW_TITLE)),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=clip(text, limits.SECTION_TEXT)))],
    )
    return view.to_dict()


def text_message(text: str) -> dict[str, Any]:
    return {
        "text": clip(text, limits.MESSAGE_TEXT),
        "blocks": [
            SectionBlock(text=MarkdownTextObject(text=clip(text, limits.SECTION_TEXT))).to_dict()
        ],
    }
