"""The App Home tab."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from slack_sdk.models.blocks import (
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks.messages import STATUS_EMOJI
from blocks.text import clip, date_token, escape
from domain.summary import RequestSummary

MAX_ROWS: Final = 20


@dataclass(frozen=True, slots=True)
class HomeModel:
    user: str
    mine: tuple[RequestSummary, ...] = ()


def _row(summary: RequestSummary) -> SectionBlock:
    what = escape(summary.bundle) if summary.bundle else f"{summary.object_count:,} objects"
    when = (
        f" · until {date_token(summary.expires_at)}"
        if summary.expires_at and not summary.status.terminal
        else ""
    )
    emoji = STATUS_EMOJI.get(summary.status, "")
    return SectionBlock(
        text=MarkdownTextObject(
            text=clip(f"{emoji} *{summary.id}* · {what} · {summary.status.label}{when}", 3000)
        )
    )


def home_view(model: HomeModel) -> dict[str, Any]:
    blocks: list[Any] = [
        HeaderBlock(text="Just-in-time access"),
        SectionBlock(
            text=MarkdownTextObject(
                text="Type `/apono` to request access, or `/apono help` to see what I can do."
            )
        ),
        DividerBlock(),
        HeaderBlock(text="Your requests"),
    ]
    rows: Sequence[RequestSummary] = model.mine[:MAX_ROWS]
    if rows:
        blocks.extend(_row(s) for s in rows)
    else:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="No requests yet.")]))
    return View(type="home", blocks=blocks).to_dict()
