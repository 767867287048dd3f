"""users.*, team.profile.get and usergroups.*: the directory the app reads."""

from __future__ import annotations

from typing import Any

from ..state import ApiError, SlackState
from ..workspace import User, UserGroup, Workspace
from .registry import CallContext, as_bool, method, required

JSON = dict[str, Any]


def profile_json(ws: Workspace, user: User, *, include_labels: bool = False) -> JSON:
    fields: JSON = {}
    for label, value in user.profile_fields.items():
        field_id = ws.field_id(label)
        if field_id is None:
            continue
        entry: JSON = {"value": value, "alt": ""}
        if include_labels:
            entry["label"] = label
        fields[field_id] = entry
    first, _, last = (user.real_name or "").partition(" ")
    return {
        "title": user.title,
        "phone": "",
        "skype": "",
        "real_name": user.real_name,
        "real_name_normalized": user.real_name,
        "display_name": user.display_name,
        "display_name_normalized": user.display_name,
        "fields": fields,
        "status_text": "",
        "status_emoji": "",
        "status_expiration": 0,
        "avatar_hash": "g0000000000",
        "email": user.email,
        "first_name": first,
        "last_name": last,
        "image_24": "https://a.slack-edge.com/default-avatar-24.png",
        "image_48": "https://a.slack-edge.com/default-avatar-48.png",
        "team": ws.team_id,
    }


def user_json(ws: Workspace, user: User) -> JSON:
    return {
        "id": user.id,
        "team_id": ws.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "color": "9f69e7",
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": user.tz,
        "tz_offset": user.tz_offset,
        "profile": profile_json(ws, user),
        "is_admin": user.is_admin,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": 1_700_000_000,
        "has_2fa": False,
    }


def _bot_user(ws: Workspace) -> User:
    return User(id=ws.bot_user_id, name=ws.bot_name, real_name=ws.bot_name, is_bot=True)


def _user(state: SlackState, user_id: Any) -> User:
    ws = state.workspace
    if user_id == ws.bot_user_id:
        return _bot_user(ws)
    user = ws.user(str(user_id))
    if user is None:
        raise ApiError("user_not_found")
    return user


@method("users.info")
def users_info(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    return {"user": user_json(state.workspace, _user(state, required(args, "user")))}


@method("users.list")
def users_list(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    ws = state.workspace
    members = [user_json(ws, u) for u in [*ws.users, _bot_user(ws)]]
    return {"members": members, "cache_ts": 1_700_000_000, "response_metadata": {"next_cursor": ""}}


@method("users.lookupByEmail")
def users_lookup_by_email(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    user = state.workspace.user_by_email(str(required(args, "email")))
    if user is None:
        raise ApiError("users_not_found")
    return {"user": user_json(state.workspace, user)}


@method("users.profile.get")
def users_profile_get(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    user = _user(state, args.get("user") or state.workspace.bot_user_id)
    include_labels = as_bool(args.get("include_labels"))
    return {"profile": profile_json(state.workspace, user, include_labels=include_labels)}


@method("team.profile.get")
def team_profile_get(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    fields = [
        {
            "id": field_id,
            "ordering": index,
            "label": label,
            "hint": "",
            "type": "user" if label.lower() == "manager" else "text",
            "possible_values": None,
            "options": None,
            "is_hidden": False,
        }
        for index, (field_id, label) in enumerate(sorted(state.workspace.field_labels().items()))
    ]
    return {"profile": {"fields": fields}}


def group_json(ws: Workspace, group: UserGroup, *, include_users: bool) -> JSON:
    out: JSON = {
        "id": group.id,
        "team_id": ws.team_id,
        "is_usergroup": True,
        "is_subteam": True,
        "name": group.name or group.handle,
        "description": group.description,
        "handle": group.handle,
        "is_external": False,
        "date_create": 1_700_000_000,
        "date_update": 1_700_000_000,
        "date_delete": 0,
        "auto_type": None,
        "created_by": "USLACKBOT",
        "updated_by": "USLACKBOT",
        "deleted_by": None,
        "prefs": {"channels": [], "groups": []},
        "user_count": len(group.users),
    }
    if include_users:
        out["users"] = list(group.users)
    return out


@method("usergroups.list")
def usergroups_list(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    ws = state.workspace
    include_users = as_bool(args.get("include_users"))
    return {"usergroups": [group_json(ws, g, include_users=include_users) for g in ws.groups]}


@method("usergroups.users.list")
def usergroups_users_list(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    group = state.workspace.group(str(required(args, "usergroup")))
    if group is None:
        raise ApiError("no_such_subteam")
    return {"users": list(group.users)}
