"""Small pieces every admin view is built from: text, options, object lists, the modal shell."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks import limits
from blocks.admin.ids import AdminCallback
from blocks.admin.limits import FILE_MARKER
from blocks.simple import notice_modal
from blocks.text import clip, escape, shorten
from domain.catalog import Source
from domain.objects import AccessObject


def md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, limits.SECTION_TEXT))


def plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text, emoji=True)


def option(text: str, value: str, description: str | None = None) -> Option:
    return Option(
        text=plain(shorten(text, limits.OPTION_TEXT)),
        value=value,
        description=plain(clip(description, limits.OPTION_TEXT)) if description else None,
    )


def names(items: Sequence[str], *, limit: int = 10) -> str:
    shown = ", ".join(f"*{escape(n)}*" for n in items[:limit])
    more = len(items) - limit
    return shown + (f" and {more:,} more" if more > 0 else "")


def marker(source: Source | None) -> str:
    return f" · {FILE_MARKER}" if source is Source.FILE else ""


def object_text(obj: AccessObject) -> str:
    resource = escape(shorten(obj.resource, 60)).replace("`", "'")  # a backtick ends the code
    return f"`{resource}` {escape(obj.permission)} ({escape(obj.integration)})"


def objects_text(objects: Sequence[AccessObject], total: int) -> str:
    text = ", ".join(object_text(o) for o in objects)
    more = total - len(objects)
    return text + (f" and {more:,} more" if more > 0 else "")


def notice(text: str) -> ContextBlock:
    return ContextBlock(elements=[md(f"⚠️ {text}")])


def modal(
    *,
    title: str,
    blocks: Sequence[Block],
    callback_id: AdminCallback,
    close: str = "Close",
    submit: str | None = None,
    private_metadata: str | None = None,
    clear_on_close: bool | None = None,
) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=callback_id,
        title=plain(clip(title, limits.VIEW_TITLE)),
        close=plain(close),
        submit=plain(submit) if submit else None,
        private_metadata=private_metadata,
        clear_on_close=clear_on_close,
        blocks=list(blocks),
    ).to_dict()


ADMIN_TITLE: Final = "Admin"
SAVE_TITLE: Final = "Bundle"
"""The title of what saving a bundle answers."""
DELETE_TITLE: Final = "Delete bundle"
"""The title of what deleting a bundle answers."""


def admin_notice(text: str) -> dict[str, Any]:
    """A refusal or a reason shown in place of an admin modal."""
    return notice_modal(title=ADMIN_TITLE, text=text)


def changed_modal(*, title: str, summary: str) -> dict[str, Any]:
    """A save or delete that went through; ``summary`` says what was done ("saved ...")."""
    return done_modal(title=title, text=f"✅ You {summary}")


def refused_modal(*, title: str, reason: str, forbidden: bool) -> dict[str, Any]:
    """A save or delete that did not go through: not allowed (⛔) or rejected (⚠️)."""
    return done_modal(title=title, text=f"{'⛔' if forbidden else '⚠️'} {reason}")


def done_modal(*, title: str, text: str) -> dict[str, Any]:
    """The result of a save or delete; closing it closes the whole stack under it too."""
    return modal(
        title=title,
        callback_id=AdminCallback.DONE,
        close="Done",
        clear_on_close=True,
        blocks=[SectionBlock(text=md(text))],
    )
