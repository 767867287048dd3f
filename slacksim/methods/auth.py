"""auth.test, api.test and apps.connections.open."""

from __future__ import annotations

from typing import Any

from ..state import SlackState
from .registry import CallContext, method

JSON = dict[str, Any]


@method("auth.test")
def auth_test(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    ws = state.workspace
    return {
        "url": f"https://{ws.domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.bot_name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "is_enterprise_install": False,
    }


@method("api.test", auth="none")
def api_test(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    return {"args": dict(args)}


@method("apps.connections.open", auth="app")
def apps_connections_open(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    return {"url": state.socket_url_factory()}


@method("team.info")
def team_info(state: SlackState, args: JSON, ctx: CallContext) -> JSON:
    ws = state.workspace
    return {
        "team": {
            "id": ws.team_id,
            "name": ws.team_name,
            "domain": ws.domain,
            "email_domain": "example.com",
            "url": f"https://{ws.domain}.slack.com/",
        }
    }
