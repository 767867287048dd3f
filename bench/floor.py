"""The floor: an empty Bolt app answering the same envelopes, on a simulator of its own.

What Bolt, slack_sdk, Socket Mode and the simulator cost by themselves: a figure is judged by
how far above this it sits. Each listener does the least Slack would accept: ack, and open or
update a one-block modal, or answer with an empty option list, or update the modal in the ack.
Like the subject, it runs in a process of its own (``python -m bench.floor`` is that child).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from bench.children import child_main, child_process, wait_until_connected
from bench.simcalls import BenchError, fresh_records, wait_for_call
from slacksim import Simulator, Workspace

JSON = dict[str, Any]

ONE_BLOCK_MODAL: Final[JSON] = {
    "type": "modal",
    "callback_id": "floor",
    "title": {"type": "plain_text", "text": "Floor"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Nothing to see."}}],
}
ANY: Final = re.compile(".*")


def _open(ack: Ack, body: JSON, client: WebClient) -> None:
    ack()
    client.views_open(trigger_id=body["trigger_id"], view=ONE_BLOCK_MODAL)


def _update(ack: Ack, body: JSON, client: WebClient) -> None:
    ack()
    client.views_update(view_id=body["view"]["id"], view=ONE_BLOCK_MODAL)


def _no_options(ack: Ack) -> None:
    ack(options=[])


def _update_in_ack(ack: Ack) -> None:
    ack(response_action="update", view=ONE_BLOCK_MODAL)


def empty_app(*, bot_token: str, api_url: str) -> App:
    """A bare Bolt app, as its quick-start builds one, pointed at the simulator's Web API."""
    app = App(
        client=WebClient(token=bot_token, base_url=api_url),
        request_verification_enabled=False,
    )
    app.command(ANY)(_open)
    app.action(ANY)(_update)
    app.options(ANY)(_no_options)
    app.view(ANY)(_update_in_ack)
    return app


class Floor:
    """Baseline samples, in seconds, for each kind of envelope the subject receives."""

    def __init__(self, *, sim: Simulator) -> None:
        self.sim = sim

    def open_latency(self, *, user: str) -> float:
        """Slash command sent → ``views.open`` arrives."""
        fresh_records(self.sim)
        ack = self.sim.slash_command(user)
        call = wait_for_call(sim=self.sim, method="views.open", since=ack.sent_at)
        return call.at - ack.sent_at

    def update_latency(self, *, payload: JSON) -> float:
        """The subject's ``block_actions`` payload aimed at the floor's modal → ``views.update``."""
        user = str(payload["user"]["id"])
        view = self.sim.top_view(user)
        if view is None:
            self.open_latency(user=user)
            view = self.sim.top_view(user)
            if view is None:
                raise BenchError("the floor app opened no modal")
        aimed = {
            **payload,
            "view": {**payload["view"], "id": view.id},
            "container": {**payload.get("container", {}), "view_id": view.id},
        }
        fresh_records(self.sim)
        ack = self.sim.send_envelope(type_="interactive", payload=aimed)
        call = wait_for_call(sim=self.sim, method="views.update", since=ack.sent_at)
        return call.at - ack.sent_at

    def ack_latency(self, *, payload: JSON) -> float:
        """The subject's payload (suggestion, submission) sent as is → its ack arrives."""
        return self.sim.send_envelope(type_="interactive", payload=payload).latency


@contextmanager
def running_floor(*, workspace: Workspace) -> Iterator[Floor]:
    with Simulator(workspace=workspace) as sim:
        config = {"bot_token": sim.bot_token, "app_token": sim.app_token, "api_url": sim.api_url}
        with child_process(module="bench.floor", config=config) as process:
            wait_until_connected(sim=sim, process=process, name="the floor app")
            yield Floor(sim=sim)


def _start(config: dict[str, Any]) -> Callable[[], None]:
    app = empty_app(bot_token=config["bot_token"], api_url=config["api_url"])
    handler = SocketModeHandler(app, config["app_token"])
    handler.connect()  # type: ignore[no-untyped-call]
    # Nothing to stop gracefully: child_main ends the process, and with it the socket.
    return lambda: None


if __name__ == "__main__":
    child_main(name="floor", start=_start)
