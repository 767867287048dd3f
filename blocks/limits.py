"""Slack's limits on what the bot sends, and the bot's own shares of them: the one place for both.

Where ``slack_sdk.models`` states a limit (a class attribute its validators check), it is read
from there, so the builders and the SDK cannot disagree. The few limits the SDK does not state
are written out once below, with where Slack documents them. The bot's shares come last: the
numbers it keeps itself to, each named after the Slack limit it is a share of.

The simulator (``slacksim/limits.py``) keeps its own copy on purpose: it describes Slack, and a
test fails when the bot and the simulator disagree.
"""

from __future__ import annotations

from typing import Final

from slack_sdk.models.blocks import (
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    Option,
    OptionGroup,
    OverflowMenuElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

# -- Slack's, as slack_sdk.models states them ----------------------------------------------------

MENU_OPTIONS: Final[int] = StaticSelectElement.options_max_length
"""Options in one static menu (100)."""
MENU_OPTION_GROUPS: Final[int] = StaticSelectElement.option_groups_max_length
"""Option groups in one menu or one typeahead answer (100)."""
GROUP_OPTIONS: Final[int] = OptionGroup.options_max_length
"""Options in one option group (100)."""
GROUP_LABEL: Final[int] = OptionGroup.label_max_length
"""Characters of an option group's label (75)."""
OPTION_TEXT: Final[int] = Option.label_max_length
"""Characters of an option's text, and of its description (75)."""
SLACK_OPTION_VALUE: Final[int] = Option.value_max_length
"""Characters of an option's value Slack accepts (150); the bot keeps to :data:`OPTION_VALUE`."""
OVERFLOW_OPTIONS: Final[int] = OverflowMenuElement.options_max_length
"""Options in an overflow menu (5)."""
BUTTON_TEXT: Final[int] = ButtonElement.text_max_length
"""Characters of a button's text (75)."""
CONFIRM_TEXT: Final[int] = ConfirmObject.text_max_length
"""Characters of a confirmation dialog's text (300)."""
SECTION_TEXT: Final[int] = SectionBlock.text_max_length
"""Characters of a section's text, and of a context element's (3,000)."""
SECTION_FIELDS: Final[int] = SectionBlock.fields_max_length
"""Fields of one section (10)."""
CONTEXT_ELEMENTS: Final[int] = ContextBlock.elements_max_length
"""Elements of one context block (10)."""
HEADER_TEXT: Final[int] = HeaderBlock.text_max_length
"""Characters of a header block's text (150)."""
VIEW_TITLE: Final[int] = View.title_max_length
"""Characters of a modal's title (24); its submit and close buttons have as many."""
VIEW_BLOCKS: Final[int] = View.blocks_max_length
"""Blocks of a modal or the Home tab (100)."""
PRIVATE_METADATA: Final[int] = View.private_metadata_max_length
"""Characters of a view's ``private_metadata`` (3,000)."""

# -- Slack's, not stated by slack_sdk.models -----------------------------------------------------

MESSAGE_BLOCKS: Final = 50
"""Blocks of one message (https://docs.slack.dev/reference/block-kit/blocks)."""
RADIO_OPTIONS: Final = 10
"""Options of one radio-buttons element."""
SECTION_FIELD_TEXT: Final = 2_000
"""Characters of one field of a section."""
SUGGESTIONS: Final = 100
"""Options in the answer to one typeahead (``block_suggestion``) request."""

# -- the bot's shares ----------------------------------------------------------------------------

OPTION_VALUE: Final = 75
"""Keep option values at most 75 characters (Slack takes :data:`SLACK_OPTION_VALUE`): they are
opaque keys, and a name longer than this is not offered as a value at all."""
MESSAGE_TEXT: Final = SECTION_TEXT
"""A message's fallback ``text`` is kept to one section's length (Slack takes 40,000)."""
SHORT_LINE: Final = 150
"""One short line shown under or beside something: why an integration is unavailable, a
description under a row."""
HOME_FILTER_VALUES: Final = MENU_OPTIONS - 1
"""A Home filter menu lists this many values; its first option is *Any*."""
OBJECT_LIST_SECTION: Final = SECTION_TEXT - 100
"""The full object list fills each section to this many characters (a margin under
:data:`SECTION_TEXT` for the line breaks that join its lines)."""
