"""Small generic views and lines: a notice modal, an ephemeral line, a refusal."""

from __future__ import annotations

from typing import Any, Final

from slack_sdk.models.blocks import MarkdownTextObject, PlainTextObject, SectionBlock
from slack_sdk.models.views import View

from blocks import kit, limits
from blocks.text import clip

INVALID_FORM: Final = "Invalid form."
"""What a form whose metadata does not parse is told."""
INVALID_BUTTON: Final = "That button is not valid."
"""What a click whose button value does not parse is told."""


def refused(reason: str) -> str:
    """A refusal, to the person refused only; ``reason`` is safe to show."""
    return f"⛔ {reason}"


def notice_modal(*, title: str, text: str) -> dict[str, Any]:
    view = View(
        type="modal",
        title=PlainTextObject(text=clip(title, limits.VIEW_TITLE)),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=clip(text, limits.SECTION_TEXT)))],
    )
    return kit.as_dict(view)


def text_message(text: str) -> dict[str, Any]:
    return {
        "text": clip(text, limits.MESSAGE_TEXT),
        "blocks": [
            kit.as_dict(SectionBlock(text=MarkdownTextObject(text=clip(text, limits.SECTION_TEXT))))
        ],
    }
