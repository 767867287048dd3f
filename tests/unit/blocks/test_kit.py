"""The plain-dict builders give exactly what slack_sdk.models would, and pass its validators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    OverflowMenuElement,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks import kit
from blocks.home import HomeModel, HomeState, home_view
from blocks.request_modal import (
    BundleChoice,
    BundleDetail,
    FlowChoice,
    RequestModal,
    Selection,
    request_modal,
)
from domain.catalog import IntegrationShare
from domain.drafts import Mode
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from domain.summary import Headline, Page


def test_each_builder_gives_what_slack_sdk_models_give() -> None:
    menu = OverflowMenuElement(
        action_id="o", options=[Option(text=PlainTextObject(text="Details"), value="v")]
    )
    pairs = [
        (kit.header("Hello"), HeaderBlock(text="Hello")),
        (kit.divider(), DividerBlock()),
        (kit.section(text=kit.mrkdwn("*x*")), SectionBlock(text=MarkdownTextObject(text="*x*"))),
        (
            kit.section(
                block_id="b",
                text=kit.mrkdwn("t"),
                accessory=kit.overflow(
                    action_id="o",
                    options=[kit.option(text=kit.plain("Details"), value="v")],
                ),
            ),
            SectionBlock(block_id="b", text=MarkdownTextObject(text="t"), accessory=menu),
        ),
        (
            kit.actions(
                [kit.button(text="Go", action_id="a", value="1", style="primary")],
                block_id="p",
            ),
            ActionsBlock(
                block_id="p",
                elements=[ButtonElement(text="Go", action_id="a", value="1", style="primary")],
            ),
        ),
        (
            kit.context([kit.mrkdwn("c")], block_id="k"),
            ContextBlock(block_id="k", elements=[MarkdownTextObject(text="c")]),
        ),
    ]
    for built, expected in pairs:
        assert built == expected.to_dict()


def test_a_home_with_every_kind_of_row_passes_slack_sdks_parser_and_validators_unchanged() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    rows = tuple(
        Headline(
            id=RequestId(f"AR-{i:06d}"),
            requester=UserId("U1"),
            requester_name="Ann",
            flow="developers",
            bundle="prod" if i % 2 else None,
            status=status,
            created_at=at,
            object_count=i + 1,
            integrations=("pg",),
            expires_at=at if status is Status.ACTIVE else None,
        )
        for i, status in enumerate(Status)
    )
    page = Page(rows=rows, number=1, size=10, total=40)
    model = HomeModel(
        user="U1", state=HomeState(mine=1), mine=page, waiting=page, activity=page, bundles=("b",)
    )
    view = home_view(model)
    assert View(**view).to_dict() == view


def test_the_request_modal_passes_slack_sdks_parser_and_validators_unchanged() -> None:
    flow = FlowChoice(
        name="developers",
        automatic=False,
        approvers="<@U2>",
        max_duration=timedelta(hours=4),
        durations=(timedelta(hours=1), timedelta(hours=4)),
        default_duration=timedelta(hours=1),
        justification_required=True,
    )
    model = RequestModal(
        draft_key="k" * 22,
        mode=Mode.BUNDLE,
        limit=1000,
        bundles=tuple(BundleChoice(f"b{i}", "") for i in range(150)),
        bundle=BundleDetail(
            name="b1",
            description="Orders",
            total=12,
            shares=(IntegrationShare("pg", 10, ("read_only",)), IntegrationShare("redis", 2, ())),
        ),
        selection=Selection(total=2, per_integration={"pg": 2}),
        flows=(flow,),
        flow=flow,
        justification="INC-1",
    )
    view = request_modal(model)
    assert View(**view).to_dict() == view


def test_as_dict_reads_a_model_as_to_dict_does_for_each_kind_the_app_renders() -> None:
    select = StaticSelectElement(
        action_id="s",
        placeholder="Pick",
        options=[Option(text=PlainTextObject(text="One"), value="1", description="first")],
        initial_option=Option(text=PlainTextObject(text="One"), value="1"),
    )
    models = [
        InputBlock(block_id="i", label="L", element=select, dispatch_action=True, hint="h"),
        InputBlock(
            label="J",
            element=PlainTextInputElement(action_id="j", multiline=True, max_length=10),
            optional=True,
        ),
        SectionBlock(
            text=MarkdownTextObject(text="t"), accessory=ButtonElement(text="B", action_id="b")
        ),
        ActionsBlock(elements=[]),  # no elements: left out, as to_dict leaves it out
        OptionGroup(label="g", options=[Option(value="v", label="V")]),
        Option(value="only a label", label="Only a label"),
        View(type="modal", title="T", blocks=[DividerBlock(), HeaderBlock(text="H")]),
    ]
    for model in models:
        assert kit.as_dict(model) == model.to_dict()
