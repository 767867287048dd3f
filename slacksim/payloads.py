"""Interaction payloads and Socket Mode envelopes shaped exactly like Slack's."""

from __future__ import annotations

import time
from typing import Any

from .ids import IdFactory
from .workspace import User, Workspace

JSON = dict[str, Any]

VERIFICATION_TOKEN = "slacksim-verification-token"  # noqa: S105 - a fake, like every token here


def envelope(*, type_: str, payload: JSON, retry_attempt: int = 0, retry_reason: str = "") -> JSON:
    return {
        "envelope_id": IdFactory.envelope_id(),
        "type": type_,
        "payload": payload,
        # Events API acks carry nothing back; commands and interactions may answer in the ack.
        "accepts_response_payload": type_ != "events_api",
        "retry_attempt": retry_attempt,
        "retry_reason": retry_reason,
    }


def action_ts() -> str:
    return f"{time.time():.6f}"


def user_ref(ws: Workspace, user: User) -> JSON:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id}


def team_ref(ws: Workspace) -> JSON:
    return {"id": ws.team_id, "domain": ws.domain}


def _interaction(ws: Workspace, user: User, type_: str) -> JSON:
    return {
        "type": type_,
        "user": user_ref(ws, user),
        "api_app_id": ws.app_id,
        "token": VERIFICATION_TOKEN,
        "team": team_ref(ws),
        "enterprise": None,
        "is_enterprise_install": False,
    }


def slash_command(
    ws: Workspace,
    user: User,
    *,
    command: str,
    text: str,
    channel_id: str,
    channel_name: str,
    response_url: str,
    trigger_id: str,
) -> JSON:
    # Slash commands arrive as form fields, so every value is a string.
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": ws.team_id,
        "team_domain": ws.domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": ws.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def block_actions_in_view(
    ws: Workspace, user: User, *, view: JSON, actions: list[JSON], trigger_id: str
) -> JSON:
    payload = _interaction(ws, user, "block_actions")
    payload.update(
        {
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": trigger_id,
            "view": view,
            "actions": actions,
        }
    )
    return payload


def block_actions_in_message(
    ws: Workspace,
    user: User,
    *,
    channel_id: str,
    channel_name: str,
    message: JSON,
    state_values: JSON,
    actions: list[JSON],
    trigger_id: str,
    response_url: str,
) -> JSON:
    payload = _interaction(ws, user, "block_actions")
    payload.update(
        {
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": trigger_id,
            "channel": {"id": channel_id, "name": channel_name},
            "message": message,
            "state": {"values": state_values},
            "response_url": response_url,
            "actions": actions,
        }
    )
    return payload


def block_suggestion(
    ws: Workspace, user: User, *, view: JSON, action_id: str, block_id: str, value: str
) -> JSON:
    payload = _interaction(ws, user, "block_suggestion")
    payload.update(
        {
            "container": {"type": "view", "view_id": view["id"]},
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "view": view,
        }
    )
    return payload


def view_submission(ws: Workspace, user: User, *, view: JSON, trigger_id: str) -> JSON:
    payload = _interaction(ws, user, "view_submission")
    payload.update({"trigger_id": trigger_id, "view": view, "response_urls": []})
    return payload


def view_closed(ws: Workspace, user: User, *, view: JSON, is_cleared: bool) -> JSON:
    payload = _interaction(ws, user, "view_closed")
    payload.update({"view": view, "is_cleared": is_cleared})
    return payload


def event_callback(ws: Workspace, *, event: JSON, event_id: str) -> JSON:
    now = time.time()
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": ws.team_id,
        "context_team_id": ws.team_id,
        "context_enterprise_id": None,
        "api_app_id": ws.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": ws.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{event_id}",
    }


def app_home_opened(
    ws: Workspace, user: User, *, channel_id: str, view: JSON | None, event_id: str
) -> JSON:
    event: JSON = {
        "type": "app_home_opened",
        "user": user.id,
        "channel": channel_id,
        "tab": "home",
        "event_ts": action_ts(),
    }
    if view is not None:
        event["view"] = view
    return event_callback(ws, event=event, event_id=event_id)
