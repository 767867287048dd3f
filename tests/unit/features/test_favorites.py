"""Favorites and recent requests (``app/requesting/favorites.py``, ``modal.py``, ``app/home/``),
and the request form's polish: bundle sizes, the flow's justification hint, the remembered
duration. Every sentence is checked for one and for many."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.requesting.favorites import FavoriteRefused, FavoritesService
from app.requesting.modal import DraftNotFound, FormInput
from app.requesting.submission import Submitted
from blocks.favorites import (
    FavoriteLine,
    RecentStart,
    Starts,
    default_name,
    favorite_label,
    favorite_line,
    favorite_objects_missing,
    favorite_saved_modal,
    recent_label,
    starts_blocks,
    too_many_favorites,
)
from blocks.home import HomeModel, HomeState, home_view
from blocks.request_modal import BundleChoice, request_modal
from domain.drafts import Mode
from domain.ids import RequestId
from domain.objects import AccessObject
from domain.policy import BundleSpec
from domain.summary import Page
from store.models import RequestRow
from tests.unit.features.world import (
    ALICE,
    BOB,
    CART_KEYS,
    CUSTOMERS,
    ONCALL_DB,
    ORDER_KEYS,
    ORDERS,
    SELF_SERVE,
    World,
    object_specs,
)


@pytest.fixture
def favorites(world: World) -> FavoritesService:
    return FavoritesService(store=world.store, clock=world.clock)


def bundle_request(world: World, bundle: str = "db-read", *, duration: str = "1h") -> RequestId:
    submitted = world.submit(world.bundle_form(bundle=bundle), duration=duration)
    assert isinstance(submitted, Submitted), submitted
    world.clock.advance(timedelta(minutes=1))
    return submitted.request_id


def objects_request(world: World, objects: list[AccessObject]) -> RequestId:
    submitted = world.submit(world.objects_form(objects), duration="30m", justification="")
    assert isinstance(submitted, Submitted), submitted
    world.clock.advance(timedelta(minutes=1))
    return submitted.request_id


def line(favorite_id: int = 1, *, bundle: str | None = "db-read", count: int = 3) -> FavoriteLine:
    return FavoriteLine(
        id=favorite_id,
        name="incident",
        bundle=bundle,
        object_count=count,
        flow="oncall-db",
        duration=timedelta(hours=2),
    )


# -- saving ------------------------------------------------------------------------------------


def test_a_saved_favorite_keeps_bundle_objects_flow_duration_and_justification(
    world: World, favorites: FavoritesService
) -> None:
    request_id = bundle_request(world, duration="2h")

    saved = favorites.save(user=ALICE.id, request_id=request_id, name="  sales   oncall ")

    assert (saved.name, saved.count) == ("sales oncall", 1)
    with world.store.read() as uow:
        [favorite] = uow.favorites.of(ALICE.id, limit=10)
        objects = uow.favorites.objects(favorite.id)
    assert (favorite.bundle, favorite.flow, favorite.duration, favorite.justification) == (
        "db-read",
        "oncall-db",
        timedelta(hours=2),
        "incident 42",
    )
    assert set(objects) == {ORDERS, CUSTOMERS, ORDER_KEYS}
    assert favorite.source_request == request_id


def test_a_favorite_left_unnamed_is_named_after_its_bundle_or_its_objects(
    world: World, favorites: FavoritesService
) -> None:
    by_bundle = bundle_request(world)
    by_objects = objects_request(world, [ORDER_KEYS])

    assert favorites.naming(user=ALICE.id, request_id=by_bundle).name == "db-read"
    assert favorites.save(user=ALICE.id, request_id=by_objects, name=" ").name == (
        "1 object via self-serve"
    )
    assert default_name(bundle=None, object_count=2, flow="f") == "2 objects via f"


def test_only_the_requester_may_save_a_request_as_a_favorite(
    world: World, favorites: FavoritesService
) -> None:
    request_id = bundle_request(world)

    with pytest.raises(FavoriteRefused, match="your own requests"):
        favorites.save(user=BOB.id, request_id=request_id, name="mine now")
    with pytest.raises(FavoriteRefused, match="your own requests"):
        favorites.naming(user=BOB.id, request_id=request_id)
    with world.store.read() as uow:
        assert uow.favorites.count(BOB.id) == 0


def test_one_person_keeps_at_most_the_limit_of_favorites(world: World) -> None:
    limited = FavoritesService(store=world.store, clock=world.clock, limit=2)
    request_id = bundle_request(world)
    limited.save(user=ALICE.id, request_id=request_id, name="one")
    assert limited.save(user=ALICE.id, request_id=request_id, name="two").count == 2

    with pytest.raises(FavoriteRefused, match="already keep 2 favorites"):
        limited.save(user=ALICE.id, request_id=request_id, name="three")
    assert too_many_favorites(1).startswith("You already keep 1 favorite,")


# -- opening a favorite ---------------------------------------------------------------------------


def test_a_favorite_opens_the_form_prefilled_and_submits_as_it_was(
    world: World, favorites: FavoritesService
) -> None:
    request_id = bundle_request(world, duration="2h")
    favorites.save(user=ALICE.id, request_id=request_id, name="sales")
    with world.store.read() as uow:
        [favorite] = uow.favorites.of(ALICE.id, limit=10)

    model = world.modal.open_favorite(user=ALICE.id, favorite_id=favorite.id)

    assert model.mode is Mode.BUNDLE
    assert model.bundle is not None
    assert model.bundle.name == "db-read"
    assert model.selection.total == 3
    assert model.flow is not None
    assert model.flow.name == "oncall-db"
    assert (model.duration, model.justification, model.notice) == (
        timedelta(hours=2),
        "incident 42",
        None,
    )
    assert not model.focus_justification
    again = world.submission.submit(
        draft_key=model.draft_key,
        user=ALICE.id,
        form=FormInput(duration="2h", justification=model.justification),
    )
    assert isinstance(again, Submitted), again


def test_someone_elses_favorite_does_not_open(world: World, favorites: FavoritesService) -> None:
    favorites.save(user=ALICE.id, request_id=bundle_request(world), name="sales")
    with world.store.read() as uow:
        [favorite] = uow.favorites.of(ALICE.id, limit=10)

    with pytest.raises(DraftNotFound, match="no longer exists"):
        world.modal.open_favorite(user=BOB.id, favorite_id=favorite.id)


def test_a_favorite_without_the_justification_its_flow_requires_focuses_the_field(
    world: World, favorites: FavoritesService
) -> None:
    request_id = bundle_request(world)
    with world.store.write() as uow:
        uow.session.execute(update(RequestRow).values(justification=""))
    favorites.save(user=ALICE.id, request_id=request_id, name="sales")
    with world.store.read() as uow:
        [favorite] = uow.favorites.of(ALICE.id, limit=10)

    model = world.modal.open_favorite(user=ALICE.id, favorite_id=favorite.id)

    assert model.focus_justification
    view = request_modal(model)
    field = next(b for b in view["blocks"] if b.get("block_id") == "justification")
    assert field["element"]["focus_on_load"] is True


def test_a_favorite_whose_bundle_lost_objects_says_which_and_prefills_the_rest(
    world: World, favorites: FavoritesService
) -> None:
    favorites.save(user=ALICE.id, request_id=bundle_request(world), name="sales")
    with world.store.read() as uow:
        [favorite] = uow.favorites.of(ALICE.id, limit=10)
    world.catalog.save_bundle(
        BundleSpec(name="db-read", objects=object_specs([ORDERS, ORDER_KEYS])), by="U0ERIN"
    )

    model = world.modal.open_favorite(user=ALICE.id, favorite_id=favorite.id)

    assert model.selection.total == 2
    assert model.notice == (
        "Favorite sales: 1 of 3 objects is no longer offered to you: sales.customers "
        "read_only (prod-db); the rest is pre-filled."
    )


def test_a_favorite_whose_flow_was_deactivated_says_its_bundle_is_no_longer_offered(
    world: World, favorites: FavoritesService
) -> None:
    favorites.save(user=ALICE.id, request_id=bundle_request(world), name="sales")
    with world.store.read() as uow:
        [favorite] = uow.favorites.of(ALICE.id, limit=10)
    world.catalog.save_flow(ONCALL_DB.model_copy(update={"active": False}), by="U0ERIN")

    model = world.modal.open_favorite(user=ALICE.id, favorite_id=favorite.id)

    assert model.selection.total == 0
    assert model.notice is not None
    assert "the bundle db-read is no longer offered to you" in model.notice


def test_a_favorite_of_objects_names_those_no_longer_offered(
    world: World, favorites: FavoritesService
) -> None:
    request_id = objects_request(world, [ORDER_KEYS, CART_KEYS])
    favorites.save(user=ALICE.id, request_id=request_id, name="carts")
    with world.store.read() as uow:
        [favorite] = uow.favorites.of(ALICE.id, limit=10)
    world.catalog.save_flow(
        SELF_SERVE.model_copy(update={"objects": object_specs([ORDER_KEYS])}), by="U0ERIN"
    )

    model = world.modal.open_favorite(user=ALICE.id, favorite_id=favorite.id)

    assert model.selection.total == 1
    assert model.notice is not None
    assert "1 of 2 objects is no longer offered to you: carts:* read_only" in model.notice


def test_the_stale_favorite_notice_reads_right_for_one_and_for_many() -> None:
    missing = [AccessObject("db", f"t{i}", "read_only") for i in range(7)]

    one = favorite_objects_missing(name="f", missing=missing[:1], total=1)
    two = favorite_objects_missing(name="f", missing=missing[:2], total=5)
    seven = favorite_objects_missing(name="f", missing=missing, total=9)

    assert one == (
        "Favorite f: 1 of 1 object is no longer offered to you: t0 read_only (db); "
        "nothing is left to pre-fill."
    )
    assert two.startswith("Favorite f: 2 of 5 objects are no longer offered to you: t0")
    assert two.endswith("; the rest is pre-filled.")
    assert "t4 read_only (db) and 2 more; the rest" in seven
    typed = favorite_objects_missing(name="<!here>", missing=missing[:1], total=2)
    assert typed.startswith("Favorite &lt;!here&gt;: 1 of 2 objects is")


# -- recent requests and favorites at the top of the form -----------------------------------------


def test_the_form_offers_the_three_most_recent_requests_newest_first(
    world: World, favorites: FavoritesService
) -> None:
    ids = [bundle_request(world) for _ in range(4)]
    favorites.save(user=ALICE.id, request_id=ids[0], name="first")

    model = world.modal.open(user=ALICE.id, mode=Mode.BUNDLE)

    assert [r.request_id for r in model.starts.recent] == list(reversed(ids))[:3]
    assert [f.name for f in model.starts.favorites] == ["first"]
    picked = world.modal.pick_bundle(
        draft_key=model.draft_key, user=ALICE.id, bundle="incident", form=FormInput()
    )
    assert not picked.starts


def test_a_recent_request_clicked_in_the_form_fills_that_form(world: World) -> None:
    request_id = objects_request(world, [ORDER_KEYS, CART_KEYS])
    draft_key = world.modal.open(user=ALICE.id, mode=Mode.BUNDLE).draft_key

    model = world.modal.start_from_request(
        draft_key=draft_key, user=ALICE.id, request_id=request_id
    )

    assert model.draft_key == draft_key
    assert model.mode is Mode.INTEGRATIONS
    assert model.selection.total == 2
    assert model.flow is not None
    assert model.flow.name == "self-serve"


def test_a_favorite_clicked_in_the_form_replaces_what_was_there(
    world: World, favorites: FavoritesService
) -> None:
    favorites.save(user=ALICE.id, request_id=bundle_request(world, "db-read"), name="sales")
    with world.store.read() as uow:
        [favorite] = uow.favorites.of(ALICE.id, limit=10)
    draft_key = world.bundle_form(bundle="incident")

    model = world.modal.start_from_favorite(
        draft_key=draft_key, user=ALICE.id, favorite_id=favorite.id
    )

    assert model.bundle is not None
    assert model.bundle.name == "db-read"
    assert model.selection.total == 3


def test_the_start_buttons_read_right_for_one_and_for_many() -> None:
    assert recent_label(RecentStart("AR-AAAAAA", None, 1)) == "↻ AR-AAAAAA · 1 object"
    assert recent_label(RecentStart("AR-AAAAAA", None, 3)) == "↻ AR-AAAAAA · 3 objects"
    assert recent_label(RecentStart("AR-AAAAAA", "db-read", 3)) == "↻ AR-AAAAAA · db-read"
    assert favorite_label(line()) == "⭐ incident"
    assert len(favorite_label(replace(line(), name="x" * 200))) <= 75
    assert starts_blocks(Starts()) == []
    only_recent = starts_blocks(Starts(recent=(RecentStart("AR-AAAAAA", None, 1),)))
    assert "recent requests (↻):" in only_recent[0].to_dict()["elements"][0]["text"]


# -- form polish: bundle sizes, the justification hint, the remembered duration --------------------


def test_bundle_choices_carry_their_size_and_description(world: World) -> None:
    world.catalog.save_bundle(
        BundleSpec(name="cache-read", description="Cache keys", objects=object_specs([ORDER_KEYS])),
        by="U0ERIN",
    )

    model = world.modal.open(user=ALICE.id, mode=Mode.BUNDLE)

    sizes = {b.name: (b.size, b.summary) for b in model.bundles}
    assert sizes["cache-read"] == (1, "1 object · Cache keys")
    assert sizes["incident"] == (5, "5 objects")
    suggested = world.modal.suggest_bundles(user=ALICE.id, query="db")
    assert [(b.name, b.summary) for b in suggested] == [("db-read", "3 objects")]
    assert BundleChoice("x", "y" * 200, 2).summary.startswith("2 objects · yyy")


def test_the_flows_justification_hint_is_shown_under_the_input(world: World) -> None:
    world.catalog.save_flow(
        ONCALL_DB.model_copy(update={"justification_hint": "Link the incident, e.g. INC-1"}),
        by="U0ERIN",
    )
    draft_key = world.bundle_form()

    model = world.modal.render(draft_key=draft_key, user=ALICE.id)

    assert model.flow is not None
    assert model.flow.justification_hint == "Link the incident, e.g. INC-1"
    field = next(b for b in request_modal(model)["blocks"] if b.get("block_id") == "justification")
    assert field["hint"]["text"] == "Link the incident, e.g. INC-1"


def test_the_last_duration_chosen_in_a_flow_is_preselected_next_time(world: World) -> None:
    bundle_request(world, duration="4h")

    model = world.modal.render(draft_key=world.bundle_form(), user=ALICE.id)

    assert model.remembered_duration == timedelta(hours=4)
    menu = next(
        b for b in request_modal(model)["blocks"] if b.get("block_id") == "duration.oncall-db"
    )
    assert menu["element"]["initial_option"]["value"] == "4h"
    other = world.modal.render(draft_key=world.objects_form([ORDER_KEYS]), user=ALICE.id)
    assert other.flow is not None
    assert other.flow.name == "self-serve"
    assert other.remembered_duration is None


# -- Home ------------------------------------------------------------------------------------------


def test_home_lists_renames_and_deletes_only_ones_own_favorites(
    world: World, favorites: FavoritesService
) -> None:
    request_id = bundle_request(world)
    favorites.save(user=ALICE.id, request_id=request_id, name="older")
    world.clock.advance(timedelta(minutes=1))
    favorites.save(user=ALICE.id, request_id=request_id, name="newer")
    listed = world.home.home_for(user=ALICE.id).favorites
    assert [f.name for f in listed] == ["newer", "older"]
    newer = listed[0].id

    assert not world.home.rename_favorite(user=BOB.id, favorite_id=newer, name="stolen")
    assert not world.home.delete_favorite(user=BOB.id, favorite_id=newer)
    assert world.home.favorite(user=BOB.id, favorite_id=newer) is None
    assert world.home.rename_favorite(user=ALICE.id, favorite_id=newer, name=" on  call ")
    assert world.home.delete_favorite(user=ALICE.id, favorite_id=listed[1].id)

    assert [f.name for f in world.home.home_for(user=ALICE.id).favorites] == ["on call"]
    assert world.home.home_for(user=BOB.id).favorites == ()


def test_favorite_lines_read_right_for_one_and_for_many() -> None:
    assert favorite_line(line(count=1)) == (
        "⭐ *incident* · db-read (1 object) · access flow oncall-db · 2h"
    )
    assert "db-read (3 objects)" in favorite_line(line(count=3))
    assert "· 1 object ·" in favorite_line(line(bundle=None, count=1))
    one = favorite_saved_modal(name="a", count=1)["blocks"][0]["text"]["text"]
    many = favorite_saved_modal(name="a", count=2)["blocks"][0]["text"]["text"]
    assert "You keep 1 favorite:" in one
    assert "You keep 2 favorites:" in many


def test_home_with_every_favorite_and_full_lists_stays_within_one_view() -> None:
    empty = Page(rows=(), number=0, size=10, total=0)
    model = HomeModel(
        user="U0ALICE",
        state=HomeState(),
        mine=empty,
        waiting=empty,
        favorites=tuple(line(i) for i in range(1, 11)),
    )

    view = home_view(model)

    assert len(view["blocks"]) <= 100
    ids = [b.get("block_id", "") for b in view["blocks"]]
    assert sum(1 for i in ids if i.startswith("favorite.")) == 10
    assert view["blocks"][3]["text"]["text"] == "Favorites (10)"
