"""Walking Block Kit: where interactive elements live, what state they hold, what text shows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import jsonio

JSON = dict[str, Any]


def clone(obj: Any) -> Any:
    """A deep copy of JSON data; many times as fast as copy.deepcopy, which matters per call."""
    return jsonio.clone(obj)


# Element type -> key of its value in state.values and in block_actions entries.
STATE_KEYS: dict[str, str] = {
    "plain_text_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "number_input": "value",
    "rich_text_input": "rich_text_value",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "file_input": "files",
}

INITIAL_KEYS: dict[str, str] = {
    "value": "initial_value",
    "rich_text_value": "initial_value",
    "selected_option": "initial_option",
    "selected_options": "initial_options",
    "selected_user": "initial_user",
    "selected_users": "initial_users",
    "selected_conversation": "initial_conversation",
    "selected_conversations": "initial_conversations",
    "selected_channel": "initial_channel",
    "selected_channels": "initial_channels",
    "selected_date": "initial_date",
    "selected_time": "initial_time",
    "selected_date_time": "initial_date_time",
}

MULTI_KEYS = frozenset(
    {
        "selected_options",
        "selected_users",
        "selected_conversations",
        "selected_channels",
        "files",
    }
)
TEXT_INPUT_TYPES = frozenset(
    {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
)
STATIC_OPTION_TYPES = frozenset(
    {"static_select", "multi_static_select", "radio_buttons", "checkboxes", "overflow"}
)
EXTERNAL_TYPES = frozenset({"external_select", "multi_external_select"})


@dataclass(frozen=True, slots=True)
class ElementRef:
    """One interactive element and where it sits."""

    block_index: int
    block: JSON
    element: JSON
    path: str  # JSON pointer inside the blocks list, e.g. /3/accessory

    @property
    def block_id(self) -> str:
        return str(self.block.get("block_id", ""))

    @property
    def action_id(self) -> str:
        return str(self.element.get("action_id", ""))

    @property
    def type(self) -> str:
        return str(self.element.get("type", ""))

    @property
    def in_input(self) -> bool:
        return self.block.get("type") == "input"

    @property
    def dispatches_action(self) -> bool:
        """Slack sends block_actions for it: always outside input blocks, opt-in inside."""
        return not self.in_input or bool(self.block.get("dispatch_action"))


def iter_elements(blocks: list[JSON]) -> Iterator[ElementRef]:
    for index, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "section" and isinstance(block.get("accessory"), dict):
            yield ElementRef(index, block, block["accessory"], f"/{index}/accessory")
        elif kind == "input" and isinstance(block.get("element"), dict):
            yield ElementRef(index, block, block["element"], f"/{index}/element")
        elif kind == "actions":
            for j, element in enumerate(block.get("elements") or []):
                if isinstance(element, dict):
                    yield ElementRef(index, block, element, f"/{index}/elements/{j}")


def find_elements(
    blocks: list[JSON], action_id: str, *, block_id: str | None = None
) -> list[ElementRef]:
    return [
        ref
        for ref in iter_elements(blocks)
        if ref.action_id == action_id and (block_id is None or ref.block_id == block_id)
    ]


def find_action(blocks: list[JSON], action_id: str, *, block_id: str | None = None) -> JSON | None:
    """The first element with this action_id (and block_id, if given), or None."""
    found = find_elements(blocks, action_id, block_id=block_id)
    return found[0].element if found else None


def options_of(element: JSON) -> list[JSON]:
    """Every option of a static element, option groups flattened."""
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def state_key(element_type: str) -> str | None:
    return STATE_KEYS.get(element_type)


def initial_entry(element: JSON, *, always: bool) -> JSON | None:
    """The state entry an element starts with; None when it holds nothing and need not be listed.

    Slack lists every element of an input block (empty ones as null), but an element in an
    actions block or a section accessory only once it has a value.
    """
    kind = str(element.get("type", ""))
    key = STATE_KEYS.get(kind)
    if key is None:
        return None
    initial_key = INITIAL_KEYS.get(key)
    value = element.get(initial_key) if initial_key else None
    if value is None and not always:
        return None
    if value is None:
        value = [] if key in MULTI_KEYS else None
    entry: JSON = {"type": kind, key: value}
    return entry


def seed_state(blocks: list[JSON]) -> dict[str, dict[str, JSON]]:
    state: dict[str, dict[str, JSON]] = {}
    for ref in iter_elements(blocks):
        entry = initial_entry(ref.element, always=ref.in_input)
        if entry is not None and ref.block_id and ref.action_id:
            state.setdefault(ref.block_id, {})[ref.action_id] = entry
    return state


def _text(obj: Any) -> str | None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return str(obj["text"])
    return None


def _rich_text(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        if obj.get("type") in {"text", "link"} and isinstance(obj.get("text"), str):
            yield obj["text"]
        for child in obj.get("elements") or []:
            yield from _rich_text(child)


def _element_texts(element: JSON) -> Iterator[str]:
    for key in ("text", "placeholder"):
        text = _text(element.get(key))
        if text is not None and not (key == "placeholder" and element.get("type") == "button"):
            yield text
    initial = element.get("initial_option")
    if isinstance(initial, dict) and (t := _text(initial.get("text"))) is not None:
        yield t
    if element.get("type") in {"radio_buttons", "checkboxes"}:
        for option in element.get("options") or []:
            if (t := _text(option.get("text"))) is not None:
                yield t


def texts_of(blocks: list[JSON]) -> list[str]:
    """All text a person sees in these blocks, in order (for assertions and transcripts)."""
    out: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if (t := _text(block.get("text"))) is not None:
            out.append(t)
        for field in block.get("fields") or []:
            if (t := _text(field)) is not None:
                out.append(t)
        if kind == "input":
            for key in ("label", "hint"):
                if (t := _text(block.get(key))) is not None:
                    out.append(t)
        if kind == "context":
            out.extend(t for e in block.get("elements") or [] if (t := _text(e)) is not None)
        if kind == "rich_text":
            out.extend(_rich_text(block))
        if kind == "markdown" and isinstance(block.get("text"), str):
            out.append(block["text"])
        if kind == "actions":
            for element in block.get("elements") or []:
                out.extend(_element_texts(element))
        if isinstance(block.get("accessory"), dict):
            out.extend(_element_texts(block["accessory"]))
        if kind == "input" and isinstance(block.get("element"), dict):
            out.extend(_element_texts(block["element"]))
    return out
