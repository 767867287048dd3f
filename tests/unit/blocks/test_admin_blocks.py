"""The admin console's builders stay inside Slack's limits whatever the catalog holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from blocks.admin import (
    MAX_SECTION_BLOCKS,
    AdminAction,
    AdminHome,
    AdminList,
    BundleEditor,
    BundleLine,
    BundleRef,
    BundleReview,
    DeletePlan,
    FlowEditor,
    FlowLine,
    FlowRef,
    Impact,
    IntegrationLine,
    ListPage,
    admin_list_modal,
    admin_section,
    bundle_editor,
    bundle_review,
    delete_confirmation,
    flow_modal,
    removal_options,
    resource_options,
    row_action,
    row_key,
    row_matching,
)
from blocks.home import HomeModel, HomeState, home_view
from domain.catalog import Source
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from domain.objects import AccessObject
from domain.summary import Headline, Page
from slacksim.limits import check_view

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LONG = "x" * 63


def bundle(i: int, *, source: Source = Source.FILE) -> BundleLine:
    return BundleLine(
        name=f"b{i:05d}-{LONG}"[:63],
        description="d" * 300,
        source=source,
        objects=100_000 + i,
        integrations=40,
        flows=tuple(f"flow-{j}-{LONG}"[:63] for j in range(50)),
    )


def flow(i: int, *, active: bool = True) -> FlowLine:
    return FlowLine(
        name=f"f{i:05d}-{LONG}"[:63],
        active=active,
        source=Source.FILE,
        grantees=(*tuple(f"U{j:08d}" for j in range(30)), "@oncall", "erin@example.com"),
        approvers=tuple(f"@group-{j}" for j in range(30)),
        automatic=False,
        manager=True,
        durations="1h, 2h, 5h (default 1h)",
        bundles=tuple(f"b{j:05d}-{LONG}"[:63] for j in range(300)),
        plain_objects=1_000,
    )


def integration(i: int) -> IntegrationLine:
    return IntegrationLine(
        name=f"i{i:04d}-{LONG}"[:63],
        type="postgresql",
        resources=250_000,
        ok=(True, False, None)[i % 3],
        checked_at=NOW,
        problem="connection refused " * 50,
    )


def big_home() -> AdminHome:
    return AdminHome(
        bundles=tuple(bundle(i) for i in range(1_000)),
        bundle_total=1_000,
        flows=tuple(flow(i, active=i % 2 == 0) for i in range(1_000)),
        flow_total=1_000,
        integrations=tuple(integration(i) for i in range(200)),
    )


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def problems(view: dict[str, Any], kind: str = "modal") -> list[str]:
    return [str(p) for p in check_view(view, expect_type=kind)]


def action_ids(view: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "action_id" in node:
                found.append(node["action_id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(view["blocks"])
    return found


def test_the_admin_section_stays_within_its_block_budget_for_a_huge_catalog() -> None:
    blocks = admin_section(big_home())
    assert len(blocks) <= MAX_SECTION_BLOCKS
    view = {"type": "home", "blocks": [b.to_dict() for b in blocks]}
    assert problems(view, "home") == []
    text = dump(view)
    assert "All 1,000 bundles" in text
    assert "All 1,000 flows" in text
    assert "…and 190 more integrations" in text


def test_the_admin_section_fits_under_the_busiest_home_tab() -> None:
    def rows(count: int, status: Status, first: int) -> Page:
        return Page(
            rows=tuple(
                Headline(
                    id=RequestId(f"AR-{first + i:06d}"),
                    requester=UserId("U0ALICE"),
                    requester_name="Alice",
                    flow="developers",
                    bundle="prod-incident",
                    status=status,
                    created_at=NOW,
                    object_count=1_000,
                    integrations=("prod-postgres", "prod-redis"),
                )
                for i in range(count)
            ),
            number=1,
            size=count,
            total=count * 50,
        )

    home = home_view(
        HomeModel(
            user="U0CAROL",
            state=HomeState(),
            mine=rows(10, Status.ACTIVE, 0),
            waiting=rows(5, Status.PENDING, 100),
            activity=rows(10, Status.ACTIVE, 200),
            bundles=("prod-incident",),
        )
    )
    home["blocks"] += [b.to_dict() for b in admin_section(big_home())]
    assert len(home["blocks"]) <= 100
    assert problems(home, "home") == []


def test_an_empty_catalog_still_renders_a_useful_section() -> None:
    blocks = admin_section(
        AdminHome(bundles=(), bundle_total=0, flows=(), flow_total=0, integrations=())
    )
    text = dump([b.to_dict() for b in blocks])
    assert "New bundle" in text
    assert "none configured" in text


def test_file_defined_objects_carry_the_policy_file_marker_and_slack_ones_do_not() -> None:
    blocks = admin_section(
        AdminHome(
            bundles=(bundle(1), bundle(2, source=Source.SLACK)),
            bundle_total=2,
            flows=(),
            flow_total=0,
            integrations=(),
        )
    )
    rows = [b.to_dict() for b in blocks if str(b.block_id or "").startswith("admin.bundle.")]
    assert "from the policy file" in rows[0]["text"]["text"]
    assert "from the policy file" not in rows[1]["text"]["text"]


def editor(**overrides: Any) -> BundleEditor:
    values: dict[str, Any] = {
        "draft_key": "k" * 22,
        "name": "prod-incident",
        "description": "d" * 300,
        "source": Source.FILE,
        "flows": tuple(f"flow-{i}" for i in range(500)),
        "integrations": tuple(f"i{i:04d}-{LONG}"[:63] for i in range(500)),
        "integration": "i0001-" + LONG[:57],
        "permissions": tuple(f"perm-{i}" for i in range(300)),
        "total": 100_000,
        "per_integration": {f"i{i:04d}": 200 for i in range(500)},
        "recent": tuple(AccessObject("prod-postgres", "r" * 200, "read_only") for _ in range(50)),
        "notice": "n" * 5_000,
    }
    values.update(overrides)
    return BundleEditor(**values)


@pytest.mark.parametrize("name", ["prod-incident", None])
def test_the_editor_of_a_hundred_thousand_objects_is_a_few_dozen_blocks(name: str | None) -> None:
    view = bundle_editor(editor(name=name))
    assert len(view["blocks"]) <= 40
    assert problems(view) == []
    assert len(action_ids(view)) == len(set(action_ids(view)))
    assert json.loads(view["private_metadata"]) == {"d": "k" * 22}
    assert "100,000 objects" in dump(view)
    assert "…and 480 more integrations" in dump(view)


def test_the_editor_says_an_edit_of_a_file_bundle_is_kept_over_the_file() -> None:
    text = dump(bundle_editor(editor()))
    assert "kept over the file until the file changes it" in text
    assert "kept over the file" not in dump(bundle_editor(editor(source=Source.SLACK)))


def test_the_adder_appears_only_once_an_integration_is_chosen() -> None:
    chosen = bundle_editor(editor(integration=None, total=0, per_integration={}, recent=()))
    assert AdminAction.EDIT_ADD.value not in action_ids(chosen)
    assert "nothing yet" in dump(chosen)


def test_one_object_is_found_for_removal_by_typeahead_once_there_is_any() -> None:
    empty = bundle_editor(editor(total=0, per_integration={}, recent=()))
    assert AdminAction.EDIT_REMOVE_ONE.value not in action_ids(empty)
    view = bundle_editor(editor())
    [picker] = [b for b in view["blocks"] if AdminAction.EDIT_REMOVE_ONE.value in dump(b)]
    assert picker["block_id"] == "admin.remove_one.100000"  # empty again after each removal
    assert picker["elements"][0]["type"] == "external_select"


def test_removal_options_carry_item_ids_and_keep_to_slacks_limits() -> None:
    options = removal_options(
        [(i, AccessObject("i" * 63, "r" * 200, "p" * 64)) for i in range(10**12, 10**12 + 150)]
    )
    assert len(options) == 100
    assert options[0]["value"] == str(10**12)
    assert all(len(o["text"]["text"]) <= 75 for o in options)
    assert all(len(o["description"]["text"]) <= 75 for o in options)


def impact() -> Impact:
    return Impact(
        flows=tuple(f"flow-{i}" for i in range(500)),
        inactive_flows=("flow-1",),
        pending=12_345,
        active=1,
    )


def test_the_review_lists_samples_counts_and_the_impact_within_limits() -> None:
    sample = tuple(AccessObject("prod-postgres", "r" * 200, "read_only") for _ in range(10))
    view = bundle_review(
        BundleReview(
            draft_key="k" * 22,
            name="prod-incident",
            new=False,
            source=Source.FILE,
            before=100_000,
            after=60_000,
            per_integration={f"i{i}": 1 for i in range(500)},
            added=sample,
            added_count=20_000,
            removed=sample,
            removed_count=60_000,
            description_changed=True,
            impact=impact(),
        )
    )
    assert problems(view) == []
    text = dump(view)
    assert "100,000 → 60,000 objects as written (+20,000 added, −60,000 removed)" in text
    assert "and 59,990 more" in text
    assert "flow-1 (inactive)" in text
    assert "12,345 pending requests made on the old content" in text
    assert "1 active request keeps its current access" in text


def test_the_delete_confirmation_names_the_flows_and_those_it_deactivates() -> None:
    view = delete_confirmation(
        DeletePlan(
            name="prod-incident",
            source=Source.FILE,
            objects=100_000,
            impact=impact(),
            deactivated=("flow-2",),
        )
    )
    assert problems(view) == []
    text = dump(view)
    assert "*flow-2* would offer nothing else, so it is deactivated too" in text
    assert "and 480 more" in text
    assert BundleRef.parse(view["private_metadata"]) == BundleRef(b="prod-incident")


@pytest.mark.parametrize("addable", [3, 500])
def test_the_flow_modal_lists_its_bundles_and_offers_the_others(addable: int) -> None:
    view = flow_modal(
        FlowEditor(
            flow=flow(1),
            addable=tuple(f"other-{i}" for i in range(addable)),
            notice="Added.",
        )
    )
    assert problems(view) == []
    assert len(action_ids(view)) == len(set(action_ids(view)))
    picker = next(b for b in view["blocks"] if b.get("block_id") == "admin.flow.add")
    kind = picker["elements"][0]["type"]
    assert kind == ("static_select" if addable <= 100 else "external_select")
    toggle = next(b for b in view["blocks"] if b.get("block_id") == "admin.flow.facts")
    assert FlowRef.parse(toggle["accessory"]["value"]) == FlowRef(f=flow(1).name, on=False)


def test_the_lists_page_through_every_bundle_and_flow() -> None:
    bundles = admin_list_modal(
        AdminList(kind="bundles", page=3, total=1_000, bundles=tuple(bundle(i) for i in range(10)))
    )
    flows = admin_list_modal(
        AdminList(kind="flows", page=0, total=3, flows=tuple(flow(i) for i in range(3)))
    )
    for view in (bundles, flows):
        assert problems(view) == []
    assert "Page 4 of 100" in dump(bundles)
    values = [ListPage.model_validate_json(v) for v in _values(bundles, "admin.list.page")]
    assert values == [ListPage(k="bundles", p=2), ListPage(k="bundles", p=4)]
    assert _values(flows, "admin.list.page") == []


def _values(view: dict[str, Any], prefix: str) -> list[str]:
    return [
        e["value"]
        for b in view["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"].startswith(prefix)
    ]


def test_typeahead_answers_keep_to_a_hundred_options_of_valid_length() -> None:
    options = resource_options([("a" * 76, None), *((f"t{i}", "pattern") for i in range(200))])
    assert len(options) == 100
    assert all(len(o["value"]) <= 75 for o in options)


def test_row_action_ids_name_their_row_and_match_their_listener() -> None:
    action_id = row_action(AdminAction.BUNDLE_MENU, "prod-incident")
    assert row_matching(AdminAction.BUNDLE_MENU).match(action_id)
    assert row_matching(AdminAction.BUNDLE_MENU).match(AdminAction.BUNDLE_MENU.value)
    assert not row_matching(AdminAction.NEW_BUNDLE).match(action_id)
    assert row_key(action_id) == "prod-incident"
    assert row_key(AdminAction.BUNDLE_MENU.value) is None
