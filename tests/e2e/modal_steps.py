"""Steps a requester takes in the request modal, written once for every modal test."""

from __future__ import annotations

import json
import re
from typing import Any

from domain.catalog import Source
from domain.objects import AccessObject
from slacksim import View, texts_of
from tests.e2e.harness import Bot


def text(view: View) -> str:
    return " ".join(texts_of(view.blocks))


def input_block(view: View, prefix: str) -> str:
    return next(
        str(b["block_id"])
        for b in view.blocks
        if b.get("type") == "input" and str(b.get("block_id", "")).startswith(prefix)
    )


def bundle_options(view: View) -> list[str]:
    block = next(b for b in view.blocks if b.get("block_id") == "bundle")
    return [o["value"] for o in block["element"].get("options", [])]


def switch_to_bundle_mode(bot: Bot, user: str) -> View:
    view = bot.view(user)
    if "Choose a bundle" in str(view.blocks) or "Bundle" in [
        b.get("label", {}).get("text") for b in view.blocks
    ]:
        return view
    return bot.after(
        user, lambda: bot.sim.click(user, action_id="modal.mode.bundle", view_id=view.id)
    )


def pick_bundle(bot: Bot, user: str, bundle: str) -> View:
    view = switch_to_bundle_mode(bot, user)
    return bot.after(
        user,
        lambda: bot.sim.select(user, action_id="modal.bundle", view_id=view.id, value=bundle),
    )


def select_all(bot: Bot, user: str, integration: str | None = None) -> View:
    view = bot.view(user)
    if integration is None:
        act = lambda: bot.sim.click(user, action_id="modal.select_all", view_id=view.id)  # noqa: E731
    else:
        act = lambda: bot.sim.click(  # noqa: E731
            user,
            action_id=f"modal.select_integration:{integration}",
            view_id=view.id,
        )
    return bot.after(user, act)


def search(bot: Bot, user: str, query: str) -> list[dict[str, Any]]:
    view = bot.view(user)
    return bot.sim.suggest(user, view_id=view.id, action_id="modal.add_object", query=query)


def add_found(bot: Bot, user: str, option: dict[str, Any]) -> View:
    view = bot.view(user)
    return bot.after(
        user,
        lambda: bot.sim.select(user, action_id="modal.add_object", view_id=view.id, option=option),
    )


def justify(bot: Bot, user: str, reason: str) -> None:
    view = bot.view(user)
    bot.sim.type_text(user, view_id=view.id, action_id="modal.justification", text=reason)


def submit(bot: Bot, user: str) -> Any:
    view = bot.view(user)
    return bot.sim.submit_view(user, view_id=view.id)


def seed_bundle(bot: Bot, *, name: str, objects: list[AccessObject], description: str = "") -> None:
    """A bundle as an admin would create it in Slack (straight into the catalog)."""
    with bot.app.store.write() as uow:
        uow.catalog.save_bundle(
            name=name,
            description=description,
            spec={"name": name, "description": description, "objects": []},
            objects=objects,
            source=Source.SLACK,
            at=bot.app.clock.now(),
            by=None,
        )
    bot.app.services.catalog.invalidate()


def many(
    integration: str, count: int, *, permission: str = "read_only", prefix: str = "t"
) -> list[AccessObject]:
    return [AccessObject(integration, f"{prefix}.obj{i:06d}", permission) for i in range(count)]


def request_bundle(bot: Bot, user: str, bundle: str, *, reason: str = "INC-1") -> str:
    """The whole requester story through Slack: open, Bundle Mode, pick, select all, submit."""
    bot.open_modal(user)
    pick_bundle(bot, user, bundle)
    select_all(bot, user)
    justify(bot, user, reason)
    done = submit(bot, user)
    assert done.payload is not None
    assert done.payload["response_action"] == "update", done.payload
    match = re.search(r"AR-[0-9A-Z]{6}", json.dumps(done.payload["view"]))
    assert match is not None
    return match.group(0)
