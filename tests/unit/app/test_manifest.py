"""The Slack app manifest is valid and asks for exactly what the app uses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"
LOCAL_SCHEMA = ROOT / "tests" / "data" / "manifest.schema.1.0.0.json"


def manifest() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(data, dict)
    return data


def schema() -> dict[str, Any]:
    path = SCHEMA if SCHEMA.exists() else LOCAL_SCHEMA
    loaded = json.loads(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_manifest_is_valid_against_slacks_official_schema() -> None:
    jsonschema.validate(manifest(), schema())


def test_the_app_runs_in_socket_mode_with_the_command_home_tab_and_interactivity() -> None:
    data = manifest()
    assert data["settings"]["socket_mode_enabled"] is True
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    assert [c["command"] for c in data["features"]["slash_commands"]] == ["/apono"]
    assert data["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]


# Which Web API methods need which bot scope (Slack's method reference).
SCOPE_OF_METHOD = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "conversations_open": "im:write",
    "files_upload_v2": "files:write",
    "users_info": "users:read",
    "users_lookupByEmail": "users:read.email",
    "users_profile_get": "users.profile:read",
    "usergroups_list": "usergroups:read",
    "usergroups_users_list": "usergroups:read",
}


def methods_called_by_the_app() -> set[str]:
    called: set[str] = set()
    for source in (ROOT / "app").rglob("*.py"):
        called |= set(re.findall(r"\.(\w+)\(", source.read_text())) & set(SCOPE_OF_METHOD)
    return called


def test_the_bot_scopes_are_exactly_those_the_app_uses() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    needed = {SCOPE_OF_METHOD[m] for m in methods_called_by_the_app()} | {"commands"}
    # users:read.email is also what makes emails appear in users.info, used for grantee matching.
    needed.add("users:read.email")
    assert scopes == needed
