"""Admins manage bundles and access flows from Slack, every change audited (issue 7)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.admin import AdminConsole, Changed
from app.bootstrap import Application, build_application
from app.integrations.base import Resource
from blocks.admin import BundleEditor, BundleRef, BundleReview, FlowRef
from domain.audit import AuditKind
from domain.catalog import Source
from domain.ids import UserId
from domain.lifecycle import Status
from domain.policy import BundleSpec, ObjectSpec
from slacksim import Simulator, View, payloads, texts_of
from slacksim.pytest_plugin import SimulatorFactory
from tests.e2e.harness import (
    ALICE,
    AUDIT,
    BOB,
    CAROL,
    DAVE,
    FRANK,
    OSCAR,
    Bot,
    fake_integrations,
    settings_for,
    standard_policy,
    workspace,
)
from tests.e2e.messages import approval_requests, forged_click, text_of, wait_status
from tests.e2e.modal_steps import bundle_options, pick_bundle, request_bundle, text

pytestmark = pytest.mark.e2e


@dataclass
class Console:
    bot: Bot
    admin: AdminConsole

    @property
    def sim(self) -> Simulator:
        return self.bot.sim

    @property
    def app(self) -> Application:
        return self.bot.app


@pytest.fixture
def console(slack_sim_factory: SimulatorFactory, tmp_path: Path) -> Iterator[Console]:
    sim = slack_sim_factory(workspace=workspace())
    policy = standard_policy()
    integrations = fake_integrations(policy)
    integrations["prod-postgres"].resources = [
        Resource(f"sales.{t}", "table") for t in ("orders", "customers", "refunds")
    ]
    integrations["shop-mysql"].resources = [Resource("shop.orders", "table")]
    app = build_application(
        settings=settings_for(sim, database_url=f"sqlite:///{tmp_path / 'bot.db'}"),
        policy=policy,
        integrations=integrations,
        channel_rate=1000.0,
    )
    app.prepare()
    app.run_now("discover")
    app.start(sweeps=False)
    sim.wait_for_connections()
    yield Console(bot=Bot(sim=sim, app=app), admin=app.services.admin)
    app.stop(wait_for_socket=False)


# -- steps ----------------------------------------------------------------------------------------


def home(c: Console, user: str) -> View:
    return republished(c, user, lambda: c.sim.open_home(user))


def republished(c: Console, user: str, act: Callable[[], object]) -> View:
    before = len(c.sim.calls_to("views.publish"))
    act()
    c.sim.wait_for(lambda: len(c.sim.calls_to("views.publish")) > before)
    view = c.sim.home(user)
    assert view is not None
    return view


def opened(c: Console, user: str, act: Callable[[], object]) -> View:
    """Do something that opens (or stacks) a modal and return it."""

    def calls() -> int:
        return len(c.sim.calls_to("views.open")) + len(c.sim.calls_to("views.push"))

    before = calls()
    act()
    c.sim.wait_for(lambda: calls() > before)
    return c.bot.view(user)


def on_home(c: Console, action_id: str, *, value: str | None = None) -> View:
    view = home(c, CAROL)
    return opened(
        c, CAROL, lambda: c.sim.click(CAROL, action_id=action_id, view_id=view.id, value=value)
    )


def new_bundle(c: Console) -> View:
    return on_home(c, "admin.bundle.new")


def edit_bundle(c: Console, name: str) -> View:
    return on_home(c, f"admin.bundle.menu:{name}", value="edit")


def from_integration(c: Console, integration: str) -> View:
    view = c.bot.view(CAROL)
    return c.bot.after(
        CAROL,
        lambda: c.sim.select(
            CAROL, action_id="admin.edit.integration", view_id=view.id, value=integration
        ),
    )


def add(c: Console, integration: str, resource: str, permission: str) -> View:
    """Pick the resource in the typeahead (what is typed is offered too), then Add."""
    view = from_integration(c, integration)
    found = c.sim.suggest(CAROL, view_id=view.id, action_id="admin.edit.resource", query=resource)
    option = next(o for o in found if o["value"] == resource)
    c.sim.select(CAROL, view_id=view.id, action_id="admin.edit.resource", option=option)
    c.sim.select(CAROL, view_id=view.id, action_id="admin.edit.permission", value=permission)
    return c.bot.after(
        CAROL, lambda: c.sim.click(CAROL, action_id="admin.edit.add", view_id=view.id)
    )


def remove(c: Console, integration: str) -> View:
    view = c.bot.view(CAROL)
    return c.bot.after(
        CAROL,
        lambda: c.sim.click(CAROL, action_id=f"admin.edit.remove:{integration}", view_id=view.id),
    )


def remove_one(c: Console, query: str, resource: str) -> View:
    """Find one object in the remove-one typeahead and pick it."""
    view = c.bot.view(CAROL)
    found = c.sim.suggest(CAROL, view_id=view.id, action_id="admin.edit.remove_one", query=query)
    option = next(o for o in found if o["text"]["text"] == resource)
    return c.bot.after(
        CAROL,
        lambda: c.sim.select(
            CAROL, action_id="admin.edit.remove_one", view_id=view.id, option=option
        ),
    )


def review(c: Console, *, name: str | None = None) -> View:
    view = c.bot.view(CAROL)
    if name is not None:
        c.sim.type_text(CAROL, view_id=view.id, action_id="admin.edit.name", text=name)
    ack = c.sim.submit_view(CAROL, view_id=view.id)
    assert ack.payload is not None
    assert ack.payload["response_action"] == "push", ack.payload
    return c.bot.view(CAROL)


def confirm(c: Console) -> str:
    """Press the submit button of the modal on top (Save, Delete) and read the outcome."""
    view = c.bot.view(CAROL)
    before = len(c.sim.calls_to("views.publish"))
    ack = c.sim.submit_view(CAROL, view_id=view.id)
    assert ack.payload is not None
    assert ack.payload["response_action"] == "update", ack.payload
    said = " ".join(texts_of(ack.payload["view"]["blocks"]))
    if "✅" in said:  # a change refreshes the admin's Home tab
        c.sim.wait_for(lambda: len(c.sim.calls_to("views.publish")) > before)
    return said


def flow_modal(c: Console, flow: str) -> View:
    return on_home(c, f"admin.flow.menu:{flow}", value="bundles")


def add_to_flow(c: Console, flow: str, bundle: str) -> View:
    view = flow_modal(c, flow)
    return c.bot.after(
        CAROL,
        lambda: c.sim.select(
            CAROL, action_id="admin.flow.add_bundle", view_id=view.id, value=bundle
        ),
    )


def audit_lines(c: Console, count: int) -> list[str]:
    c.sim.wait_for(lambda: len([m for m in c.sim.messages(AUDIT) if "🛠️" in m.text]) >= count)
    return [text_of(m) for m in c.sim.messages(AUDIT) if "🛠️" in m.text]


def events(c: Console, kind: AuditKind) -> list[dict[str, Any]]:
    with c.app.store.read() as uow:
        return [{"actor": e.actor, **e.data} for e in uow.audit.kinds(kind=kind)]


def shown(view: View) -> str:
    return " ".join(texts_of(view.blocks))


def row(view: View, block_id: str) -> str:
    return " ".join(texts_of([b for b in view.blocks if b.get("block_id") == block_id]))


def create_sales_triage(c: Console) -> None:
    """Carol creates a bundle of three integrations in Slack."""
    new_bundle(c)
    add(c, "prod-postgres", "sales.*", "read_only")
    add(c, "prod-redis", "orders:*", "read_write")
    editor = add(c, "shop-mysql", "shop.orders", "read_only")
    assert "Contents: 3 objects* in 3 integrations" in shown(editor)
    preview = review(c, name="sales-triage")
    assert "Create 📦 *sales-triage*" in shown(preview)
    assert "no flow holds this bundle" in shown(preview)
    assert "You created bundle *sales-triage*" in confirm(c)


# -- the stories ---------------------------------------------------------------------------------


def test_an_admin_creates_a_bundle_of_three_integrations_adds_it_to_a_flow_and_it_is_requested(
    console: Console,
) -> None:
    c = console
    create_sales_triage(c)
    admin_home = home(c, CAROL)
    assert "📦 *sales-triage*" in shown(admin_home)
    assert "*prod-postgres* (postgresql) · 3 discovered resources · ✅ reachable" in shown(
        admin_home
    )
    flow = add_to_flow(c, "developers", "sales-triage")
    assert "Added bundle *sales-triage* to access flow *developers*" in shown(flow)

    c.bot.open_modal(ALICE)
    view = pick_bundle(c.bot, ALICE, "sales-triage")
    assert "5 objects in 3 integrations" in text(view)  # sales.* matched three tables
    request_id = request_bundle(c.bot, ALICE, "sales-triage")
    c.sim.wait_for(lambda: approval_requests(c.bot, BOB, request_id))

    lines = audit_lines(c, 2)
    assert "<@U0CAROL> created bundle *sales-triage*" in lines[0]
    assert "added bundle *sales-triage* to access flow *developers*" in lines[1]
    changes = events(c, AuditKind.ADMIN_CHANGE)
    assert [(e["actor"], e["what"], e["target"]) for e in changes] == [
        (CAROL, "bundle.create", "sales-triage"),
        (CAROL, "flow.add_bundle", "developers"),
    ]
    assert changes[0]["before"] is None
    assert "prod-postgres:sales.*:read_only" in changes[0]["after"]["objects"]
    assert changes[1]["after"]["bundles"] == ["prod-incident", "sales-triage"]


def test_editing_a_bundle_previews_its_impact_and_every_flow_then_offers_the_new_content(
    console: Console,
) -> None:
    c = console
    pending = request_bundle(c.bot, ALICE, "prod-incident")  # developers: Bob approves
    active = request_bundle(c.bot, OSCAR, "prod-incident")  # on-call: automatic
    wait_status(c.bot, active, Status.ACTIVE)
    assert "📄 _from the policy file_" in shown(home(c, CAROL))

    editor = edit_bundle(c, "prod-incident")
    assert "kept over the file until the file changes it" in shown(editor)
    assert "Held by *on-call*, *developers*, *by-email*" in shown(editor)
    remove(c, "shop-mysql")
    add(c, "prod-postgres", "sales.refunds", "read_only")
    preview = shown(review(c))
    assert "4 → 4 objects as written (+1 added, −1 removed)" in preview
    assert "`sales.refunds` read_only (prod-postgres)" in preview
    assert "`shop.orders` read_only (shop-mysql)" in preview
    assert "Access flows affected (3):* *on-call*, *developers*, *by-email*" in preview
    assert "1 pending request made on the old content will be checked again" in preview
    assert "1 active request keeps its current access until it ends" in preview
    assert "You changed bundle *prod-incident*" in confirm(c)

    c.bot.open_modal(ALICE)
    now_offered = text(pick_bundle(c.bot, ALICE, "prod-incident"))
    assert "4 objects in 2 integrations" in now_offered
    assert "shop-mysql" not in now_offered
    bundle = c.app.services.catalog.bundle("prod-incident")
    assert bundle is not None
    assert bundle[0].source is Source.SLACK
    assert "📄" not in row(home(c, CAROL), "admin.bundle.prod-incident")

    # The pending request was made on the old content: it is checked again when Bob decides.
    [ask] = approval_requests(c.bot, BOB, pending)
    c.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    c.sim.wait_for(lambda: any("bundle changed" in e.text for e in c.sim.ephemerals(BOB)))
    [change] = [e for e in events(c, AuditKind.ADMIN_CHANGE) if e["what"] == "bundle.update"]
    assert change["added"] == ["prod-postgres:sales.refunds:read_only"]
    assert change["removed"] == ["shop-mysql:shop.orders:read_only"]
    assert change["flows"] == ["on-call", "developers", "by-email"]


def test_deleting_a_bundle_asks_first_then_removes_it_from_its_flows_and_says_which(
    console: Console,
) -> None:
    c = console
    asked = shown(on_home(c, "admin.bundle.menu:finance-bundle", value="delete"))
    assert "Delete 📦 *finance-bundle*" in asked
    assert "It will be removed from *finance*" in asked
    assert "*finance* would offer nothing else, so it is deactivated too" in asked
    assert c.app.services.catalog.bundle("finance-bundle") is not None  # nothing yet

    done = confirm(c)
    assert "removed from *finance*" in done
    assert "deactivated, as they offer nothing else now: *finance*" in done
    assert c.app.services.catalog.bundle("finance-bundle") is None
    flow = c.app.services.catalog.flow("finance")
    assert flow is not None
    assert flow.flow.bundles == []
    assert not flow.flow.active
    assert "deleted bundle *finance-bundle*" in audit_lines(c, 1)[0]
    assert "No active access flow offers you" in text(c.bot.open_modal(FRANK))


def test_activating_deactivating_and_emptying_a_flow_from_slack_changes_what_requesters_see(
    console: Console,
) -> None:
    c = console
    assert bundle_options(c.bot.open_modal(OSCAR)) == ["prod-incident"]
    view = home(c, CAROL)
    view = republished(
        c,
        CAROL,
        lambda: c.sim.click(
            CAROL, action_id="admin.flow.menu:on-call", view_id=view.id, value="deactivate"
        ),
    )
    assert "*on-call* · ⚪ inactive" in shown(view)
    assert "No active access flow offers you" in text(c.bot.open_modal(OSCAR))

    listed = on_home(c, "admin.flows.all")  # every flow, a page at a time
    assert "6 access flows" in shown(listed)
    listed = c.bot.after(
        CAROL,
        lambda: c.sim.click(
            CAROL, action_id="admin.flow.menu:on-call", view_id=listed.id, value="activate"
        ),
    )
    assert "*on-call* · 🟢 active" in shown(listed)
    c.bot.open_modal(OSCAR)
    assert "prod-incident" in text(pick_bundle(c.bot, OSCAR, "prod-incident"))

    # Taking out the only bundle of a flow leaves it nothing to offer: it is deactivated too.
    flow = flow_modal(c, "on-call")
    flow = c.bot.after(
        CAROL,
        lambda: c.sim.click(
            CAROL, action_id="admin.flow.remove_bundle:prod-incident", view_id=flow.id
        ),
    )
    assert "*on-call* offers nothing else now, so it was deactivated" in shown(flow)
    assert "No active access flow offers you" in text(c.bot.open_modal(OSCAR))
    assert [e["what"] for e in events(c, AuditKind.ADMIN_CHANGE)] == [
        "flow.deactivate",
        "flow.activate",
        "flow.remove_bundle",
    ]
    assert len(audit_lines(c, 3)) == 3


def test_a_non_admin_sees_no_admin_section_and_forged_admin_actions_are_refused_and_audited(
    console: Console,
) -> None:
    c = console
    assert c.admin.views.home_for(viewer=UserId(DAVE)) is None
    assert "admin." not in json.dumps(home(c, DAVE).blocks)

    dm = c.sim.dm_channel(DAVE)
    for action_id, value in (
        ("admin.flow.toggle", FlowRef(f="on-call", on=False).encode()),
        ("admin.bundle.new", "new"),
        ("admin.bundle.menu:prod-incident", "delete"),
    ):
        c.sim.send_envelope(
            type_="interactive",
            payload=forged_click(user=DAVE, action_id=action_id, value=value, channel=dm),
        )
    dave = c.sim.workspace.user(DAVE)
    assert dave is not None
    forged_delete = payloads.view_submission(
        c.sim.workspace,
        dave,
        view={
            "id": "V0FORGED01",
            "type": "modal",
            "callback_id": "admin.bundle.delete",
            "private_metadata": BundleRef(b="prod-incident").encode(),
            "state": {"values": {}},
            "blocks": [],
        },
        trigger_id="1.2.forged",
    )
    answer = c.sim.send_envelope(type_="interactive", payload=forged_delete)
    assert "Only admins" in json.dumps(answer.payload)

    c.sim.wait_for(lambda: len(events(c, AuditKind.ADMIN_REFUSED)) == 4)
    refused = events(c, AuditKind.ADMIN_REFUSED)
    assert {r["actor"] for r in refused} == {DAVE}
    assert sorted(r["refused"] for r in refused) == [
        "not an admin: deactivate flow on-call",
        "not an admin: delete bundle prod-incident",
        "not an admin: delete bundle prod-incident",
        "not an admin: edit bundle (new)",
    ]
    assert events(c, AuditKind.ADMIN_CHANGE) == []
    flow = c.app.services.catalog.flow("on-call")
    assert flow is not None
    assert flow.flow.active
    assert c.app.services.catalog.bundle("prod-incident") is not None
    c.sim.wait_for(lambda: len(c.sim.ephemerals(DAVE)) == 3)
    assert all(e.text.startswith("⛔") for e in c.sim.ephemerals(DAVE))


def test_a_bundle_of_several_thousand_objects_stays_editable_within_slacks_limits(
    console: Console,
) -> None:
    c = console
    objects = [
        *(ObjectSpec(integration="prod-postgres", resource=f"wh.t{i:05d}", permission="read_only")
          for i in range(2_500)),
        *(ObjectSpec(integration="shop-mysql", resource=f"wh.t{i:05d}", permission="read_only")
          for i in range(1_500)),
        ObjectSpec(integration="prod-redis", resource="wh:*", permission="read_only"),
    ]  # fmt: skip
    c.app.services.catalog.save_bundle(
        BundleSpec(name="warehouse", objects=objects), by=UserId(CAROL)
    )
    assert "4,001 objects in 3 integrations" in shown(home(c, CAROL))

    editor = edit_bundle(c, "warehouse")
    assert "Contents: 4,001 objects*" in shown(editor)
    assert len(editor.blocks) <= 100
    add(c, "prod-postgres", "sales.orders", "read_write")
    editor = remove(c, "shop-mysql")
    assert "Contents: 2,502 objects*" in shown(editor)
    preview = shown(review(c))
    assert "4,001 → 2,502 objects as written (+1 added, −1,500 removed)" in preview
    assert "and 1,490 more" in preview
    assert "You changed bundle *warehouse*" in confirm(c)
    bundle = c.app.services.catalog.bundle("warehouse")
    assert bundle is not None
    assert bundle[0].object_count == 2_502
    [change] = events(c, AuditKind.ADMIN_CHANGE)
    assert change["before"]["count"] == 4_001
    assert change["before"]["objects"] is None
    assert change["removed_count"] == 1_500
    assert len(change["removed"]) == 200
    c.sim.assert_no_violations()


def test_an_admin_finds_one_object_of_a_bundle_by_typeahead_and_removes_just_that_one(
    console: Console,
) -> None:
    c = console
    editor = edit_bundle(c, "prod-incident")
    assert "Contents: 4 objects*" in shown(editor)
    found = c.sim.suggest(
        CAROL, view_id=editor.id, action_id="admin.edit.remove_one", query="SALES ord"
    )
    assert [(o["text"]["text"], o["description"]["text"]) for o in found] == [
        ("sales.orders", "read_write · prod-postgres")
    ]
    editor = remove_one(c, "sales ord", "sales.orders")
    assert "Contents: 3 objects*" in shown(editor)
    assert "Removed prod-postgres:sales.orders:read_write." in shown(editor)
    assert (
        c.sim.suggest(
            CAROL, view_id=editor.id, action_id="admin.edit.remove_one", query="sales ord"
        )
        == []
    )

    preview = shown(review(c))
    assert "4 → 3 objects as written (+0 added, −1 removed)" in preview
    assert "`sales.orders` read_write (prod-postgres)" in preview
    assert "You changed bundle *prod-incident*" in confirm(c)
    [change] = events(c, AuditKind.ADMIN_CHANGE)
    assert change["removed"] == ["prod-postgres:sales.orders:read_write"]
    c.sim.assert_no_violations()


def test_removing_an_object_that_is_not_in_the_admins_own_draft_changes_nothing(
    console: Console,
) -> None:
    c = console
    mine = c.admin.editing.start_editing(by=UserId(CAROL), bundle="prod-incident")
    assert isinstance(mine, BundleEditor)
    [(item, _)] = c.admin.editing.suggest_removals(
        draft_key=mine.draft_key, by=UserId(CAROL), query="shop.orders"
    )
    other = c.admin.editing.start_editing(by=UserId(CAROL), bundle="finance-bundle")
    assert isinstance(other, BundleEditor)
    again = c.admin.editing.remove_object(draft_key=other.draft_key, by=UserId(CAROL), item=item)
    assert isinstance(again, BundleEditor)
    assert again.total == other.total
    assert again.notice == "That is no longer in the bundle."
    editor = c.admin.editing.remove_object(draft_key=mine.draft_key, by=UserId(CAROL), item=item)
    assert isinstance(editor, BundleEditor)
    assert editor.total == mine.total - 1


def test_a_bundle_save_and_its_audit_are_one_transaction(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = console
    carol = UserId(CAROL)
    editor = c.admin.editing.start_editing(by=carol, bundle="prod-incident")
    assert isinstance(editor, BundleEditor)
    c.admin.editing.remove_objects(draft_key=editor.draft_key, by=carol, integration="shop-mysql")
    preview = c.admin.saving.review(
        draft_key=editor.draft_key, by=carol, name=None, description="x"
    )
    assert isinstance(preview, BundleReview)
    with c.app.store.read() as uow:
        before = uow.catalog.bundle("prod-incident")
    assert before is not None

    def audit_channel_down(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit channel down")

    monkeypatch.setattr(c.app.services.notifier, "audit_notice", audit_channel_down)
    with pytest.raises(RuntimeError, match="audit channel down"):
        c.admin.saving.save(draft_key=editor.draft_key, by=carol)
    with c.app.store.read() as uow:
        assert uow.catalog.bundle("prod-incident") == before  # the save went with its audit
    assert events(c, AuditKind.ADMIN_CHANGE) == []

    monkeypatch.undo()
    saved = c.admin.saving.save(draft_key=editor.draft_key, by=carol)
    assert isinstance(saved, Changed)
    [change] = events(c, AuditKind.ADMIN_CHANGE)
    with c.app.store.read() as uow:
        after = uow.catalog.bundle("prod-incident")
    assert after is not None
    assert change["version"] == after.version != before.version
    assert "changed bundle *prod-incident*" in audit_lines(c, 1)[0]
