"""Block Kit as plain dicts, for the views that are rendered on every click of a busy page.

``slack_sdk.models`` validates every element and walks the tree again at each level of
``to_dict()``: for Home's ten rows with their menus that is most of the time a publish takes.
These builders return exactly what ``slack_sdk.models`` would (tests/unit/blocks/test_kit.py
checks each against it, and checks whole views through its parser and validators), so the
views built with them do not change; the length limits stay where they are, in the callers'
``clip``/``shorten``. Everything else keeps building with ``slack_sdk.models``, and
:func:`as_dict` reads those models into the same JSON without ``to_dict()``'s repeated walks
(docs/architecture.md, "Views on the hot path").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from slack_sdk.models.basic_objects import EMPTY_ALLOWED_TYPE_AND_PROPERTY_LIST, JsonObject
from slack_sdk.models.blocks import Option, PlainTextObject

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


def as_dict(block: JsonObject | JSON) -> JSON:
    """A block (or view, or element) built either way, as the dict Slack receives.

    A model is read as its ``to_dict()`` reads it, but once: ``to_dict()`` validates every
    element again at each level and copies each level's lists again, which made it most of the
    cost of rendering a modal. The texts are clipped by the builders, and every view a unit
    test renders is checked against ``to_dict()`` and its validators (tests/unit/conftest.py)."""
    return block if isinstance(block, dict) else _dump(block)


_GENERIC_TO_DICT: Final = JsonObject.to_dict
_EMPTY_ALLOWED: Final = frozenset(
    (allowed["type"], allowed["property"]) for allowed in EMPTY_ALLOWED_TYPE_AND_PROPERTY_LIST
)
_KEYS: dict[type[JsonObject], list[str]] = {}
"""Each model class's attributes in ``to_dict()``'s order (they depend on the class only)."""


def _dump(model: JsonObject) -> JSON:
    kind = type(model)
    if kind is Option:
        return _option_dict(model)  # type: ignore[arg-type]
    if kind.to_dict is not _GENERIC_TO_DICT:  # a shape of its own (option groups, confirms…)
        return {key: _value(value) for key, value in model.to_dict().items()}
    keys = _KEYS.get(kind)
    if keys is None:
        keys = _KEYS[kind] = sorted(model.attributes)
    model_type = getattr(model, "type", None)
    found: JSON = {}
    for key in keys:
        value = model.get_object_attribute(key)
        if value is None:
            continue
        if (model_type, key) not in _EMPTY_ALLOWED and hasattr(value, "__len__") and not value:
            continue
        found[key] = _value(value)
    return found


def _value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_value(item) for item in value]
    if isinstance(value, JsonObject):
        return _dump(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return {key: _value(item) for key, item in to_dict().items()}
    return value


def _option_dict(option: Option) -> JSON:
    """``Option.to_dict()`` in a block (the only place the app puts options)."""
    text = option._text or PlainTextObject.from_str(option.label or "")
    found: JSON = {"text": _dump(text), "value": option.value}
    if option._block_description:
        found["description"] = _dump(option._block_description)
    if option.url:
        found["url"] = option.url
    return found
