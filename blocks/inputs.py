"""Inputs that the request modal and the admin's bundle editor both show."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import InputBlock, Option, PlainTextObject, StaticSelectElement

from blocks import limits
from blocks.text import shorten


def permission_input(*, block_id: str, action_id: str, permissions: Sequence[str]) -> InputBlock:
    """A permission menu; a single permission is preselected (there is nothing to choose)."""
    options = [
        Option(text=PlainTextObject(text=shorten(p, limits.OPTION_TEXT)), value=p)
        for p in permissions[: limits.MENU_OPTIONS]
    ]
    return InputBlock(
        block_id=block_id,
        label="Permission",
        element=StaticSelectElement(
            action_id=action_id,
            placeholder="Choose a permission",
            options=options,
            initial_option=options[0] if len(options) == 1 else None,
        ),
        optional=True,
    )
