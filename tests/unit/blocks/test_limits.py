"""The limits module reads Slack's limits from slack_sdk.models, and the builders keep to them."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    Option,
    OptionGroup,
    OverflowMenuElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks import limits
from blocks.request_modal import BundleChoice, RequestModal, request_modal
from domain.drafts import Mode
from slacksim import limits as slack
from slacksim.limits import check_view


def test_slacks_limits_are_the_sdks_class_attributes() -> None:
    assert limits.MENU_OPTIONS == StaticSelectElement.options_max_length == 100
    assert limits.MENU_OPTION_GROUPS == StaticSelectElement.option_groups_max_length == 100
    assert limits.GROUP_OPTIONS == OptionGroup.options_max_length == 100
    assert limits.GROUP_LABEL == OptionGroup.label_max_length == 75
    assert limits.OPTION_TEXT == Option.label_max_length == 75
    assert limits.SLACK_OPTION_VALUE == Option.value_max_length == 150
    assert limits.OVERFLOW_OPTIONS == OverflowMenuElement.options_max_length == 5
    assert limits.BUTTON_TEXT == ButtonElement.text_max_length == 75
    assert limits.SECTION_TEXT == SectionBlock.text_max_length == 3000
    assert limits.SECTION_FIELDS == SectionBlock.fields_max_length == 10
    assert limits.CONTEXT_ELEMENTS == ContextBlock.elements_max_length == 10
    assert limits.HEADER_TEXT == HeaderBlock.text_max_length == 150
    assert limits.VIEW_TITLE == View.title_max_length == 24
    assert limits.VIEW_BLOCKS == View.blocks_max_length == 100
    assert limits.PRIVATE_METADATA == View.private_metadata_max_length == 3000


def test_the_bot_and_the_simulator_agree_on_slacks_limits() -> None:
    assert limits.MENU_OPTIONS == slack.MAX_SELECT_OPTIONS
    assert limits.OPTION_TEXT == slack.MAX_OPTION_TEXT == slack.MAX_OPTION_DESCRIPTION
    assert limits.GROUP_LABEL == slack.MAX_OPTION_GROUP_LABEL
    assert limits.OPTION_VALUE == slack.MAX_OPTION_VALUE
    assert limits.SECTION_TEXT == slack.MAX_SECTION_TEXT
    assert limits.SECTION_FIELD_TEXT == slack.MAX_SECTION_FIELD_TEXT
    assert limits.HEADER_TEXT == slack.MAX_HEADER_TEXT
    assert limits.VIEW_TITLE == slack.MAX_MODAL_TEXT
    assert limits.VIEW_BLOCKS == slack.MAX_BLOCKS_VIEW
    assert limits.MESSAGE_BLOCKS == slack.MAX_BLOCKS_MESSAGE
    assert limits.RADIO_OPTIONS == slack.MAX_RADIO_OPTIONS
    assert limits.SUGGESTIONS == slack.MAX_SUGGESTION_OPTIONS


def test_the_bots_shares_stay_inside_slacks_limits() -> None:
    assert limits.OPTION_VALUE <= limits.SLACK_OPTION_VALUE
    assert limits.MESSAGE_TEXT <= slack.MAX_MESSAGE_TEXT
    assert limits.HOME_FILTER_VALUES + 1 == limits.MENU_OPTIONS
    assert limits.OBJECT_LIST_SECTION < limits.SECTION_TEXT


def _bundle_menu(count: int) -> dict[str, object]:
    model = RequestModal(
        draft_key="draft-key-0000000001",
        mode=Mode.BUNDLE,
        limit=1_000,
        bundles=tuple(BundleChoice(f"bundle-{i:04d}", f"about {i}") for i in range(count)),
    )
    view = request_modal(model)
    assert check_view(view) == []
    menu = next(b for b in view["blocks"] if b.get("block_id") == "bundle")
    element: dict[str, object] = menu["element"]
    return element


def test_the_builder_lists_bundles_that_fit_a_menu_and_searches_the_rest() -> None:
    fits = _bundle_menu(limits.MENU_OPTIONS)
    assert fits["type"] == "static_select"
    assert isinstance(fits["options"], list)
    assert len(fits["options"]) == limits.MENU_OPTIONS

    too_many = _bundle_menu(limits.MENU_OPTIONS + 1)
    assert too_many["type"] == "external_select"
    assert "options" not in too_many
