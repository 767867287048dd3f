"""Requesting (``app/requesting/``): who may request what, the modal's limits, and what a
submission stores. Each rule is checked on the server, whatever the modal showed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from app.requesting.modal import DraftNotFound, FormInput
from app.requesting.submission import Field, Refused, Submitted
from domain.audit import AuditKind
from domain.drafts import Mode
from domain.lifecycle import Status
from domain.people import Person
from domain.policy import BundleSpec
from tests.unit.features.world import (
    ALICE,
    BOB,
    CACHE,
    CAROL,
    CART_KEYS,
    DAVE,
    DB,
    ERIN,
    INVOICES,
    ONCALL_DB,
    ORDER_KEYS,
    ORDERS,
    World,
    object_specs,
)


def refused_on(result: Submitted | Refused) -> set[Field]:
    assert isinstance(result, Refused), result
    return set(result.errors)


# -- eligibility ----------------------------------------------------------------------------------


def test_a_grantee_named_in_a_flow_is_offered_its_bundles_and_objects(world: World) -> None:
    access = world.eligibility.access_for(ALICE.id)

    assert set(access.bundles()) == {"db-read", "incident", "cache-read"}
    assert access.flows_for_objects([ORDER_KEYS, CART_KEYS])
    assert not access.flows_for_objects([ORDERS])


def test_a_member_of_a_grantee_group_is_eligible_and_a_non_member_is_not(world: World) -> None:
    world.directory.add(DAVE, groups=["@oncall"])

    assert set(world.eligibility.access_for(DAVE.id).bundles()) == {"db-read", "incident"}
    assert world.eligibility.access_for(ERIN.id).bundles() == {}


def test_a_deactivated_flow_offers_nothing(world: World) -> None:
    assert "legacy" not in world.eligibility.access_for(ALICE.id).bundles()


def test_a_deactivated_person_is_offered_nothing(world: World) -> None:
    world.directory.add(Person(id=ALICE.id, name="Alice", email=ALICE.email, deleted=True))

    access = world.eligibility.access_for(ALICE.id)

    assert access.flows == ()


# -- submission -----------------------------------------------------------------------------------


def test_a_bundle_request_is_stored_pending_and_every_approver_is_asked(world: World) -> None:
    submitted = world.submit(world.bundle_form())

    assert isinstance(submitted, Submitted)
    assert submitted.status is Status.PENDING
    assert set(submitted.approvers) == {BOB.id, CAROL.id}
    assert submitted.object_count == 3
    assert world.status(submitted.request_id) is Status.PENDING
    asks = [m for m in world.outbox() if m.ref and submitted.request_id in m.ref]
    assert sorted((m.channel, m.kind) for m in asks) == [(BOB.id, "post"), (CAROL.id, "post")]
    assert world.audit_kinds(submitted.request_id) == [AuditKind.REQUEST_SUBMITTED]
    assert world.provision_wakes.count == 0


def test_a_request_through_an_automatic_flow_is_approved_at_once_and_wakes_granting(
    world: World,
) -> None:
    submitted = world.submit(world.objects_form([ORDER_KEYS, CART_KEYS]), duration="30m")

    assert isinstance(submitted, Submitted)
    assert submitted.status is Status.APPROVED
    assert submitted.flow == "self-serve"
    assert world.status(submitted.request_id) is Status.APPROVED
    assert world.provision_wakes.count == 1
    with world.store.read() as uow:
        assert set(uow.requests.objects(submitted.request_id)) == {ORDER_KEYS, CART_KEYS}


def test_one_form_submitted_twice_makes_one_request(world: World) -> None:
    draft_key = world.bundle_form()

    first = world.submit(draft_key)
    second = world.submit(draft_key)

    assert isinstance(first, Submitted)
    assert isinstance(second, Submitted)
    assert second.request_id == first.request_id
    assert world.request_count() == 1


def test_someone_elses_form_cannot_be_submitted(world: World) -> None:
    draft_key = world.bundle_form(user=ALICE)

    assert refused_on(world.submit(draft_key, user=DAVE)) == {Field.OBJECTS}
    assert world.request_count() == 0


def test_a_duration_over_the_flows_maximum_is_refused_and_audited(world: World) -> None:
    # self-serve offers no menu of choices: only its maximum (1h) bounds the duration.
    draft_key = world.objects_form([ORDER_KEYS])

    assert refused_on(world.submit(draft_key, duration="2h")) == {Field.DURATION}

    assert world.request_count() == 0
    [refusal] = world.events(AuditKind.SUBMISSION_REFUSED)
    assert refusal.actor == ALICE.id
    assert set(refusal.data["errors"]) == {Field.DURATION.value}


def test_a_duration_that_is_not_one_of_the_choices_is_refused(world: World) -> None:
    assert refused_on(world.submit(world.bundle_form(), duration="3h")) == {Field.DURATION}


def test_a_flow_that_requires_a_reason_refuses_a_request_without_one(world: World) -> None:
    assert refused_on(world.submit(world.bundle_form(), justification="  ")) == {
        Field.JUSTIFICATION
    }


def test_a_bundle_picked_but_nothing_selected_is_refused(world: World) -> None:
    draft_key = world.modal.open(user=ALICE.id, mode=Mode.BUNDLE).draft_key
    world.modal.pick_bundle(draft_key=draft_key, user=ALICE.id, bundle="db-read", form=FormInput())

    assert Field.OBJECTS in refused_on(world.submit(draft_key))
    assert world.request_count() == 0


def test_a_bundle_edited_while_choosing_is_refused(world: World) -> None:
    draft_key = world.bundle_form()
    world.catalog.save_bundle(
        BundleSpec(name="db-read", objects=object_specs([ORDERS])), by="U0ERIN"
    )

    assert refused_on(world.submit(draft_key)) == {Field.BUNDLE}


def test_a_flow_deactivated_while_choosing_refuses_the_submission(world: World) -> None:
    draft_key = world.bundle_form()
    world.catalog.save_flow(ONCALL_DB.model_copy(update={"active": False}), by="U0ERIN")

    assert refused_on(world.submit(draft_key)) == {Field.BUNDLE}
    assert world.request_count() == 0


def test_a_request_nobody_but_the_requester_could_approve_fails_at_once(world: World) -> None:
    submitted = world.submit(world.bundle_form(bundle="cache-read"))

    assert isinstance(submitted, Submitted)
    assert submitted.approvers == ()
    assert submitted.status is Status.FAILED
    assert world.status(submitted.request_id) is Status.FAILED


def test_the_submission_rechecks_the_object_limit(make_world: Callable[..., World]) -> None:
    world = make_world(modal_limit=10, submission_limit=2)

    assert refused_on(world.submit(world.bundle_form())) == {Field.OBJECTS}
    assert world.request_count() == 0


# -- the modal ------------------------------------------------------------------------------------


def test_an_object_no_flow_offers_is_not_added(world: World) -> None:
    draft_key = world.objects_form([INVOICES])

    modal = world.modal.render(draft_key=draft_key, user=ALICE.id)

    assert modal.selection.total == 0


def test_another_persons_draft_cannot_be_changed(world: World) -> None:
    draft_key = world.modal.open(user=ALICE.id, mode=Mode.BUNDLE).draft_key

    with pytest.raises(DraftNotFound):
        world.modal.pick_bundle(
            draft_key=draft_key, user=DAVE.id, bundle="db-read", form=FormInput()
        )


def test_select_all_of_a_bundle_over_the_limit_is_refused(
    make_world: Callable[..., World],
) -> None:
    world = make_world(modal_limit=4)
    draft_key = world.modal.open(user=ALICE.id, mode=Mode.BUNDLE).draft_key
    world.modal.pick_bundle(draft_key=draft_key, user=ALICE.id, bundle="incident", form=FormInput())

    modal = world.modal.select_all(
        draft_key=draft_key, user=ALICE.id, integration=None, form=FormInput()
    )

    assert modal.selection.total == 0
    assert modal.notice


def test_select_all_of_one_integration_that_fits_selects_exactly_its_objects(
    make_world: Callable[..., World],
) -> None:
    world = make_world(modal_limit=4)
    draft_key = world.modal.open(user=ALICE.id, mode=Mode.BUNDLE).draft_key
    world.modal.pick_bundle(draft_key=draft_key, user=ALICE.id, bundle="incident", form=FormInput())

    modal = world.modal.select_all(
        draft_key=draft_key, user=ALICE.id, integration=DB, form=FormInput()
    )

    assert modal.selection.total == 3
    assert dict(modal.selection.per_integration) == {DB: 3}
    assert not modal.notice


def test_select_all_of_a_second_integration_past_the_limit_keeps_the_first_selection(
    make_world: Callable[..., World],
) -> None:
    world = make_world(modal_limit=4)
    draft_key = world.modal.open(user=ALICE.id, mode=Mode.BUNDLE).draft_key
    world.modal.pick_bundle(draft_key=draft_key, user=ALICE.id, bundle="incident", form=FormInput())
    world.modal.select_all(draft_key=draft_key, user=ALICE.id, integration=DB, form=FormInput())

    modal = world.modal.select_all(
        draft_key=draft_key, user=ALICE.id, integration=CACHE, form=FormInput()
    )

    assert dict(modal.selection.per_integration) == {DB: 3}
    assert modal.notice


def test_adding_one_object_past_the_limit_is_refused(make_world: Callable[..., World]) -> None:
    world = make_world(modal_limit=1)

    draft_key = world.objects_form([ORDER_KEYS, CART_KEYS])

    modal = world.modal.render(draft_key=draft_key, user=ALICE.id)
    assert modal.selection.total == 1
    assert modal.notice


def test_a_submitted_duration_of_the_flows_default_is_used_when_none_is_chosen(
    world: World,
) -> None:
    submitted = world.submit(world.bundle_form(), duration=None)

    assert isinstance(submitted, Submitted)
    with world.store.read() as uow:
        request = uow.requests.get(submitted.request_id)
    assert request is not None
    assert request.duration == timedelta(hours=1)
