"""Favorites and recent requests: the one-click starts of the request modal, the *Save as
favorite* naming modal, Home's *Favorites* section, and what a favorite says when the catalog
changed since it was saved. The services decide (app/requesting/favorites.py, app/home/); the
words are here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks import limits
from blocks.ids import ActionId, BlockId, CallbackId, scoped
from blocks.payloads import FavoriteRef, RequestButton, SaveFavoriteMetadata
from blocks.simple import notice_modal
from blocks.text import clip, escape, plural, shorten
from domain.durations import format_duration
from domain.objects import AccessObject

MAX_FAVORITES: Final = 10
"""Favorites one person keeps: Home lists them all (two blocks each, well inside a view)."""
STARTS_SHOWN: Final = 3
"""Recent requests, and favorites, offered as one-click starts at the top of the modal."""
MAX_NAME: Final = 60
"""Characters of a favorite's name (it fits a button's text with room for the star)."""
MISSING_NAMED: Final = 5
"""A stale favorite names this many of the objects no longer offered, then counts the rest."""
TITLE: Final = "Save as favorite"
RENAME_TITLE: Final = "Rename favorite"

FAVORITE_NOT_FOUND: Final = "That favorite no longer exists; your favorites are on the Home tab."
REQUEST_NOT_YOURS: Final = "You can only save your own requests as favorites."
NAME_REQUIRED: Final = "Give the favorite a name."


@dataclass(frozen=True, slots=True)
class RecentStart:
    """One of the person's recent requests, offered as a start."""

    request_id: str
    bundle: str | None
    object_count: int


@dataclass(frozen=True, slots=True)
class FavoriteLine:
    """One favorite as the modal and Home show it."""

    id: int
    name: str
    bundle: str | None
    object_count: int
    flow: str
    duration: timedelta


@dataclass(frozen=True, slots=True)
class Starts:
    recent: tuple[RecentStart, ...] = ()
    favorites: tuple[FavoriteLine, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.recent or self.favorites)


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, limits.SECTION_TEXT))


def _what(bundle: str | None, object_count: int) -> str:
    return bundle if bundle else plural(object_count, "object")


def recent_label(start: RecentStart) -> str:
    """A recent request's button: ``↻ AR-7K3Q9M · prod-incident`` or ``… · 3 objects``."""
    return shorten(
        f"↻ {start.request_id} · {_what(start.bundle, start.object_count)}", limits.BUTTON_TEXT
    )


def favorite_label(favorite: FavoriteLine) -> str:
    return shorten(f"⭐ {favorite.name}", limits.BUTTON_TEXT)


def favorite_line(favorite: FavoriteLine) -> str:
    """``⭐ *name* · prod-incident (4 objects) · on-call · 1h``."""
    what = (
        f"{escape(favorite.bundle)} ({plural(favorite.object_count, 'object')})"
        if favorite.bundle
        else plural(favorite.object_count, "object")
    )
    return (
        f"⭐ *{escape(favorite.name)}* · {what} · access flow {escape(favorite.flow)} · "
        f"{format_duration(favorite.duration)}"
    )


def starts_blocks(starts: Starts) -> list[Block]:
    """The modal's one-click starts: the recent requests, newest first, then the favorites."""
    if not starts:
        return []
    buttons = [
        ButtonElement(
            text=recent_label(r),
            action_id=scoped(ActionId.START_RECENT, r.request_id),
            value=RequestButton(r=r.request_id).encode(),
        )
        for r in starts.recent[:STARTS_SHOWN]
    ] + [
        ButtonElement(
            text=favorite_label(f),
            action_id=scoped(ActionId.START_FAVORITE, str(f.id)),
            value=FavoriteRef(v=f.id).encode(),
        )
        for f in starts.favorites[:STARTS_SHOWN]
    ]
    parts = []
    if starts.recent:
        parts.append("one of your recent requests (↻)")
    if starts.favorites:
        parts.append("a favorite (⭐)")
    return [
        ContextBlock(elements=[_md(f"Start again from {' or '.join(parts)}:")]),
        ActionsBlock(block_id=BlockId.STARTS, elements=buttons),
    ]


# -- what a favorite says when the catalog changed ------------------------------------------------


def _object_name(obj: AccessObject) -> str:
    return escape(f"{shorten(obj.resource, 60)} {obj.permission} ({obj.integration})")


def favorite_objects_missing(*, name: str, missing: Sequence[AccessObject], total: int) -> str:
    """Some objects of a favorite are no longer offered; the others are pre-filled."""
    named = ", ".join(_object_name(o) for o in missing[:MISSING_NAMED])
    more = len(missing) - MISSING_NAMED
    if more > 0:
        named += f" and {more:,} more"
    verb = "is" if len(missing) == 1 else "are"
    rest = "the rest is pre-filled" if len(missing) < total else "nothing is left to pre-fill"
    return (
        f"Favorite {escape(name)}: {len(missing):,} of {plural(total, 'object')} {verb} no longer "
        f"offered to you: {named}; {rest}."
    )


def favorite_bundle_gone(*, name: str, bundle: str) -> str:
    """A favorite's bundle is offered by no active flow of the person any more."""
    return (
        f"Favorite {escape(name)}: the bundle {bundle} is no longer offered to you (it was "
        "removed, or no active access flow of yours offers it). Pick another bundle."
    )


def favorite_flow_replaced(*, name: str, flow: str, instead: str) -> str:
    """A favorite's access flow is gone or deactivated, and another one offers the same."""
    return (
        f"Favorite {escape(name)}: the access flow {flow} is no longer available to you; "
        f"{instead} offers the same and is chosen instead."
    )


def too_many_favorites(limit: int) -> str:
    return (
        f"You already keep {plural(limit, 'favorite')}, the most one person may; delete one on "
        "the Home tab first."
    )


def default_name(*, bundle: str | None, object_count: int, flow: str) -> str:
    """The name a favorite gets unless its owner types another: after its bundle."""
    return shorten(bundle if bundle else f"{plural(object_count, 'object')} via {flow}", MAX_NAME)


# -- the naming modal -----------------------------------------------------------------------------


def _name_input(initial: str) -> InputBlock:
    return InputBlock(
        block_id=BlockId.FAVORITE_NAME,
        label="Name",
        element=PlainTextInputElement(
            action_id=ActionId.FAVORITE_NAME,
            initial_value=initial or None,
            max_length=MAX_NAME,
            placeholder="e.g. Incident on sales",
        ),
        hint="Leave it as it is to name the favorite after its bundle.",
    )


def save_favorite_modal(*, request_id: str, name: str, object_count: int) -> dict[str, Any]:
    """*Save as favorite*: the name, pre-filled; saving keeps bundle, objects, flow, duration
    and justification of ``request_id``."""
    return View(
        type="modal",
        callback_id=CallbackId.FAVORITE_SAVE,
        title=PlainTextObject(text=TITLE),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=SaveFavoriteMetadata(r=request_id).encode(),
        blocks=[
            SectionBlock(
                text=_md(
                    f"Save *{request_id}* ({plural(object_count, 'object')}) as a favorite: "
                    "bundle, objects, access flow, duration and justification, ready to "
                    "request again in one click from the request form or the Home tab."
                )
            ),
            _name_input(name),
        ],
    ).to_dict()


def rename_favorite_modal(*, favorite: FavoriteLine) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=CallbackId.FAVORITE_RENAME,
        title=PlainTextObject(text=RENAME_TITLE),
        submit=PlainTextObject(text="Rename"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=FavoriteRef(v=favorite.id).encode(),
        blocks=[SectionBlock(text=_md(favorite_line(favorite))), _name_input(favorite.name)],
    ).to_dict()


def favorite_saved_modal(*, name: str, count: int) -> dict[str, Any]:
    """Once saved: where to find it, and how many favorites the person now keeps."""
    return notice_modal(
        title=TITLE,
        text=f"⭐ Saved *{escape(name)}*. You keep {plural(count, 'favorite')}: they are on the "
        "Home tab and at the top of the request form.",
    )


def favorite_refused_modal(text: str) -> dict[str, Any]:
    return notice_modal(title=TITLE, text=text)


# -- Home ------------------------------------------------------------------------------------------


def favorites_section(favorites: Sequence[FavoriteLine], *, total: int) -> list[Block]:
    """Home's *Favorites* (``favorites`` are those that fit, of ``total``): each one requested
    in one click, renamed or deleted."""
    blocks: list[Block] = [HeaderBlock(text=f"Favorites ({total})")]
    if not total:
        blocks.append(
            ContextBlock(
                elements=[
                    _md(
                        "None yet: *Save as favorite* on a request (its DMs or its details) "
                        "makes one."
                    )
                ]
            )
        )
        return blocks
    for favorite in favorites[:MAX_FAVORITES]:
        ref = FavoriteRef(v=favorite.id).encode()
        blocks.append(
            SectionBlock(
                block_id=f"favorite.{favorite.id}",
                text=_md(favorite_line(favorite)),
                accessory=ButtonElement(
                    text="Request",
                    style="primary",
                    action_id=scoped(ActionId.HOME_FAVORITE_OPEN, str(favorite.id)),
                    value=ref,
                ),
            )
        )
        blocks.append(
            ActionsBlock(
                block_id=f"favorite_actions.{favorite.id}",
                elements=[
                    ButtonElement(
                        text="Rename",
                        action_id=scoped(ActionId.HOME_FAVORITE_RENAME, str(favorite.id)),
                        value=ref,
                    ),
                    ButtonElement(
                        text="Delete",
                        style="danger",
                        action_id=scoped(ActionId.HOME_FAVORITE_DELETE, str(favorite.id)),
                        value=ref,
                        confirm=ConfirmObject(
                            title="Delete favorite?",
                            text=clip(
                                f"{escape(favorite.name)} will be deleted; requests made "
                                "from it stay as they are.",
                                limits.CONFIRM_TEXT,
                            ),
                            confirm="Delete",
                            deny="Keep",
                        ),
                    ),
                ],
            )
        )
    return blocks
