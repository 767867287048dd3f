"""``app_home_opened``: publish the person's Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from app.services.home import HomeService
from blocks.home import home_view
from domain.ids import UserId


class HomeListeners:
    def __init__(self, *, home: HomeService) -> None:
        self._home = home

    def register(self, app: App) -> None:
        app.event("app_home_opened")(self.on_home_opened)

    def on_home_opened(self, event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user = UserId(event["user"])
        client.views_publish(user_id=user, view=home_view(self._home.home_for(user=user)))
