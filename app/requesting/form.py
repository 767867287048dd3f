"""Reading the bot's own values out of a parsed view: the request form and the input block an
error belongs to. (Slack's shapes are parsed in :mod:`app.slack.payloads`.)"""

from __future__ import annotations

from app.requesting.modal import FormInput
from app.slack.payloads import ViewPayload
from blocks.break_glass import BREAK_GLASS_CHOICE
from blocks.ids import ActionId, BlockId


def form_input(view: ViewPayload) -> FormInput:
    return FormInput(
        justification=view.text(ActionId.JUSTIFICATION),
        duration=view.selected(ActionId.DURATION),
        permission=view.selected(ActionId.PICK_PERMISSION),
        break_glass=view.selected(ActionId.BREAK_GLASS) == BREAK_GLASS_CHOICE,
        grantee=view.selected(ActionId.ON_BEHALF),
    )


def block_for(view: ViewPayload, field: str) -> str | None:
    """The input block where an error about ``field`` belongs (errors only attach to inputs)."""
    ids = view.input_block_ids
    places: dict[str, list[str]] = {
        "bundle": [BlockId.BUNDLE, "add.", BlockId.INTEGRATION],
        "objects": ["add.", "resource.", BlockId.INTEGRATION, BlockId.BUNDLE],
        "flow": [BlockId.FLOW, BlockId.BUNDLE, BlockId.INTEGRATION],
        "duration": ["duration."],
        "justification": [BlockId.JUSTIFICATION],
        "break_glass": [f"{BlockId.BREAK_GLASS}.", BlockId.JUSTIFICATION],
        "grantee": [BlockId.ON_BEHALF, BlockId.JUSTIFICATION],
    }
    prefixes = places.get(field, [])
    for prefix in prefixes:
        for block_id in ids:
            if block_id == prefix or (prefix.endswith(".") and block_id.startswith(prefix)):
                return block_id
    return ids[0] if ids else None
