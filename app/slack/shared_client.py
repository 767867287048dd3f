"""Listeners call Slack through the app's own client, which keeps its connections open.

Bolt hands every listener a new ``WebClient`` per request (so that apps whose token changes
per workspace never mix them), and a new client opens a new connection for each call: against
Slack a TLS session per click. This bot has one workspace and one token, so its listeners use
the one :class:`~app.slack.keepalive.KeepAliveWebClient` the rest of the bot uses, one open
connection per listener thread.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient


def share_client(bolt: App, client: WebClient) -> None:
    """Every listener of ``bolt`` gets ``client`` as its ``client``."""

    def use_shared_client(
        context: BoltContext, next: Callable[[], BoltResponse | None]
    ) -> BoltResponse | None:
        context["client"] = client
        return next()

    bolt.use(use_shared_client)
