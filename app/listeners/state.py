"""Reading what Slack sends back: view state and metadata, parsed into typed values."""

from __future__ import annotations

from typing import Any

from app.services.request_modal import FormInput
from blocks.ids import ActionId, BlockId
from blocks.payloads import ModalMetadata


def _values(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    state = view.get("state") or {}
    values = state.get("values") or {}
    return values if isinstance(values, dict) else {}


def find_value(view: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    """The state entry of the element with ``action_id``, whatever block holds it."""
    for block in _values(view).values():
        if isinstance(block, dict) and action_id in block:
            entry = block[action_id]
            return entry if isinstance(entry, dict) else None
    return None


def selected_value(view: dict[str, Any], action_id: str) -> str | None:
    entry = find_value(view, action_id)
    if not entry:
        return None
    option = entry.get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else None


def text_value(view: dict[str, Any], action_id: str) -> str | None:
    entry = find_value(view, action_id)
    if not entry:
        return None
    value = entry.get("value")
    return value if isinstance(value, str) else None


def form_input(view: dict[str, Any]) -> FormInput:
    return FormInput(
        justification=text_value(view, ActionId.JUSTIFICATION),
        duration=selected_value(view, ActionId.DURATION),
        permission=selected_value(view, ActionId.PICK_PERMISSION),
    )


def metadata(view: dict[str, Any]) -> ModalMetadata | None:
    raw = view.get("private_metadata")
    return ModalMetadata.parse(raw if isinstance(raw, str) else None)


def input_block_ids(view: dict[str, Any]) -> list[str]:
    return [
        b["block_id"]
        for b in view.get("blocks") or []
        if isinstance(b, dict) and b.get("type") == "input" and isinstance(b.get("block_id"), str)
    ]


def block_for(view: dict[str, Any], field: str) -> str | None:
    """The input block where an error about ``field`` belongs (errors only attach to inputs)."""
    ids = input_block_ids(view)
    places: dict[str, list[str]] = {
        "bundle": [BlockId.BUNDLE, "add.", BlockId.INTEGRATION],
        "objects": ["add.", "resource.", BlockId.INTEGRATION, BlockId.BUNDLE],
        "flow": [BlockId.FLOW, BlockId.BUNDLE, BlockId.INTEGRATION],
        "duration": ["duration."],
        "justification": [BlockId.JUSTIFICATION],
    }
    prefixes = places.get(field, [])
    for prefix in prefixes:
        for block_id in ids:
            if block_id == prefix or (prefix.endswith(".") and block_id.startswith(prefix)):
                return block_id
    return ids[0] if ids else None
