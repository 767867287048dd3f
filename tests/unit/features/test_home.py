"""Home (``app/home/service.py``): pages of requests, never all of them, and the details of a
request only for its requester, the approvers asked and admins."""

from __future__ import annotations

from datetime import timedelta

from blocks.home import HomeState
from domain.ids import RequestId
from domain.lifecycle import Status
from tests.unit.features.world import ALICE, BOB, CACHE, CAROL, DAVE, ERIN, World


def requests_over_time(world: World, count: int) -> list[RequestId]:
    """``count`` pending requests of Alice, a minute apart (oldest first)."""
    made = []
    for _ in range(count):
        made.append(world.pending_request())
        world.clock.advance(timedelta(minutes=1))
    return made


def test_my_requests_come_newest_first_in_pages_of_ten(world: World) -> None:
    made = requests_over_time(world, 12)

    first = world.home.home_for(user=ALICE.id).mine
    second = world.home.home_for(user=ALICE.id, state=HomeState(mine=1)).mine

    assert first.total == 12
    assert [r.id for r in first.rows] == made[::-1][:10]
    assert [r.id for r in second.rows] == made[1::-1]


def test_the_history_pages_like_the_home_tab(world: World) -> None:
    made = requests_over_time(world, 11)

    assert [r.id for r in world.home.history(user=ALICE.id, page=1).rows] == made[:1]
    assert world.home.history(user=DAVE.id, page=0).total == 0


def test_waiting_lists_only_pending_requests_i_was_asked_to_decide(world: World) -> None:
    decided, waiting = world.pending_request(), world.pending_request()
    world.approve(decided, by=BOB)

    assert [r.id for r in world.home.home_for(user=CAROL.id).waiting.rows] == [waiting]
    assert world.home.home_for(user=DAVE.id).waiting.total == 0
    assert world.home.home_for(user=ALICE.id).waiting.total == 0


def test_only_admins_see_everyones_activity_and_the_bundles_requested(world: World) -> None:
    world.pending_request()

    mine = world.home.home_for(user=BOB.id)
    admin = world.home.home_for(user=ERIN.id)

    assert mine.activity is None
    assert mine.bundles == ()
    assert admin.activity is not None
    assert admin.activity.total == 1
    assert admin.bundles == ("db-read",)


def test_an_admin_filters_the_activity_by_status(world: World) -> None:
    pending, denied = world.pending_request(), world.pending_request()
    world.decisions.decide(request_id=denied, flow_claim=None, clicker=BOB.id, approve=False)

    home = world.home.home_for(user=ERIN.id, state=HomeState(status=Status.DENIED.value))

    assert home.activity is not None
    assert [r.id for r in home.activity.rows] == [denied]
    assert pending not in [r.id for r in home.activity.rows]


def test_the_details_are_shown_to_the_requester_the_approvers_asked_and_admins(
    world: World,
) -> None:
    request_id = world.pending_request()

    for viewer in (ALICE, BOB, CAROL, ERIN):
        details = world.home.details(request_id=request_id, viewer=viewer.id)
        assert details is not None, viewer.name
        assert details.summary.id == request_id
        assert {a.id for a in details.approvers} == {BOB.id, CAROL.id}
    assert world.home.details(request_id=request_id, viewer=DAVE.id) is None


def test_the_full_object_list_is_shown_to_the_same_people_only(world: World) -> None:
    request_id = world.pending_request()

    page = world.objects.page(request_id=request_id, viewer=CAROL.id, page=0, size=2)
    assert page is not None
    _, objects, total = page
    assert total == 3
    assert len(objects) == 2
    assert world.objects.page(request_id=request_id, viewer=DAVE.id, page=0, size=2) is None


def test_the_details_show_the_history_and_a_removal_problem_while_it_lasts(
    world: World,
) -> None:
    request_id = world.active_request()
    world.integrations[CACHE].fail_revokes = 3
    world.clock.advance(timedelta(hours=1))
    world.ending.run_due()

    details = world.home.details(request_id=request_id, viewer=ALICE.id)

    assert details is not None
    assert [c.to_status for c in details.history] == [
        Status.PENDING,
        Status.APPROVED,
        Status.GRANTING,
        Status.ACTIVE,
    ]
    assert details.removal_problem
    assert CACHE in details.removal_problem
