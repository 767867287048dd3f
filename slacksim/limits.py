"""Slack's limits on views, messages and suggestion answers, as pure checks
(docs/architecture.md, "Slack's limits").

Every check returns Problems with a JSON pointer into what the app sent, worded like Slack's own
`response_metadata.messages` so a failing test reads like the real error would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

JSON = dict[str, Any]

ACK_DEADLINE = 3.0
TRIGGER_TTL = 3.0
MAX_VIEW_STACK = 3

MAX_BLOCKS_VIEW = 100
MAX_BLOCKS_MESSAGE = 50
MAX_SELECT_OPTIONS = 100
MAX_OPTION_GROUPS = 100
MAX_GROUP_OPTIONS = 100
MAX_CHECKBOX_OPTIONS = 10
MAX_RADIO_OPTIONS = 10
MAX_OVERFLOW_OPTIONS = 5
MAX_OPTION_TEXT = 75
MAX_OPTION_DESCRIPTION = 75
MAX_OPTION_VALUE = 75  # Slack takes 150; ours stay opaque (docs/architecture.md, "Slack's limits")
MAX_OPTION_GROUP_LABEL = 75
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_SECTION_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_MODAL_TEXT = 24  # title, submit, close
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255
MAX_BLOCK_ID = 255
MAX_ACTION_ID = 255
MAX_EXTERNAL_ID = 255
MAX_MESSAGE_TEXT = 40_000
MAX_VIEW_BYTES = 250_000
MAX_LABEL = 2000
MAX_HINT = 2000
MAX_PLACEHOLDER = 150
MAX_ALT_TEXT = 2000
MAX_IMAGE_TITLE = 2000
MAX_TEXT_INPUT_LENGTH = 3000
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
MAX_MARKDOWN_BLOCK = 12_000
MAX_SUGGESTION_OPTIONS = 100

SELECT_ELEMENTS = frozenset(
    {
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
    }
)
SECTION_ACCESSORIES = SELECT_ELEMENTS | {
    "button",
    "checkboxes",
    "datepicker",
    "image",
    "overflow",
    "radio_buttons",
    "timepicker",
    "workflow_button",
}
ACTIONS_ELEMENTS = SELECT_ELEMENTS | {
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "overflow",
    "radio_buttons",
    "timepicker",
    "workflow_button",
    "rich_text_input",
}
INPUT_ELEMENTS = SELECT_ELEMENTS | {
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "email_text_input",
    "file_input",
    "number_input",
    "plain_text_input",
    "radio_buttons",
    "rich_text_input",
    "timepicker",
    "url_text_input",
}
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}$")


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str
    error: str = "invalid_arguments"  # the API error Slack answers with

    def slack_message(self) -> str:
        return f"[ERROR] {self.message} [json-pointer:{self.path}]"


class _Checker:
    def __init__(self, *, surface: str, error: str, view_wide_action_ids: bool = False) -> None:
        self.surface = surface  # "modal", "home" or "message"
        self.error = error
        self.view_wide_action_ids = view_wide_action_ids
        self.problems: list[Problem] = []
        self.block_ids: dict[str, str] = {}
        self.view_action_ids: dict[str, str] = {}

    # --- primitives -------------------------------------------------------------------------

    def add(self, path: str, message: str, error: str | None = None) -> None:
        self.problems.append(Problem(path, message, error or self.error))

    def string(self, value: Any, path: str, *, limit: int, required: bool = False) -> None:
        if value is None:
            if required:
                self.add(path, "missing required field")
            return
        if not isinstance(value, str):
            self.add(path, "must be a string")
        elif len(value) > limit:
            self.add(path, f"must be at most {limit} characters, got {len(value)}")

    def items(
        self, value: Any, path: str, *, limit: int, minimum: int = 0, required: bool = False
    ) -> list[Any]:
        if value is None:
            if required:
                self.add(path, "missing required field")
            return []
        if not isinstance(value, list):
            self.add(path, "must be an array")
            return []
        if len(value) > limit:
            self.add(path, f"must be at most {limit} items, got {len(value)}")
        elif len(value) < minimum:
            self.add(path, f"must be at least {minimum} items, got {len(value)}")
        return value

    def text(
        self,
        obj: Any,
        path: str,
        *,
        limit: int,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if obj is None:
            if required:
                self.add(path, "missing required field")
            return
        if not isinstance(obj, dict):
            self.add(path, "must be a text object")
            return
        kind = obj.get("type")
        if kind not in TEXT_TYPES:
            self.add(f"{path}/type", f"unsupported text type {kind!r}")
        elif plain_only and kind != "plain_text":
            self.add(f"{path}/type", "must be plain_text")
        text = obj.get("text")
        if not isinstance(text, str):
            self.add(f"{path}/text", "missing required field")
        elif not text:
            self.add(f"{path}/text", "must be at least 1 characters")
        else:
            self.string(text, f"{path}/text", limit=limit)

    # --- blocks -----------------------------------------------------------------------------

    def blocks(self, blocks: Any, path: str, *, limit: int) -> None:
        for index, block in enumerate(self.items(blocks, path, limit=limit)):
            self.block(block, f"{path}/{index}")

    def block(self, block: Any, path: str) -> None:
        if not isinstance(block, dict):
            self.add(path, "must be an object")
            return
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            self.add(f"{path}/type", f"unsupported block type {kind!r}")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            self.string(block_id, f"{path}/block_id", limit=MAX_BLOCK_ID)
            if isinstance(block_id, str):
                if block_id in self.block_ids:
                    self.add(
                        f"{path}/block_id",
                        f"duplicate block_id {block_id!r}, first at {self.block_ids[block_id]}",
                    )
                self.block_ids.setdefault(block_id, f"{path}/block_id")
        self._block_checks[kind](self, block, path)

    def _section(self, block: JSON, path: str) -> None:
        if block.get("text") is None and not block.get("fields"):
            self.add(path, "must provide text or fields")
        self.text(block.get("text"), f"{path}/text", limit=MAX_SECTION_TEXT, required=False)
        fields = self.items(block.get("fields"), f"{path}/fields", limit=MAX_SECTION_FIELDS)
        for i, field in enumerate(fields):
            self.text(field, f"{path}/fields/{i}", limit=MAX_SECTION_FIELD_TEXT)
        accessory = block.get("accessory")
        if accessory is not None:
            self.elements([accessory], path, SECTION_ACCESSORIES, single="accessory")

    def _header(self, block: JSON, path: str) -> None:
        self.text(block.get("text"), f"{path}/text", limit=MAX_HEADER_TEXT, plain_only=True)

    def _divider(self, block: JSON, path: str) -> None:
        return

    def _image(self, block: JSON, path: str) -> None:
        self.image(block, path)
        self.text(
            block.get("title"),
            f"{path}/title",
            limit=MAX_IMAGE_TITLE,
            plain_only=True,
            required=False,
        )

    def _context(self, block: JSON, path: str) -> None:
        elements = self.items(
            block.get("elements"),
            f"{path}/elements",
            limit=MAX_CONTEXT_ELEMENTS,
            minimum=1,
            required=True,
        )
        for i, element in enumerate(elements):
            element_path = f"{path}/elements/{i}"
            if isinstance(element, dict) and element.get("type") == "image":
                self.image(element, element_path)
            else:
                self.text(element, element_path, limit=MAX_SECTION_TEXT)

    def _actions(self, block: JSON, path: str) -> None:
        elements = self.items(
            block.get("elements"),
            f"{path}/elements",
            limit=MAX_ACTIONS_ELEMENTS,
            minimum=1,
            required=True,
        )
        self.elements(elements, f"{path}/elements", ACTIONS_ELEMENTS)

    def _input(self, block: JSON, path: str) -> None:
        if self.surface != "modal":
            self.add(path, "input blocks are only allowed in modals")
        self.text(block.get("label"), f"{path}/label", limit=MAX_LABEL, plain_only=True)
        self.text(
            block.get("hint"), f"{path}/hint", limit=MAX_HINT, plain_only=True, required=False
        )
        element = block.get("element")
        if element is None:
            self.add(f"{path}/element", "missing required field")
        else:
            self.elements([element], path, INPUT_ELEMENTS, single="element")

    def _rich_text(self, block: JSON, path: str) -> None:
        self.items(block.get("elements"), f"{path}/elements", limit=10_000, required=True)

    def _file(self, block: JSON, path: str) -> None:
        self.string(
            block.get("external_id"), f"{path}/external_id", limit=MAX_EXTERNAL_ID, required=True
        )
        self.string(block.get("source"), f"{path}/source", limit=50, required=True)

    def _video(self, block: JSON, path: str) -> None:
        for key in ("alt_text", "video_url", "thumbnail_url"):
            self.string(block.get(key), f"{path}/{key}", limit=MAX_URL, required=True)
        self.text(block.get("title"), f"{path}/title", limit=200, plain_only=True)

    def _markdown(self, block: JSON, path: str) -> None:
        self.string(block.get("text"), f"{path}/text", limit=MAX_MARKDOWN_BLOCK, required=True)

    _block_checks: ClassVar[dict[str, Callable[[_Checker, JSON, str], None]]] = {
        "section": _section,
        "header": _header,
        "divider": _divider,
        "image": _image,
        "context": _context,
        "actions": _actions,
        "input": _input,
        "rich_text": _rich_text,
        "file": _file,
        "video": _video,
        "markdown": _markdown,
    }

    # --- elements ---------------------------------------------------------------------------

    def elements(
        self, elements: list[Any], path: str, allowed: frozenset[str], *, single: str | None = None
    ) -> None:
        block_action_ids: set[str] = set()
        for i, element in enumerate(elements):
            element_path = f"{path}/{single}" if single else f"{path}/{i}"
            if not isinstance(element, dict):
                self.add(element_path, "must be an object")
                continue
            kind = element.get("type")
            if kind not in allowed:
                self.add(f"{element_path}/type", f"unsupported element type {kind!r} here")
                continue
            self.action_id(element, element_path, block_action_ids)
            self.element(element, element_path)

    def action_id(self, element: JSON, path: str, seen_in_block: set[str]) -> None:
        action_id = element.get("action_id")
        if action_id is None:
            return
        self.string(action_id, f"{path}/action_id", limit=MAX_ACTION_ID)
        if not isinstance(action_id, str):
            return
        if action_id in seen_in_block:
            self.add(f"{path}/action_id", f"duplicate action_id {action_id!r} in block")
            return
        seen_in_block.add(action_id)
        if self.view_wide_action_ids:
            # Stricter than Slack, which wants uniqueness per block only: the project's rule,
            # so that one action_id names one element of a view.
            here = f"{path}/action_id"
            first = self.view_action_ids.setdefault(action_id, here)
            if first != here:
                self.add(here, f"duplicate action_id {action_id!r}, first at {first}")

    def element(self, element: JSON, path: str) -> None:
        kind = str(element["type"])
        self.text(
            element.get("placeholder"),
            f"{path}/placeholder",
            limit=MAX_PLACEHOLDER,
            plain_only=True,
            required=False,
        )
        self.confirm(element.get("confirm"), f"{path}/confirm")
        if kind == "button":
            self.text(element.get("text"), f"{path}/text", limit=MAX_BUTTON_TEXT, plain_only=True)
            self.string(element.get("value"), f"{path}/value", limit=MAX_BUTTON_VALUE)
            self.string(element.get("url"), f"{path}/url", limit=MAX_URL)
            style = element.get("style")
            if style is not None and style not in {"primary", "danger"}:
                self.add(f"{path}/style", f"unsupported style {style!r}")
        elif kind in {"static_select", "multi_static_select"}:
            self.static_select(element, path)
        elif kind in {"external_select", "multi_external_select"}:
            self.initial_options(element, path, known=None, plain_only=True)
            min_query = element.get("min_query_length")
            if min_query is not None and (not isinstance(min_query, int) or min_query < 0):
                self.add(f"{path}/min_query_length", "must be a non-negative integer")
        elif kind in {"checkboxes", "radio_buttons"}:
            options = self.items(
                element.get("options"),
                f"{path}/options",
                limit=MAX_CHECKBOX_OPTIONS if kind == "checkboxes" else MAX_RADIO_OPTIONS,
                minimum=1,
                required=True,
            )
            for i, option in enumerate(options):
                self.option(option, f"{path}/options/{i}", plain_only=False)
            self.initial_options(element, path, known=options, plain_only=False)
        elif kind == "overflow":
            options = self.items(
                element.get("options"),
                f"{path}/options",
                limit=MAX_OVERFLOW_OPTIONS,
                minimum=1,
                required=True,
            )
            for i, option in enumerate(options):
                self.option(option, f"{path}/options/{i}", plain_only=True)
        elif kind == "plain_text_input":
            self.text_input(element, path)
        elif kind == "datepicker":
            self.pattern(element.get("initial_date"), f"{path}/initial_date", _DATE, "YYYY-MM-DD")
        elif kind == "timepicker":
            self.pattern(element.get("initial_time"), f"{path}/initial_time", _TIME, "HH:mm")
        elif kind == "image":
            self.image(element, path)

    def static_select(self, element: JSON, path: str) -> None:
        has_options = element.get("options") is not None
        has_groups = element.get("option_groups") is not None
        if has_options == has_groups:
            self.add(path, "must provide exactly one of options or option_groups")
        known: list[Any] = []
        options = self.items(
            element.get("options"), f"{path}/options", limit=MAX_SELECT_OPTIONS, minimum=1
        )
        for i, option in enumerate(options):
            self.option(option, f"{path}/options/{i}", plain_only=True)
        known.extend(options)
        groups = self.items(
            element.get("option_groups"), f"{path}/option_groups", limit=MAX_OPTION_GROUPS
        )
        for g, group in enumerate(groups):
            group_path = f"{path}/option_groups/{g}"
            if not isinstance(group, dict):
                self.add(group_path, "must be an object")
                continue
            self.text(
                group.get("label"),
                f"{group_path}/label",
                limit=MAX_OPTION_GROUP_LABEL,
                plain_only=True,
            )
            group_options = self.items(
                group.get("options"),
                f"{group_path}/options",
                limit=MAX_GROUP_OPTIONS,
                minimum=1,
                required=True,
            )
            for i, option in enumerate(group_options):
                self.option(option, f"{group_path}/options/{i}", plain_only=True)
            known.extend(group_options)
        self.initial_options(element, path, known=known, plain_only=True)

    def initial_options(
        self, element: JSON, path: str, *, known: list[Any] | None, plain_only: bool
    ) -> None:
        chosen: list[tuple[str, Any]] = []
        if element.get("initial_option") is not None:
            chosen.append((f"{path}/initial_option", element["initial_option"]))
        for i, option in enumerate(element.get("initial_options") or []):
            chosen.append((f"{path}/initial_options/{i}", option))
        values = {o.get("value") for o in known or [] if isinstance(o, dict)}
        for option_path, option in chosen:
            self.option(option, option_path, plain_only=plain_only)
            if known is not None and isinstance(option, dict) and option.get("value") not in values:
                self.add(option_path, "must match one of the options")

    def option(self, option: Any, path: str, *, plain_only: bool) -> None:
        if not isinstance(option, dict):
            self.add(path, "must be an option object")
            return
        self.text(option.get("text"), f"{path}/text", limit=MAX_OPTION_TEXT, plain_only=plain_only)
        self.string(option.get("value"), f"{path}/value", limit=MAX_OPTION_VALUE, required=True)
        self.text(
            option.get("description"),
            f"{path}/description",
            limit=MAX_OPTION_DESCRIPTION,
            plain_only=plain_only,
            required=False,
        )
        self.string(option.get("url"), f"{path}/url", limit=MAX_URL)

    def text_input(self, element: JSON, path: str) -> None:
        for key, low in (("min_length", 0), ("max_length", 1)):
            value = element.get(key)
            if value is not None and (
                not isinstance(value, int) or not low <= value <= MAX_TEXT_INPUT_LENGTH
            ):
                self.add(
                    f"{path}/{key}", f"must be an integer from {low} to {MAX_TEXT_INPUT_LENGTH}"
                )
        self.string(
            element.get("initial_value"), f"{path}/initial_value", limit=MAX_TEXT_INPUT_LENGTH
        )

    def image(self, obj: JSON, path: str) -> None:
        if obj.get("image_url") is None and obj.get("slack_file") is None:
            self.add(f"{path}/image_url", "missing required field")
        self.string(obj.get("image_url"), f"{path}/image_url", limit=MAX_URL)
        self.string(obj.get("alt_text"), f"{path}/alt_text", limit=MAX_ALT_TEXT, required=True)

    def confirm(self, obj: Any, path: str) -> None:
        if obj is None:
            return
        if not isinstance(obj, dict):
            self.add(path, "must be a confirmation dialog object")
            return
        self.text(obj.get("title"), f"{path}/title", limit=MAX_CONFIRM_TITLE, plain_only=True)
        self.text(obj.get("text"), f"{path}/text", limit=MAX_CONFIRM_TEXT)
        self.text(obj.get("confirm"), f"{path}/confirm", limit=MAX_CONFIRM_BUTTON, plain_only=True)
        self.text(obj.get("deny"), f"{path}/deny", limit=MAX_CONFIRM_BUTTON, plain_only=True)

    def pattern(self, value: Any, path: str, regex: re.Pattern[str], shape: str) -> None:
        if value is not None and (not isinstance(value, str) or not regex.match(value)):
            self.add(path, f"must be in the format {shape}")


def _json_size(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())


def check_view(
    view: Any,
    *,
    path: str = "/view",
    expect_type: str | None = None,
    unique_action_ids: bool = True,
) -> list[Problem]:
    """A modal or Home tab, as sent to views.open/push/update/publish or in a response_action.

    unique_action_ids: also refuse an action_id repeated in another block of the view.
    """
    if not isinstance(view, dict):
        return [Problem(path, "missing required field")]
    kind = view.get("type")
    checker = _Checker(
        surface="modal" if kind == "modal" else "home",
        error="invalid_arguments",
        view_wide_action_ids=unique_action_ids,
    )
    if kind not in {"modal", "home"}:
        checker.add(f"{path}/type", f"unsupported view type {kind!r}")
    elif expect_type is not None and kind != expect_type:
        checker.add(f"{path}/type", f"must be {expect_type!r} for this method")
    if kind == "modal":
        checker.text(view.get("title"), f"{path}/title", limit=MAX_MODAL_TEXT, plain_only=True)
        for key in ("submit", "close"):
            checker.text(
                view.get(key),
                f"{path}/{key}",
                limit=MAX_MODAL_TEXT,
                plain_only=True,
                required=False,
            )
        blocks = view.get("blocks") or []
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and view.get("submit") is None:
            checker.add(f"{path}/submit", "submit is required when the view has input blocks")
    if view.get("blocks") is None:
        checker.add(f"{path}/blocks", "missing required field")
    checker.blocks(view.get("blocks"), f"{path}/blocks", limit=MAX_BLOCKS_VIEW)
    checker.string(
        view.get("private_metadata"), f"{path}/private_metadata", limit=MAX_PRIVATE_METADATA
    )
    checker.string(view.get("callback_id"), f"{path}/callback_id", limit=MAX_CALLBACK_ID)
    checker.string(view.get("external_id"), f"{path}/external_id", limit=MAX_EXTERNAL_ID)
    size = _json_size(view)
    if size > MAX_VIEW_BYTES:
        checker.add(
            path, f"view is {size} bytes, at most {MAX_VIEW_BYTES} allowed", "view_too_large"
        )
    return checker.problems


def check_message(
    *, text: Any, blocks: Any, path: str = "", surface_error: str = "invalid_blocks"
) -> list[Problem]:
    """A message's text and blocks, as sent to chat.postMessage/update/postEphemeral or an ack."""
    checker = _Checker(surface="message", error=surface_error)
    if text is not None:
        if not isinstance(text, str):
            checker.add(f"{path}/text", "must be a string", "invalid_arguments")
        elif len(text) > MAX_MESSAGE_TEXT:
            checker.add(
                f"{path}/text",
                f"must be at most {MAX_MESSAGE_TEXT} characters, got {len(text)}",
                "msg_too_long",
            )
    checker.blocks(blocks, f"{path}/blocks", limit=MAX_BLOCKS_MESSAGE)
    return checker.problems


def check_suggestions(payload: Any) -> list[Problem]:
    """The ack to a block_suggestion: options, or option_groups, within Slack's limits."""
    checker = _Checker(surface="modal", error="invalid_options")
    if payload is None:
        return []
    if not isinstance(payload, dict):
        return [Problem("", "must be an object", "invalid_options")]
    options = checker.items(payload.get("options"), "/options", limit=MAX_SUGGESTION_OPTIONS)
    for i, option in enumerate(options):
        checker.option(option, f"/options/{i}", plain_only=True)
    groups = checker.items(payload.get("option_groups"), "/option_groups", limit=MAX_OPTION_GROUPS)
    for g, group in enumerate(groups):
        group_path = f"/option_groups/{g}"
        if not isinstance(group, dict):
            checker.add(group_path, "must be an object")
            continue
        checker.text(
            group.get("label"), f"{group_path}/label", limit=MAX_OPTION_GROUP_LABEL, plain_only=True
        )
        group_options = checker.items(
            group.get("options"), f"{group_path}/options", limit=MAX_GROUP_OPTIONS, required=True
        )
        for i, option in enumerate(group_options):
            checker.option(option, f"{group_path}/options/{i}", plain_only=True)
    return checker.problems
