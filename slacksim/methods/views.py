"""views.open, views.push, views.update, views.publish."""

from __future__ import annotations

from typing import Any

from ..limits import check_view
from ..state import ApiError, SlackState
from ..views import PushLimitError, ViewRecord
from .registry import (
    CallContext,
    as_json,
    invalid_arguments,
    method,
    optional_str,
    refuse,
    required,
)

JSON = dict[str, Any]


def _view_arg(state: SlackState, args: JSON, ctx: CallContext, *, expect_type: str) -> JSON:
    view = as_json(required(args, "view"), name="view")
    problems = check_view(view, expect_type=expect_type, unique_action_ids=state.unique_action_ids)
    refuse(state, ctx, problems)
    assert isinstance(view, dict)
    return view


def _answer(state: SlackState, record: ViewRecord) -> JSON:
    ws = state.workspace
    return {"view": record.payload(team_id=ws.team_id, app_id=ws.app_id, bot_id=ws.bot_id)}


def _trigger(args: JSON) -> Any:
    return args.get("trigger_id") or args.get("interactivity_pointer")


def _note(state: SlackState, ctx: CallContext, verb: str, record: ViewRecord) -> None:
    title = record.spec.get("title") or {}
    name = title.get("text") if isinstance(title, dict) else None
    who = state.workspace.display_name_of(record.user_id)
    label = f"Home tab of {who}" if record.type == "home" else f"Modal {name!r} for {who}"
    state.recorder.note(ctx.at, f"{label} {verb} ({record.id})")


@method("views.open")
def views_open(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    view = _view_arg(state, args, ctx, expect_type="modal")
    trigger = state.consume_trigger(_trigger(args))
    record = state.views.open(trigger.user_id, view)
    _note(state, ctx, "opened", record)
    return _answer(state, record)


@method("views.push")
def views_push(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    view = _view_arg(state, args, ctx, expect_type="modal")
    trigger_id = _trigger(args)
    trigger = state.consume_trigger(trigger_id)
    try:
        record = state.views.push(trigger.user_id, view)
    except PushLimitError:
        raise ApiError("push_limit_reached") from None
    _note(state, ctx, "pushed", record)
    return _answer(state, record)


@method("views.update")
def views_update(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    view_id = optional_str(args, "view_id")
    external_id = optional_str(args, "external_id")
    if view_id is None and external_id is None:
        raise invalid_arguments("either view_id or external_id is required")
    record = state.views.get(view_id) if view_id else state.views.by_external_id(str(external_id))
    if record is None or (not record.open and record.type != "home"):
        raise ApiError("not_found")
    view = _view_arg(state, args, ctx, expect_type=record.type)
    expected_hash = optional_str(args, "hash")
    if expected_hash is not None and expected_hash != record.hash:
        raise ApiError("hash_conflict")
    state.views.update(record, view)
    _note(state, ctx, "updated", record)
    return _answer(state, record)


@method("views.publish")
def views_publish(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    user_id = str(required(args, "user_id"))
    if state.workspace.user(user_id) is None:
        raise ApiError("user_not_found")
    view = _view_arg(state, args, ctx, expect_type="home")
    current = state.views.home(user_id)
    expected_hash = optional_str(args, "hash")
    if current is not None and expected_hash is not None and expected_hash != current.hash:
        raise ApiError("hash_conflict")
    record = state.views.publish(user_id, view)
    _note(state, ctx, "published", record)
    return _answer(state, record)
